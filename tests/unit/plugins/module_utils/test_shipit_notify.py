"""Target validation, filters and redaction of deploy_notify."""

from __future__ import annotations

import pytest
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_notify import (
    MASK,
    filter_reason,
    redact,
    secrets_of,
    target_label,
    validate_targets,
)

SLACK_URL = "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX"


def test_valid_targets_have_no_problems() -> None:
    targets = [
        {"type": "github_pr_comment"},
        {"type": "github_deployment", "repository": "cytube/bot", "production_environments": ["prod"]},
        {"type": "slack", "name": "ops", "url": SLACK_URL, "statuses": ["problems"], "environments": ["prod*"]},
        {"type": "discord", "url": "https://discord.com/api/webhooks/1/abc", "kinds": ["rollback"]},
        {"type": "webhook", "url": "https://receiver.example/hook", "secret": "s" * 32, "budget_s": 5},
    ]
    assert validate_targets(targets, github_token="t") == []


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ({"type": "teams"}, "type 'teams' is unknown: use one of github_pr_comment, github_deployment"),
        ({"type": "github_pr_comment"}, "no GitHub token: set GITHUB_TOKEN"),
        ({"type": "slack"}, "url is missing: set the webhook URL (https://hooks.slack.com/services/...)"),
        ({"type": "slack", "url": "hooks.slack.com/x"}, "url is not an http(s) URL with a host"),
        ({"type": "discord", "url": "ftp://x/y"}, "url is not an http(s) URL with a host"),
        ({"type": "webhook", "url": "https://r.example/h", "secret": "short"}, "shorter than 16 characters"),
        ({"type": "slack", "url": SLACK_URL, "statuses": ["failure"]}, "statuses 'failure' unknown: use started"),
        ({"type": "slack", "url": SLACK_URL, "environments": "prod"}, "environments must be a list"),
        ({"type": "slack", "url": SLACK_URL, "kinds": ["build"]}, "kinds 'build' unknown: use deploy, rollback"),
        ({"type": "slack", "url": SLACK_URL, "timeout_s": 0}, "timeout_s 0 must be a number of seconds"),
        ({"type": "slack", "url": SLACK_URL, "token": "x"}, "unknown key(s) token: a slack target takes"),
        ({"type": "slack", "url": SLACK_URL, "name": "a b"}, "name 'a b' must be 1-64 letters"),
        ({"type": "github_deployment", "token": "t", "repository": "nope"}, "repository 'nope' must be owner/name"),
        ({"type": "github_pr_comment", "token": "t", "api_url": "api.github.com"}, "api_url 'api.github.com' is not"),
    ],
)
def test_each_problem_names_the_value_and_the_fix(target: dict, expected: str) -> None:
    problems = validate_targets([target])
    assert any(expected in p for p in problems), problems
    assert all(p.startswith("shipit_notify[0]") for p in problems)


def test_url_values_are_never_in_messages() -> None:
    problems = validate_targets([{"type": "slack", "url": "not-a-url/XXXXsecretXXXX"}])
    assert problems and not any("XXXXsecretXXXX" in p for p in problems)


def test_not_a_list_and_duplicates() -> None:
    assert "must be a list" in validate_targets({"type": "slack"})[0]
    twice = [{"type": "slack", "url": SLACK_URL}, {"type": "slack", "url": SLACK_URL}]
    assert "are both 'slack': give them distinct 'name's" in validate_targets(twice)[0]
    assert validate_targets(None) == []


def test_github_defaults_are_checked() -> None:
    problems = validate_targets([], github_api_url="localhost:8092", github_repository="x")
    assert "github_api_url 'localhost:8092' is not an http(s) URL" in problems[0]
    assert "github_repository 'x' is not owner/name" in problems[1]


def test_labels() -> None:
    assert target_label({"type": "slack", "name": "ops"}) == "slack:ops"
    assert target_label({"type": "discord"}) == "discord"


@pytest.mark.parametrize(
    ("target", "status", "environment", "kind", "skipped"),
    [
        ({"type": "slack"}, "success", "prod", "deploy", False),
        ({"type": "slack"}, "started", "prod", "deploy", True),
        ({"type": "github_pr_comment"}, "started", "prod", "deploy", False),
        ({"type": "slack"}, "check", "prod", "deploy", True),
        ({"type": "slack", "statuses": ["problems"]}, "success", "prod", "deploy", True),
        ({"type": "slack", "statuses": ["problems"]}, "rolled_back", "prod", "deploy", False),
        ({"type": "slack", "environments": ["prod", "stag*"]}, "failed", "staging", "deploy", False),
        ({"type": "slack", "environments": ["prod"]}, "failed", "test", "deploy", True),
        ({"type": "slack", "kinds": ["rollback"]}, "success", "prod", "deploy", True),
    ],
)
def test_filters(target: dict, status: str, environment: str, kind: str, skipped: bool) -> None:
    assert (filter_reason(target, status, environment, kind) is not None) is skipped


def test_redact_masks_urls_their_paths_and_tokens() -> None:
    secrets = secrets_of([{"type": "slack", "url": SLACK_URL}, {"type": "github_pr_comment", "token": "ghp_x1"}])
    text = {"a": [f"posting to {SLACK_URL} failed", "path /services/T000/B000/XXXXsecretXXXX", "ghp_x1"]}
    cleaned = redact(text, secrets)
    assert "XXXXsecretXXXX" not in str(cleaned) and "ghp_x1" not in str(cleaned)
    assert MASK in cleaned["a"][0]
