"""Unit tests for the verdict rules (shipit_verdict)."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_verdict import decide

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
