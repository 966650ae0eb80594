"""Real deploys and rollbacks on a sandbox host tell people: the PR comment and GitHub deployments (GitHub
stand-in), Slack, Discord and a signed webhook (webhook receiver). A failing notification never changes a
deploy's result and is recorded in the outcome. Needs root and the sandbox (its stand-ins):
sudo .venv/bin/pytest tests/integration/test_notify_deploys.py
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
import yaml
from deploy_fixtures import CHANNEL_1, REPO_ROOT, SECRETS_FILE, Run, Shipit

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(900)]

GITHUB_ADMIN = "http://127.0.0.1:8093"
WEBHOOKS_ADMIN = "http://127.0.0.1:8095"
PR = 77
REPOSITORY = "cytube/shipit-sandbox-bot"
SHA = "4f06fd7a1b2c3d4e5f60718293a4b5c6d7e8f901"
NOTIFY_FILE = REPO_ROOT / "inventories" / "sandbox" / "group_vars" / "all" / "notify.yml"


def admin(base: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read().decode() or "null")


@pytest.fixture(scope="module")
def secrets_file() -> dict[str, str]:
    return yaml.safe_load(SECRETS_FILE.read_text())


@pytest.fixture
def world(secrets_file: dict[str, str]) -> dict[str, str]:
    """Both stand-ins reset; the environment of a CI run of a pull request against the GitHub stand-in."""
    admin(GITHUB_ADMIN, "/admin/reset", {})
    admin(WEBHOOKS_ADMIN, "/admin/reset", {})
    return {
        "GITHUB_API_URL": "http://10.231.255.1:8092",
        "GITHUB_TOKEN": secrets_file["sandbox_github_token"],
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_SHA": SHA,
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_REF": f"refs/pull/{PR}/merge",
        "GITHUB_SERVER_URL": "https://github.com",
    }


def with_github(shipit: Shipit, version: str, env: dict[str, str], run_id: str, **extra: Any) -> Run:
    """A deploy as the test-deploy workflow runs it: the inventory's chat targets plus the GitHub ones."""
    targets = yaml.safe_load(NOTIFY_FILE.read_text())["shipit_notify"]
    targets = [t for t in targets if t["type"] != "webhook"]  # its secret is templated from the inventory
    values: dict[str, Any] = {
        "shipit_bot_source": str(shipit.wheels[version]),
        "shipit_notify": [{"type": "github_pr_comment"}, {"type": "github_deployment"}, *targets],
    }
    values.update(extra)
    return shipit.playbook("deploy.yml", CHANNEL_1, values, env=dict(env, SHIPIT_RUN_ID=run_id))


def comments() -> list[dict[str, Any]]:
    state = admin(GITHUB_ADMIN, "/admin/state")
    assert state["request_errors"] == [], "a request GitHub would reject"
    return [c for c in state["comments"] if c["issue_number"] == PR and "<!-- cytube-shipit:" in c["body"]]


def test_deploys_edit_one_pr_comment_and_set_deployment_statuses(shipit: Shipit, world: dict[str, str]) -> None:
    good = with_github(shipit, "1.0.0", world, "pr-77-1")
    assert good.rc == 0, good.explain()
    first = comments()
    assert len(first) == 1 and "1.0.0" in first[0]["body"], first
    bad = with_github(shipit, "3.0.0", world, "pr-77-2", shipit_bot_faults={"never_answer": True})
    assert bad.rc != 0 and bad.outcome["status"] == "rolled_back", bad.explain()
    again = comments()
    assert len(again) == 1 and again[0]["id"] == first[0]["id"], "one comment per PR and channel, edited in place"
    assert "command_round_trip" in again[0]["body"] and "troubleshooting.md#command-round-trip" in again[0]["body"]
    statuses = {
        d["payload"]["run_id"]: [s["state"] for s in d["statuses"]]
        for d in admin(GITHUB_ADMIN, "/admin/state")["deployments"]
    }
    assert statuses["pr-77-1"][:2] == ["in_progress", "success"] and statuses["pr-77-2"] == ["in_progress", "failure"]
    received = admin(WEBHOOKS_ADMIN, "/admin/state")["received"]
    assert {"discord", "slack"} <= {r["kind"] for r in received}, received
    assert world["GITHUB_TOKEN"] not in good.output + bad.output


def test_the_signed_webhook_gets_the_outcome(
    shipit: Shipit, world: dict[str, str], secrets_file: dict[str, str]
) -> None:
    run = shipit.deploy("2.0.0")
    assert run.rc == 0, run.explain()
    hooks = [r for r in admin(WEBHOOKS_ADMIN, "/admin/state")["received"] if r["kind"] == "webhook"]
    mine = [hook for hook in hooks if hook["body"]["id"] == run.outcome["id"]]
    assert len(mine) == 1 and mine[0]["body"]["status"] == "success", hooks
    assert mine[0]["verified"], "the receiver checked the HMAC signature with the shared secret"
    assert secrets_file["sandbox_webhook_secret"] not in run.output


def test_a_failing_notification_is_a_warning_recorded_in_the_outcome(shipit: Shipit, world: dict[str, str]) -> None:
    admin(WEBHOOKS_ADMIN, "/admin/fault", {"mode": "error_500"})
    try:
        run = shipit.deploy("2.0.0")
    finally:
        admin(WEBHOOKS_ADMIN, "/admin/reset", {})
    assert run.rc == 0 and run.outcome["status"] == "success", run.explain()
    assert "[WARNING]" in run.output and "webhook:sandbox" in run.output, run.explain()
