"""The outcome store: ingest (idempotent on id), history with keyset paging, channel state."""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .db import Database, Query, Row
from .migrations import BUCKET_COLUMNS, LATEST_VERSION, add_run_stats, migrate
from .outcome import KINDS, STATUSES, live_release, parse_timestamp_ms, verify_latency_ms

MAX_PAGE = 200


class FilterError(ValueError):
    """A history filter or cursor that cannot be used; names the parameter."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


@dataclass(frozen=True)
class DeploymentFilter:
    channel: str | None = None
    kind: str | None = None
    status: str | None = None
    environment: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None

    def __post_init__(self) -> None:
        if self.kind is not None and self.kind not in KINDS:
            raise FilterError("kind", f"{self.kind!r} is not one of {', '.join(KINDS)}")
        if self.status is not None and self.status not in STATUSES:
            raise FilterError("status", f"{self.status!r} is not one of {', '.join(STATUSES)}")

    def where(self) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for column in ("channel", "kind", "status", "environment"):
            value = getattr(self, column)
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if self.since_ms is not None:
            clauses.append("finished_ms >= ?")
            params.append(self.since_ms)
        if self.until_ms is not None:
            clauses.append("finished_ms < ?")
            params.append(self.until_ms)
        return clauses, params


@dataclass(frozen=True)
class Cursor:
    """Position after the last row of a page: newest first by (finished_ms, id)."""

    finished_ms: int
    outcome_id: str

    def encode(self) -> str:
        raw = json.dumps([self.finished_ms, self.outcome_id], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            finished_ms, outcome_id = json.loads(raw)
            if not isinstance(finished_ms, int) or not isinstance(outcome_id, str):
                raise ValueError("wrong types")
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
            raise FilterError("cursor", "not a cursor this service handed out; start again without it") from None
        return cls(finished_ms, outcome_id)


@dataclass(frozen=True)
class Page:
    outcomes: list[dict[str, Any]]
    next_cursor: str | None


@dataclass(frozen=True)
class ChannelState:
    environment: str
    channel: str
    last: dict[str, Any] | None
    live: dict[str, Any] | None
    last_success: dict[str, Any] | None


_COLUMNS = (
    "id, run_id, kind, status, channel, environment, host, release_id, release_version, actor, started_ms, "
    "finished_ms, duration_s, verified, changed, check_mode, failed_check, received_ms, verify_latency_ms, document"
)
_INSERT = f"INSERT INTO outcomes ({_COLUMNS}) VALUES ({', '.join('?' * 20)}) ON CONFLICT (id) DO NOTHING"

# One upsert per pointer of channel_state; an older outcome arriving late never moves a pointer back.
_POINTER_UPSERT = """INSERT INTO channel_state (environment, channel, {name}_id, {name}_ms) VALUES (?, ?, ?, ?)
ON CONFLICT (environment, channel) DO UPDATE SET {name}_id = excluded.{name}_id, {name}_ms = excluded.{name}_ms
WHERE channel_state.{name}_ms IS NULL OR excluded.{name}_ms > channel_state.{name}_ms
   OR (excluded.{name}_ms = channel_state.{name}_ms AND excluded.{name}_id > channel_state.{name}_id)"""


def _flag(value: Any) -> int | None:
    return None if value is None else int(bool(value))


def _row_values(outcome: dict[str, Any], received_ms: int) -> tuple[Any, ...]:
    release = outcome.get("release") or {}
    return (
        outcome["id"],
        outcome["run_id"],
        outcome["kind"],
        outcome["status"],
        outcome["channel"],
        outcome["environment"],
        outcome["host"],
        release.get("id"),
        release.get("version"),
        outcome["actor"],
        parse_timestamp_ms(outcome["started_at"]),
        parse_timestamp_ms(outcome["finished_at"]),
        float(outcome["duration_s"]),
        _flag(outcome.get("verified")),
        int(bool(outcome["changed"])),
        int(bool(outcome["check_mode"])),
        outcome.get("failed_check"),
        received_ms,
        verify_latency_ms(outcome),
        json.dumps(outcome, separators=(",", ":"), ensure_ascii=False),
    )


class Store:
    """All reads and writes of outcomes; the schema is migrated when the store opens."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    def open(cls, db: Database) -> Store:
        migrate(db)
        return cls(db)

    def schema_version(self) -> int:
        with self.db.read() as query:
            row = query.one("SELECT MAX(version) AS version FROM schema_migrations")
        return int(row["version"]) if row and row["version"] is not None else 0

    def is_ready(self) -> bool:
        return self.schema_version() == LATEST_VERSION

    # --- writes -----------------------------------------------------------------------

    def ingest(self, outcomes: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
        """Store valid outcomes in one transaction; a known id is reported as a duplicate."""
        received_ms = int(time.time() * 1000)
        results: list[tuple[str, str]] = []
        stored: list[dict[str, Any]] = []
        with self.db.write() as query:
            for outcome in outcomes:
                new = query.run(_INSERT, _row_values(outcome, received_ms)) == 1
                if new:
                    stored.append(outcome)
                results.append((outcome["id"], "stored" if new else "duplicate"))
            # per batch, not per outcome: one upsert per channel pointer and per counter key
            self._advance_pointers(query, stored)
            add_run_stats(
                query,
                (
                    (o["channel"], o["environment"], o["kind"], o["status"], float(o["duration_s"]))
                    for o in stored
                    if not o["check_mode"] and o["status"] != "check"
                ),
            )
        return results

    def _advance_pointers(self, query: Query, outcomes: Iterable[dict[str, Any]]) -> None:
        newest: dict[tuple[str, str, str], tuple[int, str]] = {}
        for outcome in outcomes:
            if not outcome["channel"] or outcome["status"] == "check":
                continue
            position = (parse_timestamp_ms(outcome["finished_at"]), outcome["id"])
            pointers = ["last"]
            if live_release(outcome) is not None:
                pointers.append("live")
            if outcome["status"] == "success":
                pointers.append("success")
            for name in pointers:
                key = (name, outcome["environment"], outcome["channel"])
                if key not in newest or position > newest[key]:
                    newest[key] = position
        for (name, environment, channel), (finished_ms, outcome_id) in sorted(newest.items()):
            query.run(_POINTER_UPSERT.format(name=name), (environment, channel, outcome_id, finished_ms))

    def purge(self, older_than_ms: int) -> int:
        """Delete outcomes finished before the cutoff, except those a channel card still shows."""
        with self.db.write() as query:
            return query.run(
                """DELETE FROM outcomes WHERE finished_ms < ? AND id NOT IN (
                     SELECT last_id FROM channel_state WHERE last_id IS NOT NULL
                     UNION SELECT live_id FROM channel_state WHERE live_id IS NOT NULL
                     UNION SELECT success_id FROM channel_state WHERE success_id IS NOT NULL)""",
                (older_than_ms,),
            )

    # --- reads ------------------------------------------------------------------------

    def get(self, outcome_id: str) -> dict[str, Any] | None:
        with self.db.read() as query:
            row = query.one("SELECT document FROM outcomes WHERE id = ?", (outcome_id,))
        return json.loads(row["document"]) if row else None

    def deployments(self, where: DeploymentFilter, cursor: str | None = None, limit: int = 50) -> Page:
        sql, params = self.deployments_query(where, cursor, limit)
        with self.db.read() as query:
            rows = query.all(sql, params)
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = Cursor(rows[-1]["finished_ms"], rows[-1]["id"]).encode() if more else None
        return Page([json.loads(row["document"]) for row in rows], next_cursor)

    @staticmethod
    def deployments_query(where: DeploymentFilter, cursor: str | None, limit: int) -> tuple[str, list[Any]]:
        """The SQL of one history page (one row more than `limit`, to know whether there is a next page)."""
        if not 1 <= limit <= MAX_PAGE:
            raise FilterError("limit", f"{limit} is out of range 1..{MAX_PAGE}")
        clauses, params = where.where()
        if cursor:
            after = Cursor.decode(cursor)
            # a row comparison: both databases turn it into an index range (an OR of two conditions is not)
            clauses.append("(finished_ms, id) < (?, ?)")
            params += [after.finished_ms, after.outcome_id]
        sql = "SELECT id, finished_ms, document FROM outcomes"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        return sql + " ORDER BY finished_ms DESC, id DESC LIMIT ?", [*params, limit + 1]

    def channel_states(self) -> list[ChannelState]:
        with self.db.read() as query:
            states = query.all("SELECT * FROM channel_state ORDER BY environment, channel")
            ids = {state[f"{name}_id"] for state in states for name in ("last", "live", "success")} - {None}
            documents = self._documents(query, ids)
        return [
            ChannelState(
                state["environment"],
                state["channel"],
                documents.get(state["last_id"]),
                documents.get(state["live_id"]),
                documents.get(state["success_id"]),
            )
            for state in states
        ]

    def _documents(self, query: Query, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        wanted = sorted(ids)
        for start in range(0, len(wanted), 200):
            chunk = wanted[start : start + 200]
            rows = query.all(f"SELECT id, document FROM outcomes WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
            found.update({row["id"]: json.loads(row["document"]) for row in rows})
        return found

    def window(self, since_ms: int, channel: str | None = None, environment: str | None = None) -> list[Row]:
        """The light columns of every non-check outcome finished since `since_ms`, oldest first."""
        where = DeploymentFilter(channel=channel, environment=environment, since_ms=since_ms)
        clauses, params = where.where()
        clauses.append("check_mode = 0")
        sql = (
            "SELECT id, kind, status, channel, environment, release_id, started_ms, finished_ms, duration_s, "
            "verified, verify_latency_ms, CASE WHEN status = 'rolled_back' THEN document END AS document "
            f"FROM outcomes WHERE {' AND '.join(clauses)} ORDER BY finished_ms, id"
        )
        with self.db.read() as query:
            return query.all(sql, params)

    def first_seen_ms(self, release_ids: Iterable[str]) -> dict[str, int]:
        """When each release first appeared in any outcome (its earliest run start)."""
        wanted = sorted(set(release_ids))
        found: dict[str, int] = {}
        with self.db.read() as query:
            for start in range(0, len(wanted), 200):
                chunk = wanted[start : start + 200]
                rows = query.all(
                    "SELECT release_id, MIN(started_ms) AS first_ms FROM outcomes "
                    f"WHERE release_id IN ({', '.join('?' * len(chunk))}) GROUP BY release_id",
                    chunk,
                )
                found.update({row["release_id"]: int(row["first_ms"]) for row in rows})
        return found

    def counts(self) -> list[Row]:
        """Runs per channel/environment/kind/status since the first ingest (retention does not lower them)."""
        with self.db.read() as query:
            return query.all("SELECT channel, environment, kind, status, runs AS n FROM run_stats")

    def duration_buckets(self) -> list[Row]:
        """Cumulative run counts per duration bucket (le_0..), sum and count, per channel/environment/kind."""
        sums = ", ".join(f"SUM({column}) AS {column}" for column in BUCKET_COLUMNS)
        with self.db.read() as query:
            return query.all(
                f"SELECT channel, environment, kind, SUM(runs) AS n, SUM(duration_sum) AS total, {sums} "
                "FROM run_stats GROUP BY channel, environment, kind"
            )

    def rollback_counts(self) -> list[Row]:
        """Rollback runs and automatic rollbacks of failed deploys, by status."""
        with self.db.read() as query:
            return query.all(
                "SELECT channel, environment, kind, status, runs AS n FROM run_stats "
                "WHERE kind = 'rollback' OR status IN ('rolled_back', 'rollback_failed')"
            )

    def close(self) -> None:
        self.db.close()
