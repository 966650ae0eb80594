# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release bookkeeping of a channel: ``.shipit/state.json``.

``state.json`` keeps, per release, a status (``good`` once verified live,
``bad`` once rolled back from, otherwise ``pending``) and a *stack* of live
releases: a verified deploy pushes its release, a rollback pops the release it
leaves.  "The previous good release" is the top of that stack once the current
release is left out.  Releases themselves are never modified after the build.
"""

from __future__ import annotations

import time
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set

from ansible_collections.cytube.shipit.plugins.module_utils.shipit_files import (
    atomic_write,
    dump_json,
    iso,
    makedirs,
    read_json,
    remove_tree,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import (
    ChannelLayout,
    ShipitError,
    check_release_id,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_prune import select_prune
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_release_dirs import (
    ReleaseInfo,
    current_release,
    release_complete,
    scan_releases,
)

STATE_VERSION = 1
#: How many events ``state.json`` remembers (for ``rollback list`` and forensics).
MAX_EVENTS = 50

STATUS_GOOD = "good"
STATUS_BAD = "bad"
STATUS_PENDING = "pending"


def empty_state() -> Dict[str, Any]:
    return {"version": STATE_VERSION, "releases": {}, "stack": [], "events": []}


def load_state(layout: ChannelLayout) -> Dict[str, Any]:
    value = read_json(layout.state_file)
    state = empty_state()
    if isinstance(value, dict):
        if isinstance(value.get("releases"), dict):
            state["releases"] = {str(k): v for k, v in value["releases"].items() if isinstance(v, dict)}
        if isinstance(value.get("stack"), list):
            state["stack"] = [str(x) for x in value["stack"] if isinstance(x, str)]
        if isinstance(value.get("events"), list):
            state["events"] = [x for x in value["events"] if isinstance(x, dict)][-MAX_EVENTS:]
    return state


def save_state(layout: ChannelLayout, state: Dict[str, Any]) -> None:
    makedirs(layout.state_dir, 0o755)
    state["version"] = STATE_VERSION
    state["events"] = state.get("events", [])[-MAX_EVENTS:]
    atomic_write(layout.state_file, dump_json(state), 0o644)


def release_status(state: Dict[str, Any], release_id: str) -> str:
    entry = state["releases"].get(release_id) or {}
    status = entry.get("status")
    return status if status in (STATUS_GOOD, STATUS_BAD) else STATUS_PENDING


def is_bad(state: Dict[str, Any], release_id: str) -> bool:
    return release_status(state, release_id) == STATUS_BAD


def bad_reason(state: Dict[str, Any], release_id: str) -> str:
    return (state["releases"].get(release_id) or {}).get("reason") or "no reason recorded"


def _entry(state: Dict[str, Any], release_id: str) -> Dict[str, Any]:
    return state["releases"].setdefault(release_id, {})


def mark_bad(state: Dict[str, Any], release_id: str, reason: str, now: Optional[float] = None) -> bool:
    entry = _entry(state, release_id)
    changed = entry.get("status") != STATUS_BAD or entry.get("reason") != reason
    entry["status"] = STATUS_BAD
    entry["reason"] = reason
    entry["marked_at"] = iso(now)
    state["stack"] = [x for x in state["stack"] if x != release_id]
    return changed


def mark_good(state: Dict[str, Any], release_id: str, now: Optional[float] = None) -> bool:
    entry = _entry(state, release_id)
    changed = entry.get("status") != STATUS_GOOD
    entry["status"] = STATUS_GOOD
    entry.pop("reason", None)
    entry["verified_at"] = iso(now)
    return changed


def push_live(state: Dict[str, Any], release_id: str, pop: Optional[str] = None, now: Optional[float] = None) -> bool:
    """Record ``release_id`` as the live release; ``pop`` is a release left by a rollback."""
    before = list(state["stack"])
    stack = [x for x in state["stack"] if x != release_id and x != pop]
    stack.append(release_id)
    state["stack"] = stack
    entry = _entry(state, release_id)
    entry["activated_at"] = iso(now)
    entry["activated_epoch"] = time.time() if now is None else now
    return before != stack


def add_event(state: Dict[str, Any], event: Dict[str, Any], now: Optional[float] = None) -> None:
    record = dict(event)
    record.setdefault("at", iso(now))
    state.setdefault("events", []).append(record)


def forget(state: Dict[str, Any], release_id: str) -> None:
    state["releases"].pop(release_id, None)
    state["stack"] = [x for x in state["stack"] if x != release_id]


def latest_bad(state: Dict[str, Any]) -> Optional[str]:
    """The release marked bad most recently (kept for forensics by prune)."""
    marked = [(v.get("marked_at") or "", k) for k, v in state["releases"].items() if v.get("status") == STATUS_BAD]
    return max(marked)[1] if marked else None


def rollback_target(
    state: Dict[str, Any],
    releases: Sequence[ReleaseInfo],
    exclude: Iterable[Optional[str]],
    current: Optional[str] = None,
) -> Optional[str]:
    """The previous good release: the top of the live stack, leaving out ``exclude``,
    bad releases and releases that are no longer complete on disk.

    With no usable stack entry (entries lost, state lost, releases from an older tool), the
    newest verified release is used; with none verified, the newest complete, non-bad release
    built before ``current`` (see :func:`rollback_fallback` for why each was chosen).
    """
    skip: Set[str] = {x for x in exclude if x}
    complete = {r.id: r for r in releases if r.complete}
    return (
        _stack_target(state, complete, skip)
        or _newest_verified(state, complete, skip)
        or _newest_older_not_bad(state, complete, skip, current)
    )


def rollback_fallback(
    state: Dict[str, Any],
    releases: Sequence[ReleaseInfo],
    exclude: Iterable[Optional[str]],
    current: Optional[str] = None,
) -> Optional[Dict[str, str]]:
    """``{id, reason}`` when :func:`rollback_target` had to look past the live stack, else None."""
    skip: Set[str] = {x for x in exclude if x}
    complete = {r.id: r for r in releases if r.complete}
    if _stack_target(state, complete, skip):
        return None
    verified = _newest_verified(state, complete, skip)
    if verified:
        return {
            "id": verified,
            "reason": "the live stack names no usable release (entries lost, gone from the host or bad): "
            "the newest verified release that is complete and not marked bad",
        }
    older = _newest_older_not_bad(state, complete, skip, current)
    if older:
        return {
            "id": older,
            "reason": "the live stack names no usable release and none is verified: the newest release built "
            "before %s that is not marked bad" % (current or "the live release"),
        }
    return None


def _stack_target(state: Dict[str, Any], complete: Dict[str, ReleaseInfo], skip: Set[str]) -> Optional[str]:
    for release_id in reversed(state["stack"]):
        if release_id not in skip and release_id in complete and not is_bad(state, release_id):
            return release_id
    return None


def _newest_verified(state: Dict[str, Any], complete: Dict[str, ReleaseInfo], skip: Set[str]) -> Optional[str]:
    verified = [r for r in complete.values() if r.id not in skip and release_status(state, r.id) == STATUS_GOOD]
    return _newest(verified)


def _newest_older_not_bad(
    state: Dict[str, Any], complete: Dict[str, ReleaseInfo], skip: Set[str], current: Optional[str]
) -> Optional[str]:
    limit = complete[current].built_at if current in complete else None
    return _newest(
        [
            r
            for r in complete.values()
            if r.id not in skip and not is_bad(state, r.id) and (limit is None or r.built_at < limit)
        ]
    )


def _newest(releases: List[ReleaseInfo]) -> Optional[str]:
    return max(releases, key=lambda r: (r.built_at, r.id)).id if releases else None


#: The release name that means "the previous good release" (see :func:`rollback_target`).
PREVIOUS = "previous"


def resolve_release(
    state: Dict[str, Any],
    releases: Sequence[ReleaseInfo],
    wanted: str,
    live: Optional[str],
    channel: str,
    allow_bad: bool = False,
) -> str:
    """The release to activate for ``wanted`` (a release id, or ``previous``), or a ShipitError.

    Refused, before anything changes: ``previous`` with no previous good release, a release
    that does not exist (or is incomplete) on this host, and a release marked bad unless
    ``allow_bad``. Every refusal names the releases that are available.
    """
    complete = sorted((r for r in releases if r.complete), key=lambda r: (r.built_at, r.id), reverse=True)
    known = ", ".join(r.id for r in complete) or "none"
    if wanted == PREVIOUS:
        target = rollback_target(state, releases, exclude=[live], current=live)
        if not target:
            raise ShipitError(
                "channel %s has no previous good release to roll back to (live: %s; releases: %s)"
                % (channel, live or "none", known)
            )
        return target
    check_release_id(wanted)
    if not any(r.id == wanted for r in complete):
        raise ShipitError(
            "release %s does not exist (or is incomplete) for channel %s on this host; available releases: %s"
            % (wanted, channel, known)
        )
    if is_bad(state, wanted) and not allow_bad:
        raise ShipitError(
            "release %s is marked bad (%s); refusing it. Use force (allow_bad) to activate it anyway"
            % (wanted, bad_reason(state, wanted))
        )
    return wanted


def record_live(
    layout: ChannelLayout,
    release: str,
    verified: bool = True,
    pop: Optional[str] = None,
    keep: int = 0,
    protect: Iterable[Optional[str]] = (),
    event: Optional[Dict[str, Any]] = None,
    check_mode: bool = False,
) -> Dict[str, Any]:
    """Record ``release`` as the live release (good when ``verified``) and prune to ``keep``.

    Returns ``{changed, pruned}``. Pruning never removes the live release, ``release``, the
    previous good release, the latest bad release or anything in ``protect``.
    """
    check_release_id(release)
    if not release_complete(layout, release):
        raise ShipitError("release %s does not exist for channel %s" % (release, layout.channel))
    if keep < 0:
        raise ShipitError("keep %d must be 0 (keep all) or more" % keep)
    state = load_state(layout)
    before = dump_json(state)
    releases = scan_releases(layout)
    live = current_release(layout)
    if verified:
        mark_good(state, release)
    push_live(state, release, pop=pop)
    if event:
        add_event(state, dict(event, release=release))
    pruned: List[str] = []
    if keep > 0:
        target = rollback_target(state, releases, exclude=[live], current=live)
        pruned = select_prune(state, releases, keep, [live, release, target, latest_bad(state), *list(protect)])
        for release_id in pruned:
            if not check_mode:
                remove_tree(layout.release_dir(release_id))
            forget(state, release_id)
    changed = dump_json(state) != before or bool(pruned)
    if changed and not check_mode:
        save_state(layout, state)
    return {"changed": changed, "pruned": pruned}
