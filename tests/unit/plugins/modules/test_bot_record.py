"""Unit tests for bot_record: the end of a run on the host - record, journal, unlock in one round trip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.cytube.shipit.plugins.modules import bot_record, channel_lock
from module_harness import make_release, run

pytestmark = pytest.mark.timeout(60)

OUTCOME = {"id": "run-1:deploy:chan:h1", "status": "success"}


def lock(tmp_path: Path, capsys: pytest.CaptureFixture, token: str) -> None:
    failed, out = run(channel_lock, capsys, {"channel": "chan", "root": str(tmp_path), "token": token, "owner": {}})
    assert not failed and out["acquired"]


def journal(tmp_path: Path) -> list:
    path = tmp_path / "chan" / ".shipit" / "outcomes.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def args(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return dict({"channel": "chan", "root": str(tmp_path), "token": "tok-a", "outcome": OUTCOME}, **extra)


def test_records_journals_and_unlocks_in_one_call(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    make_release(tmp_path, "chan", "v1-a", 1)
    lock(tmp_path, capsys, "tok-a")
    failed, out = run(bot_record, capsys, args(tmp_path, record={"release": "v1-a", "event": {"type": "deploy"}}))
    assert not failed and out["recorded"] and out["journaled"] and out["released"] and out["changed"]
    state = json.loads((tmp_path / "chan" / ".shipit" / "state.json").read_text())
    assert state["stack"] == ["v1-a"] and state["releases"]["v1-a"]["status"] == "good"
    assert journal(tmp_path) == [OUTCOME]
    assert not (tmp_path / "chan" / ".shipit" / "lock.json").exists()


def test_the_same_outcome_is_journaled_once(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for _ in range(2):
        failed, out = run(bot_record, capsys, args(tmp_path))
        assert not failed and not out["changed"]
    assert journal(tmp_path) == [OUTCOME]


def test_a_run_that_lost_the_lock_records_nothing_and_journals_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    make_release(tmp_path, "chan", "v1-a", 1)
    lock(tmp_path, capsys, "tok-b")
    failed, out = run(bot_record, capsys, args(tmp_path, record={"release": "v1-a"}))
    assert not failed and not out["recorded"] and "no longer holds the lock" in out["record_error"]
    assert journal(tmp_path) == [] and (tmp_path / "chan" / ".shipit" / "lock.json").exists()


def test_a_negative_keep_is_a_record_error_not_a_crash(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    make_release(tmp_path, "chan", "v1-a", 1)
    lock(tmp_path, capsys, "tok-a")
    failed, out = run(bot_record, capsys, args(tmp_path, record={"release": "v1-a", "keep": -1}))
    assert not failed and out["record_error"] and not out["journaled"]


def test_check_mode_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    failed, out = run(bot_record, capsys, args(tmp_path), check_mode=True)
    assert not failed and not out["journaled"] and journal(tmp_path) == []
