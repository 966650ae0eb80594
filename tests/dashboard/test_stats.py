"""DORA definitions, daily chart series and card health, on hand-built histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from dashboard_harness import client_for
from outcome_factory import make_outcome
from shipit_dashboard.stats import daily_series, dora, health_of, percentile
from shipit_dashboard.store import Store

NOW = datetime.now(UTC).replace(microsecond=0)


def window(store: Store, days: int = 30) -> list:
    return store.window(int((NOW - timedelta(days=days)).timestamp() * 1000))


def figures_for(store: Store, channel: str = "shipit-sandbox", environment: str = "sandbox") -> dict:
    found = dora(window(store), store.first_seen_ms, 30)
    return next(f for f in found if (f.channel, f.environment) == (channel, environment)).as_dict()


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([float(n) for n in range(1, 101)], 0.95) == 95.0


def test_deployment_frequency_counts_successful_deploys_only(store: Store) -> None:
    store.ingest(
        [
            make_outcome(1, finished=NOW - timedelta(days=2)),
            make_outcome(2, finished=NOW - timedelta(days=1)),
            make_outcome(3, finished=NOW - timedelta(hours=5), kind="verify"),
            make_outcome(4, finished=NOW - timedelta(hours=4), status="failed"),
            make_outcome(5, finished=NOW - timedelta(hours=3), status="check"),
            make_outcome(6, finished=NOW - timedelta(days=40)),  # outside the window
        ]
    )
    figures = figures_for(store)
    assert figures["deploys"] == 2
    assert figures["deployment_frequency_per_day"] == pytest.approx(2 / 30)


def test_lead_time_runs_from_first_sighting_in_any_environment_to_verified_live(store: Store) -> None:
    in_test = make_outcome(1, finished=NOW - timedelta(hours=3), environment="test", version="2.0.0", duration_s=10)
    in_prod = make_outcome(2, finished=NOW, environment="prod", version="2.0.0", duration_s=20)
    in_prod["release"] = in_test["release"]
    store.ingest([in_test, in_prod])
    assert figures_for(store, environment="prod")["lead_time_p50_s"] == pytest.approx(3 * 3600 + 10)
    assert figures_for(store, environment="test")["lead_time_p50_s"] == pytest.approx(10)


def test_change_failure_rate_counts_deploys_that_reached_the_channel(store: Store) -> None:
    store.ingest(
        [
            make_outcome(1, finished=NOW - timedelta(hours=6)),
            make_outcome(2, finished=NOW - timedelta(hours=5), status="rolled_back"),
            make_outcome(3, finished=NOW - timedelta(hours=4)),
            make_outcome(4, finished=NOW - timedelta(hours=3), status="rollback_failed"),
            make_outcome(5, finished=NOW - timedelta(hours=2), status="failed"),  # build error: nothing changed
            make_outcome(6, finished=NOW - timedelta(hours=1), status="refused"),
        ]
    )
    assert figures_for(store)["change_failure_rate"] == pytest.approx(2 / 4)


def test_time_to_restore(store: Store) -> None:
    rolled_back = make_outcome(1, finished=NOW - timedelta(hours=10), status="rolled_back")  # timings.rollback 2.1
    broken = make_outcome(2, finished=NOW - timedelta(hours=8), status="rollback_failed")
    fixed = make_outcome(3, finished=NOW - timedelta(hours=7, minutes=30))
    still_broken = make_outcome(4, finished=NOW - timedelta(hours=1), kind="verify", status="failed")
    store.ingest([rolled_back, broken, fixed, still_broken])
    figures = figures_for(store)
    assert (figures["restored"], figures["open_failures"]) == (2, 1)
    assert figures["time_to_restore_p50_s"] == pytest.approx(2.1)  # nearest-rank median of [2.1, 1800]


def test_environment_rows_sum_their_channels(store: Store) -> None:
    store.ingest(
        [
            make_outcome(1, finished=NOW - timedelta(hours=2), channel="a"),
            make_outcome(2, finished=NOW - timedelta(hours=1), channel="b", status="rolled_back"),
        ]
    )
    overall = figures_for(store, channel="")
    assert overall["deploys"] == 1 and overall["change_failure_rate"] == pytest.approx(0.5)
    assert overall["channel"] is None


def test_daily_series_buckets_by_utc_day(store: Store) -> None:
    today = NOW.replace(hour=0, minute=0, second=0) + timedelta(minutes=30)
    store.ingest(
        [
            make_outcome(1, finished=today - timedelta(days=1), duration_s=10),
            make_outcome(2, finished=today - timedelta(days=1, minutes=5), duration_s=30, status="rolled_back"),
            make_outcome(3, finished=today, duration_s=20),
        ]
    )
    series = daily_series(window(store, 3), int(NOW.timestamp() * 1000), 3)
    assert series.days[-1] == NOW.strftime("%Y-%m-%d")
    assert (series.deploys_ok, series.deploys_failed) == ([0, 1, 1], [0, 1, 0])
    assert series.failure_rate == [None, 0.5, 0.0]
    assert series.duration_p50[1] == 10.0 and series.duration_p95[1] == 30.0


@pytest.mark.parametrize(
    ("status", "verdict", "stale", "health"),
    [
        ("success", "healthy", False, "healthy"),
        ("success", "healthy", True, "degraded"),
        ("rolled_back", "unhealthy", False, "degraded"),
        ("refused", None, False, "degraded"),
        ("rollback_failed", "unhealthy", False, "down"),
        ("failed", "unhealthy", False, "down"),
    ],
)
def test_health_rule(status: str, verdict: str | None, stale: bool, health: str) -> None:
    last = {"status": status, "kind": "verify", "verdict": {"verdict": verdict, "checks": []} if verdict else None}
    assert health_of(last, stale)[0] == health


def test_retention_runs_at_start(store: Store) -> None:
    old = make_outcome(1, finished=NOW - timedelta(days=100))
    new = make_outcome(2, finished=NOW)
    store.ingest([old, new])
    with client_for(store, retention_days=30) as client:
        client.get("/healthz")
        deadline = datetime.now(UTC) + timedelta(seconds=20)
        while store.get(old["id"]) is not None and datetime.now(UTC) < deadline:
            client.get("/healthz")
    assert store.get(old["id"]) is None and store.get(new["id"]) is not None
