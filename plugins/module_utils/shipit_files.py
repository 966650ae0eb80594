# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""File I/O of the host-side modules: atomic writes, tolerant reads, the record timestamp."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import tempfile
import time
from typing import Any, Iterator, Optional

#: Serialises what every channel of a host shares (the bot's system user): /run/lock is the FHS place for it.
HOST_SETUP_LOCK = "/run/lock/cytube-shipit-host-setup.lock"


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
    """The content of ``path``, or None when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise


def read_json(path: str) -> Optional[Any]:
    """The JSON value in ``path``, or None when it is missing or not JSON."""
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
    """Create ``path`` (and parents); True when something was created (by us, not by a run beside us)."""
    if os.path.isdir(path):
        return False
    try:
        os.makedirs(path, mode)
    except FileExistsError:
        if os.path.isdir(path):
            return False
        raise
    os.chmod(path, mode)
    return True


@contextlib.contextmanager
def flocked(path: str) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created 0600 if missing) for the duration of the block."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def host_setup_lock() -> str:
    """The host-wide lock file; beside the temporary files when the host has no /run/lock."""
    directory = os.path.dirname(HOST_SETUP_LOCK)
    if os.path.isdir(directory):
        return HOST_SETUP_LOCK
    return os.path.join(tempfile.gettempdir(), os.path.basename(HOST_SETUP_LOCK))


def remove_tree(path: str) -> None:
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)


def iso(now: Optional[float] = None) -> str:
    """The UTC timestamp format of every stored record (``2026-01-02T03:04:05Z``)."""
    stamp = time.time() if now is None else now
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
