# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which releases of a channel to delete: the least recently used beyond ``keep``."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Sequence

from ansible_collections.cytube.shipit.plugins.module_utils.shipit_release_dirs import ReleaseInfo


def last_used(state: Dict[str, Any], release: ReleaseInfo) -> float:
    """When ``release`` last went live (from ``state``), or when it was built."""
    entry = state["releases"].get(release.id) or {}
    stamp = entry.get("activated_epoch")
    used = release.built_at
    if isinstance(stamp, (int, float)):
        used = max(used, float(stamp))
    return used


def select_prune(
    state: Dict[str, Any],
    releases: Sequence[ReleaseInfo],
    keep: int,
    protect: Iterable[Optional[str]],
) -> List[str]:
    """Releases to delete so that ``keep`` remain: the least recently used go first.

    Never selected: anything in ``protect`` (the live release, the rollback target,
    the release just rolled back from).  Incomplete directories (killed builds) are
    always selected unless protected.
    """
    protected = {x for x in protect if x}
    complete = [r for r in releases if r.complete]
    complete.sort(key=lambda r: (last_used(state, r), r.built_at, r.id), reverse=True)
    kept = 0
    doomed: List[str] = []
    for release in complete:
        if release.id in protected:
            kept += 1
            continue
        if kept < keep:
            kept += 1
            continue
        doomed.append(release.id)
    doomed.extend(r.id for r in releases if not r.complete and r.id not in protected)
    return doomed
