"""Names, addresses and paths of the sandbox (docs/CONTRACTS.md, "Sandbox network")."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

from .errors import UsageError

MAX_HOSTS = 20
DEFAULT_HOSTS = 2
BOOT_TIMEOUT_ENV = "SHIPIT_SANDBOX_BOOT_TIMEOUT"
DEFAULT_BOOT_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
KILL_TIMEOUT_S = 5.0

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
ROOT_PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "python3",
    "python3-venv",
    "openssh-server",
    "iproute2",
)

STATE_DIR = Path("/run/cytube-shipit/sandbox")
HOST_STATE_DIR = STATE_DIR / "hosts"
LOCK_FILE = STATE_DIR / "hosts.lock"
SSH_KEY = STATE_DIR / "id_ed25519"
KNOWN_HOSTS = STATE_DIR / "known_hosts"
CACHE_DIR = Path("/var/cache/cytube-shipit/roots")
CACHED_ROOT = CACHE_DIR / SUITE
HOSTS_ROOT_DIR = Path("/var/lib/cytube-shipit/sandbox")
CGROUP_GROUP = "cytube-shipit-sandbox"

SERVICE_ADDRESS = "10.231.255.1"
NETNS_DIR = Path("/run/netns")
GUEST_INTERFACE = "eth0"

REPO_ROOT = Path(__file__).resolve().parents[2]
INVENTORY_FILE = REPO_ROOT / "inventories" / "sandbox" / "hosts.yml"

_INDEXED_NAME = re.compile(r"^(?:sandbox-|shipit-h)([1-9][0-9]*)$")


@dataclasses.dataclass(frozen=True, order=True)
class Host:
    """Sandbox host number ``index`` (1-based) and everything named after it."""

    index: int

    @property
    def name(self) -> str:
        return f"sandbox-{self.index}"

    @property
    def netns(self) -> str:
        return f"shipit-h{self.index}"

    @property
    def veth(self) -> str:
        """Controller-side end of the veth pair (same name as the namespace)."""
        return f"shipit-h{self.index}"

    @property
    def veth_peer(self) -> str:
        """Host-side end before it is moved into the namespace and renamed."""
        return f"shipit-h{self.index}g"

    @property
    def gateway(self) -> str:
        return f"10.231.{self.index}.1"

    @property
    def address(self) -> str:
        return f"10.231.{self.index}.2"

    @property
    def state_dir(self) -> Path:
        return HOST_STATE_DIR / self.name

    @property
    def record_file(self) -> Path:
        return self.state_dir / "host.json"

    @property
    def console_log(self) -> Path:
        return self.state_dir / "console.log"

    @property
    def root_dir(self) -> Path:
        return HOSTS_ROOT_DIR / self.name

    @property
    def rootfs(self) -> Path:
        return self.root_dir / "root"

    @property
    def upper_dir(self) -> Path:
        return self.root_dir / "upper"

    @property
    def work_dir(self) -> Path:
        return self.root_dir / "work"


def host_index(name: str) -> int | None:
    """The index in ``sandbox-<i>`` or ``shipit-h<i>``, else None."""
    match = _INDEXED_NAME.match(name)
    return int(match.group(1)) if match else None


def boot_timeout() -> float:
    """Seconds a host may take to boot: $SHIPIT_SANDBOX_BOOT_TIMEOUT, default 60."""
    text = os.environ.get(BOOT_TIMEOUT_ENV, str(DEFAULT_BOOT_TIMEOUT_S))
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 3600:
        raise UsageError(f"{BOOT_TIMEOUT_ENV} must be a number of seconds (0 to 3600], got {text!r}")
    return seconds
