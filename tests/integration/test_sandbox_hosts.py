"""sandbox/sandbox: hosts boot with systemd, answer Ansible over SSH, run hardened units,
and `down` removes every trace. Needs root: sudo .venv/bin/pytest tests/integration/test_sandbox_hosts.py
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

if TYPE_CHECKING:
    from conftest import SandboxCli, SandboxHosts

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(900)]

REPO_ROOT = Path(__file__).resolve().parents[2]
SANDBOX_INVENTORY = REPO_ROOT / "inventories" / "sandbox" / "hosts.yml"
USAGE = "usage: sandbox/sandbox up [--hosts N] | down | status"
SERVICE_ADDRESS = "10.231.255.1"
STATE_DIR = Path("/run/cytube-shipit/sandbox")
HOSTS_ROOT_DIR = "/var/lib/cytube-shipit"
WARM_UP_LIMIT_S = 30
STOP_BOUND_S = 20  # down waits this long for a clean power-off, then kills
ANSIBLE = Path(sys.executable).with_name("ansible")
HARDENING = "-p ProtectSystem=strict -p NoNewPrivileges=yes -p PrivateTmp=yes"
PROBE = (
    "id -un; grep NoNewPrivs /proc/self/status; "
    "touch /tmp/shipit-probe && echo tmp-writable; "
    "touch /etc/shipit-probe 2>/dev/null || echo etc-read-only"
)


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a failed command (asserts there is exactly one)."""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got: {done.stderr!r}"
    return lines[0]


def run_ansible(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg")}
    argv = [str(ANSIBLE), "-i", "inventories/sandbox", *args]
    return subprocess.run(argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180)


def recorded_nspawn_pids() -> dict[str, int]:
    records = STATE_DIR.glob("hosts/*/host.json")
    return {record.parent.name: json.loads(record.read_text())["nspawn_pid"] for record in records}


def process_alive(pid: int) -> bool:
    """True unless the process is gone or a zombie waiting for init to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def ip_output(*args: str) -> str:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def restores_sandbox(sandbox_cli: SandboxCli, sandbox_hosts: SandboxHosts) -> Iterator[None]:
    """For tests that take hosts down: bring the session's hosts back afterwards."""
    yield
    done = sandbox_cli.run("up", "--hosts", str(len(sandbox_hosts.hosts)))
    assert done.returncode == 0, f"could not restore the sandbox:\n{done.stdout}{done.stderr}"


# Bad input: one line on stderr saying what to do, exit code 2, nothing started.


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        ([], "the following arguments are required"),
        (["up", "--hosts", "0"], "--hosts: must be a number from 1 to 20, got '0'"),
        (["up", "--hosts", "21"], "--hosts: must be a number from 1 to 20, got '21'"),
        (["status", "--hosts", "2"], "unrecognized arguments: --hosts 2"),
    ],
)
def test_bad_arguments_get_one_line_with_usage_and_exit_2(
    sandbox_cli: SandboxCli, args: list[str], expected: str
) -> None:
    done = sandbox_cli.run(*args)
    assert done.returncode == 2
    line = one_error_line(done)
    assert expected in line
    assert USAGE in line
    assert done.stdout == ""


def test_non_root_is_told_to_run_as_root(sandbox_cli: SandboxCli) -> None:
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    argv = [*nobody, str(sandbox_cli.path), "up", "--hosts", "2"]
    done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert one_error_line(done) == "run as root: sudo sandbox/sandbox up --hosts 2"


def test_missing_debootstrap_says_what_to_install(sandbox_cli: SandboxCli, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("systemd-nspawn", "ip", "ssh", "ssh-keygen"):
        found = shutil.which(tool)
        assert found, f"{tool} is needed for this test"
        (bin_dir / tool).symlink_to(found)
    done = sandbox_cli.run("up", env={**os.environ, "PATH": str(bin_dir)})
    assert done.returncode == 2
    line = one_error_line(done)
    assert line.startswith("debootstrap not found on PATH")
    assert line.endswith("install it: apt-get install debootstrap systemd-container iproute2")


def test_bad_boot_timeout_setting_is_bad_input(sandbox_cli: SandboxCli) -> None:
    done = sandbox_cli.run("up", env={**os.environ, "SHIPIT_SANDBOX_BOOT_TIMEOUT": "soon"})
    assert done.returncode == 2
    assert "SHIPIT_SANDBOX_BOOT_TIMEOUT must be a number of seconds" in one_error_line(done)


# Running hosts.


def test_inventory_lists_hosts_with_contract_variables(sandbox_hosts: SandboxHosts) -> None:
    inventory = yaml.safe_load(SANDBOX_INVENTORY.read_text())
    hosts = inventory["all"]["children"]["sandbox_hosts"]["hosts"]
    assert {"sandbox-1", "sandbox-2"} <= set(hosts)
    for name, variables in hosts.items():
        index = int(name.removeprefix("sandbox-"))
        assert variables == {
            "ansible_host": f"10.231.{index}.2",
            "ansible_user": "root",
            "ansible_ssh_private_key_file": str(STATE_DIR / "id_ed25519"),
            "ansible_python_interpreter": "/usr/bin/python3",
            "ansible_ssh_common_args": f"-o UserKnownHostsFile={STATE_DIR / 'known_hosts'}",
            "sandbox_gateway": f"10.231.{index}.1",
        }
    known = (STATE_DIR / "known_hosts").read_text().splitlines()
    assert sorted(line.split()[0] for line in known) == sorted(v["ansible_host"] for v in hosts.values())
    assert all(line.split()[1] == "ssh-ed25519" for line in known), "the hosts' own keys, checked by ssh"


def test_ansible_reaches_every_host_over_ssh(sandbox_hosts: SandboxHosts) -> None:
    done = run_ansible("all", "-m", "ansible.builtin.ping")
    assert done.returncode == 0, done.stdout + done.stderr
    for host in sandbox_hosts.hosts:
        assert f"{host.name} | SUCCESS" in done.stdout


def test_every_host_booted_systemd_under_its_own_name(sandbox_hosts: SandboxHosts) -> None:
    for host in sandbox_hosts.hosts:
        done = sandbox_hosts.ssh(host, "systemctl is-system-running; hostname; ps -o comm= -p 1")
        state, hostname, init = done.stdout.split()
        assert state in ("running", "degraded"), f"{host.name}: {state}"
        assert hostname == host.name
        assert init == "systemd"


def test_each_host_reaches_the_service_address_from_its_own_address(sandbox_hosts: SandboxHosts) -> None:
    with socket.create_server((SERVICE_ADDRESS, 0)) as server:
        server.settimeout(30)
        port = server.getsockname()[1]
        peers: list[str] = []

        def accept_all() -> None:
            for _ in sandbox_hosts.hosts:
                connection, (peer, _) = server.accept()
                connection.close()
                peers.append(peer)

        acceptor = threading.Thread(target=accept_all)
        acceptor.start()
        for host in sandbox_hosts.hosts:
            connect = f"import socket; socket.create_connection(('{SERVICE_ADDRESS}', {port}), 10).close()"
            done = sandbox_hosts.ssh(host, f'python3 -c "{connect}"')
            assert done.returncode == 0, f"{host.name}: {done.stderr}"
        acceptor.join(timeout=30)
    assert sorted(peers) == sorted(host.address for host in sandbox_hosts.hosts)


@pytest.mark.parametrize("identity", ["User=nobody", "DynamicUser=yes"])
def test_hardened_unit_runs_on_a_host(sandbox_hosts: SandboxHosts, identity: str) -> None:
    host = sandbox_hosts.hosts[0]
    unit = f"systemd-run --wait --pipe --collect --quiet {HARDENING} -p {identity} /bin/sh -c '{PROBE}'"
    done = sandbox_hosts.ssh(host, unit)
    assert done.returncode == 0, done.stdout + done.stderr
    user, no_new_privs, *rest = done.stdout.splitlines()
    assert user != "root"
    assert no_new_privs.split() == ["NoNewPrivs:", "1"]
    assert rest == ["tmp-writable", "etc-read-only"]
    assert sandbox_hosts.ssh(host, "test -e /tmp/shipit-probe").returncode == 1, "PrivateTmp not private"


def test_status_lists_every_host_up_and_reachable(sandbox_cli: SandboxCli, sandbox_hosts: SandboxHosts) -> None:
    done = sandbox_cli.run("status")
    assert done.returncode == 0
    for host in sandbox_hosts.hosts:
        assert f"{host.name:<11} up    {host.address:<12} ssh ok" in done.stdout.splitlines()


def test_up_again_with_the_same_count_keeps_the_running_hosts(
    sandbox_cli: SandboxCli, sandbox_hosts: SandboxHosts
) -> None:
    before = recorded_nspawn_pids()
    # Another test module may have booted more hosts (the dashboard's sandbox-3): ask for as many as run now.
    running = yaml.safe_load(SANDBOX_INVENTORY.read_text())["all"]["children"]["sandbox_hosts"]["hosts"]
    done = sandbox_cli.run("up", "--hosts", str(len(running)))
    assert done.returncode == 0, done.stderr
    assert "sandbox already up" in done.stdout
    assert recorded_nspawn_pids() == before


def test_a_crashed_host_makes_status_partial_and_up_repairs_it(
    sandbox_cli: SandboxCli, sandbox_hosts: SandboxHosts, restores_sandbox: None
) -> None:
    victim = sandbox_hosts.hosts[-1]
    nspawn_pid = recorded_nspawn_pids()[victim.name]
    os.kill(nspawn_pid, 9)
    assert _wait(lambda: not process_alive(nspawn_pid))
    done = sandbox_cli.run("status")
    assert done.returncode == 1
    assert f"{victim.name:<11} down  {victim.address:<12} ssh unreachable" in done.stdout.splitlines()
    repaired = sandbox_cli.run("up", "--hosts", str(len(sandbox_hosts.hosts)))
    assert repaired.returncode == 0, repaired.stderr
    assert f"{victim.name:<11} {victim.address:<12} running" in repaired.stdout
    assert sandbox_cli.run("status").returncode == 0


# Taking hosts down.


def test_down_leaves_nothing_behind(
    sandbox_cli: SandboxCli, sandbox_hosts: SandboxHosts, restores_sandbox: None
) -> None:
    nspawn_pids = recorded_nspawn_pids()
    assert len(nspawn_pids) == len(sandbox_hosts.hosts)
    done = sandbox_cli.run("down", timeout=180)
    assert done.returncode == 0, done.stderr
    assert [pid for pid in nspawn_pids.values() if process_alive(pid)] == []
    assert "shipit-" not in ip_output("netns", "list")
    assert "shipit-" not in ip_output("-o", "link", "show", "type", "veth")
    assert HOSTS_ROOT_DIR not in Path("/proc/mounts").read_text()
    assert SERVICE_ADDRESS not in ip_output("-o", "addr", "show", "dev", "lo")
    assert not SANDBOX_INVENTORY.exists()
    assert list(Path("/sys/fs/cgroup").glob("**/cytube-shipit-sandbox")) == []
    assert sandbox_cli.run("status").returncode == 3
    again = sandbox_cli.run("down")
    assert (again.returncode, again.stdout) == (0, "sandbox already down\n")


def test_down_kills_a_host_that_will_not_power_off(
    sandbox_cli: SandboxCli, sandbox_hosts: SandboxHosts, restores_sandbox: None
) -> None:
    ignore_stop = "trap '' TERM; while :; do sleep 1; done"
    stubborn = f'systemd-run --unit=shipit-stubborn -p TimeoutStopSec=infinity /bin/sh -c "{ignore_stop}"'
    assert sandbox_hosts.ssh(sandbox_hosts.hosts[0], stubborn).returncode == 0
    nspawn_pids = recorded_nspawn_pids()
    started = time.monotonic()
    done = sandbox_cli.run("down", timeout=180)
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert STOP_BOUND_S <= elapsed < STOP_BOUND_S + 15, f"down took {elapsed:.1f}s"
    assert [pid for pid in nspawn_pids.values() if process_alive(pid)] == []
    assert list(Path("/sys/fs/cgroup").glob("**/cytube-shipit-sandbox")) == []


def test_up_after_down_is_fast_and_reachable(
    sandbox_cli: SandboxCli, sandbox_hosts: SandboxHosts, restores_sandbox: None
) -> None:
    assert sandbox_cli.run("down").returncode == 0
    started = time.monotonic()
    done = sandbox_cli.run("up", "--hosts", str(len(sandbox_hosts.hosts)))
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert elapsed < WARM_UP_LIMIT_S, f"warm up took {elapsed:.1f}s"
    ping = run_ansible("all", "-m", "ansible.builtin.ping")
    assert ping.returncode == 0, ping.stdout + ping.stderr


def test_host_that_does_not_boot_in_time_is_named(
    sandbox_cli: SandboxCli, sandbox_hosts: SandboxHosts, restores_sandbox: None
) -> None:
    assert sandbox_cli.run("down").returncode == 0
    done = sandbox_cli.run("up", "--hosts", "1", env={**os.environ, "SHIPIT_SANDBOX_BOOT_TIMEOUT": "0.001"})
    assert done.returncode == 1
    line = one_error_line(done)
    assert "sandbox-1 did not come up within 0.001s" in line
    assert "sandbox/sandbox down" in line


def _wait(condition: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False
