"""Waiting for a booted host: sshd answering, then systemd done booting."""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import time

from .errors import SandboxError
from .layout import SSH_KEY, Host
from .system import ProcessId

SSH_PORT = 22
SSH_UNREACHABLE = 255  # the exit status ssh itself uses for connection and auth failures
READY_STATES = ("running", "degraded")


@dataclasses.dataclass(frozen=True)
class Readiness:
    state: str  # "running" or "degraded"
    failed_units: tuple[str, ...]


def ssh_argv(host: Host, command: str, connect_timeout: int = 5) -> list[str]:
    """ssh as root with the sandbox key; host keys change on every boot, so none are kept."""
    return [
        "ssh",
        "-F", "/dev/null",
        "-i", str(SSH_KEY),
        "-o", "BatchMode=yes",
        "-o", "IdentitiesOnly=yes",
        "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null",
        "-o", "LogLevel=ERROR",
        "-o", f"ConnectTimeout={connect_timeout}",
        f"root@{host.address}",
        command,
    ]  # fmt: skip


def run_ssh(host: Host, command: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ssh_argv(host, command), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
    )


def ssh_reachable(host: Host, timeout: float = 10) -> bool:
    try:
        return run_ssh(host, "true", timeout).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def port_open(host: Host, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host.address, SSH_PORT), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until_ready(host: Host, nspawn: ProcessId, started: float, timeout: float) -> Readiness:
    """Block until ``host`` is booted; SandboxError naming the host after ``timeout`` seconds."""
    boot = _Boot(host, nspawn, started + timeout, timeout)
    _wait_for_sshd(boot)
    state = _wait_for_systemd(boot)
    return Readiness(state, _failed_units(host) if state == "degraded" else ())


@dataclasses.dataclass(frozen=True)
class _Boot:
    host: Host
    nspawn: ProcessId
    deadline: float  # time.monotonic() value
    timeout: float

    def check(self, waiting_for: str) -> None:
        """Raise if the container died or the deadline passed."""
        host = self.host
        if not self.nspawn.is_alive():
            raise SandboxError(f"{host.name}: systemd-nspawn exited while booting; see {host.console_log}")
        if time.monotonic() >= self.deadline:
            raise SandboxError(
                f"{host.name} did not come up within {self.timeout:g}s: {waiting_for}; "
                f"see {host.console_log}, clean up with: sandbox/sandbox down"
            )

    def remaining(self) -> float:
        return max(self.deadline - time.monotonic(), 1.0)


def _wait_for_sshd(boot: _Boot) -> None:
    while not port_open(boot.host):
        boot.check(f"sshd not answering on {boot.host.address}:{SSH_PORT}")
        time.sleep(0.1)


def _wait_for_systemd(boot: _Boot) -> str:
    """``systemctl is-system-running --wait`` over ssh until it says running or degraded."""
    last = "no answer over ssh"
    while True:
        boot.check(f"systemd not booted ({last})")
        try:
            done = run_ssh(boot.host, "systemctl is-system-running --wait", boot.remaining())
        except subprocess.TimeoutExpired:
            continue
        state = done.stdout.strip()
        if state in READY_STATES:
            return state
        if done.returncode != SSH_UNREACHABLE and state not in ("", "starting", "initializing"):
            raise SandboxError(f"{boot.host.name}: systemd reports '{state}'; see {boot.host.console_log}")
        last = state or done.stderr.strip() or last
        time.sleep(0.2)


def _failed_units(host: Host) -> tuple[str, ...]:
    done = run_ssh(host, "systemctl --failed --plain --no-legend", timeout=15)
    return tuple(line.split()[0] for line in done.stdout.splitlines() if line.strip())
