"""Processes, mounts, files and cgroups: the host-side primitives the sandbox uses."""

from __future__ import annotations

import dataclasses
import errno
import functools
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from .errors import SandboxError

POLL_S = 0.05
_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


def run(argv: Sequence[str | Path], *, timeout: float | None = 120) -> str:
    """Run a command, return its stdout; raise SandboxError with its last error line."""
    args = [str(arg) for arg in argv]
    try:
        done = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise SandboxError(f"{' '.join(args)} timed out after {timeout:.0f}s") from exc
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        reason = lines[-1] if lines else "no output"
        raise SandboxError(f"{' '.join(args)} failed (exit {done.returncode}): {reason}")
    return done.stdout


def wait_for(condition: Callable[[], bool], timeout: float, interval: float = POLL_S) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


def write_file(path: Path, text: str, mode: int = 0o644) -> None:
    """Replace ``path`` with ``text`` without following a symlink already there."""
    if path.is_symlink() or path.exists():
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def write_file_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary sibling, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


@dataclasses.dataclass(frozen=True)
class ProcessId:
    """A pid plus its start time, so a recycled pid is never mistaken for ours."""

    pid: int
    start_ticks: int

    @classmethod
    def of(cls, pid: int) -> ProcessId | None:
        fields = _stat_fields(pid)
        return None if fields is None else cls(pid, int(fields[19]))

    def is_alive(self) -> bool:
        fields = _stat_fields(self.pid)
        return fields is not None and fields[0] != "Z" and int(fields[19]) == self.start_ticks

    def dump(self) -> str:
        return f"{self.pid} {self.start_ticks}\n"

    @classmethod
    def load(cls, text: str) -> ProcessId:
        pid, start_ticks = text.split()
        return cls(int(pid), int(start_ticks))

    def signal(self, signum: int) -> None:
        if self.is_alive():
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name: [0] state, [19] start time."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text[text.rindex(")") + 2 :].split()


def kill_pids(pids: set[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def _mount_table() -> Iterator[list[str]]:
    """Rows of /proc/self/mounts with octal escapes (\\040 for a space ...) decoded."""
    for line in Path("/proc/self/mounts").read_text().splitlines():
        yield [_OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field) for field in line.split()]


def mount_points_under(path: Path) -> list[Path]:
    """Mount points at or below ``path``, deepest first."""
    prefix = str(path)
    points = {Path(row[1]) for row in _mount_table() if row[1] == prefix or row[1].startswith(prefix + "/")}
    return sorted(points, key=lambda point: len(point.parts), reverse=True)


def unmount_all_under(path: Path) -> None:
    """Unmount everything at or below ``path``; lazily if it stays busy for a few seconds."""
    for point in mount_points_under(path):
        if not wait_for(functools.partial(_try_unmount, point), timeout=5, interval=0.2):
            run(["umount", "--lazy", point])


def _try_unmount(point: Path) -> bool:
    try:
        run(["umount", point])
    except SandboxError:
        return point not in mount_points_under(point)
    return True


def remove_tree(path: Path) -> None:
    """``rm -rf`` that refuses to descend into mounts and never leaves this filesystem."""
    if not (path.exists() or path.is_symlink()):
        return
    if mount_points_under(path):
        raise SandboxError(f"refusing to delete {path}: something is still mounted below it")
    run(["rm", "-rf", "--one-file-system", "--", path])


def cgroup_hierarchies() -> list[Path]:
    """The cgroup trees systemd uses: the unified (v2) one and the v1 ``name=systemd`` one."""
    roots = []
    for row in _mount_table():
        target, fstype, options = row[1], row[2], row[3].split(",")
        if fstype == "cgroup2" or (fstype == "cgroup" and "name=systemd" in options):
            roots.append(Path(target))
    return roots


def cgroup_pids(groups: Sequence[Path]) -> set[int]:
    """Every pid in the given cgroups and their descendants."""
    pids: set[int] = set()
    for group in groups:
        for directory, _, _ in os.walk(group):
            try:
                text = (Path(directory) / "cgroup.procs").read_text()
            except FileNotFoundError:
                continue
            pids.update(int(pid) for pid in text.split())
    return pids


def join_cgroups(groups: Sequence[Path]) -> None:
    """Move the calling process into ``groups`` (used between fork and exec)."""
    for group in groups:
        (group / "cgroup.procs").write_text(str(os.getpid()))


def remove_cgroup_tree(group: Path, timeout: float = 5) -> None:
    """rmdir a cgroup and its children, bottom up, waiting for exiting tasks to leave."""
    if not group.exists():
        return
    for directory, _, _ in os.walk(group, topdown=False):
        if not wait_for(functools.partial(_try_rmdir, Path(directory)), timeout=timeout):
            raise SandboxError(f"cgroup {directory} still has processes after {timeout:.0f}s")


def _try_rmdir(directory: Path) -> bool:
    try:
        directory.rmdir()
    except FileNotFoundError:
        return True
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            return False
        raise
    return True
