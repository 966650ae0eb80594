"""Command line of ``sandbox/sandbox``: parsing, preflight checks, exit codes."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import NoReturn

from . import commands
from .errors import SandboxError, UsageError
from .layout import DEFAULT_HOSTS, MAX_HOSTS

PROG = "sandbox/sandbox"
USAGE = f"{PROG} up [--hosts N] | down | status"
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

TOOLS = {
    "up": ("debootstrap", "systemd-nspawn", "ip", "ssh", "ssh-keygen"),
    "down": ("ip",),
    "status": ("ip", "ssh"),
}
BASE_PACKAGES = ("debootstrap", "systemd-container", "iproute2")
SSH_PACKAGE = "openssh-client"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{PROG}: {message}; usage: {USAGE}")


def host_count(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_HOSTS:
        raise argparse.ArgumentTypeError(f"must be a number from 1 to {MAX_HOSTS}, got {text!r}")
    return int(text)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = _Parser(prog=PROG, description="Debian hosts under systemd-nspawn for the cytube.shipit sandbox.")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="command")
    boot = verbs.add_parser("up", help="boot the hosts (idempotent) and write inventories/sandbox/hosts.yml")
    boot.add_argument("--hosts", type=host_count, default=DEFAULT_HOSTS, metavar="N",
                      help=f"number of hosts, 1..{MAX_HOSTS} (default {DEFAULT_HOSTS})")  # fmt: skip
    verbs.add_parser("down", help="stop and remove everything up created (idempotent)")
    verbs.add_parser("status", help="one line per host; exit 0 all up, 1 partial, 3 none")
    return parser.parse_args(argv)


def check_root(argv: Sequence[str]) -> None:
    if os.geteuid() != 0:
        raise UsageError(f"run as root: sudo {' '.join([PROG, *argv])}")


def check_tools(verb: str) -> None:
    missing = [tool for tool in TOOLS[verb] if shutil.which(tool) is None]
    if not missing:
        return
    packages = list(BASE_PACKAGES)
    if any(tool.startswith("ssh") for tool in missing):
        packages.append(SSH_PACKAGE)
    raise UsageError(f"{', '.join(missing)} not found on PATH; install it: apt-get install {' '.join(packages)}")


def _interrupt(signum: int, frame: FrameType | None) -> NoReturn:
    raise KeyboardInterrupt


def main(argv: Sequence[str]) -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        args = parse_args(argv)
        check_root(argv)
        check_tools(args.verb)
        if args.verb == "up":
            return commands.up(args.hosts)
        return commands.down() if args.verb == "down" else commands.status()
    except UsageError as error:
        print(error, file=sys.stderr)
        return EXIT_USAGE
    except SandboxError as error:
        print(f"sandbox: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"sandbox: interrupted; clean up with: {PROG} down", file=sys.stderr)
        return EXIT_INTERRUPTED
