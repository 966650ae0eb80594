# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a rollback to "previous" would do on a host, before it does it.

Shared by ``bot_releases`` (which answers it on its own) and ``channel_lock`` (which answers it under the
lock it just took, so a rollback needs no separate host round trip before its switch).
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

from ansible_collections.cytube.shipit.plugins.module_utils.shipit_integrity import describe_drift, drifted_files
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import ChannelLayout, check_release_id
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_release_dirs import ReleaseInfo
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_state import (
    is_bad,
    rollback_fallback,
    rollback_target,
)


def skipped_for_rollback(
    state: Dict[str, Any], releases: Sequence[ReleaseInfo], live: Optional[str]
) -> List[Dict[str, str]]:
    """The entries of the live stack a rollback to "previous" passes over because they are gone or
    incomplete, newest first, each with why (bad releases are skipped by design and not listed).

    The walk is :func:`rollback_target`'s: it stops at the first usable entry (the target).
    """
    on_disk = {release.id: release for release in releases}
    skipped: List[Dict[str, str]] = []
    for release_id in reversed(state["stack"]):
        if release_id == live:
            continue
        release = on_disk.get(release_id)
        if release is None:
            reason = "it no longer exists on the host (removed by hand, or pruned)"
        elif not release.complete:
            reason = "it is incomplete on the host (a build that did not finish)"
        elif is_bad(state, release_id):
            continue
        else:
            break
        skipped.append({"id": release_id, "reason": reason})
    return skipped


def integrity_record(release: Optional[str], drifted: List[str]) -> Dict[str, Any]:
    """RV(integrity) of bot_releases: the release checked, its drifted files and one sentence."""
    return {"release": release, "drifted": drifted, "message": describe_drift(release, drifted) if drifted else ""}


def release_integrity(layout: ChannelLayout, release: Optional[str]) -> Dict[str, Any]:
    """RV(integrity) for ``release`` (None: there is nothing to check)."""
    if not release:
        return integrity_record(None, [])
    check_release_id(release)
    return integrity_record(release, drifted_files(layout.release_dir(release)))


def previous_view(
    state: Dict[str, Any],
    releases: Sequence[ReleaseInfo],
    live: Optional[str],
    drift: Mapping[str, List[str]],
) -> Dict[str, Any]:
    """The target of a rollback to "previous", what it passes over, any fallback, and the target's integrity
    (``drift``: the drifted files of each complete release, as already hashed by the caller)."""
    target = rollback_target(state, releases, exclude=[live], current=live)
    return {
        "previous_good": target,
        "previous_skipped": skipped_for_rollback(state, releases, live),
        "previous_fallback": rollback_fallback(state, releases, exclude=[live], current=live),
        "integrity": integrity_record(target, list(drift.get(target, []))) if target else integrity_record(None, []),
    }
