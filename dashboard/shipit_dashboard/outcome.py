"""The run outcome: schema validation and the facts the store derives from one."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator, ValidationError

MAX_BATCH = 500
KINDS = ("deploy", "rollback", "verify")
STATUSES = ("success", "rolled_back", "rollback_failed", "failed", "inconclusive", "refused", "invalid", "check")
# Statuses of a deploy that reached production; the failing ones are the DORA change failures.
CHANGE_STATUSES = ("success", "rolled_back", "rollback_failed")
FAILED_CHANGE_STATUSES = ("rolled_back", "rollback_failed")


@dataclass(frozen=True)
class OutcomeError:
    """Why one outcome of a batch was refused."""

    index: int
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "message": self.message}


@dataclass(frozen=True)
class LiveRelease:
    """The release an outcome says is live on its channel afterwards."""

    release_id: str | None
    version: str | None
    verified: bool
    stopped: bool = False


def schema_text() -> str:
    return resources.files("shipit_dashboard").joinpath("outcome.schema.json").read_text(encoding="utf-8")


@cache
def schema() -> dict[str, Any]:
    return json.loads(schema_text())


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(schema())


@cache
def _fast_check() -> Callable[[Any], Any]:
    """Compiled validator for the common, valid case; jsonschema explains the invalid ones."""
    return fastjsonschema.compile(schema(), use_formats=False)


def is_valid(outcome: Any) -> bool:
    try:
        _fast_check()(outcome)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def _field_path(path: Any) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(outcome)"


def validate_outcome(index: int, outcome: Any) -> OutcomeError | None:
    """The first schema violation of one outcome, deepest field first, or None."""
    if is_valid(outcome):
        return _check_times(index, outcome)
    errors = sorted(
        (_deepest(error) for error in _validator().iter_errors(outcome)),
        key=lambda error: (-len(error.absolute_path), list(map(str, error.absolute_path))),
    )
    if not errors:  # the two validators disagree: refuse, since the fast one found a problem
        return OutcomeError(index, "(outcome)", "does not match meta/outcome.schema.json")
    error = errors[0]
    message = error.message if len(error.message) <= 300 else error.message[:300] + "..."
    return OutcomeError(index, _field_path(error.absolute_path), message)


def _check_times(index: int, outcome: dict[str, Any]) -> OutcomeError | None:
    try:
        parse_timestamp_ms(outcome["started_at"])
        parse_timestamp_ms(outcome["finished_at"])
    except ValueError as exc:
        return OutcomeError(index, "finished_at", f"not a valid UTC timestamp: {exc}")
    return None


def _deepest(error: ValidationError) -> ValidationError:
    """For oneOf/anyOf failures, the sub-error about the most specific field (a null branch is no help)."""
    while error.context:
        error = max(error.context, key=lambda sub: len(sub.absolute_path))
    return error


def validate_batch(outcomes: list[Any]) -> list[OutcomeError]:
    return [error for index, item in enumerate(outcomes) if (error := validate_outcome(index, item))]


def parse_timestamp_ms(text: str) -> int:
    """Milliseconds since the epoch of an RFC 3339 UTC timestamp ('...Z')."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def format_ms(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def verify_latency_ms(outcome: dict[str, Any]) -> float | None:
    """How long verification took: the verify phase, else the sum of the check latencies."""
    phase = (outcome.get("timings") or {}).get("verify")
    if phase is not None:
        return float(phase) * 1000.0
    checks = (outcome.get("verdict") or {}).get("checks") or []
    latencies = [check["latency_ms"] for check in checks if check.get("latency_ms") is not None]
    return float(sum(latencies)) if latencies else None


def live_release(outcome: dict[str, Any]) -> LiveRelease | None:
    """What is live on the channel after this run, or None when the run does not tell."""
    status = outcome["status"]
    if status in ("check", "invalid", "refused") or not outcome.get("channel"):
        return None
    rollback = outcome.get("rollback") or {}
    if status == "rolled_back" and rollback.get("target"):
        target = rollback["target"]
        return LiveRelease(target["id"], target.get("version"), rollback.get("result") == "verified")
    if status == "rollback_failed" and rollback.get("result") == "stopped":
        return LiveRelease(None, None, False, stopped=True)
    release = outcome.get("release")
    if not release or not release.get("id"):
        return None
    verified = bool(outcome.get("verified", status == "success"))
    reports_live = outcome["kind"] == "verify" or outcome.get("changed")
    if reports_live or status in ("success", "inconclusive", "rollback_failed"):
        return LiveRelease(release["id"], release.get("version"), verified and status == "success")
    return None
