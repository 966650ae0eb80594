"""The outcome document: status rules, schema validity, words rendered from it, redaction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import jsonschema
import pytest
from ansible_collections.cytube.shipit.plugins.module_utils import shipit_outcome as oc

REPO = Path(__file__).resolve().parents[4]
SCHEMA = json.loads((REPO / "meta" / "outcome.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())

HEALTHY = {
    "verdict": "healthy",
    "reason": "all checks passed",
    "checks": [{"name": "command_round_trip", "ok": True, "expected": "pong", "seen": "pong 1.0", "latency_ms": 2.5}],
}
UNHEALTHY = {
    "verdict": "unhealthy",
    "failed_check": "command_round_trip",
    "reason": "check 'command_round_trip' failed: no reply within 2 s",
    "checks": [{"name": "command_round_trip", "ok": False, "expected": "pong", "seen": None, "latency_ms": 2000}],
}
INCONCLUSIVE = {"verdict": "inconclusive", "failed_check": "connect", "reason": "CyTube refused", "checks": []}


def facts(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "deploy",
        "run_id": "gh-1-1",
        "host": "sandbox-1",
        "channel": "shipit-sandbox",
        "environment": "sandbox",
        "server_url": "http://10.231.255.1:8080",
        "release": {"id": "2.0.0-abcdef0123", "version": "2.0.0", "project": "cytube-refbot", "source": "x.whl"},
        "live_before": "1.0.0-0123456789",
        "live_after": "2.0.0-abcdef0123",
        "trigger": oc.trigger_from({}),
        "actor": "tester",
        "started_epoch": 1000.0,
        "marks": {"validate": 1000.0, "build": 1001.0, "verify": 1003.5},
        "collection_version": "0.2.0",
        "check_mode": False,
    }
    base.update(extra)
    return base


ROLLBACK_VERIFIED = {"result": "verified", "target": {"id": "1.0.0-0123456789", "version": "1.0.0"}, "verdict": HEALTHY}

CASES = {
    "success": facts(verdict=HEALTHY),
    "rolled_back": facts(verdict=UNHEALTHY, failure={"phase": "verify"}, rollback=ROLLBACK_VERIFIED),
    "rollback_failed": facts(
        verdict=UNHEALTHY,
        failure={"phase": "verify"},
        rollback={"result": "failed", "target": {"id": "1.0.0-0123456789"}},
    ),
    "failed": facts(failure={"phase": "build", "message": "pip failed"}, live_after="1.0.0-0123456789"),
    "inconclusive": facts(
        verdict=INCONCLUSIVE,
        failure={"phase": "verify"},
        rollback={"result": "skipped", "cause": {"verdict": "inconclusive"}},
    ),
    "refused": facts(
        failure={"phase": "lock", "message": "channel is locked by someone"}, release=None, live_after=None
    ),
    "invalid": facts(failure={"phase": "validate", "message": "shipit_channel 'bad name!' is not a name"}, channel=""),
    "check": facts(check_mode=True),
}


@pytest.mark.parametrize("status", sorted(CASES))
def test_every_status_is_built_and_schema_valid(status: str) -> None:
    outcome = oc.build_outcome(CASES[status], now=1005.0)
    assert outcome["status"] == status
    VALIDATOR.validate(outcome)
    assert outcome["reason"] and "\n" not in outcome["reason"]


def test_a_schema_violation_is_caught() -> None:
    outcome = oc.build_outcome(CASES["success"], now=1005.0)
    outcome["status"] = "fine"
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(outcome)


@pytest.mark.parametrize("name", ["deploy_success.json", "deploy_rolled_back.json", "deploy_downgrade.json"])
def test_fixture_outcomes_are_schema_valid(name: str) -> None:
    VALIDATOR.validate(json.loads((REPO / "tests" / "fixtures" / "outcomes" / name).read_text()))


def test_id_timings_and_duration() -> None:
    outcome = oc.build_outcome(CASES["success"], now=1005.0)
    assert outcome["id"] == "gh-1-1:deploy:shipit-sandbox:sandbox-1"
    assert outcome["timings"] == {"validate": 1.0, "build": 2.5, "verify": 1.5}
    assert outcome["duration_s"] == 5.0
    assert outcome["started_at"] == "1970-01-01T00:16:40.000Z"
    assert outcome["changed"] is True and outcome["verified"] is True
    assert outcome["channel_url"] == "http://10.231.255.1:8080/r/shipit-sandbox"


def test_rolled_back_words_name_the_check_the_target_and_the_bad_mark() -> None:
    outcome = oc.build_outcome(CASES["rolled_back"], now=1005.0)
    assert outcome["failed_check"] == "command_round_trip"
    assert "FAILED check command_round_trip" in outcome["reason"]
    assert "Rolled back to 1.0.0-0123456789 (version 1.0.0): verified healthy" in outcome["reason"]
    assert "docs/troubleshooting.md#command-round-trip" in outcome["next_step"]
    assert outcome["rollback"]["verdict"]["verdict"] == "healthy"


def test_the_failure_text_is_the_reason_and_next_step() -> None:
    outcome = oc.build_outcome(CASES["refused"], now=1005.0)
    assert oc.failure_text(outcome) == outcome["reason"] + " Next: " + outcome["next_step"]
    assert "refused before anything changed (lock)" in outcome["reason"]


def test_a_verified_release_whose_recording_failed_is_not_called_rolled_back() -> None:
    outcome = oc.build_outcome(facts(verdict=HEALTHY, failure={"phase": "record", "message": "disk full"}), now=1005.0)
    assert outcome["status"] == "failed" and outcome["rollback"] is None
    assert "verified healthy and is live, but recording it failed: disk full" in outcome["reason"]


def test_emergency_rollback_succeeds_unverified() -> None:
    outcome = oc.build_outcome(
        facts(
            kind="rollback", rollback={"result": "unverified", "emergency": True, "target": {"id": "1.0.0-0123456789"}}
        ),
        now=1005.0,
    )
    assert outcome["status"] == "success" and outcome["verified"] is False
    assert "NOT verified (emergency mode)" in outcome["reason"]


def test_verify_statuses() -> None:
    assert oc.build_outcome(facts(kind="verify", verdict=HEALTHY), now=1005.0)["status"] == "success"
    unhealthy = oc.build_outcome(facts(kind="verify", verdict=UNHEALTHY, failure={"phase": "verify"}), now=1005.0)
    assert unhealthy["status"] == "failed" and "UNHEALTHY" in unhealthy["reason"]
    assert oc.build_outcome(facts(kind="verify", verdict=INCONCLUSIVE), now=1005.0)["status"] == "inconclusive"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("git+https://user:tok3n@example.org/bot.git@abc", "git+https://***@example.org/bot.git@abc"),
        ("https://cytu.be", "https://cytu.be"),
        ("mybot==1.2.3", "mybot==1.2.3"),
    ],
)
def test_credentials_in_urls_are_redacted(text: str, expected: str) -> None:
    assert oc.redact_url(text) == expected


def test_a_source_with_a_token_never_reaches_the_outcome() -> None:
    release = {"id": "2.0.0-abcdef0123", "version": "2.0.0", "source": "git+https://x:s3cret-token@h/b.git@1"}
    outcome = oc.build_outcome(facts(verdict=HEALTHY, release=release), now=1005.0)
    assert "s3cret-token" not in json.dumps(outcome)


def test_run_ids() -> None:
    assert oc.run_id_from({"GITHUB_RUN_ID": "77", "GITHUB_RUN_ATTEMPT": "2"}, "t") == "gh-77-2"
    assert oc.run_id_from({"SHIPIT_RUN_ID": "nightly run/1"}, "t") == "nightly-run-1"
    local = oc.run_id_from({}, "host/boot/123/456")
    assert local.startswith("local-") and local == oc.run_id_from({}, "host/boot/123/456")
    assert local != oc.run_id_from({}, "host/boot/124/456")


def test_trigger_from_a_pull_request_run() -> None:
    env = {
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_REF": "refs/pull/42/merge",
        "GITHUB_SHA": "ABCDEF1234567",
        "GITHUB_REPOSITORY": "org/bot",
        "GITHUB_RUN_ID": "9",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_WORKFLOW": "test-deploy",
    }
    trigger = oc.trigger_from(env)
    assert trigger["pr_number"] == 42 and trigger["sha"] == "abcdef1234567"
    assert trigger["run_url"] == "https://github.com/org/bot/actions/runs/9/attempts/1"
    assert oc.trigger_from(env, pr_number="7")["pr_number"] == 7
    assert oc.trigger_from({})["event_name"] == "manual"


def test_summary_has_one_line_per_check_and_the_timings() -> None:
    outcome = oc.build_outcome(CASES["rolled_back"], now=1005.0)
    lines = oc.summary_lines(outcome)
    assert lines[0].startswith("DEPLOY ROLLED_BACK: ")
    assert any("command_round_trip" in line and "FAIL" in line and "2000.0 ms" in line for line in lines)
    assert any(line.startswith("timings: ") for line in lines)
    assert lines[-1] == "outcome " + outcome["id"]


def test_a_deploy_that_ends_older_than_the_live_release_warns_about_the_downgrade() -> None:
    outcome = oc.build_outcome(
        facts(
            verdict=HEALTHY,
            release={"id": "1.0.0-0123456789", "version": "1.0.0"},
            live_before="2.0.0-abcdef0123",
            live_before_version="2.0.0",
            live_after="1.0.0-0123456789",
        )
    )
    VALIDATOR.validate(outcome)
    assert outcome["status"] == "success"
    assert outcome["warnings"] == [
        "downgrade: 2.0.0 -> 1.0.0 (the live release was newer): release 1.0.0-0123456789 replaced 2.0.0-abcdef0123; "
        "if a newer deploy was meant to win, deploy it again"
    ]
    assert oc.summary_lines(outcome)[1].startswith("WARNING: downgrade: 2.0.0 -> 1.0.0")


def test_a_deploy_that_rebuilt_a_drifted_release_warns_naming_the_files() -> None:
    drift = "release 2.0.0-abcdef0123 differs from what was built and verified (venv/bin/bot: modified)"
    release = {"id": "2.0.0-abcdef0123", "version": "2.0.0", "built": True, "drift": drift}
    outcome = oc.build_outcome(facts(verdict=HEALTHY, release=release, live_before="2.0.0-abcdef0123"))
    VALIDATOR.validate(outcome)
    (warning,) = outcome["warnings"]
    assert warning.startswith("rebuilt: " + drift + "; it was built again"), warning
    assert "drift" not in outcome["release"]  # the warning carries it; the outcome schema is unchanged
    plain = oc.build_outcome(facts(verdict=HEALTHY, release=dict(release, drift="")))
    assert "warnings" not in plain


@pytest.mark.parametrize(
    "new, live, went_live",
    [
        ("2.0.0", "1.0.0", True),  # an upgrade
        ("2.0", "2.0.0", True),  # the same release numbers
        ("1.0.0", None, True),  # nothing was live
        ("1.0.0", "2.0.0", False),  # rolled back: the older release never stayed live
        ("nightly", "2.0.0", True),  # no release numbers to compare
    ],
)
def test_no_downgrade_warning_otherwise(new: str, live: Optional[str], went_live: bool) -> None:
    release_id = f"{new}-0123456789"
    outcome = oc.build_outcome(
        facts(
            verdict=HEALTHY,
            release={"id": release_id, "version": new},
            live_before="prev-abcdef0123" if live else None,
            live_before_version=live,
            live_after=release_id if went_live else "prev-abcdef0123",
        )
    )
    assert "warnings" not in outcome


def test_versions_compare_by_their_release_numbers() -> None:
    assert oc.is_older("1.9.0", "1.10.0") and oc.is_older("v1.2", "1.2.1")
    assert not oc.is_older("1.10.0", "1.9.0") and not oc.is_older("1.0", "1.0.0") and not oc.is_older(None, "1.0")


def test_a_rollback_that_passed_over_a_missing_release_says_which_and_why() -> None:
    skipped = [{"id": "1.5.0-aaaaaaaaaa", "reason": "it no longer exists on the host (removed by hand, or pruned)"}]
    rollback = dict(ROLLBACK_VERIFIED, skipped=skipped)
    outcome = oc.build_outcome(facts(verdict=UNHEALTHY, failure={"phase": "verify"}, rollback=rollback))
    VALIDATOR.validate(outcome)
    assert outcome["status"] == "rolled_back"
    assert outcome["warnings"] == [
        "rollback skipped release 1.5.0-aaaaaaaaaa: it no longer exists on the host (removed by hand, or pruned)"
    ]


def test_a_rollback_that_fell_back_to_the_newest_good_release_says_so() -> None:
    fallback = {"id": "1.4.0-bbbbbbbbbb", "reason": "the previous stack had no usable entry; the newest verified one"}
    rollback = dict(ROLLBACK_VERIFIED, fallback=fallback)
    outcome = oc.build_outcome(facts(verdict=UNHEALTHY, failure={"phase": "verify"}, rollback=rollback))
    VALIDATOR.validate(outcome)
    assert outcome["warnings"] == [
        "rollback fell back to release 1.4.0-bbbbbbbbbb: "
        "the previous stack had no usable entry; the newest verified one"
    ]


def test_the_live_version_is_read_from_its_release_id_when_not_given() -> None:
    outcome = oc.build_outcome(
        facts(
            verdict=HEALTHY,
            release={"id": "1.0.0-0123456789", "version": "1.0.0"},
            live_before="2.0.0-abcdef0123",
            live_after="1.0.0-0123456789",
        )
    )
    assert outcome["warnings"][0].startswith("downgrade: 2.0.0 -> 1.0.0 (the live release was newer)")
    assert oc.version_of({"id": "1.2.3rc1-0123456789"}) == "1.2.3rc1" and oc.version_of({"id": "custom"}) is None


@pytest.mark.parametrize(
    ("reason", "said"),
    [
        (
            "there is no previous good release to roll back to; the bot was stopped",
            "There is no previous good release to roll back to, so the bot was stopped.",
        ),
        (
            "the previous good release is not usable: 1.0.0-0123456789 changed since its build (app/main.py); "
            "the bot was stopped (deploy its version again to rebuild it)",
            "The previous good release is not usable: 1.0.0-0123456789 changed since its build (app/main.py)",
        ),
    ],
)
def test_a_failed_deploy_that_stopped_the_bot_says_why(reason: str, said: str) -> None:
    stopped = {"result": "stopped", "target": None, "verdict": None, "live": None, "reason": reason}
    outcome = oc.build_outcome(facts(verdict=UNHEALTHY, failure={"phase": "verify"}, rollback=stopped))
    VALIDATOR.validate(outcome)
    assert outcome["status"] == "rollback_failed"
    assert said in outcome["reason"] and "Release" in outcome["reason"]
