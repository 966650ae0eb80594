"""The dashboard on sandbox-3 and the shipping of outcomes from a bot host's journal.

Installs the dashboard with playbooks/dashboard.yml (through molecule/dashboard/converge.yml,
so the sandbox settings apply), journals an outcome on the host, and runs
playbooks/tasks/ship_outcomes.yml as a deploy does at its end:

- dashboard stopped: the run succeeds with a warning, the outcome stays unsent;
- dashboard back: the next run ships it and marks it sent;
- the journal replayed twice (sent marks lost): the dashboard still holds one row.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(600)]

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST = "sandbox-3"
UNIT = "shipit-dashboard@main.service"
PORT = 8095
TOKEN_FILE = Path("/run/cytube-shipit/sandbox/dashboard-token")
CHANNEL = "shipit-sandbox"
SHIPPED_LINE = re.compile(r"SHIPPED stored=(\d+) duplicate=(\d+) unacked=(\d+) marked=(\d+)")
SHIP_PLAYBOOK = """
- name: Ship outcomes as the end of a deploy does
  hosts: {host}
  gather_facts: false
  tasks:
    - name: Ship
      ansible.builtin.include_tasks: {tasks}
    - name: Report
      ansible.builtin.debug:
        msg: >-
          SHIPPED stored={{{{ shipit_ship_result.stored | default([]) | length }}}}
          duplicate={{{{ shipit_ship_result.duplicate | default([]) | length }}}}
          unacked={{{{ shipit_ship_result.unacked | default([]) | length }}}}
          marked={{{{ shipit_ship_marked.marked | default([]) | length }}}}
"""


def ansible_playbook(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    argv = [str(REPO_ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", str(REPO_ROOT / "inventories" / "sandbox")]
    return subprocess.run(
        [*argv, *args], cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=500
    )


@dataclasses.dataclass(frozen=True)
class Host:
    """A sandbox host as inventories/sandbox/hosts.yml lists it, reachable with plain ssh."""

    name: str
    address: str
    ssh_key: str

    def ssh(self, command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        argv = [
            "ssh", "-F", "/dev/null", "-i", self.ssh_key, "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            f"root@{self.address}", command,
        ]  # fmt: skip
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def sandbox(sandbox_cli: Any) -> Host:
    """sandbox-3 (booted with the others when needed; `up` is idempotent and left up for the session)."""
    if os.geteuid() != 0:
        pytest.skip("the sandbox hosts need root")
    done = sandbox_cli.run("up", "--hosts", "3")
    assert done.returncode == 0, done.stdout + done.stderr
    inventory = yaml.safe_load((REPO_ROOT / "inventories" / "sandbox" / "hosts.yml").read_text())
    values = inventory["all"]["children"]["sandbox_hosts"]["hosts"][HOST]
    return Host(HOST, values["ansible_host"], values["ansible_ssh_private_key_file"])


# Reads need a token on this dashboard (the sandbox's own leaves them open for the demo).
READ_TOKEN = uuid.uuid4().hex
READ = {"Authorization": f"Bearer {READ_TOKEN}"}


@pytest.fixture(scope="module")
def dashboard_host(sandbox: Host) -> Host:
    converge = REPO_ROOT / "molecule" / "dashboard" / "converge.yml"
    variables = {"shipit_dashboard_hosts": HOST, "dashboard_read_token": READ_TOKEN}
    done = ansible_playbook(str(converge), "-vvv", "-e", json.dumps(variables))
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert TOKEN_FILE.stat().st_mode & 0o777 == 0o600
    assert TOKEN_FILE.read_text().strip() not in output, "the ingest token leaked into the output of the install"
    assert READ_TOKEN not in output, "the read token leaked into the output of the install"
    return sandbox


@pytest.fixture
def journal_root(dashboard_host: Host) -> Iterator[str]:
    root = f"/srv/shipit-ship-test-{uuid.uuid4().hex[:8]}"
    yield root
    dashboard_host.ssh(f"systemctl start {UNIT}; rm -rf {root}")


def journaled_outcome(host: Host, root: str, channel: str = CHANNEL, fixture: str = "deploy_success") -> dict[str, Any]:
    outcome = json.loads((REPO_ROOT / "tests" / "fixtures" / "outcomes" / f"{fixture}.json").read_text())
    run_id = f"itest-{uuid.uuid4().hex[:12]}"
    outcome.update(id=f"{run_id}:{outcome['kind']}:{channel}:{HOST}", run_id=run_id, host=HOST, channel=channel)
    state_dir = f"{root}/{channel}/.shipit"
    line = json.dumps(outcome, separators=(",", ":"))
    done = host.ssh(f"mkdir -p {state_dir} && printf '%s\\n' {shlex.quote(line)} >> {state_dir}/outcomes.jsonl")
    assert done.returncode == 0, done.stderr
    return outcome


def ship(tmp_path: Path, host: Host, root: str, token: str) -> tuple[str, tuple[int, int, int, int]]:
    playbook = tmp_path / "ship.yml"
    tasks = REPO_ROOT / "playbooks" / "tasks" / "ship_outcomes.yml"
    playbook.write_text(SHIP_PLAYBOOK.format(host=HOST, tasks=tasks))
    url = f"http://{host.address}:{PORT}"
    done = ansible_playbook(
        str(playbook),
        "-vvv",
        "-e",
        json.dumps({"shipit_root": root, "shipit_dashboard_url": url, "shipit_dashboard_token": token}),
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert token not in output
    counts = SHIPPED_LINE.search(output)
    assert counts, output[-4000:]
    stored, duplicate, unacked, marked = (int(value) for value in counts.groups())
    return output, (stored, duplicate, unacked, marked)


def sent_ids(host: Host, root: str) -> set[str]:
    done = host.ssh(f"cat {root}/{CHANNEL}/.shipit/outcomes.sent 2>/dev/null || true")
    return {line for line in done.stdout.splitlines() if line}


def wait_healthy(url: str, deadline_s: float = 30) -> None:
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, f"{url}/healthz did not answer within {deadline_s} s"
        time.sleep(0.2)


def rows_with_id(url: str, outcome_id: str) -> int:
    listing = requests.get(f"{url}/api/deployments", params={"channel": CHANNEL, "limit": 200}, headers=READ, timeout=5)
    listing.raise_for_status()
    return sum(1 for item in listing.json()["items"] if item["id"] == outcome_id)


def test_reads_need_the_read_token_and_the_unit_runs_hardened(dashboard_host: Host) -> None:
    url = f"http://{dashboard_host.address}:{PORT}"
    assert requests.get(f"{url}/healthz", timeout=5).status_code == 200
    assert requests.get(f"{url}/api/status", timeout=5).status_code == 401
    assert requests.get(f"{url}/api/status", headers=READ, timeout=5).status_code == 200
    unit = dashboard_host.ssh(f"systemctl cat {UNIT}").stdout
    assert "User=shipit-dashboard" in unit and READ_TOKEN not in unit
    assert "LoadCredential=read-token:/etc/cytube-shipit-dashboard/%i/read-token" in unit
    secrets = dashboard_host.ssh("stat -c '%U %a %n' /etc/cytube-shipit-dashboard/main/*").stdout.split("\n")
    assert sorted(line.split()[:2] == ["root", "600"] for line in secrets if line) == [True, True]


def test_a_dashboard_that_is_down_warns_and_the_next_run_ships_the_backlog(
    tmp_path: Path, dashboard_host: Host, journal_root: str
) -> None:
    token = TOKEN_FILE.read_text().strip()
    url = f"http://{dashboard_host.address}:{PORT}"
    outcome = journaled_outcome(dashboard_host, journal_root)

    assert dashboard_host.ssh(f"systemctl stop {UNIT}").returncode == 0
    output, counts = ship(tmp_path, dashboard_host, journal_root, token)
    assert f"[WARNING]: dashboard {dashboard_host.address}:{PORT} did not acknowledge 1 of 1 outcome(s)" in output
    assert counts == (0, 0, 1, 0)
    assert sent_ids(dashboard_host, journal_root) == set()

    assert dashboard_host.ssh(f"systemctl start {UNIT}").returncode == 0
    wait_healthy(url)
    output, counts = ship(tmp_path, dashboard_host, journal_root, token)
    assert "[WARNING]: dashboard" not in output
    assert counts == (1, 0, 0, 1)
    assert sent_ids(dashboard_host, journal_root) == {outcome["id"]}
    stored = requests.get(f"{url}/api/deployments/{outcome['id']}", headers=READ, timeout=5)
    assert stored.status_code == 200 and stored.json()["status"] == "success"

    _output, counts = ship(tmp_path, dashboard_host, journal_root, token)
    assert counts == (0, 0, 0, 0), "an outcome marked sent must not be shipped again"


def test_replaying_a_journal_twice_adds_nothing(tmp_path: Path, dashboard_host: Host, journal_root: str) -> None:
    token = TOKEN_FILE.read_text().strip()
    url = f"http://{dashboard_host.address}:{PORT}"
    outcome = journaled_outcome(dashboard_host, journal_root)
    _output, counts = ship(tmp_path, dashboard_host, journal_root, token)
    assert counts == (1, 0, 0, 1)
    for _replay in range(2):
        # As if the sent marks were lost (a restored host): the whole journal goes again.
        dashboard_host.ssh(f"rm -f {journal_root}/{CHANNEL}/.shipit/outcomes.sent")
        _output, counts = ship(tmp_path, dashboard_host, journal_root, token)
        assert counts == (0, 1, 0, 1)
    assert rows_with_id(url, outcome["id"]) == 1


def flush(root: str, url: str, token: str) -> subprocess.CompletedProcess[str]:
    variables = {
        "shipit_hosts": HOST,
        "shipit_root": root,
        "shipit_dashboard_url": url,
        "shipit_dashboard_token": token,
    }
    return ansible_playbook(str(REPO_ROOT / "playbooks" / "flush.yml"), "-e", json.dumps(variables))


def test_flush_ships_every_channels_backlog_and_fails_while_the_dashboard_is_down(
    dashboard_host: Host, journal_root: str
) -> None:
    token = TOKEN_FILE.read_text().strip()
    url = f"http://{dashboard_host.address}:{PORT}"
    outcomes = [
        journaled_outcome(dashboard_host, journal_root),
        journaled_outcome(dashboard_host, journal_root, channel="shipit-sandbox2", fixture="deploy_rolled_back"),
    ]
    assert dashboard_host.ssh(f"systemctl stop {UNIT}").returncode == 0
    done = flush(journal_root, url, token)
    assert done.returncode != 0
    assert "2 outcome(s) stayed unsent" in done.stdout and token not in done.stdout + done.stderr

    assert dashboard_host.ssh(f"systemctl start {UNIT}").returncode == 0
    wait_healthy(url)
    done = flush(journal_root, url, token)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "2 outcome(s) stored, 0 already stored, 0 left unsent" in done.stdout
    for outcome in outcomes:
        stored = requests.get(f"{url}/api/deployments/{outcome['id']}", headers=READ, timeout=5)
        assert stored.json()["status"] == outcome["status"]
    assert sent_ids(dashboard_host, journal_root) == {outcomes[0]["id"]}
