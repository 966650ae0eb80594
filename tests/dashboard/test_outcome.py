"""The outcome schema shipped in the package, validation messages, and what an outcome says is live."""

from __future__ import annotations

import copy

import pytest
from conftest import REPO
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
