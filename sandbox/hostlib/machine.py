"""One sandbox host: its root, its systemd-nspawn container, its record and its teardown."""

from __future__ import annotations

import dataclasses
import functools
import json
import signal
import subprocess
import time
import uuid
from pathlib import Path

from .errors import SandboxError
from .layout import (
    CGROUP_GROUP,
    HOST_STATE_DIR,
    HOSTS_ROOT_DIR,
    KILL_TIMEOUT_S,
    STOP_TIMEOUT_S,
    Host,
    host_index,
)
from .network import create_host_network, delete_host_network, link_names, netns_names
from .system import (
    ProcessId,
    cgroup_hierarchies,
    cgroup_pids,
    join_cgroups,
    kill_pids,
    remove_cgroup_tree,
    remove_tree,
    run,
    unmount_all_under,
    wait_for,
    write_file,
)

ETC_HOSTS = """\
127.0.0.1\tlocalhost
127.0.1.1\t{name}
::1\tlocalhost ip6-localhost ip6-loopback
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
"""


@dataclasses.dataclass(frozen=True)
class HostRecord:
    """What ``up`` remembers about a running host, in <state dir>/hosts/<name>/host.json."""

    nspawn: ProcessId
    root_mode: str  # "overlay", or "copy" where overlayfs could not be mounted
    started_at: float

    def to_json(self) -> str:
        return json.dumps(
            {
                "nspawn_pid": self.nspawn.pid,
                "nspawn_start_ticks": self.nspawn.start_ticks,
                "root_mode": self.root_mode,
                "started_at": self.started_at,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> HostRecord:
        data = json.loads(text)
        nspawn = ProcessId(int(data["nspawn_pid"]), int(data["nspawn_start_ticks"]))
        return cls(nspawn, str(data["root_mode"]), float(data["started_at"]))


def load_record(host: Host) -> HostRecord | None:
    try:
        return HostRecord.from_json(host.record_file.read_text())
    except (OSError, ValueError, KeyError):
        return None


def is_running(host: Host) -> bool:
    record = load_record(host)
    return record is not None and record.nspawn.is_alive()


def boot(host: Host, cached_root: Path, public_key: str) -> HostRecord:
    """Create everything host ``host`` needs and start its container (does not wait)."""
    teardown(host)  # whatever a crashed or killed earlier run left
    host.state_dir.mkdir(parents=True)
    create_host_network(host)
    root_mode = mount_host_root(host, cached_root)
    personalize(host, public_key)
    record = HostRecord(start_container(host), root_mode, time.time())
    host.record_file.write_text(record.to_json())
    return record


def mount_host_root(host: Host, cached_root: Path) -> str:
    """Overlay the cached root (upper and work dirs per host); copy it if overlay fails."""
    for directory in (host.upper_dir, host.work_dir, host.rootfs):
        directory.mkdir(parents=True, exist_ok=True)
    layers = f"lowerdir={cached_root},upperdir={host.upper_dir},workdir={host.work_dir}"
    try:
        run(["mount", "-t", "overlay", "overlay", "-o", layers, host.rootfs])
        return "overlay"
    except SandboxError:
        run(["cp", "-a", "--reflink=auto", f"{cached_root}/.", host.rootfs], timeout=600)
        return "copy"


def personalize(host: Host, public_key: str) -> None:
    """Hostname, machine id, own SSH host key and the controller's key for root."""
    etc = host.rootfs / "etc"
    write_file(etc / "hostname", f"{host.name}\n")
    write_file(etc / "hosts", ETC_HOSTS.format(name=host.name))
    write_file(etc / "machine-id", f"{uuid.uuid4().hex}\n", 0o444)
    host_key = etc / "ssh" / "ssh_host_ed25519_key"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{host.name}", "-f", host_key])
    ssh_dir = host.rootfs / "root" / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    write_file(ssh_dir / "authorized_keys", public_key, 0o600)


def host_cgroups(host: Host) -> list[Path]:
    """The cgroups the host's nspawn runs in: one per hierarchy, never shared by two hosts."""
    return [root / CGROUP_GROUP / host.name for root in cgroup_hierarchies()]


def nspawn_argv(host: Host) -> list[str]:
    return [
        "systemd-nspawn",
        f"--directory={host.rootfs}",
        "--boot",
        f"--machine={host.name}",
        f"--hostname={host.name}",
        "--register=no",
        "--keep-unit",
        f"--network-namespace-path=/run/netns/{host.netns}",
        "--console=read-only",
        "--resolv-conf=off",
        "--timezone=off",
        "--link-journal=no",
    ]


def start_container(host: Host) -> ProcessId:
    """Start nspawn detached (own session, own cgroups, console to a log) and return it."""
    groups = host_cgroups(host)
    for group in groups:
        group.mkdir(parents=True, exist_ok=True)
    with host.console_log.open("ab") as log:
        process = subprocess.Popen(
            nspawn_argv(host),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=functools.partial(join_cgroups, groups),
        )
    nspawn = ProcessId.of(process.pid)
    if nspawn is None:
        raise SandboxError(f"{host.name}: systemd-nspawn exited at once; see {host.console_log}")
    return nspawn


def stop_container(host: Host) -> None:
    """SIGTERM nspawn (it powers the container off), then SIGKILL what is left in its cgroups."""
    record = load_record(host)
    groups = host_cgroups(host)
    if record is not None and record.nspawn.is_alive():
        record.nspawn.signal(signal.SIGTERM)
        wait_for(lambda: not record.nspawn.is_alive(), STOP_TIMEOUT_S)
    if record is not None and record.nspawn.is_alive():
        record.nspawn.signal(signal.SIGKILL)
    if not wait_for(functools.partial(_kill_all_in, groups), KILL_TIMEOUT_S):
        raise SandboxError(f"{host.name}: processes {sorted(cgroup_pids(groups))} survived SIGKILL")


def _kill_all_in(groups: list[Path]) -> bool:
    """SIGKILL every process in ``groups``; True once they are empty."""
    pids = cgroup_pids(groups)
    kill_pids(pids, signal.SIGKILL)
    return not pids


def teardown(host: Host) -> None:
    """Remove every trace of ``host``; safe to call on a host that is half there or gone."""
    stop_container(host)
    unmount_all_under(host.root_dir)
    delete_host_network(host)
    for group in host_cgroups(host):
        remove_cgroup_tree(group)
    remove_tree(host.root_dir)
    remove_tree(host.state_dir)


def remove_cgroup_group() -> None:
    for root in cgroup_hierarchies():
        remove_cgroup_tree(root / CGROUP_GROUP)


def known_hosts() -> list[Host]:
    """Every host of which anything exists: a record, a root, a namespace, a link, a cgroup."""
    names = set(netns_names()) | set(link_names())
    for directory in (HOST_STATE_DIR, HOSTS_ROOT_DIR, *(root / CGROUP_GROUP for root in cgroup_hierarchies())):
        if directory.is_dir():
            names.update(entry.name for entry in directory.iterdir() if entry.is_dir())
    indices = {host_index(name) for name in names}
    return sorted(Host(index) for index in indices if index is not None)
