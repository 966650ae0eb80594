"""Fixtures of the module_utils tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import ChannelLayout


@pytest.fixture()
def layout(tmp_path: Path) -> ChannelLayout:
    """Channel ``MyChan`` under a temporary root, with an empty ``releases/``."""
    lay = ChannelLayout(str(tmp_path / "root"), "MyChan", secrets_root=str(tmp_path / "etc"))
    os.makedirs(lay.releases)
    return lay
