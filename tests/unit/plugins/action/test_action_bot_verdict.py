"""Unit tests for the bot_verdict action plugin: the verdict, the message and when the task fails."""

from __future__ import annotations

from typing import Any

import pytest
from action_harness import make_action
from ansible.errors import AnsibleActionFail
from ansible_collections.cytube.shipit.plugins.action import bot_verdict
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_verdict import check_record

pytestmark = pytest.mark.timeout(30)


def host(ok: bool = True) -> dict[str, Any]:
    return {
        "checks": [
            check_record("unit_active", ok, "active (running)", "active (running)" if ok else "failed (failed)"),
            check_record("unit_stable", True, "no restart since start", "no restart"),
        ]
    }


def cytube(verdict: str) -> dict[str, Any]:
    ok = verdict == "healthy"
    return {
        "verdict": verdict,
        "failed_check": None if ok else "command_round_trip",
        "msg": "cytube says " + verdict,
        "checks": [check_record("command_round_trip", ok, "a reply within 3 s", "reply" if ok else "no reply")],
    }


def verdict(**args: Any) -> dict[str, Any]:
    return make_action(bot_verdict, "cytube.shipit.bot_verdict", args).run(task_vars={})


def test_healthy_passes_with_every_check() -> None:
    result = verdict(host=host(), cytube=cytube("healthy"), subject="bot of channel chan")
    assert result["verdict"] == "healthy" and not result.get("failed") and not result["changed"]
    assert result["msg"] == "bot of channel chan is healthy"
    assert [c["name"] for c in result["checks"]] == ["unit_active", "unit_stable", "command_round_trip"]


def test_unhealthy_fails_the_task_naming_the_check() -> None:
    result = verdict(host=host(), cytube=cytube("unhealthy"))
    assert result["failed"] and result["verdict"] == "unhealthy" and result["failed_check"] == "command_round_trip"
    assert result["msg"].startswith("the bot is UNHEALTHY: check 'command_round_trip' failed")


def test_a_failed_host_check_wins_over_cytube() -> None:
    result = verdict(host=host(ok=False), cytube=cytube("inconclusive"))
    assert result["verdict"] == "unhealthy" and result["failed_check"] == "unit_active"


@pytest.mark.parametrize(
    ("outside", "args", "fails"),
    [
        ("inconclusive", {}, True),
        ("inconclusive", {"fail_on": ["unhealthy"]}, False),
        ("unhealthy", {"fail_on": ["inconclusive"]}, False),
        ("unhealthy", {"fail": False}, False),
    ],
)
def test_fail_and_fail_on_choose_what_fails_the_task(outside: str, args: dict[str, Any], fails: bool) -> None:
    result = verdict(host=host(), cytube=cytube(outside), **args)
    assert result["verdict"] == outside and bool(result.get("failed")) is fails


def test_bad_options_are_refused() -> None:
    with pytest.raises(AnsibleActionFail, match="fail_on must be one or more of: unhealthy, inconclusive"):
        verdict(host=host(), cytube=cytube("healthy"), fail_on=["healthy"])
    with pytest.raises(AnsibleActionFail, match=r"Invalid options.*verdikt"):
        verdict(host=host(), verdikt="healthy")
