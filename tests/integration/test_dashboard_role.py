"""The dashboard on sandbox-3 and the shipping of outcomes from a bot host's journal.

Installs the dashboard with playbooks/dashboard.yml (through molecule/dashboard/converge.yml,
so the sandbox settings apply), journals an outcome on the host, and runs
playbooks/tasks/ship_outcomes.yml as a deploy does at its end:

- dashboard stopped: the run succeeds with a warning, the outcome stays unsent;
- dashboard back: the next run ships it and marks it sent;
- the journal replayed twice (sent marks lost): the dashboard still holds one row.
"""

from __future__ import annotations

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
from conftest import REPO_ROOT, SandboxCli, SandboxHost, SandboxHosts, read_sandbox_inventory, sandbox_is_up

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(600)]

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


@pytest.fixture(scope="module")
def sandbox() -> SandboxHosts:
    if os.geteuid() != 0:
        pytest.skip("the sandbox hosts need root")
    cli = SandboxCli()
    if not sandbox_is_up(cli, 3):
        done = cli.run("up", "--hosts", "3")
        assert done.returncode == 0, done.stdout + done.stderr
    return read_sandbox_inventory()


# Reads need a token on this dashboard (the sandbox's own leaves them open for the demo).
READ_TOKEN = uuid.uuid4().hex
READ = {"Authorization": f"Bearer {READ_TOKEN}"}


@pytest.fixture(scope="module")
def dashboard_host(sandbox: SandboxHosts) -> SandboxHost:
    converge = REPO_ROOT / "molecule" / "dashboard" / "converge.yml"
    variables = {"shipit_dashboard_hosts": HOST, "dashboard_read_token": READ_TOKEN}
    done = ansible_playbook(str(converge), "-vvv", "-e", json.dumps(variables))
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert TOKEN_FILE.stat().st_mode & 0o777 == 0o600
    assert TOKEN_FILE.read_text().strip() not in output, "the ingest token leaked into the output of the install"
    assert READ_TOKEN not in output, "the read token leaked into the output of the install"
    return next(host for host in sandbox.hosts if host.name == HOST)


@pytest.fixture
def journal_root(sandbox: SandboxHosts, dashboard_host: SandboxHost) -> Iterator[str]:
    root = f"/srv/shipit-ship-test-{uuid.uuid4().hex[:8]}"
    yield root
    sandbox.ssh(dashboard_host, f"systemctl start {UNIT}; rm -rf {root}")


def journaled_outcome(
    sandbox: SandboxHosts, host: SandboxHost, root: str, channel: str = CHANNEL, fixture: str = "deploy_success"
) -> dict[str, Any]:
    outcome = json.loads((REPO_ROOT / "tests" / "fixtures" / "outcomes" / f"{fixture}.json").read_text())
    run_id = f"itest-{uuid.uuid4().hex[:12]}"
    outcome.update(id=f"{run_id}:{outcome['kind']}:{channel}:{HOST}", run_id=run_id, host=HOST, channel=channel)
    state_dir = f"{root}/{channel}/.shipit"
    line = json.dumps(outcome, separators=(",", ":"))
    done = sandbox.ssh(
        host, f"mkdir -p {state_dir} && printf '%s\\n' {shlex.quote(line)} >> {state_dir}/outcomes.jsonl"
    )
    assert done.returncode == 0, done.stderr
    return outcome


def ship(tmp_path: Path, host: SandboxHost, root: str, token: str) -> tuple[str, tuple[int, int, int, int]]:
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


def sent_ids(sandbox: SandboxHosts, host: SandboxHost, root: str) -> set[str]:
    done = sandbox.ssh(host, f"cat {root}/{CHANNEL}/.shipit/outcomes.sent 2>/dev/null || true")
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


def test_reads_need_the_read_token_and_the_unit_runs_hardened(
    sandbox: SandboxHosts, dashboard_host: SandboxHost
) -> None:
    url = f"http://{dashboard_host.address}:{PORT}"
    assert requests.get(f"{url}/healthz", timeout=5).status_code == 200
    assert requests.get(f"{url}/api/status", timeout=5).status_code == 401
    assert requests.get(f"{url}/api/status", headers=READ, timeout=5).status_code == 200
    unit = sandbox.ssh(dashboard_host, f"systemctl cat {UNIT}").stdout
    assert "User=shipit-dashboard" in unit and READ_TOKEN not in unit
    assert "LoadCredential=read-token:/etc/cytube-shipit-dashboard/%i/read-token" in unit
    secrets = sandbox.ssh(dashboard_host, "stat -c '%U %a %n' /etc/cytube-shipit-dashboard/main/*").stdout.split("\n")
    assert sorted(line.split()[:2] == ["root", "600"] for line in secrets if line) == [True, True]


def test_a_dashboard_that_is_down_warns_and_the_next_run_ships_the_backlog(
    tmp_path: Path, sandbox: SandboxHosts, dashboard_host: SandboxHost, journal_root: str
) -> None:
    token = TOKEN_FILE.read_text().strip()
    url = f"http://{dashboard_host.address}:{PORT}"
    outcome = journaled_outcome(sandbox, dashboard_host, journal_root)

    assert sandbox.ssh(dashboard_host, f"systemctl stop {UNIT}").returncode == 0
    output, counts = ship(tmp_path, dashboard_host, journal_root, token)
    assert f"[WARNING]: dashboard {dashboard_host.address}:{PORT} did not acknowledge 1 of 1 outcome(s)" in output
    assert counts == (0, 0, 1, 0)
    assert sent_ids(sandbox, dashboard_host, journal_root) == set()

    assert sandbox.ssh(dashboard_host, f"systemctl start {UNIT}").returncode == 0
    wait_healthy(url)
    output, counts = ship(tmp_path, dashboard_host, journal_root, token)
    assert "[WARNING]: dashboard" not in output
    assert counts == (1, 0, 0, 1)
    assert sent_ids(sandbox, dashboard_host, journal_root) == {outcome["id"]}
    stored = requests.get(f"{url}/api/deployments/{outcome['id']}", headers=READ, timeout=5)
    assert stored.status_code == 200 and stored.json()["status"] == "success"

    _output, counts = ship(tmp_path, dashboard_host, journal_root, token)
    assert counts == (0, 0, 0, 0), "an outcome marked sent must not be shipped again"


def test_replaying_a_journal_twice_adds_nothing(
    tmp_path: Path, sandbox: SandboxHosts, dashboard_host: SandboxHost, journal_root: str
) -> None:
    token = TOKEN_FILE.read_text().strip()
    url = f"http://{dashboard_host.address}:{PORT}"
    outcome = journaled_outcome(sandbox, dashboard_host, journal_root)
    _output, counts = ship(tmp_path, dashboard_host, journal_root, token)
    assert counts == (1, 0, 0, 1)
    for _replay in range(2):
        # As if the sent marks were lost (a restored host): the whole journal goes again.
        sandbox.ssh(dashboard_host, f"rm -f {journal_root}/{CHANNEL}/.shipit/outcomes.sent")
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
    sandbox: SandboxHosts, dashboard_host: SandboxHost, journal_root: str
) -> None:
    token = TOKEN_FILE.read_text().strip()
    url = f"http://{dashboard_host.address}:{PORT}"
    outcomes = [
        journaled_outcome(sandbox, dashboard_host, journal_root),
        journaled_outcome(
            sandbox, dashboard_host, journal_root, channel="shipit-sandbox2", fixture="deploy_rolled_back"
        ),
    ]
    assert sandbox.ssh(dashboard_host, f"systemctl stop {UNIT}").returncode == 0
    done = flush(journal_root, url, token)
    assert done.returncode != 0
    assert "2 outcome(s) stayed unsent" in done.stdout and token not in done.stdout + done.stderr

    assert sandbox.ssh(dashboard_host, f"systemctl start {UNIT}").returncode == 0
    wait_healthy(url)
    done = flush(journal_root, url, token)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "2 outcome(s) stored, 0 already stored, 0 left unsent" in done.stdout
    for outcome in outcomes:
        stored = requests.get(f"{url}/api/deployments/{outcome['id']}", headers=READ, timeout=5)
        assert stored.json()["status"] == outcome["status"]
    assert sent_ids(sandbox, dashboard_host, journal_root) == {outcomes[0]["id"]}
