#!/usr/bin/env python3
"""Benchmark of the dashboard service over real HTTP, on SQLite and PostgreSQL.

Ingests N outcomes (the first ones one per request, the rest in batches), then measures
p50/p95 of the API calls and pages operators use. Prints tables; no pass/fail.

    .venv/bin/python scripts/bench_dashboard.py                 # 100k rows, both databases
    .venv/bin/python scripts/bench_dashboard.py --rows 20000 --backends sqlite
    .venv/bin/python scripts/bench_dashboard.py --postgres-dsn postgresql://u:p@host/db
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "dashboard"))
sys.path.insert(0, str(REPO / "tests" / "dashboard"))

import httpx  # noqa: E402
from outcome_factory import history  # noqa: E402
from pg_cluster import PostgresCluster, free_port  # noqa: E402
from shipit_dashboard.outcome import parse_timestamp_ms  # noqa: E402
from shipit_dashboard.store import Cursor  # noqa: E402

CHANNELS = tuple(f"bench-{n}" for n in range(8))
API_TARGET_MS = 50.0
OVERVIEW_TARGET_MS = 100.0


@dataclass
class Timing:
    name: str
    samples_ms: list[float]
    target_ms: float | None = None

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def calibration() -> str:
    """How busy the machine is: a fixed pure-Python loop, to compare figures taken on different days."""
    begin = time.perf_counter()
    sum(number * number for number in range(1_000_000))
    return f"reference loop {1000 * (time.perf_counter() - begin):.0f} ms (an idle modern core: roughly 50-70 ms)"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="outcomes to ingest (default 100000)")
    parser.add_argument("--single", type=int, default=2_000, help="of those, sent one per request (default 2000)")
    parser.add_argument("--batch-size", type=int, default=500, help="outcomes per batched request (max 500)")
    parser.add_argument("--requests", type=int, default=200, help="requests per measured endpoint (default 200)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--postgres-dsn", help="use this PostgreSQL database instead of a throwaway server")
    return parser.parse_args()


def make_outcomes(rows: int) -> list[dict[str, Any]]:
    outcomes = history(rows, datetime.now(UTC), CHANNELS)
    for number, outcome in enumerate(outcomes):
        if number % 3 == 0:
            outcome["environment"] = "prod"
    return outcomes


@contextmanager
def served(database_url: str, workdir: Path) -> Iterator[tuple[str, str]]:
    token = secrets.token_hex(24)
    token_file = workdir / "token"
    token_file.write_text(token)
    port = free_port()
    log = (workdir / "dashboard.log").open("wb")
    command = [sys.executable, "-m", "shipit_dashboard", "--database", database_url, "--listen", f"127.0.0.1:{port}"]
    process = subprocess.Popen(
        [*command, "--token-file", str(token_file), "--log-level", "warning"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(REPO / "dashboard")},
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(base_url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise SystemExit(f"the dashboard did not start; see {workdir / 'dashboard.log'}")
        yield base_url, token
    finally:
        process.terminate()
        process.wait(timeout=30)


def ingest(client: httpx.Client, token: str, outcomes: list[dict], single: int, batch: int) -> list[list[Any]]:
    headers = {"Authorization": f"Bearer {token}"}
    rows: list[list[Any]] = []
    per_request: list[float] = []
    started = time.perf_counter()
    for outcome in outcomes[:single]:
        begin = time.perf_counter()
        client.post("/api/events", json=outcome, headers=headers).raise_for_status()
        per_request.append((time.perf_counter() - begin) * 1000)
    if single:
        elapsed = time.perf_counter() - started
        rows.append(["single", single, elapsed, single / elapsed, *_p50_p95(per_request)])
    per_request = []
    started = time.perf_counter()
    rest = outcomes[single:]
    for start in range(0, len(rest), batch):
        begin = time.perf_counter()
        client.post("/api/events", json={"outcomes": rest[start : start + batch]}, headers=headers).raise_for_status()
        per_request.append((time.perf_counter() - begin) * 1000)
    if rest:
        elapsed = time.perf_counter() - started
        rows.append([f"batch of {batch}", len(rest), elapsed, len(rest) / elapsed, *_p50_p95(per_request)])
    return rows


def _p50_p95(samples: list[float]) -> tuple[float, float]:
    timing = Timing("", samples)
    return timing.percentile(0.5), timing.percentile(0.95)


def measure(client: httpx.Client, outcomes: list[dict], requests: int) -> list[Timing]:
    deep = outcomes[len(outcomes) // 10]  # 90% of the history is newer than this one
    deep_cursor = Cursor(parse_timestamp_ms(deep["finished_at"]), deep["id"]).encode()
    calls = [
        ("GET /api/status", "/api/status", API_TARGET_MS),
        ("GET /api/deployments (first page)", "/api/deployments", API_TARGET_MS),
        ("GET /api/deployments (channel+status)", f"/api/deployments?channel={CHANNELS[3]}&status=rolled_back", 50.0),
        ("GET /api/deployments (env+kind)", "/api/deployments?environment=prod&kind=verify", API_TARGET_MS),
        ("GET /api/deployments (deep cursor)", f"/api/deployments?cursor={deep_cursor}", API_TARGET_MS),
        ("GET /api/deployments/{id}", f"/api/deployments/{deep['id']}", API_TARGET_MS),
        ("GET / (overview page)", "/", OVERVIEW_TARGET_MS),
        ("GET /history (first page)", "/history", None),
        ("GET /history (filter, deep cursor)", f"/history?channel={deep['channel']}&cursor={deep_cursor}", None),
        ("GET /metrics", "/metrics", None),
        ("GET /charts (30 days)", "/charts", None),
    ]
    timings = []
    for name, path, target in calls:
        client.get(path).raise_for_status()  # warm up caches and connections
        samples = []
        for _ in range(requests if not path.startswith(("/metrics", "/charts")) else max(10, requests // 10)):
            begin = time.perf_counter()
            response = client.get(path)
            samples.append((time.perf_counter() - begin) * 1000)
            response.raise_for_status()
        timings.append(Timing(name, samples, target))
    return timings


def print_table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    cells = [[f"{v:.1f}" if isinstance(v, float) else str(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for row in cells:
        print(
            " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        )


def run_backend(name: str, database_url: str, outcomes: list[dict], args: argparse.Namespace) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="bench-dashboard-") as workdir,
        served(database_url, Path(workdir)) as (
            base_url,
            token,
        ),
    ):
        with httpx.Client(base_url=base_url, timeout=120) as client:
            ingest_rows = ingest(client, token, outcomes, min(args.single, len(outcomes)), args.batch_size)
            print_table(
                f"{name}: ingest of {len(outcomes)} outcomes over HTTP",
                ["mode", "outcomes", "seconds", "outcomes/s", "p50 ms/request", "p95 ms/request"],
                ingest_rows,
            )
            timings = measure(client, outcomes, args.requests)
        rows = []
        for timing in timings:
            p95 = timing.percentile(0.95)
            verdict = "-" if timing.target_ms is None else ("ok" if p95 <= timing.target_ms else "OVER")
            target = "-" if timing.target_ms is None else f"<= {timing.target_ms:.0f}"
            rows.append([timing.name, len(timing.samples_ms), timing.percentile(0.5), p95, target, verdict])
        print_table(
            f"{name}: latency at {len(outcomes)} rows (client side, keep-alive, sequential)",
            ["request", "n", "p50 ms", "p95 ms", "target p95", ""],
            rows,
        )


def main() -> int:
    args = parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - {"sqlite", "postgresql"}
    if unknown:
        raise SystemExit(f"--backends: unknown {', '.join(sorted(unknown))}; use sqlite and/or postgresql")
    if not 1 <= args.batch_size <= 500:
        raise SystemExit(f"--batch-size {args.batch_size}: use 1..500 (the API's limit)")
    print(f"generating {args.rows} outcomes over {len(CHANNELS)} channels ...", flush=True)
    outcomes = make_outcomes(args.rows)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, {calibration()}")
    for backend in backends:
        if backend == "sqlite":
            with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as directory:
                run_backend("SQLite", f"sqlite:///{directory}/outcomes.db", outcomes, args)
        elif args.postgres_dsn:
            run_backend("PostgreSQL", args.postgres_dsn, outcomes, args)
        else:
            cluster = PostgresCluster.start()
            try:
                run_backend("PostgreSQL", cluster.create_database("bench"), outcomes, args)
            finally:
                cluster.stop()
    print(f"\ntargets: every API call p95 <= {API_TARGET_MS:.0f} ms, overview p95 <= {OVERVIEW_TARGET_MS:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
