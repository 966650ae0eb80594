"""Unit tests for the bot_releases module: rollback target resolution, marks, prune.

The modules run for real (AnsibleModule, exit_json/fail_json) on a temporary root; systemctl and
journalctl are replaced by a fake systemd (run_command is patched). The same modules run on
sandbox hosts in tests/integration/test_deploy*.py and test_rollback.py.
"""

from __future__ import annotations

from pathlib import Path
from unittest.mock import ANY

import pytest
from ansible_collections.cytube.shipit.plugins.module_utils import shipit_state as st
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import ChannelLayout
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_release_dirs import scan_releases, switch_current
from ansible_collections.cytube.shipit.plugins.modules import bot_releases
from module_harness import (
    make_release,
    previous_edited_by_hand,
    run,
    stack_lost_with_a_verified_release,
    stack_with_a_gone_and_a_bad_entry,
)

pytestmark = pytest.mark.timeout(60)


# --------------------------------------------------------------------------- bot_releases


def test_bot_releases_lists_and_marks_bad(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for built in range(1, 4):
        make_release(tmp_path, "chan", f"r{built}", built)
    layout = ChannelLayout(str(tmp_path), "chan")
    switch_current(layout, "r3")
    base = {"channel": "chan", "root": str(tmp_path)}
    failed, out = run(bot_releases, capsys, base)
    assert not failed and not out["changed"] and out["live"] == "r3" and out["previous_good"] == "r2"
    assert [row["id"] for row in out["releases"]] == ["r3", "r2", "r1"] and out["bad"] == []
    bad = dict(base, state="bad", release="r2", reason="broken", event={"type": "deploy_failed"})
    failed, out = run(bot_releases, capsys, bad, check_mode=True, diff=True)
    assert not failed and out["changed"] and out["bad"] == ["r2"] and '"broken"' in out["diff"]["after"]
    assert st.load_state(layout)["releases"] == {}
    failed, out = run(bot_releases, capsys, bad)
    assert not failed and out["changed"] and out["previous_good"] == "r1"
    assert any("BAD" in line and "broken" in line for line in out["lines"])
    assert st.load_state(layout)["events"][-1] == {"type": "deploy_failed", "release": "r2", "at": ANY}


def test_bot_releases_marks_the_live_release_by_default(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    base = {"channel": "chan", "root": str(tmp_path), "state": "bad"}
    failed, out = run(bot_releases, capsys, base)
    assert failed and "no live release and no release was given" in out["msg"]
    make_release(tmp_path, "chan", "r1", 1)
    switch_current(ChannelLayout(str(tmp_path), "chan"), "r1")
    failed, out = run(bot_releases, capsys, dict(base, reason="crashed"))
    assert not failed and out["bad"] == ["r1"]
    failed, out = run(bot_releases, capsys, dict(base, release="../etc"))
    assert failed and "not valid" in out["msg"]


def test_describe_and_format(tmp_path: Path) -> None:
    for built, release_id in enumerate(["v1-a", "v2-b", "v3-c"], start=1):
        make_release(tmp_path, "chan", release_id, built, version=f"{built}.0.0")
    layout = ChannelLayout(str(tmp_path), "chan")
    state = st.empty_state()
    st.push_live(state, "v1-a")
    st.push_live(state, "v2-b")
    st.mark_bad(state, "v3-c", "never joined")
    switch_current(layout, "v2-b")
    rows = bot_releases.describe_releases(state, scan_releases(layout), "v2-b")
    by_id = {r["id"]: r for r in rows}
    assert [r["id"] for r in rows] == ["v3-c", "v2-b", "v1-a"]
    assert by_id["v2-b"]["live"] and by_id["v1-a"]["previous_good"]
    assert by_id["v3-c"]["status"] == "bad" and by_id["v3-c"]["bad_reason"] == "never joined"
    lines = bot_releases.format_table(rows)
    assert "LIVE" in lines[1] and "BAD" in lines[0] and "never joined" in lines[0]


def test_a_rollback_names_the_stack_entries_it_passes_over(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The live stack says r1, r2, r3, r4 (live); r3 was removed by hand and r2 is bad: "previous" is r1, and the
    missing r3 is named with why (bad releases are skipped by design, not listed)."""
    stack_with_a_gone_and_a_bad_entry(tmp_path)
    layout = ChannelLayout(str(tmp_path), "chan")
    state = st.load_state(layout)
    failed, out = run(bot_releases, capsys, {"channel": "chan", "root": str(tmp_path)})
    assert not failed and out["previous_good"] == "r1"
    assert out["previous_skipped"] == [
        {"id": "r3", "reason": "it no longer exists on the host (removed by hand, or pruned)"}
    ]
    # Nothing is passed over when the top of the stack is usable.
    state["stack"] = ["r1", "r3", "r2", "r4"]
    st.save_state(layout, state)
    assert bot_releases.skipped_for_rollback(st.load_state(layout), scan_releases(layout), "r1") == []


def test_a_failed_deploy_falls_back_to_the_newest_verified_release(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The live stack lost its entries; the failing release r2 (re-deployed, built before r3) is live and r3 was
    verified: marking r2 bad names r3 as the way back, and says it is a fallback and why."""
    stack_lost_with_a_verified_release(tmp_path)
    failed, out = run(bot_releases, capsys, {"channel": "chan", "root": str(tmp_path), "state": "bad", "reason": "x"})
    assert not failed and out["previous_good"] == "r3"
    assert out["previous_fallback"]["id"] == "r3" and "newest verified release" in out["previous_fallback"]["reason"]
    assert out["previous_skipped"] == [{"id": "r1-gone", "reason": ANY}]


def test_the_integrity_of_a_rollback_target_names_drifted_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """r1 (previous good) had a venv file edited after its build; r2 is live: a check of "previous" (and of r1 by
    name) names the file, r2 is intact."""
    previous_edited_by_hand(tmp_path)
    base = {"channel": "chan", "root": str(tmp_path)}
    for wanted in ("previous", "r1"):
        failed, out = run(bot_releases, capsys, dict(base, integrity_of=wanted))
        assert not failed and out["integrity"]["release"] == "r1"
        assert out["integrity"]["drifted"] == ["venv/lib/python3.11/site-packages/bot.py: modified"]
        assert "release r1 differs from what was built" in out["integrity"]["message"]
    failed, out = run(bot_releases, capsys, dict(base, integrity_of="r2"))
    assert not failed and out["integrity"] == {"release": "r2", "drifted": [], "message": ""}
    failed, out = run(bot_releases, capsys, dict(base, integrity_of="../x"))
    assert failed and "integrity_of" in out["msg"] and "not valid" in out["msg"]
