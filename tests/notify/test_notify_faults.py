"""Every fault switch of both stand-ins: the task still succeeds and the outcome says which target failed."""

from __future__ import annotations

from typing import Any

from notify_harness import Notifier, assert_no_secrets, assert_valid_outcome, outcome, pr_trigger


def _step(label: str, service: str, switch: dict[str, Any], targets: list[dict[str, Any]]) -> dict[str, Any]:
    event = outcome("deploy_success", run_id=f"gh-fault-{label}", trigger=pr_trigger(900))
    return {"label": label, "fault": {"service": service, "switch": switch}, "targets": targets, "outcome": event}


def test_every_fault_is_a_recorded_warning_not_a_failure(fresh: Notifier) -> None:
    tight = {"timeout_s": 0.5, "budget_s": 2.0}
    by_type = {t["type"]: {**t, **tight} for t in fresh.targets()}
    comment, slack, discord, webhook = (by_type[k] for k in ("github_pr_comment", "slack", "discord", "webhook"))
    steps = [
        _step("github-500", "github", {"mode": "error_500"}, [comment]),
        _step("github-slow", "github", {"mode": "slow", "delay_s": 1.5}, [comment]),
        _step("github-secondary-long", "github", {"mode": "secondary_rate_limit", "retry_after": 60}, [comment]),
        _step(
            "github-secondary-short",
            "github",
            {"mode": "secondary_rate_limit", "retry_after": 1, "count": 1},
            [comment],
        ),
        _step("webhook-500", "webhooks", {"mode": "error_500"}, [webhook]),
        _step("slack-timeout", "webhooks", {"mode": "timeout", "delay_s": 5}, [slack]),
        _step("discord-429-short", "webhooks", {"mode": "rate_limit", "retry_after": 0.3, "count": 1}, [discord]),
        _step("slack-429-long", "webhooks", {"mode": "rate_limit", "retry_after": 30}, [slack]),
    ]

    run = fresh.run(steps)

    results = {step["label"]: result for step, result in zip(steps, run.results, strict=True)}
    for label, result in results.items():
        assert not result.get("failed"), f"{label}: a notification failure must not fail the task"
        assert result["outcome"]["status"] == "success", "the run's result is unchanged"
        assert result["outcome"]["notifications"] == result["notifications"]
        assert_valid_outcome(result["outcome"])
    entry = {label: result["notifications"][0] for label, result in results.items()}
    assert entry["github-500"]["target"] == "github_pr_comment"
    assert not entry["github-500"]["ok"] and entry["github-500"]["status_code"] == 500
    assert "HTTP 500" in entry["github-500"]["error"] and entry["github-500"]["attempts"] >= 2
    assert not entry["github-slow"]["ok"] and "timeout" in entry["github-slow"]["error"]
    long_wait = entry["github-secondary-long"]
    assert not long_wait["ok"] and long_wait["status_code"] == 403 and long_wait["attempts"] == 1
    assert "secondary rate limit" in long_wait["error"] and "exceed the 2 s budget" in long_wait["error"]
    assert entry["github-secondary-short"]["ok"] and entry["github-secondary-short"]["attempts"] >= 3
    assert not entry["webhook-500"]["ok"] and entry["webhook-500"]["target"] == "webhook:audit"
    assert not entry["slack-timeout"]["ok"] and "timeout" in entry["slack-timeout"]["error"]
    assert entry["discord-429-short"]["ok"] and entry["discord-429-short"]["attempts"] == 2
    assert not entry["slack-429-long"]["ok"] and entry["slack-429-long"]["status_code"] == 429
    for label in ("github-500", "slack-timeout", "slack-429-long"):
        warning = next(w for w in results[label]["warnings"] if entry[label]["target"] in w)
        assert "the run's result is unchanged" in warning
    assert all(r["duration_s"] < 3.0 for r in entry.values()), "each target stays inside its 2 s budget"
    assert_no_secrets(run.output)
