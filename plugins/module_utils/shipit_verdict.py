# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One verdict from the host checks and the outside (CyTube) checks of a bot.

Rules, in order:

1. A host check that does not depend on CyTube failed (``unit_active``,
   ``unit_stable``, ``journal``): **unhealthy**. A crashing or restarting bot is
   broken whatever CyTube does.
2. The outside check says CyTube is unreachable or refuses the probe
   (``inconclusive``): **inconclusive**, even when the health endpoint says the bot
   has not joined, since it cannot join a server that is down. No blind rollback.
3. The outside check says ``unhealthy`` (bot absent, silent, late, wrong version),
   or it could not run while the health endpoint failed: **unhealthy**.
4. The health endpoint failed while CyTube worked: **unhealthy**.
5. A final host check (after a stability window) found a restart: **unhealthy**.
6. Otherwise **healthy**.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

#: The three verdicts of a check run: the one definition of their names.
HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
INCONCLUSIVE = "inconclusive"
VERDICTS = (HEALTHY, UNHEALTHY, INCONCLUSIVE)
#: The verdicts that fail a run (and trigger a rollback after a deploy).
NOT_HEALTHY = (UNHEALTHY, INCONCLUSIVE)
CYTUBE_DEPENDENT = ("health",)
#: The keys of one check record, as ``$defs/check`` of meta/outcome.schema.json defines them.
CHECK_KEYS = ("name", "ok", "expected", "seen", "latency_ms", "message")


def check_record(
    name: str,
    ok: bool,
    expected: Optional[str],
    seen: Optional[str],
    latency_ms: Optional[float] = None,
    message: Optional[str] = None,
) -> Dict[str, Any]:
    """One check, in the shape every verdict, failure message and outcome quotes.

    Without ``message``, it is made from the rest: ``name: ok`` or
    ``name: expected <expected>, seen <seen>``.
    """
    if not message:
        message = "%s: %s" % (name, "ok" if ok else "expected %s, seen %s" % (expected, seen))
    return {
        "name": name,
        "ok": bool(ok),
        "expected": expected,
        "seen": seen,
        "latency_ms": latency_ms,
        "message": message,
    }


def _ran(result: Optional[Dict[str, Any]]) -> bool:
    return isinstance(result, dict) and bool(result) and not result.get("skipped")


def _failed(checks: List[Dict[str, Any]], hard: Optional[bool] = None) -> List[Dict[str, Any]]:
    out = []
    for item in checks:
        if not isinstance(item, dict) or item.get("ok"):
            continue
        dependent = item.get("name") in CYTUBE_DEPENDENT
        if hard is None or hard != dependent:
            out.append(item)
    return out


def _describe(item: Dict[str, Any]) -> str:
    message = item.get("message") or ""
    expected, seen = item.get("expected"), item.get("seen")
    text = "check '%s' failed" % item.get("name")
    if message:
        text += ": %s" % message
    if expected is not None and seen is not None and (str(seen) not in message):
        text += " (expected %s, seen %s)" % (expected, seen)
    return text


def decide(
    host: Optional[Dict[str, Any]],
    cytube: Optional[Dict[str, Any]],
    final_host: Optional[Dict[str, Any]] = None,
    preflight: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    """``{verdict, failed_check, reason, checks}`` from the registered task results.

    ``preflight`` is a ``bot_preflight`` result: when it found CyTube unreachable (and the
    outside check was skipped for that reason) it stands for the outside check.
    """
    if _ran(preflight) and preflight.get("reachable") is False and not _ran(cytube):
        cytube = {
            "verdict": INCONCLUSIVE,
            "checks": preflight.get("checks") or [],
            "failed_check": preflight.get("failed_check"),
            "msg": preflight.get("msg"),
        }
    host_checks = list(host.get("checks") or []) if _ran(host) else []
    cy_checks = list(cytube.get("checks") or []) if _ran(cytube) else []
    final_checks = list(final_host.get("checks") or []) if _ran(final_host) else []
    checks = host_checks + cy_checks + [dict(c, name="final_" + str(c.get("name"))) for c in final_checks]

    def out(verdict: str, item: Optional[Dict[str, Any]], reason: Optional[str] = None) -> Dict[str, Any]:
        return {
            "verdict": verdict,
            "failed_check": item.get("name") if item else None,
            "reason": reason or (_describe(item) if item else "all checks passed"),
            "checks": checks,
        }

    hard = _failed(host_checks, hard=True)
    if hard:
        return out(UNHEALTHY, hard[0])
    if _ran(host) and host.get("failed") and not host_checks:
        return out(UNHEALTHY, {"name": "host_check", "message": host.get("msg") or "the host check failed"})
    health = _failed(host_checks, hard=False)
    if _ran(cytube):
        verdict = cytube.get("verdict")
        cy_failed = _failed(cy_checks)
        named = next((c for c in cy_failed if c.get("name") == cytube.get("failed_check")), None)
        first = named or (cy_failed[0] if cy_failed else None)
        if verdict == INCONCLUSIVE or verdict not in VERDICTS:
            reason = cytube.get("msg") if not first else None
            if reason:
                reason = "CyTube could not be checked: %s" % reason
            return out(INCONCLUSIVE, first or {"name": "cytube_check", "message": cytube.get("msg")}, reason)
        if verdict == UNHEALTHY:
            return out(UNHEALTHY, first or {"name": "cytube_check", "message": cytube.get("msg")})
    elif health:
        return out(UNHEALTHY, health[0])
    if health:
        return out(UNHEALTHY, health[0])
    final_failed = _failed(final_checks)
    if final_failed:
        item = dict(final_failed[0], name="final_" + str(final_failed[0].get("name")))
        return out(UNHEALTHY, item)
    return out(HEALTHY, None)
