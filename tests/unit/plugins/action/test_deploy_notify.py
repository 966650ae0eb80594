"""The deploy_notify action plugin in-process: argument checks, check mode, and no secret in any result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible_collections.cytube.shipit.plugins.action.deploy_notify import ActionModule

OUTCOME = json.loads(
    (Path(__file__).resolve().parents[3] / "fixtures" / "outcomes" / "deploy_success.json").read_text()
)
SLACK_URL = "https://hooks.slack.com/services/T0/B0/unitSlackSecretPath"
TOKEN = "ghp_unitActionToken0123"


def run_action(args: dict[str, Any], check_mode: bool = False, env: dict[str, str] | None = None) -> dict[str, Any]:
    task = Task()
    task.args = args
    task.check_mode = check_mode
    action = ActionModule(task, mock.MagicMock(), PlayContext(), loader=None, templar=None, shared_loader_obj=None)
    with mock.patch.dict("os.environ", env or {}, clear=True):
        return action.run(task_vars={})


def test_bad_settings_fail_with_every_problem_and_no_secret() -> None:
    targets = [{"type": "slack", "url": "nope " + SLACK_URL}, {"type": "github_pr_comment", "token": TOKEN, "x": 1}]
    result = run_action({"targets": targets, "outcome": OUTCOME})
    assert result["failed"] is True
    assert "bad notification settings (nothing was sent)" in result["msg"]
    assert len(result["problems"]) == 2
    assert SLACK_URL not in json.dumps(result) and TOKEN not in json.dumps(result)


def test_validate_only_lists_the_targets() -> None:
    result = run_action({"targets": [{"type": "slack", "name": "ops", "url": SLACK_URL}], "validate_only": True})
    assert not result.get("failed") and result["targets"] == ["slack:ops"] and result["problems"] == []


def test_missing_github_token_is_a_configuration_error() -> None:
    result = run_action({"targets": [{"type": "github_deployment"}], "validate_only": True})
    assert result["failed"] and "no GitHub token: set GITHUB_TOKEN" in result["problems"][0]
    ok = run_action({"targets": [{"type": "github_deployment"}], "validate_only": True}, env={"GITHUB_TOKEN": TOKEN})
    assert not ok.get("failed")


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        ({}, "nothing to notify: pass outcome"),
        ({"phase": "finished", "context": {}}, "phase 'finished' is unknown"),
        ({"phase": "started"}, "phase: started needs context"),
        ({"phase": "started", "context": {}, "outcome": OUTCOME}, "either outcome or phase: started"),
        ({"outcome": OUTCOME, "budget_s": -1}, "budget_s -1 must be a positive number"),
    ],
)
def test_argument_problems(args: dict[str, Any], complaint: str) -> None:
    result = run_action({"targets": [], **args})
    assert result["failed"] and any(complaint in p for p in result["problems"]), result["problems"]


def test_check_mode_sends_nothing() -> None:
    with mock.patch("ansible_collections.cytube.shipit.plugins.action.deploy_notify._deliver_all") as deliver_all:
        result = run_action({"targets": [{"type": "slack", "url": SLACK_URL}], "outcome": OUTCOME}, check_mode=True)
    deliver_all.assert_not_called()
    assert result["notifications"] == [
        {
            "target": "slack",
            "ok": True,
            "skipped": True,
            "attempts": 0,
            "status_code": None,
            "error": "not sent: check mode",
            "duration_s": 0.0,
        }
    ]
    assert result["changed"] is False and result["outcome"]["notifications"] == result["notifications"]


def test_failed_target_is_a_warning_with_the_secret_masked() -> None:
    failed = [{"target": "slack", "ok": False, "skipped": False, "attempts": 3, "status_code": 500,
               "error": f"boom at {SLACK_URL}", "duration_s": 1.0}]  # fmt: skip
    with mock.patch("ansible_collections.cytube.shipit.plugins.action.deploy_notify._deliver_all", return_value=failed):
        result = run_action({"targets": [{"type": "slack", "url": SLACK_URL}], "outcome": OUTCOME})
    assert not result.get("failed")
    assert "notification slack failed" in result["warnings"][0]
    assert SLACK_URL not in json.dumps(result) and "unitSlackSecretPath" not in json.dumps(result)


def test_started_context_gets_the_run_id_and_trigger_run_outcome_would_compute() -> None:
    env = {"GITHUB_RUN_ID": "77", "GITHUB_RUN_ATTEMPT": "2", "GITHUB_REF": "refs/pull/9/merge",
           "GITHUB_REPOSITORY": "example/bot", "GITHUB_SHA": "a" * 40, "GITHUB_TOKEN": TOKEN}  # fmt: skip
    context = {"channel": "chan", "environment": "test", "server_url": "http://cytube.example", "kind": "deploy"}
    with mock.patch(
        "ansible_collections.cytube.shipit.plugins.action.deploy_notify._deliver_all", return_value=[]
    ) as deliver_all:
        run_action({"targets": [{"type": "github_deployment"}], "phase": "started", "context": context}, env=env)
    event = deliver_all.call_args.args[1]
    assert event["status"] == "started" and event["run_id"] == "gh-77-2"
    assert event["trigger"]["pr_number"] == 9 and event["trigger"]["sha"] == "a" * 40
    assert event["channel_url"] == "http://cytube.example/r/chan" and event["started_at"].endswith("Z")
