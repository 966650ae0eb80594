"""Helpers of the dashboard tests (kept out of conftest.py: a full run has several conftest modules)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
DASHBOARD_SRC = REPO / "dashboard"
if str(DASHBOARD_SRC) not in sys.path:
    sys.path.insert(0, str(DASHBOARD_SRC))

from fastapi.testclient import TestClient  # noqa: E402
from shipit_dashboard.app import create_app  # noqa: E402
from shipit_dashboard.params import Settings  # noqa: E402
from shipit_dashboard.store import Store  # noqa: E402

INGEST_TOKEN = "ingest-" + "a1" * 16
READ_TOKEN = "read-" + "b2" * 16
SCRIPT_REASON = "<script>window.__pwned = 1</script> bot said <b>no</b>"


def client_for(store: Store, **settings: object) -> TestClient:
    return TestClient(create_app(store, Settings(ingest_token=INGEST_TOKEN, **settings)))  # type: ignore[arg-type]


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
