"""Unit tests for the run_outcome action plugin: one outcome, one host round trip, facts and the summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from unittest.mock import patch

import jsonschema
import pytest
from action_harness import make_action
from ansible.errors import AnsibleActionFail
from ansible_collections.cytube.shipit.plugins.action import run_outcome

pytestmark = pytest.mark.timeout(30)

REPO = Path(__file__).resolve().parents[4]
VALIDATOR = jsonschema.Draft202012Validator(json.loads((REPO / "meta" / "outcome.schema.json").read_text()))
HEALTHY = {"verdict": "healthy", "checks": [{"name": "bot_present", "ok": True, "latency_ms": 1.0}]}
RELEASE = {"id": "2.0.0-abcdef0123", "version": "2.0.0", "source": "git+https://me:t0ken@h/b.git@1"}


class Host:
    """What the bot_record module answers, and what it was asked."""

    def __init__(self, *answers: dict[str, Any]) -> None:
        self.answers = list(answers)
        self.calls: list[dict[str, Any]] = []

    def __call__(self, module_name: str, module_args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        assert module_name == "cytube.shipit.bot_record"
        self.calls.append(module_args)
        return self.answers.pop(0) if self.answers else {"journaled": True, "journal": "/j", "changed": False}


def conclude(host: Host, check_mode: bool = False, env: dict[str, str] | None = None, **args: Any) -> dict[str, Any]:
    """Run the plugin; ``printed`` is what it displayed, ``warnings`` what it warned."""
    base = {"kind": "deploy", "channel": "chan", "marks": {"validate": 100.0, "verify": 101.0}}
    action = make_action(run_outcome, "cytube.shipit.run_outcome", dict(base, **args), check_mode=check_mode)
    with (
        patch.object(action, "_execute_module", host),
        patch.dict("os.environ", env or {}, clear=True),
        patch.object(action._display, "display") as display,
        patch.object(action._display, "warning") as warning,
    ):
        result = action.run(task_vars={"inventory_hostname": "h1"})
    result["printed"] = "\n".join(call.args[0] for call in display.call_args_list)
    result["warnings_shown"] = [call.args[0] for call in warning.call_args_list]
    return result


def test_success_records_and_journals_in_one_round_trip() -> None:
    host = Host()
    record = {"release": RELEASE["id"], "verified": True, "keep": 5}
    result = conclude(host, verdict=HEALTHY, release=RELEASE, record=record, live_after=RELEASE["id"])
    outcome = result["ansible_facts"]["shipit_outcome"]
    VALIDATOR.validate(outcome)
    assert outcome["status"] == "success" and result["status"] == "success" and not result.get("failed")
    assert len(host.calls) == 1 and host.calls[0]["record"] == record and host.calls[0]["outcome"] == outcome
    assert host.calls[0]["token"], "the lock token of this run is passed"
    assert "[h1] DEPLOY SUCCESS: " in result["printed"] and "outcome " + outcome["id"] in result["printed"]
    assert "t0ken" not in json.dumps(outcome) and "t0ken" not in result["printed"]


def test_a_failed_record_after_verification_is_journaled_as_failed_without_rollback() -> None:
    host = Host({"record_error": "disk full", "journaled": False}, {"journaled": True, "journal": "/j"})
    result = conclude(host, verdict=HEALTHY, release=RELEASE, record={"release": RELEASE["id"]})
    outcome = result["ansible_facts"]["shipit_outcome"]
    assert outcome["status"] == "failed" and outcome["failed_check"] == "record" and outcome["rollback"] is None
    assert "record" not in host.calls[1] and host.calls[1]["outcome"] == outcome
    assert result["ansible_facts"]["shipit_outcome_message"].startswith(outcome["reason"])


def test_a_rolled_back_deploy_reports_the_verdict_that_failed_it() -> None:
    failing = {
        "phase": "verify",
        "verdict": "unhealthy",
        "failed_check": "command_round_trip",
        "reason": "check 'command_round_trip' failed: no reply",
        "checks": [{"name": "command_round_trip", "ok": False, "expected": "pong", "seen": None, "latency_ms": 2000}],
    }
    rollback = {"result": "verified", "target": {"id": "1.0.0-0123456789"}, "verdict": HEALTHY}
    # bot_verify_result was registered again by the rollback's verification: healthy.
    result = conclude(Host(), verdict=HEALTHY, failure=failing, rollback=rollback, release=RELEASE)
    outcome = result["ansible_facts"]["shipit_outcome"]
    assert outcome["status"] == "rolled_back" and outcome["verdict"]["verdict"] == "unhealthy"
    assert outcome["rollback"]["verdict"]["verdict"] == "healthy"
    assert "FAILED check command_round_trip: check 'command_round_trip' failed: no reply." in outcome["reason"]


def test_a_failure_is_not_recorded_but_journaled() -> None:
    host = Host()
    result = conclude(
        host,
        failure={"message": "channel chan is locked by bob"},
        marks={"validate": 1.0, "lock": 2.0},
        record={"release": "x"},
    )
    outcome = result["ansible_facts"]["shipit_outcome"]
    assert outcome["status"] == "refused" and "record" not in host.calls[0]
    assert "(lock)" in outcome["reason"], "the phase of the failure is the last one started"


@pytest.mark.parametrize("case", ["invalid", "check"])
def test_invalid_input_and_check_mode_contact_no_host(case: str) -> None:
    host = Host()
    if case == "invalid":
        result = conclude(host, failure={"phase": "validate", "message": "bad channel"})
    else:
        result = conclude(host, check_mode=True, release=RELEASE)
    assert result["ansible_facts"]["shipit_outcome"]["status"] == case and host.calls == []


def test_an_unreachable_host_warns_and_keeps_the_outcome() -> None:
    host = Host({"unreachable": True, "msg": "ssh: connect to host h1 port 22: No route to host"})
    result = conclude(host, verdict=HEALTHY)
    assert result["journal_error"].startswith("ssh: connect") and not result.get("unreachable")
    assert result["ansible_facts"]["shipit_outcome"]["status"] == "success"
    assert "was NOT written to the journal" in result["warnings_shown"][0]


def test_ci_run_id_trigger_and_a_copy_for_artifacts(tmp_path: Path) -> None:
    env = {
        "GITHUB_RUN_ID": "55",
        "GITHUB_RUN_ATTEMPT": "2",
        "GITHUB_REPOSITORY": "org/bot",
        "GITHUB_REF": "refs/pull/9/merge",
        "GITHUB_ACTOR": "octocat",
        "SHIPIT_OUTCOME_DIR": str(tmp_path),
    }
    result = conclude(Host(), env=env, verdict=HEALTHY)
    outcome = result["ansible_facts"]["shipit_outcome"]
    assert outcome["run_id"] == "gh-55-2" and outcome["trigger"]["pr_number"] == 9 and outcome["actor"] == "octocat"
    assert json.loads(Path(result["copy"]).read_text()) == outcome


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(AnsibleActionFail, match="kind 'redeploy' is not one of deploy, rollback, verify"):
        conclude(Host(), kind="redeploy")
