"""Fixtures of the dashboard tests: one PostgreSQL server per session, a fresh database per test."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
DASHBOARD_SRC = REPO / "dashboard"
sys.path.insert(0, str(DASHBOARD_SRC))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fastapi.testclient import TestClient  # noqa: E402
from outcome_factory import history  # noqa: E402
from pg_cluster import PostgresCluster, PostgresUnavailableError, free_port  # noqa: E402
from shipit_dashboard.app import create_app  # noqa: E402
from shipit_dashboard.db import Database, DatabaseURL  # noqa: E402
from shipit_dashboard.params import Settings  # noqa: E402
from shipit_dashboard.store import Store  # noqa: E402

INGEST_TOKEN = "ingest-" + "a1" * 16
READ_TOKEN = "read-" + "b2" * 16


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


def client_for(store: Store, **settings: object) -> TestClient:
    return TestClient(create_app(store, Settings(ingest_token=INGEST_TOKEN, **settings)))  # type: ignore[arg-type]


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    with client_for(store) as test_client:
        yield test_client


def dashboard_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(DASHBOARD_SRC)}


def start_dashboard(args: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    log = log_path.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "shipit_dashboard", *args], stdout=log, stderr=subprocess.STDOUT, env=dashboard_env()
    )


def wait_healthy(base_url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"shipit-dashboard exited {process.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"shipit-dashboard did not become healthy in {timeout} s:\n{log_path.read_text()}")


class ServedDashboard:
    def __init__(self, base_url: str, outcomes: list[dict], log_path: Path) -> None:
        self.base_url = base_url
        self.outcomes = outcomes
        self.log_path = log_path


SCRIPT_REASON = "<script>window.__pwned = 1</script> bot said <b>no</b>"


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
