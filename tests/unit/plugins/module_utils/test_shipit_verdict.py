"""Unit tests for the verdict rules (shipit_verdict)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_verdict import (
    CHECK_KEYS,
    HEALTHY,
    NOT_HEALTHY,
    VERDICTS,
    check_record,
    decide,
)

pytestmark = pytest.mark.timeout(30)


def chk(name: str, ok: bool, seen: str = "x") -> dict[str, Any]:
    return {
        "name": name,
        "ok": ok,
        "latency_ms": 1,
        "expected": "e",
        "seen": seen,
        "message": "{}: {}".format(name, "ok" if ok else "expected e, seen " + seen),
    }


def host(*failed: str) -> dict[str, Any]:
    names = ["unit_active", "unit_stable", "health", "journal"]
    return {"checks": [chk(n, n not in failed) for n in names], "ok": not failed}


def cytube(verdict: str, failed: str = "", checks: list[dict[str, Any]] = ()) -> dict[str, Any]:
    return {
        "verdict": verdict,
        "failed_check": failed or None,
        "msg": "cytube says " + verdict,
        "checks": list(checks) or [chk("socketconfig", True), *([chk(failed, False, "no reply")] if failed else [])],
    }


def test_healthy() -> None:
    result = decide(host(), cytube("healthy"))
    assert result["verdict"] == "healthy" and result["failed_check"] is None


def test_crashing_unit_is_unhealthy_even_when_cytube_is_down() -> None:
    result = decide(host("unit_active"), cytube("inconclusive", "socketconfig"))
    assert result["verdict"] == "unhealthy" and result["failed_check"] == "unit_active"


def test_cytube_down_is_inconclusive_even_when_not_joined() -> None:
    result = decide(host("health"), cytube("inconclusive", "socketconfig"))
    assert result["verdict"] == "inconclusive" and result["failed_check"] == "socketconfig"


def test_silent_bot_is_unhealthy_with_the_check_named() -> None:
    result = decide(host(), cytube("unhealthy", "command_round_trip"))
    assert result["verdict"] == "unhealthy" and result["failed_check"] == "command_round_trip"
    assert "no reply" in result["reason"]


def test_health_failure_without_cytube_check_is_unhealthy() -> None:
    result = decide(host("health"), {"skipped": True})
    assert result["verdict"] == "unhealthy" and result["failed_check"] == "health"


def test_health_failure_with_working_cytube_is_unhealthy() -> None:
    assert decide(host("health"), cytube("healthy"))["verdict"] == "unhealthy"


def test_journal_errors_are_unhealthy() -> None:
    assert decide(host("journal"), cytube("healthy"))["failed_check"] == "journal"


def test_final_host_check_restart_is_unhealthy() -> None:
    final = {"checks": [chk("unit_active", True), chk("unit_stable", False, "main process changed")]}
    result = decide(host(), cytube("healthy"), final)
    assert result["verdict"] == "unhealthy" and result["failed_check"] == "final_unit_stable"


def test_cytube_module_error_is_inconclusive() -> None:
    result = decide(host(), {"failed": True, "msg": "python-socketio is missing"})
    assert result["verdict"] == "inconclusive"
    assert "python-socketio is missing" in result["reason"]


def test_unreachable_preflight_stands_for_the_skipped_cytube_check() -> None:
    preflight = {
        "reachable": False,
        "failed_check": "socketconfig",
        "msg": "CyTube down",
        "checks": [chk("socketconfig", False, "HTTP 503")],
    }
    result = decide(host("health"), {"skipped": True}, preflight=preflight)
    assert result["verdict"] == "inconclusive" and result["failed_check"] == "socketconfig"
    # a crashing unit is still unhealthy
    assert decide(host("unit_active"), {"skipped": True}, preflight=preflight)["verdict"] == "unhealthy"
    # a reachable CyTube changes nothing
    assert decide(host(), cytube("healthy"), preflight={"reachable": True})["verdict"] == "healthy"


# --------------------------------------------------------------------------- check_record

SCHEMA = json.loads((Path(__file__).resolve().parents[4] / "meta" / "outcome.schema.json").read_text())


def check_validator() -> jsonschema.protocols.Validator:
    check_schema = dict(SCHEMA["$defs"]["check"], **{"$defs": SCHEMA["$defs"]})
    cls = jsonschema.validators.validator_for(SCHEMA)
    return cls(check_schema)


@pytest.mark.parametrize(
    "record",
    [
        check_record("unit_active", True, "active (running)", "active (running)", latency_ms=812),
        check_record("journal", False, "no error lines", "2 error line(s)", message="journal: 2 error lines"),
        check_record("health", False, None, None),
    ],
)
def test_check_record_is_the_schema_check_shape(record: dict[str, Any]) -> None:
    check_validator().validate(record)
    assert tuple(record) == CHECK_KEYS == tuple(SCHEMA["$defs"]["check"]["properties"])


def test_check_record_message_defaults_to_expected_and_seen() -> None:
    assert check_record("socketconfig", True, "e", "s")["message"] == "socketconfig: ok"
    failed = check_record("health", False, "HTTP 200", "HTTP 503")
    assert failed["message"] == "health: expected HTTP 200, seen HTTP 503" and failed["ok"] is False


def test_verdict_names_have_one_definition() -> None:
    assert VERDICTS == ("healthy", "unhealthy", "inconclusive")
    assert set(NOT_HEALTHY) == set(VERDICTS) - {HEALTHY}
