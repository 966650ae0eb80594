"""Unit tests for the bot_host_check module with a fake systemd: unit, stability and journal checks."""

from __future__ import annotations

from typing import Any

import pytest
from ansible.module_utils import basic
from ansible_collections.cytube.shipit.plugins.modules import bot_host_check
from module_harness import FakeSystemd, run

pytestmark = pytest.mark.timeout(60)

UNIT = "cytube-bot@chan.service"


@pytest.fixture()
def systemd(monkeypatch: pytest.MonkeyPatch) -> FakeSystemd:
    fake = FakeSystemd()
    fake.active, fake.pid = True, 4242
    monkeypatch.setattr(basic.AnsibleModule, "run_command", fake)
    return fake


def check(capsys: pytest.CaptureFixture, **over: Any) -> tuple[bool, dict[str, Any]]:
    args = {"channel": "Chan", "root": "/srv/bots", "ready_timeout": 1}
    args.update(over)
    return run(bot_host_check, capsys, args)


def test_a_running_bot_passes_every_check(capsys: pytest.CaptureFixture, systemd: FakeSystemd) -> None:
    failed, out = check(capsys)
    assert not failed and out["ok"] and not out["changed"] and out["failed_check"] is None
    assert [c["name"] for c in out["checks"]] == ["unit_active", "unit_stable", "journal"]
    assert out["unit"] == UNIT and out["main_pid"] == 4242 and out["msg"] == f"host checks of {UNIT} passed"
    assert ["journalctl", "--no-pager", "-o", "json", "-u", UNIT, "_SYSTEMD_INVOCATION_ID=inv1"] in systemd.calls


def test_journal_errors_fail_the_check_and_only_fail_the_task_when_asked(
    capsys: pytest.CaptureFixture, systemd: FakeSystemd
) -> None:
    systemd.journal.append({"MESSAGE": "12:00:01 ERROR login failed", "PRIORITY": "6"})
    failed, out = check(capsys)
    assert not failed and not out["ok"] and out["failed_check"] == "journal"
    assert out["journal_errors"] == ["12:00:01 ERROR login failed"] and "login failed" in out["msg"]
    failed, out = check(capsys, fail=True)
    assert failed and out["failed_check"] == "journal"


def test_the_journal_pattern_and_switch(capsys: pytest.CaptureFixture, systemd: FakeSystemd) -> None:
    systemd.journal.append({"MESSAGE": "WARN slow reply", "PRIORITY": "6"})
    _failed, out = check(capsys)
    assert out["ok"]  # the default pattern does not count warnings
    _failed, out = check(capsys, journal_pattern=r"\bWARN\b")
    assert not out["ok"] and out["journal_errors"] == ["WARN slow reply"]
    _failed, out = check(capsys, journal_pattern=r"\bWARN\b", journal=False)
    assert out["ok"] and [c["name"] for c in out["checks"]] == ["unit_active", "unit_stable"]


def test_a_restart_since_the_activation_is_unstable(capsys: pytest.CaptureFixture, systemd: FakeSystemd) -> None:
    systemd.nrestarts = 1
    _failed, out = check(capsys, baseline_restarts=0)
    stable = {c["name"]: c for c in out["checks"]}["unit_stable"]
    assert not out["ok"] and not stable["ok"] and stable["seen"] == "unit restarted 1 time(s) since it was started"
    _failed, out = check(capsys)  # without a baseline: restarts before this check do not count
    assert out["ok"]
    _failed, out = check(capsys, expect_pid=4000)
    assert not out["ok"] and "main process changed (pid 4000 -> 4242)" in out["msg"]


def test_a_stopped_unit_is_not_active(capsys: pytest.CaptureFixture, systemd: FakeSystemd) -> None:
    systemd.active, systemd.pid = False, 0
    _failed, out = check(capsys)
    assert not out["ok"] and out["failed_check"] == "unit_active" and out["running_release"] is None


def test_a_bad_channel_name_is_refused(capsys: pytest.CaptureFixture, systemd: FakeSystemd) -> None:
    failed, out = check(capsys, channel="bad name!")
    assert failed and "'bad name!' is not a valid CyTube channel name" in out["msg"] and systemd.calls == []
