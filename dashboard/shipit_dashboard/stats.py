"""Figures derived from stored outcomes: channel cards, daily series, DORA metrics.

Definitions (also in docs/dashboard.md):
- deployment frequency: successful, non-check deploys per day over the window;
- lead time for changes: from the first time a release appears in any outcome (its earliest
  run start, in any environment) to the finish of the successful deploy that made it live
  and verified; the schema carries no commit time, so this is "first seen" rather than
  "committed";
- change failure rate: (rolled_back + rollback_failed) / (success + rolled_back +
  rollback_failed) among deploys: the deploys that reached the live channel;
- time to restore: for a deploy that was rolled back and verified, the seconds its
  rollback phase took; for any other failure of the live channel (rollback_failed, or a
  verify run that failed) the time from that outcome to the next verified success on the
  same channel and environment; failures not restored yet are counted as open.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .db import Row
from .outcome import CHANGE_STATUSES, FAILED_CHANGE_STATUSES, LiveRelease, live_release, parse_timestamp_ms
from .store import ChannelState

DAY_MS = 86_400_000


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


# --- channel cards --------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelCard:
    environment: str
    channel: str
    health: str  # healthy | degraded | down | unknown
    health_reason: str
    stale: bool
    age_s: float | None
    last: dict[str, Any] | None
    live: LiveRelease | None
    live_outcome: dict[str, Any] | None
    last_success_ms: int | None

    def as_dict(self) -> dict[str, Any]:
        live = self.live_outcome or {}
        return {
            "channel": self.channel,
            "environment": self.environment,
            "health": self.health,
            "health_reason": self.health_reason,
            "stale": self.stale,
            "last_outcome_age_s": self.age_s,
            "live_release": None
            if self.live is None
            else {
                "id": self.live.release_id,
                "version": self.live.version,
                "verified": self.live.verified,
                "stopped": self.live.stopped,
                "since": live.get("finished_at"),
                "by": live.get("actor"),
                "outcome_id": live.get("id"),
            },
            "last_outcome": None if self.last is None else summary(self.last),
            "last_verdict": None if self.last is None else self.last.get("verdict"),
            "last_success_at": None
            if self.last_success_ms is None
            else datetime.fromtimestamp(self.last_success_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


def health_of(last: dict[str, Any] | None, stale: bool) -> tuple[str, str]:
    """down: the live channel is broken; degraded: the last run did not succeed, or data is stale."""
    if last is None:
        return "unknown", "no outcome stored yet"
    status = last["status"]
    verdict = (last.get("verdict") or {}).get("verdict")
    if status == "rollback_failed":
        return "down", "the last deploy failed and so did the way back"
    if verdict == "unhealthy" and status != "rolled_back":
        return "down", f"the last {last['kind']} found the live release unhealthy"
    if status != "success":
        return "degraded", f"the last {last['kind']} ended {status}"
    if stale:
        return "degraded", "no recent outcome: the data may be stale"
    return "healthy", f"the last {last['kind']} succeeded"


def channel_cards(states: Iterable[ChannelState], now_ms: int, stale_after_s: float) -> list[ChannelCard]:
    cards = []
    for state in states:
        last_ms = parse_timestamp_ms(state.last["finished_at"]) if state.last else None
        age_s = None if last_ms is None else max(0.0, (now_ms - last_ms) / 1000)
        stale = age_s is None or age_s > stale_after_s
        health, reason = health_of(state.last, stale)
        cards.append(
            ChannelCard(
                environment=state.environment,
                channel=state.channel,
                health=health,
                health_reason=reason,
                stale=stale,
                age_s=age_s,
                last=state.last,
                live=live_release(state.live) if state.live else None,
                live_outcome=state.live,
                last_success_ms=parse_timestamp_ms(state.last_success["finished_at"]) if state.last_success else None,
            )
        )
    return cards


def summary(outcome: dict[str, Any]) -> dict[str, Any]:
    """The fields of an outcome a history row shows."""
    release = outcome.get("release") or {}
    return {
        "id": outcome["id"],
        "run_id": outcome["run_id"],
        "kind": outcome["kind"],
        "status": outcome["status"],
        "channel": outcome["channel"],
        "environment": outcome["environment"],
        "host": outcome["host"],
        "release": {"id": release.get("id"), "version": release.get("version")} if release else None,
        "actor": outcome["actor"],
        "started_at": outcome["started_at"],
        "finished_at": outcome["finished_at"],
        "duration_s": outcome["duration_s"],
        "verified": outcome.get("verified"),
        "failed_check": outcome.get("failed_check"),
        "reason": outcome["reason"],
    }


# --- daily series for the charts ------------------------------------------------------


@dataclass
class DailySeries:
    days: list[str]
    deploys_ok: list[int]
    deploys_failed: list[int]
    duration_p50: list[float | None]
    duration_p95: list[float | None]
    failure_rate: list[float | None]
    verify_p50: list[float | None]
    verify_p95: list[float | None]


def day_starts(now_ms: int, days: int) -> list[int]:
    today = datetime.fromtimestamp(now_ms / 1000, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - timedelta(days=days - 1)
    return [int((first + timedelta(days=offset)).timestamp() * 1000) for offset in range(days)]


def daily_series(rows: Sequence[Row], now_ms: int, days: int) -> DailySeries:
    starts = day_starts(now_ms, days)
    deploys: dict[int, list[Row]] = defaultdict(list)
    latencies: dict[int, list[float]] = defaultdict(list)
    for row in rows:
        index = (row["finished_ms"] - starts[0]) // DAY_MS
        if not 0 <= index < days:
            continue
        if row["kind"] == "deploy":
            deploys[index].append(row)
        if row["verify_latency_ms"] is not None:
            latencies[index].append(float(row["verify_latency_ms"]))
    series = DailySeries([], [], [], [], [], [], [], [])
    for index, start in enumerate(starts):
        day = deploys[index]
        changes = [row for row in day if row["status"] in CHANGE_STATUSES]
        failed = [row for row in changes if row["status"] in FAILED_CHANGE_STATUSES]
        durations = [float(row["duration_s"]) for row in day]
        series.days.append(datetime.fromtimestamp(start / 1000, UTC).strftime("%Y-%m-%d"))
        series.deploys_ok.append(sum(1 for row in day if row["status"] == "success"))
        series.deploys_failed.append(sum(1 for row in day if row["status"] != "success"))
        series.duration_p50.append(percentile(durations, 0.5))
        series.duration_p95.append(percentile(durations, 0.95))
        series.failure_rate.append(len(failed) / len(changes) if changes else None)
        series.verify_p50.append(percentile(latencies[index], 0.5))
        series.verify_p95.append(percentile(latencies[index], 0.95))
    return series


# --- DORA -----------------------------------------------------------------------------


@dataclass
class DoraFigures:
    environment: str
    channel: str  # "" for every channel of the environment
    window_days: int
    deploys: int = 0
    deployment_frequency_per_day: float = 0.0
    lead_time_p50_s: float | None = None
    change_failure_rate: float | None = None
    time_to_restore_p50_s: float | None = None
    restored: int = 0
    open_failures: int = 0
    lead_times_s: list[float] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "channel": self.channel or None,
            "window_days": self.window_days,
            "deploys": self.deploys,
            "deployment_frequency_per_day": self.deployment_frequency_per_day,
            "lead_time_p50_s": self.lead_time_p50_s,
            "change_failure_rate": self.change_failure_rate,
            "time_to_restore_p50_s": self.time_to_restore_p50_s,
            "restored": self.restored,
            "open_failures": self.open_failures,
        }


def _is_failure(row: Row) -> bool:
    if row["kind"] == "deploy":
        return row["status"] in FAILED_CHANGE_STATUSES
    return row["kind"] == "verify" and row["status"] == "failed"


def _restore_times(rows: Sequence[Row]) -> tuple[list[float], int]:
    """Restore seconds per failure of one channel/environment (rows oldest first), and open failures."""
    restored: list[float] = []
    open_failures = 0
    for position, row in enumerate(rows):
        if not _is_failure(row):
            continue
        if row["status"] == "rolled_back" and row["verified"]:
            timings = json.loads(row["document"] or "{}").get("timings") or {}
            restored.append(float(timings.get("rollback", 0.0)))
            continue
        recovery = next(
            (later for later in rows[position + 1 :] if later["status"] == "success" and later["verified"] != 0),
            None,
        )
        if recovery is None:
            open_failures += 1
        else:
            restored.append((recovery["finished_ms"] - row["finished_ms"]) / 1000)
    return restored, open_failures


def dora(
    rows: Sequence[Row], first_seen: Callable[[Iterable[str]], dict[str, int]], window_days: int
) -> list[DoraFigures]:
    """DORA figures per (environment, channel) and per environment (channel "")."""
    groups: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in rows:
        if not row["channel"]:
            continue
        groups[(row["environment"], row["channel"])].append(row)
        groups[(row["environment"], "")].append(row)
    successes = [row for row in rows if row["kind"] == "deploy" and row["status"] == "success" and row["release_id"]]
    seen = first_seen(row["release_id"] for row in successes)
    figures = []
    for (environment, channel), group in sorted(groups.items()):
        figure = DoraFigures(environment, channel, window_days)
        deploys = [row for row in group if row["kind"] == "deploy"]
        ok = [row for row in deploys if row["status"] == "success"]
        changes = [row for row in deploys if row["status"] in CHANGE_STATUSES]
        figure.deploys = len(ok)
        figure.deployment_frequency_per_day = len(ok) / window_days
        figure.lead_times_s = [
            (row["finished_ms"] - seen[row["release_id"]]) / 1000 for row in ok if row["release_id"] in seen
        ]
        figure.lead_time_p50_s = percentile(figure.lead_times_s, 0.5)
        if changes:
            failed = sum(1 for row in changes if row["status"] in FAILED_CHANGE_STATUSES)
            figure.change_failure_rate = failed / len(changes)
        restore: list[float] = []
        for per_channel in _split_by_channel(group):
            times, still_open = _restore_times(per_channel)
            restore += times
            figure.open_failures += still_open
        figure.restored = len(restore)
        figure.time_to_restore_p50_s = percentile(restore, 0.5)
        figures.append(figure)
    return figures


def _split_by_channel(rows: Sequence[Row]) -> list[list[Row]]:
    channels: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        channels[row["channel"]].append(row)
    return list(channels.values())
