"""Unit tests for shipit_release_dirs: scan, switch, which release a path or process is."""

from __future__ import annotations

import os
from pathlib import Path

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


def test_running_release_reads_the_process_working_directory(layout: ChannelLayout, tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    (proc / "41").mkdir(parents=True)
    (proc / "41" / "cwd").symlink_to(layout.releases + "/v2-b")
    (proc / "42").mkdir()
    (proc / "42" / "cwd").symlink_to("/elsewhere")
    assert rd.running_release(layout, 41, proc=str(proc)) == "v2-b"
    assert rd.running_release(layout, 42, proc=str(proc)) is None
    assert rd.running_release(layout, 43, proc=str(proc)) is None  # gone: no such process
    assert rd.running_release(layout, 0, proc=str(proc)) is None  # the unit runs nothing
