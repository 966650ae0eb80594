"""Fixtures shared by integration tests: the sandbox hosts booted by ``sandbox/sandbox``.

``sandbox_hosts`` (session scope) boots two hosts once, or reuses hosts that are
already up, and takes them down at the end only if it booted them. See docs/sandbox.md.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_fixtures import SECRETS_FILE, Shipit, StandIn, admin_up

REPO_ROOT = Path(__file__).resolve().parents[2]
SANDBOX_CLI = REPO_ROOT / "sandbox" / "sandbox"
SANDBOX_INVENTORY = REPO_ROOT / "inventories" / "sandbox" / "hosts.yml"
SANDBOX_HOST_COUNT = 2
SANDBOX_UP_TIMEOUT_S = 600  # a cold `up` builds the root cache with debootstrap first


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sandbox: needs root and boots sandbox hosts (systemd-nspawn) over SSH")


@dataclasses.dataclass(frozen=True)
class SandboxHost:
    name: str
    address: str
    gateway: str  # the controller-side address this host sees


@dataclasses.dataclass(frozen=True)
class SandboxHosts:
    """The hosts listed in inventories/sandbox/hosts.yml, and how to reach them."""

    hosts: tuple[SandboxHost, ...]
    ssh_key: Path
    inventory: Path = SANDBOX_INVENTORY

    def ssh(self, host: SandboxHost, command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run ``command`` as root on ``host`` (plain ssh, no Ansible)."""
        argv = [
            "ssh", "-F", "/dev/null", "-i", str(self.ssh_key),
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            f"root@{host.address}", command,
        ]  # fmt: skip
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


@dataclasses.dataclass(frozen=True)
class SandboxCli:
    """``sandbox/sandbox``, run from the repository root."""

    path: Path = SANDBOX_CLI
    repo_root: Path = REPO_ROOT

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = SANDBOX_UP_TIMEOUT_S
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.path), *args],
            cwd=self.repo_root,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def read_sandbox_inventory() -> SandboxHosts:
    groups = yaml.safe_load(SANDBOX_INVENTORY.read_text())["all"]["children"]
    variables = groups["sandbox_hosts"]["hosts"]
    hosts = tuple(
        SandboxHost(name, values["ansible_host"], values["sandbox_gateway"]) for name, values in variables.items()
    )
    keys = {values["ansible_ssh_private_key_file"] for values in variables.values()}
    assert len(keys) == 1, f"sandbox hosts use different keys: {keys}"
    return SandboxHosts(hosts, Path(keys.pop()))


def sandbox_is_up(cli: SandboxCli, minimum_hosts: int) -> bool:
    """All known hosts up and reachable over ssh, and at least ``minimum_hosts`` of them."""
    status = cli.run("status", timeout=120)
    up_lines = [line for line in status.stdout.splitlines() if " up " in line and line.endswith("ssh ok")]
    return status.returncode == 0 and len(up_lines) >= minimum_hosts and SANDBOX_INVENTORY.exists()


@pytest.fixture(scope="session")
def sandbox_cli() -> SandboxCli:
    return SandboxCli()


@pytest.fixture(scope="session")
def sandbox_hosts(sandbox_cli: SandboxCli) -> Iterator[SandboxHosts]:
    """At least two sandbox hosts, up for the whole session."""
    if os.geteuid() != 0:
        pytest.skip("the sandbox hosts need root: sudo .venv/bin/pytest ...")
    started_here = not sandbox_is_up(sandbox_cli, SANDBOX_HOST_COUNT)
    if started_here:
        done = sandbox_cli.run("up", "--hosts", str(SANDBOX_HOST_COUNT))
        assert done.returncode == 0, f"sandbox/sandbox up failed:\n{done.stdout}{done.stderr}"
    yield read_sandbox_inventory()
    if started_here:
        done = sandbox_cli.run("down", timeout=180)
        assert done.returncode == 0, f"sandbox/sandbox down failed:\n{done.stdout}{done.stderr}"


# --------------------------------------------------------------------------- the playbooks' world


@pytest.fixture(scope="session")
def standin(sandbox_hosts: SandboxHosts) -> StandIn:
    """The stand-in that ``sandbox/sandbox up`` runs beside the hosts (with the sandbox accounts)."""
    if not admin_up():
        raise AssertionError("the CyTube stand-in of the sandbox is not running: run 'sudo sandbox/sandbox up'")
    return StandIn()


@pytest.fixture(scope="session")
def sandbox_secrets(standin: StandIn) -> dict[str, Any]:
    """{'bot': ..., 'probe': ..., 'extra_vars': None}: the passwords ``sandbox/sandbox up`` generated."""
    if not SECRETS_FILE.exists():
        raise AssertionError(f"{SECRETS_FILE} is missing: 'sandbox/sandbox up' writes it")
    values = yaml.safe_load(SECRETS_FILE.read_text())
    return {"bot": values["sandbox_bot_password"], "probe": values["sandbox_probe_password"], "extra_vars": None}


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Reference-bot wheels 1.0.0, 2.0.0 and 3.0.0 (reproducible builds: the wheelhouse cache stays warm)."""
    out = tmp_path_factory.mktemp("wheels")
    built = {}
    for version in ("1.0.0", "2.0.0", "3.0.0"):
        done = subprocess.run(
            [str(REPO_ROOT / "examples" / "build-wheel.sh"), version, str(out)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        built[version] = Path(done.stdout.strip().splitlines()[-1])
    return built


@pytest.fixture(scope="module")
def shipit(
    sandbox_hosts: SandboxHosts, standin: StandIn, sandbox_secrets: dict[str, Any], wheels: dict[str, Path]
) -> Shipit:
    host = next(h for h in sandbox_hosts.hosts if h.name == "sandbox-1")
    return Shipit(sandbox_hosts, host, standin, sandbox_secrets, wheels)
