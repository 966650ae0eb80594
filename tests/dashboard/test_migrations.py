"""Schema migrations on SQLite and PostgreSQL: fresh install, upgrade from every earlier version."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from outcome_factory import fixture, make_outcome
from shipit_dashboard.db import Database
from shipit_dashboard.migrations import LATEST_VERSION, MIGRATIONS, SchemaTooNewError, current_version, migrate
from shipit_dashboard.outcome import parse_timestamp_ms
from shipit_dashboard.store import DeploymentFilter, Store

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def insert_as(version: int, db: Database, outcome: dict) -> None:
    """Write a row the way schema `version` stored it (v1: no verify_latency_ms; before v3: no run_stats)."""
    release = outcome.get("release") or {}
    values = {
        "id": outcome["id"],
        "run_id": outcome["run_id"],
        "kind": outcome["kind"],
        "status": outcome["status"],
        "channel": outcome["channel"],
        "environment": outcome["environment"],
        "host": outcome["host"],
        "release_id": release.get("id"),
        "release_version": release.get("version"),
        "actor": outcome["actor"],
        "started_ms": parse_timestamp_ms(outcome["started_at"]),
        "finished_ms": parse_timestamp_ms(outcome["finished_at"]),
        "duration_s": outcome["duration_s"],
        "verified": 1,
        "changed": 1,
        "check_mode": 0,
        "failed_check": None,
        "received_ms": 0,
        "document": json.dumps(outcome),
    }
    if version >= 2:
        values["verify_latency_ms"] = outcome["timings"]["verify"] * 1000
    placeholders = ", ".join("?" * len(values))
    with db.write() as query:
        query.run(f"INSERT INTO outcomes ({', '.join(values)}) VALUES ({placeholders})", list(values.values()))


def test_versions_are_consecutive() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, LATEST_VERSION + 1))
    assert LATEST_VERSION >= 2


def test_fresh_database_migrates_to_latest_and_records_each_step(database: Database) -> None:
    assert migrate(database) == LATEST_VERSION
    with database.read() as query:
        rows = query.all("SELECT version, name FROM schema_migrations ORDER BY version")
    assert [row["version"] for row in rows] == list(range(1, LATEST_VERSION + 1))
    assert all(row["name"] for row in rows)


def test_migrate_twice_changes_nothing(database: Database) -> None:
    migrate(database)
    assert migrate(database) == LATEST_VERSION


@pytest.mark.parametrize("start", range(1, LATEST_VERSION))
def test_upgrade_from_each_earlier_version_keeps_and_backfills_data(database: Database, start: int) -> None:
    assert migrate(database, target=start) == start
    outcome = fixture("deploy_success")
    insert_as(start, database, outcome)
    store = Store.open(database)
    assert current_version(database) == LATEST_VERSION
    assert store.get(outcome["id"]) == outcome
    with database.read() as query:
        row = query.one("SELECT verify_latency_ms FROM outcomes WHERE id = ?", (outcome["id"],))
    assert row["verify_latency_ms"] == pytest.approx(900.0)
    assert [(r["kind"], r["status"], r["n"]) for r in store.counts()] == [("deploy", "success", 1)]
    # the upgraded database takes new outcomes and pages them with the old ones
    store.ingest([make_outcome(7, finished=NOW)])
    assert len(store.deployments(DeploymentFilter()).outcomes) == 2


def test_a_database_from_a_newer_dashboard_is_refused(database: Database) -> None:
    migrate(database)
    with database.write() as query:
        query.run(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            (LATEST_VERSION + 1, "from the future", "2030-01-01T00:00:00Z"),
        )
    with pytest.raises(SchemaTooNewError, match="upgrade cytube-shipit-dashboard"):
        migrate(database)
