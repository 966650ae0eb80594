"""deploy_notify through ansible-playbook against the real GitHub stand-in and webhook receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from notify_harness import (
    REPOSITORY,
    WEBHOOK_SECRET,
    Notifier,
    assert_no_secrets,
    finished,
    outcome,
    pr_trigger,
    started,
)

SHA_A = "a" * 40
SHA_B = "b" * 40
SHA_C = "c" * 40


def _release(release_id: str, version: str, sha: str) -> dict[str, Any]:
    return {
        "id": release_id,
        "version": version,
        "project": "cytube-refbot",
        "source": "build/wheels/x.whl",
        "artifact_sha256": "0" * 64,
        "git_sha": sha,
        "built": True,
    }


def _deploy(run: int, status: str, release: dict[str, Any], previous: str | None, fixture: str) -> dict[str, Any]:
    return outcome(
        fixture,
        run_id=f"gh-{run}-1",
        id=f"gh-{run}-1:deploy:shipit-sandbox:sandbox-1",
        status=status,
        release=release,
        previous_release={"id": previous, "version": previous.split("-")[0]} if previous else None,
        trigger=pr_trigger(run, sha=release["git_sha"]),
    )


def _marker_comments(state: dict[str, Any], pr: int = 42) -> list[dict[str, Any]]:
    return [c for c in state["comments"] if c["issue_number"] == pr and "<!-- cytube-shipit:sandbox/" in c["body"]]


def test_runs_update_one_comment_and_deployment_statuses_in_order(fresh: Notifier) -> None:
    release_a = _release("1.1.0-aaaaaaaaaaaa", "1.1.0", SHA_A)
    release_b = _release("1.2.0-bbbbbbbbbbbb", "1.2.0", SHA_B)
    release_c = _release("1.3.0-cccccccccccc", "1.3.0", SHA_C)
    run_a = _deploy(101, "success", release_a, None, "deploy_success")
    run_b = _deploy(102, "success", release_b, release_a["id"], "deploy_success")
    run_c = _deploy(103, "rolled_back", release_c, release_b["id"], "deploy_rolled_back")
    manual = outcome(
        "deploy_success",
        run_id="gh-104-1",
        kind="rollback",
        status="success",
        release=release_a,
        previous_release={"id": release_b["id"], "version": "1.2.0"},
        rollback={"target": {"id": release_a["id"], "version": "1.1.0"}, "result": "verified", "emergency": False},
        reason="rolled back to 1.1.0-aaaaaaaaaaaa, verified healthy",
        trigger=pr_trigger(104, sha=SHA_A),
    )
    inconclusive = _deploy(105, "inconclusive", release_b, release_a["id"], "deploy_success")
    inconclusive["reason"] = "CyTube could not be checked: connection refused"
    steps = [started(run_a), finished(run_a), started(run_b), finished(run_b), started(run_c), finished(run_c)]
    steps += [started(manual), finished(manual), started(inconclusive), finished(inconclusive)]

    run = fresh.run(steps)

    for result in run.results:
        assert not result.get("failed"), result
        assert all(n["ok"] for n in result["notifications"]), result["notifications"]
    state = fresh.github.state()
    assert state["request_errors"] == [] and state["response_errors"] == []
    comments = _marker_comments(state)
    assert len(comments) == 1, "one comment per PR and channel"
    assert comments[0]["edits"] == len(steps) - 1, "created once, then edited in place by every later step"
    body = comments[0]["body"]
    assert "inconclusive" in body and "1.2.0-bbbbbbbbbbbb" in body and "run 105" not in body
    by_run = {d["payload"]["run_id"]: [s["state"] for s in d["statuses"]] for d in state["deployments"]}
    assert by_run == {
        "gh-101-1": ["in_progress", "success", "inactive", "in_progress", "success"],
        "gh-102-1": ["in_progress", "success", "inactive"],
        "gh-103-1": ["in_progress", "failure"],
        "gh-105-1": ["in_progress", "error"],
    }
    deployment = next(d for d in state["deployments"] if d["payload"]["run_id"] == "gh-101-1")
    assert deployment["environment"] == "sandbox/shipit-sandbox" and deployment["sha"] == SHA_A
    success = next(s for s in deployment["statuses"] if s["state"] == "success")
    assert success["environment_url"] == run_a["channel_url"]
    assert success["log_url"] == run_a["trigger"]["run_url"]
    assert_no_secrets(run.output)


def test_failure_comment_and_bad_settings(fresh: Notifier) -> None:
    """One run, two steps: a failed deploy's comment, then settings refused before anything is sent."""
    failing = _deploy(
        201, "rolled_back", _release("1.2.0-0badc0ffee12", "1.2.0", SHA_B), "1.1.0-3f2a9c1d0e4b", "deploy_rolled_back"
    )
    bad_targets = [
        {"type": "teams", "url": "https://example.invalid/x"},
        {"type": "slack", "url": "not a url slackSecretPath0123456789"},
        {"type": "webhook", "url": fresh.webhooks.url + "/webhook/audit"},
        {"type": "discord", "url": fresh.webhooks.url + "/discord/1/discordSecretToken0123456789", "statuses": ["ok"]},
    ]
    github_only = [t for t in fresh.targets() if t["type"] == "github_pr_comment"]
    steps = [
        {**finished(failing), "targets": github_only},
        {"label": "validate", "validate_only": True, "targets": bad_targets},
        {**finished(failing), "targets": bad_targets},
    ]
    run = fresh.run(steps)

    body = _marker_comments(fresh.github.state())[0]["body"]
    assert "Failed check `command_round_trip`" in body
    assert "expected `pong 1.2.0 <token> within 2 s`, seen `no reply after 2.0 s`" in body
    assert "**Rollback:** verified to 1.1.0-3f2a9c1d0e4b" in body
    assert "docs/troubleshooting.md#command_round_trip" in body
    assert "| command_round_trip | ❌ | 2000 ms |" in body
    for refused in run.results[1:]:
        assert refused["failed"] is True
        problems = "\n".join(refused["problems"])
        assert "type 'teams' is unknown: use one of github_pr_comment" in problems
        assert "shipit_notify[1] (slack): url is not an http(s) URL" in problems
        assert "shipit_notify[2] (webhook): secret is missing" in problems
        assert "statuses 'ok' unknown" in problems
    assert fresh.webhooks.state()["received"] == []
    assert_no_secrets(run.output)


def test_chat_and_webhook_payloads(fresh: Notifier) -> None:
    success = _deploy(301, "success", _release("1.1.0-aaaaaaaaaaaa", "1.1.0", SHA_A), None, "deploy_success")
    run = fresh.run([started(success), finished(success)])
    received = fresh.webhooks.state()["received"]
    kinds = [r["kind"] for r in received]
    assert sorted(kinds) == ["discord", "slack", "webhook"], "chat targets skip 'started' by default"
    assert all(r["status"] in (200, 204) for r in received), received
    slack = next(r for r in received if r["kind"] == "slack")["body"]
    assert slack["blocks"][0]["type"] == "header" and "succeeded" in slack["text"]
    discord = next(r for r in received if r["kind"] == "discord")["body"]
    assert discord["embeds"][0]["url"] == success["channel_url"]
    hook = next(r for r in received if r["kind"] == "webhook")
    assert hook["verified"] is True and hook["body"] == success
    headers = {k.lower(): v for k, v in hook["headers"].items()}
    body = json.dumps(hook["body"], separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()
    expected = hmac.new(WEBHOOK_SECRET.encode(), headers["x-shipit-timestamp"].encode() + b"." + body, hashlib.sha256)
    assert headers["x-shipit-signature"] == "sha256=" + expected.hexdigest()
    assert headers["x-shipit-event"] == "outcome"
    skipped = [n for n in run.results[0]["notifications"] if n["skipped"]]
    assert {n["target"] for n in skipped} == {"slack:ops", "discord", "webhook:audit"}


def test_filters_skip_targets_by_status_and_environment(fresh: Notifier) -> None:
    success = _deploy(303, "success", _release("1.1.0-aaaaaaaaaaaa", "1.1.0", SHA_A), None, "deploy_success")
    targets = fresh.targets(slack={"statuses": ["problems"]}, discord={"environments": ["prod"]})
    run = fresh.run([finished(success)], targets=targets)
    entries = {n["target"]: n for n in run.first["notifications"]}
    assert entries["slack:ops"]["skipped"] and "status success" in entries["slack:ops"]["error"]
    assert entries["discord"]["skipped"] and "environment sandbox" in entries["discord"]["error"]
    assert [r["kind"] for r in fresh.webhooks.state()["received"]] == ["webhook"]


def test_comment_is_found_past_the_first_page(fresh: Notifier) -> None:
    seed = {"repo": REPOSITORY, "issue_number": 77, "base_url": fresh.github.url}
    fresh.github.admin("/admin/seed-comments", {**seed, "count": 120})
    first = _deploy(401, "success", _release("1.1.0-aaaaaaaaaaaa", "1.1.0", SHA_A), None, "deploy_success")
    first["trigger"]["pr_number"] = 77
    github_only = [t for t in fresh.targets() if t["type"] == "github_pr_comment"]
    fresh.run([finished(first)], targets=github_only)
    fresh.github.admin("/admin/seed-comments", {**seed, "count": 30})
    second = dict(first, run_id="gh-402-1", status="inconclusive")
    fresh.run([finished(second)], targets=github_only)
    state = fresh.github.state()
    issue = [c for c in state["comments"] if c["issue_number"] == 77]
    assert len(issue) == 151
    ours = _marker_comments(state, pr=77)
    assert len(ours) == 1 and ours[0]["edits"] == 1 and "inconclusive" in ours[0]["body"]
    pages = [r["query"].get("page") for r in state["requests"] if r["method"] == "GET"]
    assert "2" in pages, "the marker comment (number 121) is only on page 2"


def test_no_secret_in_any_output(notifier: Notifier) -> None:
    """Every run of this module so far (success, failures, faults, validation) with -vvv."""
    assert notifier.outputs, "runs first"
    for output in notifier.outputs:
        assert_no_secrets(output)
