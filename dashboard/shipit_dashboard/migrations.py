"""Versioned schema migrations, applied in order at start.

Table `schema_migrations(version, name, applied_at)` holds one row per applied migration.
Each migration runs in its own transaction (PostgreSQL also holds an advisory lock, so
dashboards starting together against one database do not race). The SQL is the same on
SQLite and PostgreSQL: only portable types (TEXT, BIGINT, SMALLINT, DOUBLE PRECISION).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .db import Database, Query
from .outcome import verify_latency_ms

log = logging.getLogger(__name__)

# Any constant works; it names "the shipit dashboard schema" among advisory locks.
_PG_LOCK_KEY = 0x5348_4950


class SchemaTooNewError(RuntimeError):
    """The database was migrated by a newer dashboard than this one."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]
    backfill: Callable[[Query], None] | None = field(default=None)


def _backfill_verify_latency(query: Query) -> None:
    rows = query.all("SELECT id, document FROM outcomes WHERE verify_latency_ms IS NULL")
    for row in rows:
        latency = verify_latency_ms(json.loads(row["document"]))
        if latency is not None:
            query.run("UPDATE outcomes SET verify_latency_ms = ? WHERE id = ?", (latency, row["id"]))


# Upper bounds (seconds) of the run duration histogram kept per channel/environment/kind/status.
DURATION_BUCKETS = (5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
BUCKET_COLUMNS = tuple(f"le_{index}" for index in range(len(DURATION_BUCKETS)))


def add_run_stats(query: Query, runs: Iterable[tuple[str, str, str, str, float]]) -> None:
    """Add runs (channel, environment, kind, status, duration_s) to run_stats: one upsert per key."""
    totals: dict[tuple[str, str, str, str], list[float]] = {}
    for channel, environment, kind, status, duration_s in runs:
        total = totals.setdefault((channel, environment, kind, status), [0, 0.0] + [0] * len(DURATION_BUCKETS))
        total[0] += 1
        total[1] += duration_s
        for index, bound in enumerate(DURATION_BUCKETS):
            total[2 + index] += duration_s <= bound
    columns = ", ".join(BUCKET_COLUMNS)
    updates = ", ".join(f"{column} = run_stats.{column} + excluded.{column}" for column in BUCKET_COLUMNS)
    statement = (
        f"INSERT INTO run_stats (channel, environment, kind, status, runs, duration_sum, {columns}) "
        f"VALUES (?, ?, ?, ?, ?, ?, {', '.join('?' * len(BUCKET_COLUMNS))}) "
        "ON CONFLICT (channel, environment, kind, status) DO UPDATE SET runs = run_stats.runs + excluded.runs, "
        f"duration_sum = run_stats.duration_sum + excluded.duration_sum, {updates}"
    )
    for key, total in totals.items():
        query.run(statement, (*key, *total))


def _backfill_run_stats(query: Query) -> None:
    rows = query.all(
        "SELECT channel, environment, kind, status, duration_s FROM outcomes WHERE check_mode = 0 AND status <> 'check'"
    )
    add_run_stats(
        query, ((r["channel"], r["environment"], r["kind"], r["status"], float(r["duration_s"])) for r in rows)
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "outcomes and channel state",
        (
            """CREATE TABLE outcomes (
                id TEXT PRIMARY KEY,
                run_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                status TEXT NOT NULL,
                channel TEXT NOT NULL,
                environment TEXT NOT NULL,
                host TEXT NOT NULL,
                release_id TEXT,
                release_version TEXT,
                actor TEXT NOT NULL,
                started_ms BIGINT NOT NULL,
                finished_ms BIGINT NOT NULL,
                duration_s DOUBLE PRECISION NOT NULL,
                verified SMALLINT,
                changed SMALLINT NOT NULL,
                check_mode SMALLINT NOT NULL,
                failed_check TEXT,
                received_ms BIGINT NOT NULL,
                document TEXT NOT NULL
            )""",
            "CREATE INDEX outcomes_finished ON outcomes (finished_ms, id)",
            "CREATE INDEX outcomes_channel_finished ON outcomes (channel, finished_ms, id)",
            """CREATE TABLE channel_state (
                environment TEXT NOT NULL,
                channel TEXT NOT NULL,
                last_id TEXT,
                last_ms BIGINT,
                live_id TEXT,
                live_ms BIGINT,
                success_id TEXT,
                success_ms BIGINT,
                PRIMARY KEY (environment, channel)
            )""",
        ),
    ),
    Migration(
        2,
        "verify latency column for the charts; indexes for status filters and lead time",
        (
            "ALTER TABLE outcomes ADD COLUMN verify_latency_ms DOUBLE PRECISION",
            "CREATE INDEX outcomes_status_finished ON outcomes (status, finished_ms, id)",
            "CREATE INDEX outcomes_environment_finished ON outcomes (environment, finished_ms, id)",
            "CREATE INDEX outcomes_release_started ON outcomes (release_id, started_ms)",
        ),
        _backfill_verify_latency,
    ),
    Migration(
        3,
        "run_stats: counters and duration histogram kept at ingest, so /metrics does not scan outcomes",
        (
            f"""CREATE TABLE run_stats (
                channel TEXT NOT NULL,
                environment TEXT NOT NULL,
                kind TEXT NOT NULL,
                status TEXT NOT NULL,
                runs BIGINT NOT NULL,
                duration_sum DOUBLE PRECISION NOT NULL,
                {", ".join(f"{column} BIGINT NOT NULL" for column in BUCKET_COLUMNS)},
                PRIMARY KEY (channel, environment, kind, status)
            )""",
        ),
        _backfill_run_stats,
    ),
)
LATEST_VERSION = MIGRATIONS[-1].version

_CREATE_MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
)


def current_version(db: Database) -> int:
    with db.write() as query:
        query.run(_CREATE_MIGRATIONS_TABLE)
        row = query.one("SELECT MAX(version) AS version FROM schema_migrations")
    return int(row["version"] or 0) if row else 0


def migrate(db: Database, target: int = LATEST_VERSION) -> int:
    """Apply every migration up to `target`; returns the version the database is at."""
    version = current_version(db)
    if version > LATEST_VERSION:
        raise SchemaTooNewError(
            f"the database is at schema version {version}, newer than this dashboard knows ({LATEST_VERSION}): "
            "upgrade cytube-shipit-dashboard"
        )
    for migration in MIGRATIONS:
        if migration.version <= target:
            _apply(db, migration)
    return current_version(db)


def _apply(db: Database, migration: Migration) -> None:
    with db.write() as query:
        if db.postgres:
            query.run("SELECT pg_advisory_xact_lock(?)", (_PG_LOCK_KEY,))
        done = query.one("SELECT version FROM schema_migrations WHERE version = ?", (migration.version,))
        if done:
            return
        log.info("applying schema migration %d: %s", migration.version, migration.name)
        query.script(migration.statements)
        if migration.backfill:
            migration.backfill(query)
        query.run(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            (migration.version, migration.name, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")),
        )
