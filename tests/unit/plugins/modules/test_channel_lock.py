"""Unit tests for the channel_lock module (the host side of the per-channel deploy lock).

The modules run for real (AnsibleModule, exit_json/fail_json) on a temporary root; systemctl and
journalctl are replaced by a fake systemd (run_command is patched). The same modules run on
sandbox hosts in tests/integration/test_deploy*.py and test_rollback.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ansible_collections.cytube.shipit.plugins.modules import channel_lock
from module_harness import make_release, run

pytestmark = pytest.mark.timeout(60)


# --------------------------------------------------------------------------- channel_lock


def test_channel_lock_needs_the_action_plugin(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    failed, out = run(channel_lock, capsys, {"channel": "chan", "root": str(tmp_path)})
    assert failed and "action plugin" in out["msg"]


def test_channel_lock_acquire_lists_releases_and_commit_records(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    make_release(tmp_path, "chan", "v1-a", 1)
    base = {"channel": "chan", "root": str(tmp_path), "owner": {"user": "alice", "pid": 1}}
    failed, out = run(channel_lock, capsys, dict(base, token="tok-a"))
    assert not failed and out["acquired"] and out["releases"] == ["v1-a"] and out["live"] is None
    failed, out = run(channel_lock, capsys, dict(base, token="tok-b"))
    assert not failed and not out["acquired"] and "alice@" in out["holder_text"]
    # another run cannot commit
    failed, out = run(channel_lock, capsys, dict(base, token="tok-b", state="released", commit={"release": "v1-a"}))
    assert failed and "no longer holds the lock" in out["msg"]
    failed, out = run(
        channel_lock,
        capsys,
        dict(base, token="tok-a", state="released", commit={"release": "v1-a", "event": {"type": "deploy"}}),
    )
    assert not failed and out["released"] and out["changed"]
    state = json.loads((tmp_path / "chan" / ".shipit" / "state.json").read_text())
    assert state["stack"] == ["v1-a"] and state["releases"]["v1-a"]["status"] == "good"
    assert state["events"][-1]["type"] == "deploy"
    assert not (tmp_path / "chan" / ".shipit" / "lock.json").exists()
