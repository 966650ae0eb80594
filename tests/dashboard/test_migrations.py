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


def insert_as_v1(db: Database, outcome: dict) -> None:
    """Write a row the way the v1 schema stored it (no verify_latency_ms column yet)."""
    release = outcome.get("release") or {}
    with db.write() as query:
        query.run(
            "INSERT INTO outcomes (id, run_id, kind, status, channel, environment, host, release_id, "
            "release_version, actor, started_ms, finished_ms, duration_s, verified, changed, check_mode, "
            "failed_check, received_ms, document) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                outcome["id"], outcome["run_id"], outcome["kind"], outcome["status"], outcome["channel"],
                outcome["environment"], outcome["host"], release.get("id"), release.get("version"), outcome["actor"],
                parse_timestamp_ms(outcome["started_at"]), parse_timestamp_ms(outcome["finished_at"]),
                outcome["duration_s"], 1, 1, 0, None, 0, json.dumps(outcome),
            ),
        )  # fmt: skip


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
    insert_as_v1(database, outcome)
    store = Store.open(database)
    assert current_version(database) == LATEST_VERSION
    assert store.get(outcome["id"]) == outcome
    with database.read() as query:
        row = query.one("SELECT verify_latency_ms FROM outcomes WHERE id = ?", (outcome["id"],))
    assert row["verify_latency_ms"] == pytest.approx(900.0)
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
