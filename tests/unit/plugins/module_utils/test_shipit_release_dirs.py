"""Unit tests for shipit_release_dirs: scan, switch, which release a path or process is."""

from __future__ import annotations

import os

import pytest
from ansible_collections.cytube.shipit.plugins.module_utils import shipit_release_dirs as rd
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import ChannelLayout
from release_tree import make_release

pytestmark = pytest.mark.timeout(30)


def test_switch_current_is_atomic_and_idempotent(layout: ChannelLayout) -> None:
    make_release(layout, "a-1", 1)
    make_release(layout, "b-2", 2)
    assert rd.current_release(layout) is None
    assert rd.switch_current(layout, "a-1") is True
    assert os.readlink(layout.current) == "releases/a-1"
    assert rd.switch_current(layout, "a-1") is False
    assert rd.switch_current(layout, "b-2") is True
    assert rd.current_release(layout) == "b-2"
    # no temporary links left behind
    assert [n for n in os.listdir(layout.base) if n.startswith(".current")] == []
    assert rd.remove_current(layout) is True
    assert rd.current_release(layout) is None


def test_release_from_path(layout: ChannelLayout) -> None:
    assert rd.release_from_path(layout, layout.releases + "/x-1/venv/bin") == "x-1"
    assert rd.release_from_path(layout, "/somewhere/else") is None
    assert rd.release_from_path(layout, None) is None


def test_scan_marks_incomplete(layout: ChannelLayout) -> None:
    make_release(layout, "a-1", 1)
    make_release(layout, "b-2", 2, complete=False)
    found = {r.id: r.complete for r in rd.scan_releases(layout)}
    assert found == {"a-1": True, "b-2": False}
