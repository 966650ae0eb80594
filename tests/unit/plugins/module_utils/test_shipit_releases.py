"""Unit tests for shipit_releases: layout, switch, state marks, rollback target, prune."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from ansible_collections.cytube.shipit.plugins.module_utils import shipit_releases as sr

pytestmark = pytest.mark.timeout(30)


def make_release(
    layout: sr.ChannelLayout, release_id: str, built: float, complete: bool = True, version: str = "1.0.0"
) -> None:
    path = Path(layout.release_dir(release_id))
    path.mkdir(parents=True)
    if complete:
        (path / sr.MANIFEST_NAME).write_text(
            json.dumps({"release_id": release_id, "version": version, "built_at_epoch": built, "built_at": "t"})
        )


@pytest.fixture()
def layout(tmp_path: Path) -> sr.ChannelLayout:
    lay = sr.ChannelLayout(str(tmp_path / "root"), "MyChan", secrets_root=str(tmp_path / "etc"))
    os.makedirs(lay.releases)
    return lay


def test_channel_key_lowercases_and_rejects_bad_names() -> None:
    assert sr.channel_key("Test-Chan_1") == "test-chan_1"
    with pytest.raises(sr.ShipitError, match="bad name!"):
        sr.channel_key("bad name!")
    with pytest.raises(sr.ShipitError):
        sr.channel_key("x" * 31)


def test_layout_paths(layout: sr.ChannelLayout, tmp_path: Path) -> None:
    assert layout.base == str(tmp_path / "root" / "mychan")
    assert layout.current.endswith("mychan/current")
    assert layout.secrets_dir == str(tmp_path / "etc" / "mychan")
    with pytest.raises(sr.ShipitError):
        layout.release_dir("../etc")
    with pytest.raises(sr.ShipitError):
        sr.ChannelLayout("relative/root", "chan")


def test_unit_instance() -> None:
    assert sr.unit_instance("cytube-bot@.service", "Chan") == "cytube-bot@chan.service"
    with pytest.raises(sr.ShipitError):
        sr.unit_instance("cytube-bot.service", "chan")


def test_sanitize_version() -> None:
    assert sr.sanitize_version("1.0+local.2") == "1.0_local.2"
    assert sr.sanitize_version("") == "0"


def test_switch_current_is_atomic_and_idempotent(layout: sr.ChannelLayout) -> None:
    make_release(layout, "a-1", 1)
    make_release(layout, "b-2", 2)
    assert sr.current_release(layout) is None
    assert sr.switch_current(layout, "a-1") is True
    assert os.readlink(layout.current) == "releases/a-1"
    assert sr.switch_current(layout, "a-1") is False
    assert sr.switch_current(layout, "b-2") is True
    assert sr.current_release(layout) == "b-2"
    # no temporary links left behind
    assert [n for n in os.listdir(layout.base) if n.startswith(".current")] == []
    assert sr.remove_current(layout) is True
    assert sr.current_release(layout) is None


def test_release_from_path(layout: sr.ChannelLayout) -> None:
    assert sr.release_from_path(layout, layout.releases + "/x-1/venv/bin") == "x-1"
    assert sr.release_from_path(layout, "/somewhere/else") is None
    assert sr.release_from_path(layout, None) is None


def test_scan_marks_incomplete(layout: sr.ChannelLayout) -> None:
    make_release(layout, "a-1", 1)
    make_release(layout, "b-2", 2, complete=False)
    found = {r.id: r.complete for r in sr.scan_releases(layout)}
    assert found == {"a-1": True, "b-2": False}


def test_state_roundtrip_and_marks(layout: sr.ChannelLayout) -> None:
    state = sr.load_state(layout)
    assert state["stack"] == []
    sr.mark_good(state, "a-1")
    sr.push_live(state, "a-1")
    sr.mark_bad(state, "b-2", "command_round_trip: no reply")
    sr.save_state(layout, state)
    again = sr.load_state(layout)
    assert sr.release_status(again, "a-1") == "good"
    assert sr.is_bad(again, "b-2")
    assert again["releases"]["b-2"]["reason"] == "command_round_trip: no reply"
    assert sr.clear_mark(again, "b-2") is True
    assert not sr.is_bad(again, "b-2")


def test_corrupt_state_is_ignored(layout: sr.ChannelLayout) -> None:
    os.makedirs(layout.state_dir)
    Path(layout.state_file).write_text("{not json")
    assert sr.load_state(layout) == sr.empty_state()


def test_rollback_target_uses_the_live_stack(layout: sr.ChannelLayout) -> None:
    for i, rid in enumerate(["v1-a", "v2-b", "v3-c"], start=1):
        make_release(layout, rid, i)
    releases = sr.scan_releases(layout)
    state = sr.empty_state()
    for rid in ["v1-a", "v2-b", "v3-c"]:
        sr.mark_good(state, rid)
        sr.push_live(state, rid)
    # rollback from v3 -> v2, then (v3 popped) -> v1
    assert sr.rollback_target(state, releases, exclude=["v3-c"], current="v3-c") == "v2-b"
    sr.push_live(state, "v2-b", pop="v3-c")
    assert state["stack"] == ["v1-a", "v2-b"]
    assert sr.rollback_target(state, releases, exclude=["v2-b"], current="v2-b") == "v1-a"


def test_rollback_target_skips_bad_and_missing(layout: sr.ChannelLayout) -> None:
    make_release(layout, "v1-a", 1)
    make_release(layout, "v2-b", 2)
    make_release(layout, "v3-c", 3)
    releases = sr.scan_releases(layout)
    state = sr.empty_state()
    state["stack"] = ["gone-0", "v1-a", "v2-b", "v3-c"]
    sr.mark_bad(state, "v2-b", "broken")
    assert sr.rollback_target(state, releases, exclude=["v3-c"], current="v3-c") == "v1-a"


def test_deploy_rollback_target_is_the_last_verified_live_release(layout: sr.ChannelLayout) -> None:
    # A deploy of v3 that was switched but never verified (killed run): the rollback target
    # of v3 is still v2, the top of the stack.
    make_release(layout, "v2-b", 2)
    make_release(layout, "v3-c", 3)
    state = sr.empty_state()
    sr.push_live(state, "v2-b")
    assert sr.rollback_target(state, sr.scan_releases(layout), exclude=["v3-c"], current="v3-c") == "v2-b"


def test_rollback_target_fallback_without_state(layout: sr.ChannelLayout) -> None:
    make_release(layout, "v1-a", 1)
    make_release(layout, "v2-b", 2)
    make_release(layout, "v3-c", 3)
    releases = sr.scan_releases(layout)
    state = sr.empty_state()
    assert sr.rollback_target(state, releases, exclude=["v2-b"], current="v2-b") == "v1-a"
    assert sr.rollback_target(state, releases, exclude=["v1-a"], current="v1-a") is None


def test_select_prune_keeps_protected_and_newest(layout: sr.ChannelLayout) -> None:
    for i in range(1, 8):
        make_release(layout, f"r{i}", i)
    make_release(layout, "broken", 9, complete=False)
    releases = sr.scan_releases(layout)
    state = sr.empty_state()
    doomed = sr.select_prune(state, releases, keep=3, protect=["r7", "r1"])
    # kept: r7 (protected), r1 (protected), r6, r5 (newest), and nothing else
    assert sorted(doomed) == ["broken", "r2", "r3", "r4"]


def test_select_prune_counts_recent_activation(layout: sr.ChannelLayout) -> None:
    for i in range(1, 5):
        make_release(layout, f"r{i}", i)
    state = sr.empty_state()
    sr.push_live(state, "r1", now=100.0)  # re-deployed recently: used after r2..r4 were built
    doomed = sr.select_prune(state, sr.scan_releases(layout), keep=2, protect=[])
    assert sorted(doomed) == ["r2", "r3"]


def test_describe_and_format(layout: sr.ChannelLayout) -> None:
    make_release(layout, "v1-a", 1, version="1.0.0")
    make_release(layout, "v2-b", 2, version="2.0.0")
    make_release(layout, "v3-c", 3, version="3.0.0")
    state = sr.empty_state()
    sr.push_live(state, "v1-a")
    sr.push_live(state, "v2-b")
    sr.mark_bad(state, "v3-c", "never joined")
    sr.switch_current(layout, "v2-b")
    rows = sr.describe_releases(layout, state, sr.scan_releases(layout), "v2-b")
    by_id = {r["id"]: r for r in rows}
    assert [r["id"] for r in rows] == ["v3-c", "v2-b", "v1-a"]
    assert by_id["v2-b"]["live"] and by_id["v1-a"]["previous_good"]
    assert by_id["v3-c"]["status"] == "bad" and by_id["v3-c"]["bad_reason"] == "never joined"
    lines = sr.format_table(rows)
    assert "LIVE" in lines[1] and "BAD" in lines[0] and "never joined" in lines[0]


def test_atomic_write_sets_mode(tmp_path: Path) -> None:
    target = tmp_path / "secret"
    sr.atomic_write(str(target), b"x", 0o600)
    assert target.read_bytes() == b"x"
    assert (target.stat().st_mode & 0o777) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret"]
