# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who is running this playbook: the identity of a run, for the channel lock and for manifests.

Controller-side only (used by action plugins). A run is one ``ansible-playbook`` process:
task workers are forked from it, so their parent pid is the run's pid. Its token,
``<host>/<boot id>/<pid>/<pid start time>``, is the same for every task of the run and
can never be reused by another run (a reused pid has another start time).
"""

from __future__ import annotations

import os
import pwd
import socket
from typing import Any, Dict, Optional

#: ansible-playbook options that take a value (so that value is not the playbook).
VALUE_OPTIONS = frozenset(
    (
        "-e",
        "--extra-vars",
        "-i",
        "--inventory",
        "--inventory-file",
        "--vault-password-file",
        "--vault-id",
        "-l",
        "--limit",
        "-t",
        "--tags",
        "--skip-tags",
        "-u",
        "--user",
        "--private-key",
        "-f",
        "--forks",
        "-M",
        "--module-path",
        "-c",
        "--connection",
    )
)


def _read(path: str) -> str:
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


def boot_id() -> str:
    return _read("/proc/sys/kernel/random/boot_id").strip()


def pid_start(pid: int) -> Optional[str]:
    """Start time of ``pid`` in clock ticks since boot (field 22 of /proc/<pid>/stat)."""
    stat = _read("/proc/%d/stat" % pid)
    if not stat:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def playbook_of(pid: int) -> Optional[str]:
    """The playbook the ansible-playbook process runs (not an @vars.yml or an inventory file)."""
    args = _read("/proc/%d/cmdline" % pid).split("\0")
    for index, arg in enumerate(args):
        if (
            arg.endswith((".yml", ".yaml"))
            and not arg.startswith("@")
            and "=" not in arg
            and (index == 0 or args[index - 1] not in VALUE_OPTIONS)
        ):
            return os.path.basename(arg)
    return None


def user_name() -> str:
    name = os.environ.get("GITHUB_ACTOR") or os.environ.get("USER") or os.environ.get("LOGNAME")
    if not name:
        try:
            name = pwd.getpwuid(os.getuid()).pw_name
        except KeyError:
            name = "uid %d" % os.getuid()
    return name


def run_url() -> Optional[str]:
    server = os.environ.get("GITHUB_SERVER_URL") or "https://github.com"
    repo = os.environ.get("GITHUB_REPOSITORY")
    run_id = os.environ.get("GITHUB_RUN_ID")
    if repo and run_id:
        return "%s/%s/actions/runs/%s" % (server, repo, run_id)
    return None


def controller_process() -> int:
    """The ansible-playbook process: task workers are forked from it."""
    return os.getppid()


def identity(purpose: Optional[str] = None) -> Dict[str, Any]:
    """``{token, owner}`` of this run."""
    pid = controller_process()
    host = socket.gethostname()
    boot = boot_id()
    start = pid_start(pid) or "0"
    owner = {
        "controller": host,
        "boot_id": boot,
        "pid": pid,
        "pid_start": start,
        "user": user_name(),
        "playbook": playbook_of(pid),
        "action": purpose,
        "run_url": run_url(),
    }
    return {"token": "%s/%s/%d/%s" % (host, boot[:8], pid, start), "owner": owner}


def holder_alive(holder: Dict[str, Any]) -> Optional[bool]:
    """True/False when the lock holder ran on this controller (this boot), None when we cannot tell."""
    owner = holder.get("owner") or {}
    if owner.get("controller") != socket.gethostname() or owner.get("boot_id") != boot_id():
        return None
    try:
        pid = int(owner.get("pid") or 0)
    except (TypeError, ValueError):
        return False
    if pid <= 0:
        return False
    return pid_start(pid) == str(owner.get("pid_start"))
