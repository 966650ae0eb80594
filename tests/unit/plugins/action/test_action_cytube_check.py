"""Unit tests for the cytube_check action plugin: the probe runs in the controller's process, with the module's result.

Only ``run_probe`` is replaced, so no network is touched; the module side of the same cases is in
tests/unit/plugins/modules/test_cytube_check.py, the live runs in tests/integration/test_cytube_check_live.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from action_harness import make_action
from ansible.errors import AnsibleActionFail
from ansible.module_utils.testing import patch_module_args
from ansible_collections.cytube.shipit.plugins.action import cytube_check as action
from ansible_collections.cytube.shipit.plugins.module_utils import cytube_check_run
from ansible_collections.cytube.shipit.plugins.module_utils import cytube_probe as cp
from ansible_collections.cytube.shipit.plugins.modules import cytube_check as module

pytestmark = pytest.mark.timeout(30)

PASSWORD = "Pr0be-s3cret-xyz"
CHAN_PW = "chan-s3cret-abc"


def args(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = dict(
        server_url="http://127.0.0.1:8080",
        channel="testchan",
        bot_name="shipbot",
        probe_user="shipprobe",
        probe_password=PASSWORD,
    )
    base.update(over)
    return base


def report(verdict: str, leak: str = "") -> cp.ProbeReport:
    ok = verdict == cp.HEALTHY
    check = cp.CheckResult("command_round_trip", ok, 2.0, "pong", "pong" if ok else f"nothing {leak}", "m")
    return cp.ProbeReport(
        verdict=verdict,
        checks=[check],
        version="1.0" if ok else None,
        failed_check=None if ok else "command_round_trip",
        msg=f"{verdict}: about {leak}",
        elapsed_ms=3.0,
    )


class FakeProbe:
    def __init__(self, outcome: Any) -> None:
        self.outcome = outcome
        self.configs: list[cp.ProbeConfig] = []

    def __call__(self, cfg: cp.ProbeConfig) -> cp.ProbeReport:
        self.configs.append(cfg)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def run_action(monkeypatch: pytest.MonkeyPatch, task_args: dict[str, Any], outcome: Any) -> tuple[dict, FakeProbe]:
    probe = FakeProbe(outcome)
    monkeypatch.setattr(cytube_check_run, "run_probe", probe)
    plugin = make_action(action, "cytube.shipit.cytube_check", task_args)
    result = plugin.run(task_vars={})
    assert plugin._connection.method_calls == [], "the check must never use the task's connection"
    return result, probe


def run_module(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, task_args: dict[str, Any], outcome: Any
) -> dict[str, Any]:
    monkeypatch.setattr(cytube_check_run, "run_probe", FakeProbe(outcome))
    with patch_module_args(task_args), pytest.raises(SystemExit):
        module.main()
    result = json.loads(capsys.readouterr().out)
    return result


@pytest.mark.parametrize(
    "task_args,outcome",
    [
        (args(), report(cp.HEALTHY)),
        (args(fail_on=["unhealthy"]), report(cp.UNHEALTHY)),
        (args(fail_on=["unhealthy"]), report(cp.INCONCLUSIVE)),
        (args(channel="bad chan", repeat=2, max_failures=2), report(cp.HEALTHY)),
        (args(rate_limit_wait=-1), report(cp.HEALTHY)),
        (args(), RuntimeError("boom")),
    ],
    ids=["healthy", "unhealthy-fails", "inconclusive-reported", "bad-options", "bad-rate-limit", "probe-crash"],
)
def test_the_action_returns_what_the_module_returns(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, task_args: dict[str, Any], outcome: Any
) -> None:
    in_process, _probe = run_action(monkeypatch, task_args, outcome)
    as_module = run_module(monkeypatch, capsys, task_args, outcome)
    assert in_process.get("failed", False) == as_module.get("failed", False)
    assert {k: v for k, v in in_process.items() if k != "failed"} == {
        k: v for k, v in as_module.items() if k != "failed"
    }


def test_the_probe_gets_the_options_and_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    result, probe = run_action(monkeypatch, args(mode="pm", rate_limit_wait=7.5), report(cp.HEALTHY))
    assert result["verdict"] == "healthy" and result["changed"] is False and not result.get("failed")
    cfg = probe.configs[0]
    assert cfg.mode == "pm" and cfg.rate_limit_wait == 7.5 and cfg.probe_password == PASSWORD
    assert cfg.connect_timeout == 5.0 and cfg.repeat == 1


def test_bad_options_fail_before_any_probe_and_name_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    result, probe = run_action(monkeypatch, args(channel="bad chan"), report(cp.HEALTHY))
    assert result["failed"] is True and probe.configs == []
    assert "channel 'bad chan'" in result["msg"]


def test_a_missing_or_unknown_option_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = args()
    del missing["probe_password"]
    with pytest.raises(AnsibleActionFail, match="probe_password"):
        run_action(monkeypatch, missing, report(cp.HEALTHY))
    with pytest.raises(AnsibleActionFail, match="bot_nmae"):
        run_action(monkeypatch, args(bot_nmae="x"), report(cp.HEALTHY))


def test_passwords_never_reach_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    leak = f"{PASSWORD}/{CHAN_PW}"
    for outcome in (report(cp.INCONCLUSIVE, leak=leak), RuntimeError(f"boom {leak}")):
        result, _probe = run_action(monkeypatch, args(channel_password=CHAN_PW, fail_on=["inconclusive"]), outcome)
        text = json.dumps(result)
        assert result["failed"] is True
        assert PASSWORD not in text and CHAN_PW not in text and "********" in text


def test_a_password_anywhere_in_the_result_is_masked_as_the_module_masks_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    echoed = report(cp.HEALTHY)
    echoed.version = PASSWORD
    result, _probe = run_action(monkeypatch, args(), echoed)
    assert PASSWORD not in json.dumps(result)
    assert result == run_module(monkeypatch, capsys, args(), echoed)


def test_check_mode_still_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    probe = FakeProbe(report(cp.HEALTHY))
    monkeypatch.setattr(cytube_check_run, "run_probe", probe)
    result = make_action(action, "cytube.shipit.cytube_check", args(), check_mode=True).run(task_vars={})
    assert result["verdict"] == "healthy" and len(probe.configs) == 1
