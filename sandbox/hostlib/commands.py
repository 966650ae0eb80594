"""The verbs: up, down, status."""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, TypeVar

from . import inventory, machine, standin
from .errors import SandboxError
from .layout import (
    HOST_STATE_DIR,
    HOSTS_ROOT_DIR,
    INVENTORY_FILE,
    LOCK_FILE,
    REPO_ROOT,
    SSH_KEY,
    STATE_DIR,
    Host,
    boot_timeout,
)
from .network import add_service_address, remove_service_address
from .readiness import Readiness, port_open, ssh_reachable, wait_until_ready
from .rootcache import ensure_cached_root
from .system import mount_points_under, run, wait_for

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_ALL_DOWN = 3
LOCK_TIMEOUT_S = 600.0

T = TypeVar("T")


def say(line: str) -> None:
    print(line, flush=True)


def up(count: int) -> int:
    """Make hosts sandbox-1..N run (booting only the missing ones) and write the inventory."""
    started = time.monotonic()
    timeout = boot_timeout()
    with exclusive_lock():
        cached_root = ensure_cached_root(say)
        public_key = ensure_ssh_key()
        add_service_address()
        say(standin.start())
        surplus = [host for host in machine.known_hosts() if host.index > count]
        _stop_hosts(surplus)
        for host in surplus:
            say(f"{host.name:<11} {host.address:<12} stopped and removed (beyond --hosts {count})")
        wanted = [Host(index) for index in range(1, count + 1)]
        to_boot = [host for host in wanted if not _is_healthy(host)]
        for host in wanted:
            if host not in to_boot:
                say(f"{host.name:<11} {host.address:<12} already up")
        if to_boot:
            _boot_hosts(to_boot, cached_root, public_key, timeout)
        inventory.write(wanted)
    if to_boot or surplus:
        say(f"{_hosts(count)} up in {time.monotonic() - started:.1f}s; inventory: {_shown(INVENTORY_FILE)}")
    else:
        say(f"sandbox already up with {_hosts(count)}; inventory: {_shown(INVENTORY_FILE)}")
    return EXIT_OK


def down() -> int:
    """Stop and remove every host, the service address and the inventory."""
    started = time.monotonic()
    with exclusive_lock():
        hosts = machine.known_hosts()
        _stop_hosts(hosts)
        stopped = standin.stop()
        if stopped:
            say(stopped)
        remove_service_address()
        inventory.remove()
        machine.remove_cgroup_group()
        _remove_empty_dirs(HOST_STATE_DIR, HOSTS_ROOT_DIR)
        _check_nothing_left()
    if hosts:
        say(f"sandbox down: {_hosts(len(hosts))} stopped and removed in {time.monotonic() - started:.1f}s")
    else:
        say("sandbox already down")
    return EXIT_OK


def status() -> int:
    """One line per known host; exit 0 if all are up and reachable, 3 if none is, else 1."""
    hosts = machine.known_hosts()
    pid = standin.running_pid()
    say(f"cytube stand-in: running (pid {pid})" if pid else "cytube stand-in: not running")
    if not hosts:
        say("sandbox is down: no hosts")
        return EXIT_ALL_DOWN
    running = {host: machine.is_running(host) for host in hosts}
    reachable, _ = _in_parallel(lambda host: running[host] and ssh_reachable(host), hosts)
    for host in hosts:
        ssh = "ok" if reachable.get(host) else "unreachable"
        say(f"{host.name:<11} {'up' if running[host] else 'down':<5} {host.address:<12} ssh {ssh}")
    if all(reachable.get(host) for host in hosts):
        return EXIT_OK
    return EXIT_PARTIAL if any(running.values()) else EXIT_ALL_DOWN


def ensure_ssh_key() -> str:
    """The controller's key pair for root on every host; made once, kept across up/down."""
    public = SSH_KEY.with_name(SSH_KEY.name + ".pub")
    if not (SSH_KEY.exists() and public.exists()):
        SSH_KEY.unlink(missing_ok=True)
        public.unlink(missing_ok=True)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "cytube-shipit-sandbox", "-f", SSH_KEY])
    return public.read_text()


@contextlib.contextmanager
def exclusive_lock() -> Iterator[None]:
    """One up/down at a time (status reads without it)."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with LOCK_FILE.open("a") as handle:
        if not _try_lock(handle):
            say("waiting for another sandbox/sandbox command to finish ...")
            if not wait_for(lambda: _try_lock(handle), LOCK_TIMEOUT_S, interval=0.2):
                raise SandboxError(f"another sandbox/sandbox command still holds {LOCK_FILE}")
        yield


def _try_lock(handle: IO[str]) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _is_healthy(host: Host) -> bool:
    return machine.is_running(host) and port_open(host)


def _boot_hosts(hosts: Sequence[Host], cached_root: Path, public_key: str, timeout: float) -> None:
    """Start every container, then wait for all of them together."""
    started: dict[Host, float] = {}
    records: dict[Host, machine.HostRecord] = {}
    for host in hosts:
        started[host] = time.monotonic()
        records[host] = machine.boot(host, cached_root, public_key)

    def wait(host: Host) -> tuple[Readiness, float]:
        readiness = wait_until_ready(host, records[host].nspawn, started[host], timeout)
        return readiness, time.monotonic() - started[host]

    results, errors = _in_parallel(wait, hosts)
    for host, (readiness, seconds) in sorted(results.items()):
        failed = f" (failed: {', '.join(readiness.failed_units)})" if readiness.failed_units else ""
        copied = " (root copied: overlayfs unavailable)" if records[host].root_mode == "copy" else ""
        say(f"{host.name:<11} {host.address:<12} {readiness.state} in {seconds:.1f}s{failed}{copied}")
    if errors:
        raise SandboxError("; ".join(errors))


def _stop_hosts(hosts: Sequence[Host]) -> None:
    _, errors = _in_parallel(machine.teardown, hosts)
    if errors:
        raise SandboxError("; ".join(errors))


def _in_parallel(action: Callable[[Host], T], hosts: Sequence[Host]) -> tuple[dict[Host, T], list[str]]:
    """Run ``action`` on every host at once; results by host, and one message per failure."""
    if not hosts:
        return {}, []
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        futures = {host: pool.submit(action, host) for host in hosts}
    results: dict[Host, T] = {}
    errors: list[str] = []
    for host, future in futures.items():
        error = future.exception()
        if error is None:
            results[host] = future.result()
        elif isinstance(error, SandboxError):
            errors.append(str(error))
        else:
            errors.append(f"{host.name}: {type(error).__name__}: {error}")
    return results, errors


def _check_nothing_left() -> None:
    leftovers = [host.name for host in machine.known_hosts()]
    leftovers += [str(point) for point in mount_points_under(HOSTS_ROOT_DIR)]
    if leftovers:
        raise SandboxError(f"down left these behind: {', '.join(leftovers)}")


def _remove_empty_dirs(*directories: Path) -> None:
    for directory in directories:
        with contextlib.suppress(FileNotFoundError, OSError):
            directory.rmdir()


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it."""
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _hosts(count: int) -> str:
    return f"{count} host" if count == 1 else f"{count} hosts"
