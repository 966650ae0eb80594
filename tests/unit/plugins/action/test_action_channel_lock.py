"""Unit tests for the channel_lock action plugin: waiting within the bound, naming the holder, stale takeover."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

import pytest
from action_harness import make_action
from ansible.errors import AnsibleActionFail
from ansible_collections.cytube.shipit.plugins.action import channel_lock

pytestmark = pytest.mark.timeout(30)

OTHER = {"token": "other", "owner": {"user": "bob", "controller": "elsewhere", "pid": 7}, "ttl": 60}


class Host:
    def __init__(self, *answers: dict[str, Any]) -> None:
        self.answers = list(answers)
        self.calls: list[dict[str, Any]] = []

    def __call__(self, module_name: str, module_args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(dict(module_args))
        return dict(self.answers.pop(0) if len(self.answers) > 1 else self.answers[0])


def take(host: Host, **args: Any) -> tuple[dict[str, Any], list[str]]:
    action = make_action(channel_lock, "cytube.shipit.channel_lock", dict({"channel": "chan"}, **args))
    with patch.object(action, "_execute_module", host), patch.object(action._display, "display") as display:
        result = action.run(task_vars={"inventory_hostname": "h1"})
    return result, [call.args[0] for call in display.call_args_list]


def test_a_free_lock_is_taken_at_once() -> None:
    host = Host({"acquired": True, "holder": None})
    result, shown = take(host, wait=5)
    assert result["acquired"] and len(host.calls) == 1 and shown == []
    assert host.calls[0]["token"] and host.calls[0]["owner"]["user"]


def test_a_held_lock_fails_after_the_bound_naming_the_holder() -> None:
    host = Host({"acquired": False, "holder": OTHER})
    result, shown = take(host, wait=0.3, poll=0.05, purpose="deploy 2.0")
    assert result["failed"] and "channel chan on h1 is locked by bob" in result["msg"]
    assert "wait bound 0.3 s" in result["msg"] and "another controller" in result["msg"]
    assert len(shown) == 1 and "waiting up to 0.3 s" in shown[0], "the wait is announced once"
    assert len(host.calls) > 2, "it polls while waiting"


def test_a_dead_holder_on_this_controller_is_taken_over() -> None:
    dead = dict(OTHER, token="dead")
    host = Host({"acquired": False, "holder": dead}, {"acquired": True, "took_over": True, "holder": None})
    with patch.object(channel_lock, "holder_alive", return_value=False):
        result, _shown = take(host, wait=5)
    assert result["acquired"] and host.calls[1]["takeover"] == "dead"


def test_the_task_may_not_set_the_identity() -> None:
    with pytest.raises(AnsibleActionFail, match="token is set by the channel_lock action plugin"):
        take(Host({"acquired": True}), token="mine")
