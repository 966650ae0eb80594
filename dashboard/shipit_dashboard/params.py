"""Settings and the request parameters shared by the API and the pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Query

from .outcome import KINDS, STATUSES
from .store import DeploymentFilter, FilterError


@dataclass(frozen=True)
class Settings:
    ingest_token: str
    read_token: str | None = None
    stale_after_s: float = 7 * 86_400.0
    retention_days: float | None = None
    dora_window_days: int = 30


def parse_time_ms(parameter: str, text: str | None, whole_day: bool = False) -> int | None:
    """A date (YYYY-MM-DD, UTC midnight; the next midnight with whole_day) or an ISO 8601 timestamp, in ms."""
    if not text:
        return None
    if whole_day and len(text.strip()) == 10:
        start = parse_time_ms(parameter, text)
        return None if start is None else start + 86_400_000
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise FilterError(
            parameter, f"{text!r} is not a date (2026-11-29) or a timestamp (2026-11-29T10:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _empty_to_none(value: str | None) -> str | None:
    return value if value not in (None, "") else None


@dataclass(frozen=True)
class HistoryQuery:
    """The filters shared by /api/deployments and the history page."""

    channel: str | None
    kind: str | None
    status: str | None
    environment: str | None
    since: str | None
    until: str | None

    def deployment_filter(self) -> DeploymentFilter:
        return DeploymentFilter(
            channel=self.channel,
            kind=self.kind,
            status=self.status,
            environment=self.environment,
            since_ms=parse_time_ms("since", self.since),
            until_ms=parse_time_ms("until", self.until, whole_day=True),
        )

    def params(self) -> dict[str, str]:
        return {key: value for key, value in self.__dict__.items() if value}


def history_query(
    channel: Annotated[str | None, Query(max_length=64, description="Channel name, exact")] = None,
    kind: Annotated[str | None, Query(description=f"One of {', '.join(KINDS)}")] = None,
    status: Annotated[str | None, Query(description=f"One of {', '.join(STATUSES)}")] = None,
    environment: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[str | None, Query(description="Finished at or after: date or ISO 8601 timestamp")] = None,
    until: Annotated[str | None, Query(description="Finished before: date or ISO 8601 timestamp")] = None,
) -> HistoryQuery:
    return HistoryQuery(*(_empty_to_none(v) for v in (channel, kind, status, environment, since, until)))
