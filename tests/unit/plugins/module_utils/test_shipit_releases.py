"""The shipit_releases shim still gives the modules outside this area the names they import."""

from __future__ import annotations

import pytest
from ansible_collections.cytube.shipit.plugins.module_utils import (
    shipit_files,
    shipit_layout,
    shipit_release_dirs,
    shipit_releases,
    shipit_state,
)

pytestmark = pytest.mark.timeout(30)

# What channel_lock.py and shipit_lock.py import from shipit_releases, and where each now lives.
SHIM_NAMES = {
    "CHANNEL_LAYOUT_ARGUMENT_SPEC": shipit_layout,
    "ChannelLayout": shipit_layout,
    "ShipitError": shipit_layout,
    "current_release": shipit_release_dirs,
    "scan_releases": shipit_release_dirs,
    "record_live": shipit_state,
    "atomic_write": shipit_files,
    "dump_json": shipit_files,
    "iso": shipit_files,
    "makedirs": shipit_files,
    "read_json": shipit_files,
}


@pytest.mark.parametrize("name", sorted(SHIM_NAMES))
def test_shim_reexports_the_one_definition(name: str) -> None:
    assert getattr(shipit_releases, name) is getattr(SHIM_NAMES[name], name)


def test_shim_exports_nothing_else() -> None:
    assert sorted(shipit_releases.__all__) == sorted(SHIM_NAMES)
