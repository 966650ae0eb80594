"""Unit tests for the bot_releases module: rollback target resolution, marks, prune.

The modules run for real (AnsibleModule, exit_json/fail_json) on a temporary root; systemctl and
journalctl are replaced by a fake systemd (run_command is patched). The same modules run on
sandbox hosts in tests/integration/test_deploy*.py and test_rollback.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ansible_collections.cytube.shipit.plugins.module_utils import shipit_state as st
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import ChannelLayout
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_release_dirs import scan_releases, switch_current
from ansible_collections.cytube.shipit.plugins.modules import bot_releases
from module_harness import make_release, run

pytestmark = pytest.mark.timeout(60)


# --------------------------------------------------------------------------- bot_releases


def test_bot_releases_resolve_refuses_missing_and_bad(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    make_release(tmp_path, "chan", "v1-a", 1)
    make_release(tmp_path, "chan", "v2-b", 2)
    base = {"channel": "chan", "root": str(tmp_path)}
    failed, out = run(bot_releases, capsys, dict(base, resolve="v9-z"))
    assert failed and "v9-z does not exist" in out["msg"] and "v2-b, v1-a" in out["msg"]
    failed, _ = run(bot_releases, capsys, dict(base, state="bad", release="v1-a", reason="never joined"))
    assert not failed
    failed, out = run(bot_releases, capsys, dict(base, resolve="v1-a"))
    assert failed and "marked bad (never joined)" in out["msg"]
    failed, out = run(bot_releases, capsys, dict(base, resolve="v1-a", allow_bad=True))
    assert not failed and out["target"] == "v1-a"


def test_bot_releases_verified_prunes_but_keeps_protected(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for i in range(1, 7):
        make_release(tmp_path, "chan", f"r{i}", i)
    layout = ChannelLayout(str(tmp_path), "chan")
    switch_current(layout, "r6")
    base = {"channel": "chan", "root": str(tmp_path)}
    run(bot_releases, capsys, dict(base, state="bad", release="r1", reason="broken"))
    failed, out = run(bot_releases, capsys, dict(base, state="verified", release="r6", keep=2), check_mode=True)
    assert not failed and out["changed"] and (tmp_path / "chan" / "releases" / "r2").exists()
    failed, out = run(bot_releases, capsys, dict(base, state="verified", release="r6", keep=2))
    assert not failed and sorted(out["pruned"]) == ["r2", "r3", "r4"]
    assert sorted(os.listdir(tmp_path / "chan" / "releases")) == ["r1", "r5", "r6"]  # r1: latest bad
    live = [row for row in out["releases"] if row["live"]]
    assert [row["id"] for row in live] == ["r6"]
    assert any("BAD" in line and "broken" in line for line in out["lines"])


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
