"""Unit tests for shipit_layout: channel names, paths, unit instances, release ids."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.cytube.shipit.plugins.module_utils import shipit_layout as sl

pytestmark = pytest.mark.timeout(30)


def test_channel_key_lowercases_and_rejects_bad_names() -> None:
    assert sl.channel_key("Test-Chan_1") == "test-chan_1"
    with pytest.raises(sl.ShipitError, match="bad name!"):
        sl.channel_key("bad name!")
    with pytest.raises(sl.ShipitError):
        sl.channel_key("x" * 31)


def test_layout_paths(layout: sl.ChannelLayout, tmp_path: Path) -> None:
    assert layout.base == str(tmp_path / "root" / "mychan")
    assert layout.current.endswith("mychan/current")
    assert layout.secrets_dir == str(tmp_path / "etc" / "mychan")
    with pytest.raises(sl.ShipitError):
        layout.release_dir("../etc")
    with pytest.raises(sl.ShipitError):
        sl.ChannelLayout("relative/root", "chan")


def test_unit_instance() -> None:
    assert sl.unit_instance("cytube-bot@.service", "Chan") == "cytube-bot@chan.service"
    with pytest.raises(sl.ShipitError):
        sl.unit_instance("cytube-bot.service", "chan")


def test_sanitize_version() -> None:
    assert sl.sanitize_version("1.0+local.2") == "1.0_local.2"
    assert sl.sanitize_version("") == "0"
