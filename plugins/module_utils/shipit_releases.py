# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The per-channel host layout of cytube.shipit, its releases and their state.

Layout of one channel on a bot host (``root`` defaults to ``/srv/cytube-bots``)::

    <root>/<channel>/releases/<release_id>/   venv/, config.toml, run, RELEASE.json
    <root>/<channel>/current -> releases/<release_id>   (switched atomically)
    <root>/<channel>/shared/                  state that outlives releases
    <root>/<channel>/.shipit/state.json       good/bad marks, the live-release stack
    <root>/<channel>/.shipit/lock.json        the deploy lock (see shipit_lock)
    /etc/cytube-shipit/<channel>/<secret>     root 0600, passed with LoadCredential=

A release directory is complete once its ``RELEASE.json`` exists: that file is
written last, atomically, so a build killed half way leaves a directory without
it, which is never switched to and is removed by the next build or prune.

``state.json`` keeps, per release, a status (``good`` once verified live,
``bad`` once rolled back from, otherwise ``pending``) and a *stack* of live
releases: a verified deploy pushes its release, a rollback pops the release it
leaves.  "The previous good release" is the top of that stack once the current
release is left out.  Releases themselves are never modified after the build.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
import time
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set

#: CyTube's own rule for channel names (``src/utilities.js`` isValidChannelName).
CHANNEL_RE = re.compile(r"^[\w-]{1,30}$", re.ASCII)
CHANNEL_RULE = "1-30 characters from a-z, A-Z, 0-9, '-' and '_'"
#: Release ids are built from the bot's version and a content hash.
RELEASE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
RELEASE_ID_RULE = "1-128 characters from a-z, A-Z, 0-9, '.', '_' and '-', starting with a letter or digit"

DEFAULT_ROOT = "/srv/cytube-bots"
DEFAULT_SECRETS_ROOT = "/etc/cytube-shipit"
# The options every host-side module takes (documented in doc_fragments/channel_layout.py).
CHANNEL_LAYOUT_ARGUMENT_SPEC = {
    "channel": {"type": "str", "required": True},
    "root": {"type": "path", "default": DEFAULT_ROOT},
}
MANIFEST_NAME = "RELEASE.json"
STATE_VERSION = 1
#: How many events ``state.json`` remembers (for ``rollback list`` and forensics).
MAX_EVENTS = 50

STATUS_GOOD = "good"
STATUS_BAD = "bad"
STATUS_PENDING = "pending"


class ShipitError(Exception):
    """A problem a caller reports as a module failure, with a clear message."""


def channel_key(channel: str) -> str:
    """The name used on disk and as the systemd instance: CyTube lowercases channel names."""
    if not CHANNEL_RE.match(channel or ""):
        raise ShipitError("channel %r is not a valid CyTube channel name: use %s" % (channel, CHANNEL_RULE))
    return channel.lower()


def check_release_id(release_id: str) -> str:
    if not RELEASE_ID_RE.match(release_id or "") or release_id in (".", ".."):
        raise ShipitError("release id %r is not valid: use %s" % (release_id, RELEASE_ID_RULE))
    return release_id


def sanitize_version(version: str) -> str:
    """A version string made safe for a release id (``1.0+local`` -> ``1.0_local``)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", version or "0")
    return cleaned.lstrip("._-")[:64] or "0"


def unit_instance(unit_template: str, channel: str) -> str:
    """``cytube-bot@.service`` + ``Chan`` -> ``cytube-bot@chan.service``."""
    prefix, sep, suffix = unit_template.partition("@")
    if not sep:
        raise ShipitError("unit name %r is not a template unit (name@.service)" % unit_template)
    return "%s@%s%s" % (prefix, channel_key(channel), suffix)


class ChannelLayout:
    """Paths of one channel on one host."""

    def __init__(self, root: str, channel: str, secrets_root: str = DEFAULT_SECRETS_ROOT) -> None:
        if not root or not os.path.isabs(root):
            raise ShipitError("root %r must be an absolute path" % root)
        self.channel = channel
        self.key = channel_key(channel)
        self.root = os.path.normpath(root)
        self.base = os.path.join(self.root, self.key)
        self.releases = os.path.join(self.base, "releases")
        self.current = os.path.join(self.base, "current")
        self.shared = os.path.join(self.base, "shared")
        self.state_dir = os.path.join(self.base, ".shipit")
        self.state_file = os.path.join(self.state_dir, "state.json")
        self.lock_file = os.path.join(self.state_dir, "lock.json")
        self.secrets_dir = os.path.join(os.path.normpath(secrets_root), self.key)

    def release_dir(self, release_id: str) -> str:
        return os.path.join(self.releases, check_release_id(release_id))

    def manifest_path(self, release_id: str) -> str:
        return os.path.join(self.release_dir(release_id), MANIFEST_NAME)


# --------------------------------------------------------------------------- files


def atomic_write(path: str, data: bytes, mode: int = 0o644, uid: int = -1, gid: int = -1) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if uid != -1 or gid != -1:
            os.chown(tmp, uid, gid)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_bytes(path: str) -> Optional[bytes]:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise


def read_json(path: str) -> Optional[Any]:
    data = read_bytes(path)
    if data is None:
        return None
    try:
        return json.loads(data.decode("utf-8"))
    except ValueError:
        return None


def dump_json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode("utf-8")


def makedirs(path: str, mode: int = 0o755) -> bool:
    """Create ``path`` (and parents); True when something was created."""
    if os.path.isdir(path):
        return False
    os.makedirs(path, mode)
    os.chmod(path, mode)
    return True


def remove_tree(path: str) -> None:
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)


# --------------------------------------------------------------------------- releases


class ReleaseInfo:
    """One directory under ``releases/``."""

    def __init__(self, release_id: str, path: str, manifest: Optional[Dict[str, Any]]) -> None:
        self.id = release_id
        self.path = path
        self.manifest = manifest or {}
        self.complete = manifest is not None and manifest.get("release_id") == release_id

    @property
    def built_at(self) -> float:
        value = self.manifest.get("built_at_epoch")
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return os.stat(self.path).st_mtime
        except OSError:
            return 0.0

    @property
    def version(self) -> Optional[str]:
        return self.manifest.get("version")


def scan_releases(layout: ChannelLayout) -> List[ReleaseInfo]:
    try:
        names = os.listdir(layout.releases)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return []
        raise
    found = []
    for name in sorted(names):
        path = os.path.join(layout.releases, name)
        if name.startswith(".") or not RELEASE_ID_RE.match(name) or not os.path.isdir(path) or os.path.islink(path):
            continue
        manifest = read_json(os.path.join(path, MANIFEST_NAME))
        found.append(ReleaseInfo(name, path, manifest if isinstance(manifest, dict) else None))
    return found


def release_complete(layout: ChannelLayout, release_id: str) -> bool:
    manifest = read_json(layout.manifest_path(release_id))
    return isinstance(manifest, dict) and manifest.get("release_id") == release_id


def current_release(layout: ChannelLayout) -> Optional[str]:
    """The release ``current`` points at, or None (no link, or a link elsewhere)."""
    try:
        target = os.readlink(layout.current)
    except OSError:
        return None
    return release_from_path(layout, os.path.join(layout.base, target))


def release_from_path(layout: ChannelLayout, path: Optional[str]) -> Optional[str]:
    """``<root>/<chan>/releases/<id>[/...]`` -> ``<id>``; anything else -> None."""
    if not path:
        return None
    path = os.path.normpath(path)
    prefix = layout.releases + os.sep
    if not path.startswith(prefix):
        return None
    name = path[len(prefix) :].split(os.sep, 1)[0]
    return name if RELEASE_ID_RE.match(name) else None


def switch_current(layout: ChannelLayout, release_id: str) -> bool:
    """Point ``current`` at ``releases/<release_id>`` atomically; True when it changed."""
    if current_release(layout) == release_id and os.path.islink(layout.current):
        return False
    target = os.path.join("releases", check_release_id(release_id))
    tmp = os.path.join(layout.base, ".current.%d.%s" % (os.getpid(), os.urandom(4).hex()))
    os.symlink(target, tmp)
    try:
        os.rename(tmp, layout.current)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return True


def remove_current(layout: ChannelLayout) -> bool:
    if os.path.islink(layout.current):
        os.unlink(layout.current)
        return True
    return False


# --------------------------------------------------------------------------- state


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


def clear_mark(state: Dict[str, Any], release_id: str) -> bool:
    entry = state["releases"].get(release_id)
    if not entry or entry.get("status") != STATUS_BAD:
        return False
    entry["status"] = STATUS_PENDING
    entry.pop("reason", None)
    return True


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


def iso(now: Optional[float] = None) -> str:
    stamp = time.time() if now is None else now
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


def rollback_target(
    state: Dict[str, Any],
    releases: Sequence[ReleaseInfo],
    exclude: Iterable[Optional[str]],
    current: Optional[str] = None,
) -> Optional[str]:
    """The previous good release: the top of the live stack, leaving out ``exclude``,
    bad releases and releases that are no longer complete on disk.

    With no usable stack entry (state lost, releases from an older tool), the newest
    complete, non-bad release built before ``current`` is used.
    """
    skip: Set[str] = {x for x in exclude if x}
    complete = {r.id: r for r in releases if r.complete}
    for release_id in reversed(state["stack"]):
        if release_id in skip or release_id not in complete or is_bad(state, release_id):
            continue
        return release_id
    limit = complete[current].built_at if current in complete else None
    candidates = [
        r
        for r in complete.values()
        if r.id not in skip and not is_bad(state, r.id) and (limit is None or r.built_at < limit)
    ]
    candidates.sort(key=lambda r: (r.built_at, r.id), reverse=True)
    return candidates[0].id if candidates else None


def last_used(state: Dict[str, Any], release: ReleaseInfo) -> float:
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


def forget(state: Dict[str, Any], release_id: str) -> None:
    state["releases"].pop(release_id, None)
    state["stack"] = [x for x in state["stack"] if x != release_id]


def describe_releases(
    layout: ChannelLayout,
    state: Dict[str, Any],
    releases: Sequence[ReleaseInfo],
    current: Optional[str],
    running: Optional[str] = None,
) -> List[Dict[str, Any]]:
    """What ``rollback list`` shows: newest first, with live/bad/good marks."""
    target = rollback_target(state, releases, exclude=[current], current=current)
    rows = []
    for release in sorted(releases, key=lambda r: (r.built_at, r.id), reverse=True):
        entry = state["releases"].get(release.id) or {}
        rows.append(
            {
                "id": release.id,
                "version": release.version,
                "complete": release.complete,
                "live": release.id == current,
                "running": release.id == running if running else None,
                "status": release_status(state, release.id) if release.complete else "incomplete",
                "bad_reason": entry.get("reason") if entry.get("status") == STATUS_BAD else None,
                "previous_good": release.id == target,
                "built_at": release.manifest.get("built_at"),
                "verified_at": entry.get("verified_at"),
                "activated_at": entry.get("activated_at"),
                "source": release.manifest.get("source"),
                "artifact_sha256": release.manifest.get("artifact_sha256"),
                "actor": release.manifest.get("actor"),
                "path": release.path,
            }
        )
    return rows


def format_table(rows: Sequence[Dict[str, Any]]) -> List[str]:
    """Human lines for ``rows`` from :func:`describe_releases`."""
    lines = []
    for row in rows:
        marks = []
        if row["live"]:
            marks.append("LIVE")
        if row["previous_good"]:
            marks.append("previous-good")
        marks.append(row["status"].upper() if row["status"] in (STATUS_BAD, "incomplete") else row["status"])
        line = "%-40s %-12s %-30s built %s" % (
            row["id"],
            row["version"] or "?",
            ",".join(marks),
            row["built_at"] or "?",
        )
        if row["bad_reason"]:
            line += "  bad: %s" % row["bad_reason"]
        lines.append(line)
    return lines


def latest_bad(state: Dict[str, Any]) -> Optional[str]:
    """The release marked bad most recently (kept for forensics by prune)."""
    marked = [(v.get("marked_at") or "", k) for k, v in state["releases"].items() if v.get("status") == STATUS_BAD]
    return max(marked)[1] if marked else None


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
