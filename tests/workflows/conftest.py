"""Fixtures of the workflow scenarios: the sandbox (host sandbox-2, the CyTube, GitHub and webhook
stand-ins), the secrets act hands the workflows, and one scratch repository per test module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from act_harness import GITHUB_ADMIN, REPO_ROOT, Act, ScratchRepo

SANDBOX = REPO_ROOT / "sandbox" / "sandbox"
STATE_DIR = Path("/run/cytube-shipit/sandbox")
SECRETS_FILE = REPO_ROOT / "inventories" / "sandbox" / "group_vars" / "all" / "secrets.yml"
HOST_ADDRESS = "10.231.2.2"  # sandbox-2: the scenarios' bot host (tests/workflows/inventories)
WEBHOOKS_ADMIN = "http://127.0.0.1:8095"
SCENARIO_CHANNELS = ("shipit-bot-test", "shipit-bot")
INVENTORIES = "tests/workflows/inventories"


def admin(url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


class BotHost:
    """sandbox-2 seen over plain SSH (no Ansible): what is live, what the journal says."""

    def run(self, command: str) -> str:
        argv = [
            "ssh", "-F", "/dev/null", "-i", str(STATE_DIR / "id_ed25519"), "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={STATE_DIR / 'known_hosts'}", "-o", "StrictHostKeyChecking=yes",
            "-o", "LogLevel=ERROR", f"root@{HOST_ADDRESS}", command,
        ]  # fmt: skip
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True).stdout

    def live_release(self, channel: str) -> str:
        return self.run(f"readlink /srv/cytube-bots/{channel}/current || true").strip().rpartition("/")[2]

    def outcomes(self, channel: str) -> list[dict[str, Any]]:
        text = self.run(f"cat /srv/cytube-bots/{channel}/.shipit/outcomes.jsonl 2>/dev/null || true")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def forget(self, channel: str) -> None:
        self.run(f"systemctl stop 'cytube-bot@{channel}.service' 2>/dev/null; rm -rf /srv/cytube-bots/{channel}; true")


def hosts_up() -> int:
    """How many sandbox hosts run now (`up --hosts N` stops the ones beyond N: never ask for fewer)."""
    inventory = REPO_ROOT / "inventories" / "sandbox" / "hosts.yml"
    if not inventory.exists():
        return 0
    listed = yaml.safe_load(inventory.read_text(encoding="utf-8"))
    return len(listed["all"]["children"]["sandbox_hosts"]["hosts"] or {})


@pytest.fixture(scope="session")
def sandbox_up() -> None:
    count = str(max(2, hosts_up()))
    done = subprocess.run([str(SANDBOX), "up", "--hosts", count], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"sandbox up failed: {done.stdout}{done.stderr}")


@pytest.fixture(scope="session")
def sandbox_secrets(sandbox_up: None) -> dict[str, str]:
    return yaml.safe_load(SECRETS_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def bot_host(sandbox_up: None) -> Iterator[BotHost]:
    host = BotHost()
    for channel in SCENARIO_CHANNELS:
        host.forget(channel)
    yield host
    for channel in SCENARIO_CHANNELS:
        host.forget(channel)


@pytest.fixture(scope="module")
def workflow_secrets(sandbox_secrets: dict[str, str]) -> dict[str, str]:
    """What the repository's Actions secrets would hold; each value must never appear in a log."""
    return {
        "DEPLOY_SSH_KEY": (STATE_DIR / "id_ed25519").read_text(encoding="utf-8"),
        "SHIPIT_KNOWN_HOSTS": (STATE_DIR / "known_hosts").read_text(encoding="utf-8"),
        "CYTUBE_BOT_PASSWORD": sandbox_secrets["sandbox_bot_password"],
        "CYTUBE_PROBE_PASSWORD": sandbox_secrets["sandbox_probe_password"],
        "GITHUB_TOKEN": sandbox_secrets["sandbox_github_token"],
        "SLACK_WEBHOOK_URL": "http://10.231.255.1:8094/slack/act-scenarios",
        "DISCORD_WEBHOOK_URL": "http://10.231.255.1:8094/discord/act-scenarios",
    }


@pytest.fixture(scope="session")
def runner_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The virtualenv the workflows' jobs share, made once with every job's requirements by the jobs' own
    setup script (each job's setup then finds it up to date)."""
    venv = tmp_path_factory.mktemp("runner") / "venv"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "SHIPIT_", "ANSIBLE_"))},
        "SHIPIT_VENV": str(venv),
        "SHIPIT_PYTHON": sys.executable,
        "SHIPIT_EXTRA_REQUIREMENTS": "requirements/workflow-lint.txt requirements/release.txt",
    }
    done = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "ci" / "setup-controller.sh")],
        env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.fail(f"the runner's virtualenv could not be made: {done.stdout}{done.stderr}")
    return venv


@pytest.fixture(scope="module")
def act(tmp_path_factory: pytest.TempPathFactory, workflow_secrets: dict[str, str], runner_venv: Path) -> Act:
    variables = {
        "SHIPIT_CI_SUITE": "quick",
        "SHIPIT_TEST_INVENTORY": f"{INVENTORIES}/test",
        "SHIPIT_PROD_INVENTORY": f"{INVENTORIES}/prod",
    }
    return Act(tmp_path_factory.mktemp("act"), workflow_secrets, variables, runner_venv)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> ScratchRepo:
    return ScratchRepo.create(tmp_path_factory.mktemp("scratch"))


@pytest.fixture(scope="module")
def github(sandbox_up: None) -> Iterator[Any]:
    admin(f"{GITHUB_ADMIN}/admin/reset", {})
    yield lambda: admin(f"{GITHUB_ADMIN}/admin/state")


@pytest.fixture(scope="module")
def webhooks(sandbox_up: None) -> Any:
    return lambda: admin(f"{WEBHOOKS_ADMIN}/admin/state")
