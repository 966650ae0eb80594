# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release directories of a channel: which exist, which is ``current``, which is running."""

from __future__ import annotations

import errno
import os
from typing import Any, Dict, List, Optional

from ansible_collections.cytube.shipit.plugins.module_utils.shipit_files import read_json
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import (
    MANIFEST_NAME,
    RELEASE_ID_RE,
    ChannelLayout,
    check_release_id,
)


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


def running_release(layout: ChannelLayout, pid: int, proc: str = "/proc") -> Optional[str]:
    """The release process ``pid`` runs from (its working directory), or None.

    The unit starts the bot in ``current``, which the kernel resolves when the process
    starts: so this names the release actually running, even after ``current`` moved.
    """
    if not pid:
        return None
    try:
        cwd = os.readlink(os.path.join(proc, str(pid), "cwd"))
    except OSError:
        return None
    return release_from_path(layout, cwd)


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
