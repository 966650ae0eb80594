"""The GitHub pipeline, run for real: every workflow file executed by act (host mode) against the sandbox host
sandbox-2, the CyTube stand-in, the GitHub API stand-in and the webhook receiver (docs/deployment.md).

The scenarios build on each other, in file order, on one scratch repository (act_harness.ScratchRepo):
a pull request deploys to the test channel, a broken push to it rolls back, a fork is refused; pushes to main
release (fix -> patch, feat -> minor, BREAKING CHANGE -> major) and deploy each release to production; a
rollback is dispatched three ways. ci runs its quick suite here (vars.SHIPIT_CI_SUITE), so `make test` does not
run inside itself, but every deploy still waits for it.
"""

from __future__ import annotations

import hashlib
import json
import urllib.request
from typing import Any

import pytest
from act_harness import (
    GITHUB_ADMIN,
    GITHUB_API,
    REPOSITORY,
    ActRun,
    dispatch_event,
    git,
    pull_request_event,
    push_event,
)

pytestmark = pytest.mark.sandbox

TEST_CHANNEL, PROD_CHANNEL = "shipit-bot-test", "shipit-bot"
PR = 41
PING_WITH_TOKEN = 'return Reply("ping", f"pong {context.version} {args[0]}")'


def assert_ok(run: ActRun) -> None:
    assert run.returncode == 0, run.log[-6000:]


def assert_no_secret_in(log: str, secrets: dict[str, str]) -> None:
    for name, value in secrets.items():
        for piece in value.strip().splitlines():
            if len(piece) >= 12:
                assert piece not in log, f"secret {name} appears in the act log"


def comments_on(state: dict[str, Any], number: int) -> list[dict[str, Any]]:
    return [c for c in state["comments"] if c["issue_url"].endswith(f"/issues/{number}")]


def statuses_of(environment: str) -> list[str]:
    """Deployment states of an environment, oldest first, read through the API like a GitHub client."""
    found = []
    state = urllib.request.urlopen(f"{GITHUB_ADMIN}/admin/state", timeout=10).read()
    for deployment in json.loads(state)["deployments"]:
        if deployment["environment"] == environment:
            found += [status["state"] for status in deployment.get("statuses", [])]
    return found


def last_outcome(bot_host: Any, channel: str) -> dict[str, Any]:
    outcomes = bot_host.outcomes(channel)
    assert outcomes, f"no outcome journaled for {channel}"
    return outcomes[-1]


class State:
    """What one scenario leaves for the next."""

    good_release = ""
    prod_releases: list[str] = []


def test_pr_opened_deploys_the_pr_head_to_the_test_channel(act, scratch, bot_host, github, workflow_secrets):
    git(scratch.path, "checkout", "-q", "-b", f"feature-{PR}")  # the pull request's branch; main moves on later
    head = scratch.commit("feat: greet the channel on join")
    run = act.run(scratch, "pull_request", "test-deploy.yml", pull_request_event(PR, head, "opened"))
    assert_ok(run)
    outcome = last_outcome(bot_host, TEST_CHANNEL)
    assert outcome["status"] == "success" and outcome["verified"] is True
    assert outcome["release"]["version"] == f"0.1.0+g{head[:12]}", "the bot was not built from the PR's head"
    assert bot_host.live_release(TEST_CHANNEL) == outcome["release"]["id"]
    comments = comments_on(github(), PR)
    assert len(comments) == 1 and "succeeded" in comments[0]["body"]
    assert statuses_of(f"test/{TEST_CHANNEL}")[-1] == "success"
    assert_no_secret_in(run.log, workflow_secrets)
    State.good_release = outcome["release"]["id"]


def test_pr_pushed_with_a_broken_bot_fails_rolls_back_and_updates_the_same_comment(act, scratch, bot_host, github):
    source = scratch.path / "examples/refbot/src/cytube_refbot/commands.py"
    text = source.read_text(encoding="utf-8")
    assert PING_WITH_TOKEN in text
    broken = text.replace(PING_WITH_TOKEN, 'return Reply("ping", "pong, but without the token")')
    head = scratch.commit("fix: a ping reply nobody asked for", {str(source.relative_to(scratch.path)): broken})
    run = act.run(scratch, "pull_request", "test-deploy.yml", pull_request_event(PR, head, "synchronize"))
    assert run.returncode != 0, "a PR whose bot fails verification must fail its workflow"
    outcome = last_outcome(bot_host, TEST_CHANNEL)
    assert outcome["status"] == "rolled_back" and outcome["failed_check"] == "command_round_trip"
    assert bot_host.live_release(TEST_CHANNEL) == State.good_release, "the channel is not back on the good release"
    (comment,) = comments_on(github(), PR)
    assert "rolled back" in comment["body"].lower() and "command_round_trip" in comment["body"]
    assert statuses_of(f"test/{TEST_CHANNEL}")[-1] in ("failure", "error")
    git(scratch.path, "revert", "--no-edit", "HEAD")


def test_fork_pr_is_not_deployed_and_gets_an_explanation(act, scratch, bot_host, github, workflow_secrets):
    head = scratch.commit("feat: something from outside")
    event = pull_request_event(PR + 1, head, "opened", head_repository="stranger/refbot-pipeline")
    run = act.run(scratch, "pull_request", "test-deploy.yml", event)
    assert_ok(run)
    assert run.ran("workflow tests"), "ci must still run for a fork"
    assert not run.ran("list the channels") and not run.ran(f"deploy {TEST_CHANNEL}"), "a fork was deployed"
    assert bot_host.live_release(TEST_CHANNEL) == State.good_release
    assert_no_secret_in(run.log, workflow_secrets)
    notice = act.run(scratch, "pull_request_target", "fork-notice.yml", event)
    assert_ok(notice)
    (comment,) = comments_on(github(), PR + 1)
    assert "not deployed" in comment["body"].lower() and "stranger/refbot-pipeline" in comment["body"]
    git(scratch.path, "reset", "-q", "--hard", "HEAD~1")
    git(scratch.path, "checkout", "-q", "main")


def push_to_main(act, scratch, message: str) -> ActRun:
    head = scratch.commit(message)
    git(scratch.path, "push", "-q", "origin", "HEAD:main")
    run = act.run(scratch, "push", "prod-deploy.yml", push_event("refs/heads/main", head, message))
    scratch.sync_from_origin()
    return run


def api(path: str, token: str, accept: str = "application/vnd.github+json") -> bytes:
    request = urllib.request.Request(f"{GITHUB_API}/repos/{REPOSITORY}{path}")
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Accept", accept)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read()


def downloaded_assets(tag: str, token: str) -> dict[str, bytes]:
    """Every asset of the release of ``tag``, downloaded as a GitHub client would."""
    release = json.loads(api(f"/releases/tags/{tag}", token))
    return {
        asset["name"]: api(f"/releases/assets/{asset['id']}", token, "application/octet-stream")
        for asset in release["assets"]
    }


def assert_released(scratch, tag: str, token: str) -> None:
    assert git(scratch.path, "describe", "--tags", "--exact-match", "HEAD") == tag, "the release tag is not on main"
    assert git(scratch.path, "log", "-1", "--format=%s").startswith("bump:")
    version = tag.removeprefix("v")
    assert f"version: {version}" in (scratch.path / "galaxy.yml").read_text(encoding="utf-8")
    assert f'version = "{version}"' in (scratch.path / "examples/refbot/pyproject.toml").read_text(encoding="utf-8")
    assert f"## {tag}" in (scratch.path / "CHANGELOG.md").read_text(encoding="utf-8")
    assets = downloaded_assets(tag, token)
    assert f"cytube_refbot-{version}-py3-none-any.whl" in assets
    assert f"cytube-shipit-{version}.tar.gz" in assets
    listed = dict(reversed(line.split("  ", 1)) for line in assets.pop("SHA256SUMS").decode().splitlines())
    assert set(listed) == set(assets)
    for name, data in assets.items():
        assert listed[name] == hashlib.sha256(data).hexdigest(), f"{name} does not match SHA256SUMS"


def assert_prod_runs(bot_host, version: str) -> dict[str, Any]:
    outcome = last_outcome(bot_host, PROD_CHANNEL)
    assert outcome["status"] == "success" and outcome["verified"] is True
    assert outcome["release"]["version"] == version
    assert bot_host.live_release(PROD_CHANNEL) == outcome["release"]["id"]
    State.prod_releases.append(outcome["release"]["id"])
    return outcome


def test_push_to_main_releases_a_fix_as_a_patch_and_deploys_it_with_the_stability_window(
    act, scratch, bot_host, github, webhooks, workflow_secrets
):
    run = push_to_main(act, scratch, "fix: answer !ping within the second")
    assert_ok(run)
    assert_released(scratch, "v0.1.1", workflow_secrets["GITHUB_TOKEN"])
    outcome = assert_prod_runs(bot_host, "0.1.1")
    # The prod profile verifies 6 rounds 1 s apart (inventories/prod): a verify shorter than 5 s skipped the window.
    assert outcome["timings"]["verify"] >= 5.0, "production must verify over the prod profile's stability window"
    assert statuses_of(f"prod/{PROD_CHANNEL}")[-1] == "success"
    chat = [m["path"] for m in webhooks()["received"] if m["path"].endswith("/act-scenarios")]
    assert "/slack/act-scenarios" in chat and "/discord/act-scenarios" in chat
    assert_no_secret_in(run.log, workflow_secrets)


def test_feat_releases_a_minor_and_breaking_change_a_major(act, scratch, bot_host, workflow_secrets):
    token = workflow_secrets["GITHUB_TOKEN"]
    assert_ok(push_to_main(act, scratch, "feat: !uptime command"))
    assert_released(scratch, "v0.2.0", token)
    assert_prod_runs(bot_host, "0.2.0")
    assert_ok(push_to_main(act, scratch, "feat: new config layout\n\nBREAKING CHANGE: config.toml keys renamed"))
    assert_released(scratch, "v1.0.0", token)
    assert_prod_runs(bot_host, "1.0.0")


def test_the_release_tag_of_a_bump_commit_is_not_deployed_twice(act, scratch, bot_host):
    before = len(bot_host.outcomes(PROD_CHANNEL))
    head, message = scratch.head(), git(scratch.path, "log", "-1", "--format=%B")
    run = act.run(scratch, "push", "prod-deploy.yml", push_event("refs/tags/v1.0.0", head, message))
    assert_ok(run)
    assert not run.ran(f"deploy {PROD_CHANNEL}")
    assert len(bot_host.outcomes(PROD_CHANNEL)) == before


def rollback(act, scratch, target: str, emergency: bool = False) -> ActRun:
    inputs = {"environment": "production", "channel": PROD_CHANNEL, "target": target, "emergency": emergency}
    return act.run(scratch, "workflow_dispatch", "rollback.yml", dispatch_event(inputs))


def chat_messages(webhooks) -> int:
    return sum(1 for m in webhooks()["received"] if m["path"].endswith("/act-scenarios"))


def test_rollback_dispatch_previous_named_and_emergency(act, scratch, bot_host, github, webhooks, workflow_secrets):
    patch, minor, major = State.prod_releases[-3:]
    statuses, chat = len(statuses_of(f"prod/{PROD_CHANNEL}")), chat_messages(webhooks)
    assert_ok(rollback(act, scratch, "previous"))
    outcome = last_outcome(bot_host, PROD_CHANNEL)
    assert outcome["kind"] == "rollback" and outcome["status"] == "success" and outcome["verified"] is True
    assert bot_host.live_release(PROD_CHANNEL) == minor

    assert_ok(rollback(act, scratch, patch))
    assert bot_host.live_release(PROD_CHANNEL) == patch
    assert last_outcome(bot_host, PROD_CHANNEL)["verified"] is True

    listing = rollback(act, scratch, "list")
    assert_ok(listing)
    assert major in listing.log and bot_host.live_release(PROD_CHANNEL) == patch

    run = rollback(act, scratch, major, emergency=True)
    assert_ok(run)
    outcome = last_outcome(bot_host, PROD_CHANNEL)
    assert bot_host.live_release(PROD_CHANNEL) == major and outcome["verified"] is False
    # Each of the three rollbacks that changed the channel told GitHub and both chats; the listing told nobody.
    assert len(statuses_of(f"prod/{PROD_CHANNEL}")) >= statuses + 3
    assert statuses_of(f"prod/{PROD_CHANNEL}")[-1] == "success"
    assert chat_messages(webhooks) == chat + 3 * 2
    assert_no_secret_in(run.log, workflow_secrets)
