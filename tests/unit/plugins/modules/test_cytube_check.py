"""Unit tests for the cytube_check module's entry point.

The module runs for real (AnsibleModule, exit_json/fail_json writing JSON to stdout);
only ``run_probe`` is replaced, so no network is touched. The end-to-end runs
against the CyTube stand-in are in tests/integration/test_cytube_check_live.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.cytube.shipit.plugins.module_utils import cytube_check_run, cytube_client
from ansible_collections.cytube.shipit.plugins.module_utils import cytube_probe as cp
from ansible_collections.cytube.shipit.plugins.modules import cytube_check

pytestmark = pytest.mark.timeout(30)

PASSWORD = "Pr0be-s3cret-xyz"
CHAN_PW = "chan-s3cret-abc"


def args(**over: Any) -> dict[str, Any]:
    base = dict(
        server_url="http://127.0.0.1:8080",
        channel="testchan",
        bot_name="shipbot",
        probe_user="shipprobe",
        probe_password=PASSWORD,
    )
    base.update(over)
    return base


def report(verdict: str = cp.HEALTHY, leak: str = "") -> cp.ProbeReport:
    checks = [cp.CheckResult("socketconfig", True, 1.0, "e", "s", "ok")]
    failed = None
    if verdict != cp.HEALTHY:
        checks.append(
            cp.CheckResult("login", False, 2.0, "login accepted", f"error: bad {leak}", "refused", failure=verdict)
        )
        failed = "login"
    return cp.ProbeReport(
        verdict=verdict,
        checks=checks,
        version="1.0" if verdict == cp.HEALTHY else None,
        failed_check=failed,
        msg=f"{verdict}: something {leak}",
        elapsed_ms=3.0,
    )


def run_module(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, module_args: dict[str, Any], fake_report: Any = None
) -> tuple[int, dict[str, Any], list[Any]]:
    calls: list[Any] = []

    def fake_run_probe(cfg: cp.ProbeConfig) -> cp.ProbeReport:
        calls.append(cfg)
        if isinstance(fake_report, Exception):
            raise fake_report
        return fake_report if fake_report is not None else report()

    monkeypatch.setattr(cytube_check_run, "run_probe", fake_run_probe)
    with patch_module_args(module_args):
        with pytest.raises(SystemExit) as info:
            cytube_check.main()
    out = capsys.readouterr().out
    return int(info.value.code or 0), json.loads(out), calls


def test_healthy_exits_unchanged(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    code, result, calls = run_module(monkeypatch, capsys, args())
    assert code == 0 and result["changed"] is False
    assert result["verdict"] == "healthy" and result["version"] == "1.0" and result["failed_check"] is None
    assert result["checks"][0] == {
        "name": "socketconfig",
        "ok": True,
        "latency_ms": 1.0,
        "expected": "e",
        "seen": "s",
        "message": "ok",
    }
    cfg = calls[0]
    assert cfg.probe_password == PASSWORD and cfg.command == "!ping" and cfg.repeat == 1


def test_invalid_options_fail_before_any_probe(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    code, result, calls = run_module(monkeypatch, capsys, args(channel="bad chan", repeat=2, max_failures=2))
    assert code == 1 and calls == []
    assert "channel 'bad chan'" in result["msg"]
    assert "max_failures 2 must be smaller than repeat 2" in result["msg"]
    assert len(result["errors"]) == 2


def test_rate_limit_options_reach_the_probe(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    code, _result, calls = run_module(monkeypatch, capsys, args(rate_limit_wait=7.5, rate_limit_dir="/tmp/rl"))
    assert code == 0 and calls[0].rate_limit_wait == 7.5 and calls[0].rate_limit_dir == "/tmp/rl"
    _code, _result, default = run_module(monkeypatch, capsys, args())
    assert default[0].rate_limit_wait == 60.0 and default[0].rate_limit_dir is None


def test_negative_rate_limit_wait_is_refused(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    code, result, calls = run_module(monkeypatch, capsys, args(rate_limit_wait=-1))
    assert code == 1 and calls == []
    assert "rate_limit_wait -1.0 must be 0 or more seconds" in result["msg"]


def test_unknown_fail_on_choice_is_refused(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    code, result, calls = run_module(monkeypatch, capsys, args(fail_on=["broken"]))
    assert code == 1 and calls == [] and "fail_on" in result["msg"]


def test_missing_required_option(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    a = args()
    del a["probe_password"]
    code, result, calls = run_module(monkeypatch, capsys, a)
    assert code == 1 and "probe_password" in result["msg"] and calls == []


@pytest.mark.parametrize(
    "verdict,fail_on,failed",
    [
        ("unhealthy", [], False),
        ("unhealthy", ["unhealthy"], True),
        ("inconclusive", ["unhealthy"], False),
        ("inconclusive", ["unhealthy", "inconclusive"], True),
        ("healthy", ["unhealthy", "inconclusive"], False),
    ],
)
def test_fail_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, verdict: str, fail_on: list[str], failed: bool
) -> None:
    code, result, _ = run_module(monkeypatch, capsys, args(fail_on=fail_on), report(verdict))
    assert (code == 1) is failed
    assert result.get("failed", False) is failed
    assert result["verdict"] == verdict and "checks" in result
    if failed:
        assert result["msg"].startswith(f"verdict {verdict} is in fail_on: {verdict}")
        assert result["failed_check"] == "login"


def test_passwords_never_reach_the_output(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    leak = f"{PASSWORD}/{CHAN_PW}"
    code, result, _ = run_module(
        monkeypatch,
        capsys,
        args(channel_password=CHAN_PW, fail_on=["inconclusive"]),
        report(cp.INCONCLUSIVE, leak=leak),
    )
    text = json.dumps(result)
    assert code == 1
    assert PASSWORD not in text and CHAN_PW not in text
    assert "********" in text


def test_unexpected_exception_is_scrubbed(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    code, result, _ = run_module(monkeypatch, capsys, args(), RuntimeError(f"boom with {PASSWORD} inside"))
    assert code == 1 and "boom with" in result["msg"]
    assert PASSWORD not in json.dumps(result)


def test_check_mode_runs_the_checks(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    code, result, calls = run_module(monkeypatch, capsys, dict(args(), _ansible_check_mode=True))
    assert code == 0 and len(calls) == 1 and result["verdict"] == "healthy" and result["changed"] is False


def test_missing_socketio_is_reported(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(cytube_client, "HAS_SOCKETIO", False)
    monkeypatch.setattr(cytube_client, "SOCKETIO_IMPORT_ERROR", "Traceback: No module named 'socketio'")
    code, result, calls = run_module(monkeypatch, capsys, args())
    assert code == 1 and calls == []
    assert "python-socketio" in result["msg"] and "Failed to import the required Python library" in result["msg"]


def test_documentation_matches_the_argument_spec() -> None:
    import yaml

    doc = yaml.safe_load(cytube_check.DOCUMENTATION)
    from ansible_collections.cytube.shipit.plugins.module_utils.cytube_check_spec import ARGUMENT_SPEC

    spec = dict(ARGUMENT_SPEC, **cytube_check_run.RATE_LIMIT_SPEC)
    assert set(doc["options"]) == set(spec)
    for name, option in spec.items():
        documented = doc["options"][name]
        assert documented["type"] == option["type"], name
        assert documented.get("required", False) == option.get("required", False), name
        if "default" in option:
            assert documented["default"] == option["default"], name
    returned = yaml.safe_load(cytube_check.RETURN)
    assert {"verdict", "checks", "version", "failed_check", "msg"} <= set(returned)
