"""The service as operators run it: the CLI, uvicorn over real HTTP, SIGTERM, logs without secrets."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest
from dashboard_harness import (
    INGEST_TOKEN,
    READ_TOKEN,
    REPO,
    ServedDashboard,
    dashboard_env,
    start_dashboard,
    wait_healthy,
)
from pg_cluster import PostgresCluster, free_port


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shipit_dashboard", *args],
        capture_output=True,
        text=True,
        env=dashboard_env(),
        timeout=60,
    )


def test_served_dashboard_answers_over_http_and_replays_are_no_ops(served: ServedDashboard) -> None:
    status = httpx.get(f"{served.base_url}/api/status").json()
    assert {c["channel"] for c in status["channels"]} == {"shipit-sandbox", "shipit-sandbox2"}
    replay = httpx.post(
        f"{served.base_url}/api/events",
        json={"outcomes": served.outcomes[:50]},
        headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
    )
    assert {r["status"] for r in replay.json()["results"]} == {"duplicate"}
    total = 0
    cursor = None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = httpx.get(f"{served.base_url}/api/deployments", params=params).json()
        total += len(page["items"])
        if not (cursor := page["next_cursor"]):
            break
    assert total == len(served.outcomes)


def test_postgres_service_with_read_token_stops_on_sigterm_and_logs_no_secrets(
    postgres: PostgresCluster, tmp_path: Path
) -> None:
    dsn = postgres.create_database("served_pg")
    (tmp_path / "ingest").write_text(f"  {INGEST_TOKEN}\n")
    (tmp_path / "read").write_text(READ_TOKEN)
    port = free_port()
    log_path = tmp_path / "dashboard.log"
    args = ["--database", dsn, "--listen", f"127.0.0.1:{port}", "--token-file", str(tmp_path / "ingest")]
    process = start_dashboard([*args, "--read-token-file", str(tmp_path / "read")], log_path)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base_url, process, log_path)
        assert httpx.get(f"{base_url}/api/status").status_code == 401
        assert httpx.get(f"{base_url}/api/status", headers={"Authorization": "Bearer not-the-token"}).status_code == 401
        read = {"Authorization": f"Bearer {READ_TOKEN}"}
        assert httpx.get(f"{base_url}/api/status", headers=read).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=30)
    log = log_path.read_text()
    assert returncode == 0, log
    assert "Shutting down" in log or "Finished server process" in log
    assert postgres.password not in log
    assert INGEST_TOKEN not in log and READ_TOKEN not in log
    assert f"postgresql://shipit:***@127.0.0.1:{postgres.port}/served_pg" in log


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--database", "mysql://root:hunter2secret@db/x"], "is not understood"),
        (["--database", "sqlite:///relative.db"], "use an absolute path"),
        (["--database", "sqlite:////tmp/x.db", "--listen", "localhost"], "use HOST:PORT"),
        (["--database", "sqlite:////tmp/x.db", "--token-file", "/nonexistent/token"], "/nonexistent/token"),
    ],
)
def test_bad_command_lines_name_the_value_and_the_fix(tmp_path: Path, args: list[str], message: str) -> None:
    token = tmp_path / "token"
    token.write_text(INGEST_TOKEN)
    result = run_cli("--token-file", str(token), *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "hunter2secret" not in result.stderr + result.stdout


def test_short_tokens_are_refused(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("short")
    result = run_cli("--database", f"sqlite:///{tmp_path}/d.db", "--token-file", str(token))
    assert result.returncode == 2 and "at least 16 characters" in result.stderr


def test_unreachable_postgres_is_reported_without_the_password(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(INGEST_TOKEN)
    dsn = f"postgresql://shipit:s3cretpassw0rd@127.0.0.1:{free_port()}/nope"
    result = run_cli("--database", dsn, "--token-file", str(token))
    assert result.returncode == 2
    assert "cannot connect to postgresql://shipit:***@127.0.0.1" in result.stderr
    assert "s3cretpassw0rd" not in result.stderr + result.stdout


def test_wheel_ships_the_schema_templates_and_console_script(tmp_path: Path) -> None:
    source = tmp_path / "source"  # build from a copy: no build/ or egg-info left in the checkout
    shutil.copytree(REPO / "dashboard", source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run(
        [*pip_wheel, "-w", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("cytube_shipit_dashboard-0.1.0-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "shipit_dashboard/outcome.schema.json" in names
    assert "shipit_dashboard/templates/overview.html" in names
    entry_points = zipfile.ZipFile(wheel).read("cytube_shipit_dashboard-0.1.0.dist-info/entry_points.txt").decode()
    assert "shipit-dashboard = shipit_dashboard.cli:main" in entry_points
