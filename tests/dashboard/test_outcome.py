"""The outcome schema shipped in the package, validation messages, and what an outcome says is live."""

from __future__ import annotations

import copy

import pytest
from dashboard_harness import REPO
from outcome_factory import fixture
from shipit_dashboard.outcome import live_release, schema_text, validate_batch, verify_latency_ms


def test_packaged_schema_is_byte_identical_to_meta() -> None:
    assert schema_text() == (REPO / "meta" / "outcome.schema.json").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["deploy_success", "deploy_rolled_back"])
def test_fixture_outcomes_are_valid(name: str) -> None:
    assert validate_batch([fixture(name)]) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda o: o.pop("status"), "(outcome)"),
        (lambda o: o.update(status="exploded"), "status"),
        (lambda o: o["release"].update(git_sha="not-hex"), "release.git_sha"),
        (lambda o: o["verdict"]["checks"][1].update(latency_ms=-1), "verdict.checks[1].latency_ms"),
        (lambda o: o.update(finished_at="yesterday"), "finished_at"),
        (lambda o: o.update(extra=1), "(outcome)"),
    ],
)
def test_validation_names_index_and_field(change, field: str) -> None:
    good = fixture("deploy_success")
    bad = copy.deepcopy(good)
    change(bad)
    errors = validate_batch([good, bad])
    assert [(error.index, error.field) for error in errors] == [(1, field)]


def test_validation_rejects_non_objects() -> None:
    errors = validate_batch(["a string"])
    assert errors[0].index == 0 and "object" in errors[0].message


def test_live_release_of_a_success_is_its_release() -> None:
    live = live_release(fixture("deploy_success"))
    assert live is not None and (live.release_id, live.verified) == ("1.1.0-3f2a9c1d0e4b", True)


def test_live_release_of_a_rolled_back_deploy_is_the_rollback_target() -> None:
    live = live_release(fixture("deploy_rolled_back"))
    assert live is not None and (live.release_id, live.version, live.verified) == ("1.1.0-3f2a9c1d0e4b", "1.1.0", True)


def test_live_release_of_a_stopped_bot_says_stopped() -> None:
    outcome = fixture("deploy_rolled_back")
    outcome.update(status="rollback_failed")
    outcome["rollback"].update(result="stopped", target=None)
    live = live_release(outcome)
    assert live is not None and live.stopped and live.release_id is None


@pytest.mark.parametrize("status", ["refused", "invalid", "check"])
def test_runs_that_changed_nothing_say_nothing_about_live(status: str) -> None:
    outcome = fixture("deploy_success")
    outcome.update(status=status, changed=False)
    assert live_release(outcome) is None


def test_verify_latency_prefers_the_verify_phase_then_the_checks() -> None:
    outcome = fixture("deploy_success")
    assert verify_latency_ms(outcome) == pytest.approx(900.0)
    del outcome["timings"]["verify"]
    assert verify_latency_ms(outcome) == pytest.approx(3.1 + 1.9 + 1.6 + 3.5 + 4.8 + 79.9 + 0.0 + 2.6)
    outcome["verdict"] = None
    assert verify_latency_ms(outcome) is None


MUTATIONS = [
    lambda o: o.update(status="exploded"),
    lambda o: o.update(schema_version=2),
    lambda o: o.update(run_id="bad run id"),
    lambda o: o.update(duration_s=-0.1),
    lambda o: o.update(duration_s=True),
    lambda o: o.update(verified="yes"),
    lambda o: o.update(channel="x" * 31),
    lambda o: o.update(started_at="2026-11-29 10:00:00"),
    lambda o: o.update(release=None),
    lambda o: o.update(previous_release={"id": "1.0", "version": None, "extra": 1}),
    lambda o: o["release"].update(artifact_sha256=None),
    lambda o: o["release"].update(id="-leading-dash"),
    lambda o: o["trigger"].update(pr_number=0),
    lambda o: o["trigger"].update(pr_number=True),
    lambda o: o["trigger"].update(pr_number=None),
    lambda o: o["timings"].update(deploy=1.0),
    lambda o: o["timings"].update(build=-1),
    lambda o: o["verdict"].update(verdict="meh"),
    lambda o: o["verdict"]["checks"][0].update(latency_ms=None),
    lambda o: o["verdict"]["checks"][0].update(name=""),
    lambda o: o["verdict"]["checks"].append({"name": "x", "ok": 1, "expected": None, "seen": None, "latency_ms": 1}),
    lambda o: o.update(rollback={"target": None, "result": "skipped"}),
    lambda o: o.update(rollback={"target": None, "result": "nope"}),
    lambda o: o.update(notifications=[{"target": "slack", "ok": True, "attempts": -1}]),
    lambda o: o.update(notifications=[{"target": "slack", "ok": True, "status_code": None}]),
]


@pytest.mark.parametrize("mutation", range(len(MUTATIONS)))
def test_fast_validator_agrees_with_jsonschema(mutation: int) -> None:
    """The compiled fast path must accept exactly what the reference 2020-12 validator accepts."""
    from jsonschema import Draft202012Validator
    from shipit_dashboard.outcome import is_valid, schema

    outcome = fixture("deploy_success")
    MUTATIONS[mutation](outcome)
    assert is_valid(outcome) == Draft202012Validator(schema()).is_valid(outcome)
