"""Shared helper for the release module tests: lay out release directories under a ChannelLayout."""

from __future__ import annotations

import json
from pathlib import Path

from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import MANIFEST_NAME, ChannelLayout


def make_release(
    layout: ChannelLayout, release_id: str, built: float, complete: bool = True, version: str = "1.0.0"
) -> None:
    """A release directory; ``complete=False`` leaves out RELEASE.json, as a killed build does."""
    path = Path(layout.release_dir(release_id))
    path.mkdir(parents=True)
    if complete:
        (path / MANIFEST_NAME).write_text(
            json.dumps({"release_id": release_id, "version": version, "built_at_epoch": built, "built_at": "t"})
        )
