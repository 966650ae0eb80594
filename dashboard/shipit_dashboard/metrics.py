"""Prometheus metrics read from the store at scrape time, so every dashboard replica agrees."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from .migrations import DURATION_BUCKETS
from .stats import DAY_MS, channel_cards, dora
from .store import Store


class StoreCollector:
    """Collects shipit_* metrics from the stored outcomes."""

    def __init__(self, store: Store, dora_window_days: int) -> None:
        self._store = store
        self._window_days = dora_window_days

    def describe(self) -> list[Metric]:
        return []  # the families are only known at scrape time

    def collect(self) -> Iterator[Metric]:
        yield self._runs()
        yield self._durations()
        yield self._rollbacks()
        yield from self._channels()
        yield from self._dora()

    def _runs(self) -> Metric:
        family = CounterMetricFamily(
            "shipit_runs",
            "Stored run outcomes by channel, environment, kind and status (check mode excluded).",
            labels=["channel", "environment", "kind", "status"],
        )
        for row in self._store.counts():
            family.add_metric([row["channel"], row["environment"], row["kind"], row["status"]], row["n"])
        return family

    def _durations(self) -> Metric:
        family = HistogramMetricFamily(
            "shipit_run_duration_seconds",
            "Run duration (duration_s of the outcome).",
            labels=["channel", "environment", "kind"],
        )
        for row in self._store.duration_buckets():
            buckets = [(str(bound), row[f"le_{index}"]) for index, bound in enumerate(DURATION_BUCKETS)]
            buckets.append(("+Inf", row["n"]))
            family.add_metric([row["channel"], row["environment"], row["kind"]], buckets, float(row["total"] or 0))
        return family

    def _rollbacks(self) -> Metric:
        family = CounterMetricFamily(
            "shipit_rollbacks",
            "Rollbacks: automatic (a failed deploy, status rolled_back/rollback_failed) and manual rollback runs.",
            labels=["channel", "environment", "trigger", "status"],
        )
        for row in self._store.rollback_counts():
            trigger = "manual" if row["kind"] == "rollback" else "automatic"
            family.add_metric([row["channel"], row["environment"], trigger, row["status"]], row["n"])
        return family

    def _channels(self) -> Iterator[Metric]:
        now_ms = int(time.time() * 1000)
        cards = channel_cards(self._store.channel_states(), now_ms, stale_after_s=float("inf"))
        labels = ["channel", "environment"]
        live = GaugeMetricFamily(
            "shipit_live_release_info",
            "The release live on a channel (value 1).",
            labels=[*labels, "release", "version", "verified"],
        )
        success = GaugeMetricFamily(
            "shipit_last_success_timestamp_seconds", "Finish time of the last successful run.", labels=labels
        )
        last = GaugeMetricFamily(
            "shipit_last_outcome_timestamp_seconds", "Finish time of the newest outcome (staleness).", labels=labels
        )
        healthy = GaugeMetricFamily(
            "shipit_channel_healthy", "1 when the channel's last run succeeded, else 0.", labels=labels
        )
        for card in cards:
            key = [card.channel, card.environment]
            if card.live is not None:
                release = "(stopped)" if card.live.stopped else card.live.release_id or ""
                live.add_metric([*key, release, card.live.version or "", str(card.live.verified).lower()], 1)
            if card.last_success_ms is not None:
                success.add_metric(key, card.last_success_ms / 1000)
            if card.age_s is not None:
                last.add_metric(key, now_ms / 1000 - card.age_s)
            healthy.add_metric(key, 1 if card.health == "healthy" else 0)
        yield from (live, success, last, healthy)

    def _dora(self) -> Iterator[Metric]:
        labels = ["channel", "environment"]
        window = f"over the last {self._window_days} days"
        families = {
            "deployment_frequency_per_day": GaugeMetricFamily(
                "shipit_dora_deployment_frequency_per_day", f"Successful deploys per day {window}.", labels=labels
            ),
            "lead_time_p50_s": GaugeMetricFamily(
                "shipit_dora_lead_time_seconds",
                f"Median lead time (first seen to verified live) {window}.",
                labels=labels,
            ),
            "change_failure_rate": GaugeMetricFamily(
                "shipit_dora_change_failure_rate",
                f"Failed changes / changes that reached the channel {window}.",
                labels=labels,
            ),
            "time_to_restore_p50_s": GaugeMetricFamily(
                "shipit_dora_time_to_restore_seconds", f"Median time to restore {window}.", labels=labels
            ),
        }
        since_ms = int(time.time() * 1000) - self._window_days * DAY_MS
        for figure in dora(self._store.window(since_ms), self._store.first_seen_ms, self._window_days):
            if not figure.channel:
                continue
            for attribute, family in families.items():
                value = getattr(figure, attribute)
                if value is not None:
                    family.add_metric([figure.channel, figure.environment], float(value))
        yield from families.values()


class DashboardMetrics:
    """The registry /metrics exposes: store-derived families plus this process's ingest counter."""

    def __init__(self, store: Store, dora_window_days: int) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(StoreCollector(store, dora_window_days))  # type: ignore[arg-type]
        self.ingested = Counter(
            "shipit_dashboard_ingested_outcomes",
            "Outcomes received by this process, by result (stored, duplicate, invalid).",
            ["result"],
            registry=self.registry,
        )
