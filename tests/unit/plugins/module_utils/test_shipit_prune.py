"""Unit tests for shipit_prune: which releases go."""

from __future__ import annotations

import pytest
from ansible_collections.cytube.shipit.plugins.module_utils import shipit_state as st
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import ChannelLayout
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_prune import select_prune
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_release_dirs import scan_releases
from release_tree import make_release

pytestmark = pytest.mark.timeout(30)


def test_select_prune_keeps_protected_and_newest(layout: ChannelLayout) -> None:
    for i in range(1, 8):
        make_release(layout, f"r{i}", i)
    make_release(layout, "broken", 9, complete=False)
    releases = scan_releases(layout)
    state = st.empty_state()
    doomed = select_prune(state, releases, keep=3, protect=["r7", "r1"])
    # kept: r7 (protected), r1 (protected), r6, r5 (newest), and nothing else
    assert sorted(doomed) == ["broken", "r2", "r3", "r4"]


def test_select_prune_counts_recent_activation(layout: ChannelLayout) -> None:
    for i in range(1, 5):
        make_release(layout, f"r{i}", i)
    state = st.empty_state()
    st.push_live(state, "r1", now=100.0)  # re-deployed recently: used after r2..r4 were built
    doomed = select_prune(state, scan_releases(layout), keep=2, protect=[])
    assert sorted(doomed) == ["r2", "r3"]
