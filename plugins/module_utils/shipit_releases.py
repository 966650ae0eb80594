# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compatibility shim: the names importers outside the release modules still take from here.

The code lives in shipit_layout (names, paths, argspec), shipit_files (file I/O),
shipit_release_dirs (release directories), shipit_state (state.json, rollback target,
record_live) and shipit_prune. Import from those; this module goes once nothing uses it.
"""

from __future__ import annotations

from ansible_collections.cytube.shipit.plugins.module_utils.shipit_files import (
    atomic_write,
    dump_json,
    iso,
    makedirs,
    read_json,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import (
    CHANNEL_LAYOUT_ARGUMENT_SPEC,
    ChannelLayout,
    ShipitError,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_release_dirs import (
    current_release,
    scan_releases,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_state import record_live

__all__ = [
    "CHANNEL_LAYOUT_ARGUMENT_SPEC",
    "ChannelLayout",
    "ShipitError",
    "atomic_write",
    "current_release",
    "dump_json",
    "iso",
    "makedirs",
    "read_json",
    "record_live",
    "scan_releases",
]
