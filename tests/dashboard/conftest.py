"""Fixtures of the dashboard tests: one PostgreSQL server per session, a fresh database per test."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard_harness import (
    INGEST_TOKEN,
    SCRIPT_REASON,
    ServedDashboard,
    client_for,
    start_dashboard,
    wait_healthy,
)
from fastapi.testclient import TestClient
from outcome_factory import history
from pg_cluster import PostgresCluster, PostgresUnavailableError, free_port
from shipit_dashboard.db import Database, DatabaseURL
from shipit_dashboard.store import Store


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    try:
        cluster = PostgresCluster.start()
    except PostgresUnavailableError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'outcomes.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.create_database("t_" + uuid.uuid4().hex[:16])


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(DatabaseURL.parse(database_url))
    yield db
    db.close()


@pytest.fixture(scope="session")
def shared_postgres_url(postgres: PostgresCluster) -> str:
    return postgres.create_database("shared")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty store; PostgreSQL tests share one database, emptied before each test."""
    if request.param == "sqlite":
        db = Database(DatabaseURL.parse(f"sqlite:///{tmp_path / 'outcomes.db'}"))
        yield Store.open(db)
        db.close()
        return
    db = Database(DatabaseURL.parse(request.getfixturevalue("shared_postgres_url")))
    store = Store.open(db)
    with db.write() as query:
        query.run("TRUNCATE outcomes, channel_state, run_stats")
    yield store
    db.close()


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    with client_for(store) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedDashboard]:
    """The real service (CLI + uvicorn) on SQLite with 120 runs over two channels, shared per session."""
    directory = tmp_path_factory.mktemp("served")
    token_file = directory / "token"
    token_file.write_text(INGEST_TOKEN + "\n")
    port = free_port()
    log_path = directory / "dashboard.log"
    process = start_dashboard(
        [
            "--database",
            f"sqlite:///{directory / 'outcomes.db'}",
            "--listen",
            f"127.0.0.1:{port}",
            "--token-file",
            str(token_file),
        ],
        log_path,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base_url, process, log_path)
        outcomes = history(120, datetime.now(UTC))
        outcomes[-1]["reason"] = SCRIPT_REASON
        outcomes[-1]["status"] = "failed"
        outcomes[-1]["failed_check"] = "command_round_trip"
        response = httpx.post(
            f"{base_url}/api/events",
            json={"outcomes": outcomes},
            headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        yield ServedDashboard(base_url, outcomes, log_path)
    finally:
        process.terminate()
        process.wait(timeout=30)
