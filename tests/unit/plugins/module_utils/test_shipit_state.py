"""Unit tests for shipit_state: marks, the live stack, the rollback target."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ansible_collections.cytube.shipit.plugins.module_utils import shipit_state as st
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import ChannelLayout, ShipitError
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_release_dirs import scan_releases, switch_current
from release_tree import make_release

pytestmark = pytest.mark.timeout(30)


def test_state_roundtrip_and_marks(layout: ChannelLayout) -> None:
    state = st.load_state(layout)
    assert state["stack"] == []
    st.mark_good(state, "a-1")
    st.push_live(state, "a-1")
    st.mark_bad(state, "b-2", "command_round_trip: no reply")
    st.save_state(layout, state)
    again = st.load_state(layout)
    assert st.release_status(again, "a-1") == "good"
    assert st.is_bad(again, "b-2")
    assert again["releases"]["b-2"]["reason"] == "command_round_trip: no reply"
    st.mark_good(again, "b-2")  # a forced activation of a bad release that verified healthy
    assert not st.is_bad(again, "b-2") and "reason" not in again["releases"]["b-2"]


def test_corrupt_state_is_ignored(layout: ChannelLayout) -> None:
    os.makedirs(layout.state_dir)
    Path(layout.state_file).write_text("{not json")
    assert st.load_state(layout) == st.empty_state()


def test_rollback_target_uses_the_live_stack(layout: ChannelLayout) -> None:
    for i, rid in enumerate(["v1-a", "v2-b", "v3-c"], start=1):
        make_release(layout, rid, i)
    releases = scan_releases(layout)
    state = st.empty_state()
    for rid in ["v1-a", "v2-b", "v3-c"]:
        st.mark_good(state, rid)
        st.push_live(state, rid)
    # rollback from v3 -> v2, then (v3 popped) -> v1
    assert st.rollback_target(state, releases, exclude=["v3-c"], current="v3-c") == "v2-b"
    st.push_live(state, "v2-b", pop="v3-c")
    assert state["stack"] == ["v1-a", "v2-b"]
    assert st.rollback_target(state, releases, exclude=["v2-b"], current="v2-b") == "v1-a"


def test_rollback_target_skips_bad_and_missing(layout: ChannelLayout) -> None:
    make_release(layout, "v1-a", 1)
    make_release(layout, "v2-b", 2)
    make_release(layout, "v3-c", 3)
    releases = scan_releases(layout)
    state = st.empty_state()
    state["stack"] = ["gone-0", "v1-a", "v2-b", "v3-c"]
    st.mark_bad(state, "v2-b", "broken")
    assert st.rollback_target(state, releases, exclude=["v3-c"], current="v3-c") == "v1-a"


def test_deploy_rollback_target_is_the_last_verified_live_release(layout: ChannelLayout) -> None:
    # A deploy of v3 that was switched but never verified (killed run): the rollback target
    # of v3 is still v2, the top of the stack.
    make_release(layout, "v2-b", 2)
    make_release(layout, "v3-c", 3)
    state = st.empty_state()
    st.push_live(state, "v2-b")
    assert st.rollback_target(state, scan_releases(layout), exclude=["v3-c"], current="v3-c") == "v2-b"


def test_rollback_target_fallback_without_state(layout: ChannelLayout) -> None:
    make_release(layout, "v1-a", 1)
    make_release(layout, "v2-b", 2)
    make_release(layout, "v3-c", 3)
    releases = scan_releases(layout)
    state = st.empty_state()
    assert st.rollback_target(state, releases, exclude=["v2-b"], current="v2-b") == "v1-a"
    assert st.rollback_target(state, releases, exclude=["v1-a"], current="v1-a") is None


def test_resolve_release_refuses_missing_bad_and_no_previous(layout: ChannelLayout) -> None:
    make_release(layout, "v1-a", 1)
    make_release(layout, "v2-b", 2)
    make_release(layout, "v3-c", 3, complete=False)
    releases = scan_releases(layout)
    state = st.empty_state()
    with pytest.raises(ShipitError, match=r"no previous good release .*live: v1-a; releases: v2-b, v1-a\)"):
        st.resolve_release(state, releases, "previous", "v1-a", "MyChan")
    with pytest.raises(ShipitError, match=r"v3-c does not exist .*available releases: v2-b, v1-a$"):
        st.resolve_release(state, releases, "v3-c", "v1-a", "MyChan")
    with pytest.raises(ShipitError, match="not valid"):
        st.resolve_release(state, releases, "../x", "v1-a", "MyChan")
    st.mark_bad(state, "v2-b", "never joined")
    with pytest.raises(ShipitError, match=r"v2-b is marked bad \(never joined\)"):
        st.resolve_release(state, releases, "v2-b", "v1-a", "MyChan")
    assert st.resolve_release(state, releases, "v2-b", "v1-a", "MyChan", allow_bad=True) == "v2-b"


def test_resolve_previous_is_the_rollback_target(layout: ChannelLayout) -> None:
    for built, release_id in enumerate(["v1-a", "v2-b", "v3-c"], start=1):
        make_release(layout, release_id, built)
    releases = scan_releases(layout)
    state = st.empty_state()
    st.push_live(state, "v1-a")
    st.push_live(state, "v3-c")
    assert st.resolve_release(state, releases, "previous", "v3-c", "MyChan") == "v1-a"


def test_record_live_prunes_but_keeps_live_target_and_latest_bad(layout: ChannelLayout) -> None:
    for built in range(1, 7):
        make_release(layout, f"r{built}", built)
    switch_current(layout, "r6")
    state = st.load_state(layout)
    st.mark_bad(state, "r1", "broken")
    st.save_state(layout, state)
    preview = st.record_live(layout, "r6", keep=2, check_mode=True)
    assert preview["changed"] and sorted(preview["pruned"]) == ["r2", "r3", "r4"]
    assert len(os.listdir(layout.releases)) == 6 and st.load_state(layout)["stack"] == []
    done = st.record_live(layout, "r6", keep=2, event={"type": "deploy"})
    assert sorted(done["pruned"]) == ["r2", "r3", "r4"]
    assert sorted(os.listdir(layout.releases)) == ["r1", "r5", "r6"]  # r1: the latest bad, kept for forensics
    after = st.load_state(layout)
    assert after["stack"] == ["r6"] and st.release_status(after, "r6") == "good"
    assert after["events"][-1]["type"] == "deploy" and after["events"][-1]["release"] == "r6"
    assert st.record_live(layout, "r6", keep=2)["pruned"] == []


def test_record_live_refuses_a_missing_release_and_negative_keep(layout: ChannelLayout) -> None:
    make_release(layout, "r1", 1)
    with pytest.raises(ShipitError, match="r9 does not exist"):
        st.record_live(layout, "r9")
    with pytest.raises(ShipitError, match="keep -1 must be 0"):
        st.record_live(layout, "r1", keep=-1)


def test_rollback_target_falls_back_to_the_newest_good_release(layout: ChannelLayout) -> None:
    """The live stack lost its entries (only a release gone from the host is left) and the failing release
    (an already-built one, re-deployed) is older than the verified one: the verified release is the way back,
    not "stop the bot", and a verified release is preferred over an older never-verified one."""
    make_release(layout, "old-a", 1)
    make_release(layout, "mid-c", 2)
    make_release(layout, "new-b", 3)
    releases = scan_releases(layout)
    state = st.empty_state()
    state["stack"] = ["gone-x"]
    st.mark_good(state, "new-b")
    assert st.rollback_target(state, releases, exclude=["mid-c"], current="mid-c") == "new-b"
    fallback = st.rollback_fallback(state, releases, exclude=["mid-c"], current="mid-c")
    assert fallback is not None and fallback["id"] == "new-b"
    assert "newest verified release" in fallback["reason"] and "live stack" in fallback["reason"]
    st.mark_bad(state, "new-b", "never joined")
    assert st.rollback_target(state, releases, exclude=["mid-c"], current="mid-c") == "old-a"
    assert st.rollback_fallback(state, releases, exclude=["mid-c"], current="mid-c") == {
        "id": "old-a",
        "reason": "the live stack names no usable release and none is verified: the newest release built before "
        "mid-c that is not marked bad",
    }


def test_no_fallback_when_the_stack_names_the_target(layout: ChannelLayout) -> None:
    make_release(layout, "v1-a", 1)
    make_release(layout, "v2-b", 2)
    state = st.empty_state()
    st.push_live(state, "v1-a")
    releases = scan_releases(layout)
    assert st.rollback_fallback(state, releases, exclude=["v2-b"], current="v2-b") is None
