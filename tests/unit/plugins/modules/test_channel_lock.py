"""Unit tests for the channel_lock module (the host side of the per-channel deploy lock).

The module runs for real (AnsibleModule, exit_json/fail_json) on a temporary root. The same module
runs on sandbox hosts in tests/integration/test_deploy*.py and test_rollback.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from ansible_collections.cytube.shipit.plugins.modules import bot_releases, channel_lock
from module_harness import (
    make_release,
    previous_edited_by_hand,
    run,
    stack_lost_with_a_verified_release,
    stack_with_a_gone_and_a_bad_entry,
)

pytestmark = pytest.mark.timeout(60)


def test_channel_lock_needs_the_action_plugin(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    failed, out = run(channel_lock, capsys, {"channel": "chan", "root": str(tmp_path)})
    assert failed and "action plugin" in out["msg"]


def test_channel_lock_acquire_lists_releases_and_only_the_holder_releases(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    make_release(tmp_path, "chan", "v1-a", 1)
    base = {"channel": "chan", "root": str(tmp_path), "owner": {"user": "alice", "pid": 1}}
    failed, out = run(channel_lock, capsys, dict(base, token="tok-a"))
    assert not failed and out["acquired"] and out["releases"] == ["v1-a"] and out["live"] is None
    failed, out = run(channel_lock, capsys, dict(base, token="tok-b"))
    assert not failed and not out["acquired"] and "alice@" in out["holder_text"]
    failed, out = run(channel_lock, capsys, dict(base, token="tok-b", state="released"))
    assert not failed and not out["released"]
    assert (tmp_path / "chan" / ".shipit" / "lock.json").exists()
    failed, out = run(channel_lock, capsys, dict(base, token="tok-a", state="released"))
    assert not failed and out["released"]
    assert not (tmp_path / "chan" / ".shipit" / "lock.json").exists()


def test_channel_lock_does_not_record(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    base = {"channel": "chan", "root": str(tmp_path), "token": "tok-a"}
    failed, out = run(channel_lock, capsys, dict(base, state="released", commit={"release": "v1-a"}))
    assert failed and "commit" in out["msg"]


def test_channel_lock_leaves_a_drifted_release_out_so_a_deploy_builds_it_again(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    make_release(tmp_path, "chan", "v1-a", 1)
    make_release(tmp_path, "chan", "v2-b", 2)
    site = tmp_path / "chan" / "releases" / "v2-b" / "venv" / "lib" / "python3.11" / "site-packages"
    (site / "bot-2.dist-info").mkdir(parents=True)
    (site / "bot.py").write_text("print('edited by hand')\n")
    # the sha256 pip recorded for "print('hi')\n"
    (site / "bot-2.dist-info" / "RECORD").write_text("bot.py,sha256=yvAm8l1xQCCfmAcmBTB6Q4kUuc5vPBSyPRXZZnJB3lI,12\n")
    failed, out = run(channel_lock, capsys, {"channel": "chan", "root": str(tmp_path), "token": "tok-a"})
    assert not failed and out["releases"] == ["v1-a"]
    assert out["drifted"] == {
        "v2-b": "release v2-b differs from what was built and verified (venv/lib/python3.11/site-packages/bot.py: "
        "modified)"
    }


@pytest.mark.parametrize(
    "tree",
    [stack_with_a_gone_and_a_bad_entry, stack_lost_with_a_verified_release, previous_edited_by_hand],
)
def test_the_rollback_view_under_the_lock_is_what_bot_releases_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture, tree: Callable[[Path], None]
) -> None:
    """A rollback reads its target, what it passes over, any fallback and the target's integrity in the lock's
    own host call; it must be the answer bot_releases gives (which the role asks when no view is handed over)."""
    tree(tmp_path)
    base = {"channel": "chan", "root": str(tmp_path)}
    failed, locked = run(channel_lock, capsys, dict(base, token="tok-a", rollback_view=True))
    assert not failed, locked
    failed, asked = run(bot_releases, capsys, dict(base, integrity_of="previous"))
    assert not failed, asked
    wanted = {key: asked[key] for key in ("previous_good", "previous_skipped", "previous_fallback", "integrity")}
    assert locked["rollback"] == wanted
    failed, plain = run(channel_lock, capsys, dict(base, token="tok-a"))
    assert not failed and "rollback" not in plain
