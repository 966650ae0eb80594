"""The cached Debian root every sandbox host boots from (built once with debootstrap).

A root is used only if its marker file, written last, names the current RECIPE.
It is built in a temporary directory and renamed into place, so a killed build
leaves at most a ``.build-*`` directory, which the next ``up`` deletes.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from .errors import SandboxError
from .layout import CACHE_DIR, CACHED_ROOT, HOSTS_ROOT_DIR, MIRROR, ROOT_PACKAGES, SUITE
from .system import ProcessId, mount_points_under, remove_tree, unmount_all_under, wait_for, write_file

RECIPE = 2  # bump whenever prepare_root() changes, so old caches get rebuilt
MARKER = ".cytube-shipit-root.json"
DEBOOTSTRAP_LOG = CACHE_DIR / f"debootstrap-{SUITE}.log"

SSHD_DROP_IN = """\
# cytube.shipit sandbox host: key-only root login, one host key made per host.
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
"""

# Units that fail, wait for hardware or slow a container down, or would lock dpkg
# behind the deploy's back; disabled and masked in the cached root.
MASKED_UNITS = (
    "console-getty.service",
    "container-getty@.service",
    "getty@tty1.service",
    "systemd-networkd-wait-online.service",
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
    "fstrim.timer",
)


def ensure_cached_root(say: Callable[[str], None]) -> Path:
    """Return the cached root, building it first if it is missing or stale.

    Callers hold the sandbox lock, so any ``.build-*`` left here is from a killed run.
    """
    discard_half_built_roots()
    if root_is_ready(CACHED_ROOT):
        return CACHED_ROOT
    discard_stale_root()
    build = CACHE_DIR / f".build-{SUITE}-{os.getpid()}"
    say(f"building the {SUITE} root cache with debootstrap (about a minute); log: {DEBOOTSTRAP_LOG}")
    started = time.monotonic()
    debootstrap(build)
    prepare_root(build)
    write_marker(build)
    os.rename(build, CACHED_ROOT)
    say(f"root cache ready in {time.monotonic() - started:.0f}s: {CACHED_ROOT}")
    return CACHED_ROOT


def root_is_ready(root: Path) -> bool:
    try:
        marker = json.loads((root / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("recipe") == RECIPE and marker.get("packages") == list(ROOT_PACKAGES)


def discard_half_built_roots() -> None:
    """Stop the debootstrap of a killed run if it still runs, and delete its target."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    for builder_file in CACHE_DIR.glob(f".build-{SUITE}-*.builder"):
        _stop_builder(builder_file)
    for leftover in CACHE_DIR.glob(f".build-{SUITE}-*"):
        if leftover.is_dir():
            _delete_root(leftover)


def discard_stale_root() -> None:
    """Delete a cached root of another recipe (never while hosts use it)."""
    if CACHED_ROOT.exists():
        if mount_points_under(HOSTS_ROOT_DIR):
            raise SandboxError(f"{CACHED_ROOT} is outdated but hosts still use it: run sandbox/sandbox down first")
        stale = CACHE_DIR / f".build-{SUITE}-stale"
        CACHED_ROOT.rename(stale)
        _delete_root(stale)


def _delete_root(root: Path) -> None:
    unmount_all_under(root)  # a killed debootstrap leaves /proc, /sys mounted in its target
    remove_tree(root)


def debootstrap(target: Path) -> None:
    """Run debootstrap into ``target``, its pid recorded so a later run can stop an orphan."""
    argv = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(ROOT_PACKAGES)}",
        SUITE,
        str(target),
        MIRROR,
    ]
    builder_file = _builder_file(target)
    with DEBOOTSTRAP_LOG.open("w") as log:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        builder = ProcessId.of(process.pid)
        if builder is not None:
            builder_file.write_text(builder.dump())
        try:
            status = process.wait()
        except BaseException:
            _stop_builder(builder_file)
            raise
    builder_file.unlink(missing_ok=True)
    if status != 0:
        raise SandboxError(f"debootstrap failed (exit {status}): {_last_line(DEBOOTSTRAP_LOG)}; log: {DEBOOTSTRAP_LOG}")


def _builder_file(target: Path) -> Path:
    return target.with_name(target.name + ".builder")


def _stop_builder(builder_file: Path) -> None:
    """SIGKILL the process group of a debootstrap that outlived (or is outliving) its sandbox run."""
    try:
        builder = ProcessId.load(builder_file.read_text())
    except (OSError, ValueError):
        builder = None
    if builder is not None and builder.is_alive():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(builder.pid, signal.SIGKILL)
        wait_for(lambda: not builder.is_alive(), timeout=10)
    builder_file.unlink(missing_ok=True)


def _last_line(path: Path) -> str:
    lines = path.read_text(errors="replace").strip().splitlines()
    return lines[-1] if lines else "no output"


def prepare_root(root: Path) -> None:
    """Turn a fresh debootstrap into a template for container hosts."""
    _configure_sshd(root)
    _mask_units(root)
    (root / "root" / ".ssh").mkdir(mode=0o700, exist_ok=True)
    write_file(root / "etc" / "default" / "locale", "LANG=C.UTF-8\n")  # built into glibc, no locales package
    write_file(root / "etc" / "hostname", "localhost\n")
    write_file(root / "etc" / "machine-id", "uninitialized\n", 0o444)
    dbus_machine_id = root / "var" / "lib" / "dbus" / "machine-id"
    dbus_machine_id.unlink(missing_ok=True)
    dbus_machine_id.symlink_to("/etc/machine-id")
    # No resolver is reachable from a host: fail name lookups fast instead of timing out.
    write_file(root / "etc" / "resolv.conf", "# cytube.shipit sandbox: no DNS\n")


def _configure_sshd(root: Path) -> None:
    ssh = root / "etc" / "ssh"
    for key in ssh.glob("ssh_host_*"):
        key.unlink()
    write_file(ssh / "sshd_config.d" / "cytube-shipit-sandbox.conf", SSHD_DROP_IN)
    # Do not take LANG/LC_* from the controller: hosts have no locale but C.UTF-8.
    config = ssh / "sshd_config"
    lines = config.read_text().splitlines(keepends=True)
    write_file(config, "".join("#" + line if line.startswith("AcceptEnv") else line for line in lines))


def _mask_units(root: Path) -> None:
    units = root / "etc" / "systemd" / "system"
    for unit in MASKED_UNITS:
        for wanted in units.glob(f"*.wants/{unit}"):
            wanted.unlink()
        mask = units / unit
        mask.unlink(missing_ok=True)
        mask.symlink_to("/dev/null")


def write_marker(root: Path) -> None:
    """Written last: its presence means the root is complete."""
    marker = {
        "recipe": RECIPE,
        "suite": SUITE,
        "mirror": MIRROR,
        "packages": list(ROOT_PACKAGES),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_file(root / MARKER, json.dumps(marker, indent=2) + "\n")
