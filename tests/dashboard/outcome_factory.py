"""Valid run outcomes (meta/outcome.schema.json) for the dashboard tests and benchmark."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "outcomes"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


_SUCCESS = fixture("deploy_success")
_ROLLED_BACK = fixture("deploy_rolled_back")


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def make_outcome(
    number: int,
    *,
    finished: datetime,
    channel: str = "shipit-sandbox",
    environment: str = "sandbox",
    kind: str = "deploy",
    status: str = "success",
    version: str | None = None,
    duration_s: float = 5.4,
    reason: str | None = None,
    actor: str = "octocat",
    host: str = "sandbox-1",
) -> dict[str, Any]:
    """Outcome number `number` of a synthetic history; rolled_back ones carry a verified rollback."""
    base = _ROLLED_BACK if status == "rolled_back" else _SUCCESS
    outcome = copy.deepcopy(base)
    version = version or f"1.{number // 100}.{number % 100}"
    release_id = f"{version}-{number:012x}"
    run_id = f"gh-{100000 + number}-1"
    started = finished - timedelta(seconds=duration_s)
    outcome.update(
        id=f"{run_id}:{kind}:{channel}:{host}",
        run_id=run_id,
        kind=kind,
        status=status,
        channel=channel,
        environment=environment,
        host=host,
        actor=actor,
        started_at=timestamp(started),
        finished_at=timestamp(finished),
        duration_s=duration_s,
        changed=status == "success" and kind != "verify",
        check_mode=status == "check",
        verified=status in ("success", "rolled_back"),
        reason=reason or f"{kind} of {release_id} on {channel}: {status}",
        channel_url=f"http://10.231.255.1:8080/r/{channel}",
    )
    outcome["release"] = {**outcome["release"], "id": release_id, "version": version}
    if status not in ("success", "rolled_back"):
        outcome["failed_check"] = "command_round_trip"
        outcome["verdict"] = copy.deepcopy(_ROLLED_BACK["verdict"])
    return outcome


def history(count: int, now: datetime, channels: tuple[str, ...] = ("shipit-sandbox", "shipit-sandbox2")) -> list[dict]:
    """`count` outcomes spread over the last days, newest last; every 10th deploy is rolled back."""
    outcomes = []
    for number in range(count):
        finished = now - timedelta(minutes=7 * (count - number))
        status = "rolled_back" if number % 10 == 9 else "success"
        kind = "verify" if number % 7 == 3 else "deploy"
        if kind == "verify":
            status = "success"
        outcomes.append(
            make_outcome(
                number,
                finished=finished,
                channel=channels[number % len(channels)],
                kind=kind,
                status=status,
                duration_s=3.0 + (number % 13),
            )
        )
    return outcomes
