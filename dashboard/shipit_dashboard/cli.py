"""`shipit-dashboard`: migrate the database, then serve the dashboard with uvicorn."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import uvicorn

from .db import Database, DatabaseURL, DatabaseURLError
from .migrations import SchemaTooNewError

log = logging.getLogger("shipit_dashboard")


class UsageError(Exception):
    """A command-line value that cannot be used; the message names it and the fix."""


def parse_listen(text: str) -> tuple[str, int]:
    host, separator, port = text.rpartition(":")
    if not separator or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--listen {text!r}: use HOST:PORT, e.g. 127.0.0.1:8095")
    return host.strip("[]"), int(port)


def read_token(option: str, path: str) -> str:
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot read it ({exc.strerror})") from None
    if len(token) < 16:
        raise UsageError(f"{option} {path}: the token must be at least 16 characters (e.g. openssl rand -hex 32)")
    return token


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shipit-dashboard", description="Store cytube.shipit run outcomes and serve the dashboard."
    )
    parser.add_argument("--database", required=True, help="sqlite:////abs/path.db or postgresql://user@host/db")
    parser.add_argument("--listen", default="127.0.0.1:8095", help="HOST:PORT to bind (default 127.0.0.1:8095)")
    parser.add_argument("--token-file", required=True, help="file holding the ingest token (POST /api/events)")
    parser.add_argument("--read-token-file", help="file holding a token every GET but /healthz and /badge needs")
    parser.add_argument(
        "--retention-days", type=float, help="delete outcomes older than this many days (default: keep everything)"
    )
    parser.add_argument(
        "--stale-after-hours",
        type=float,
        default=168.0,
        help="warn on a channel with no outcome for this long (default 168 = 7 days)",
    )
    parser.add_argument("--dora-window-days", type=int, default=30, help="window of the DORA metrics (default 30)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        return _serve(args)
    except (UsageError, DatabaseURLError, SchemaTooNewError, ConnectionError) as exc:
        print(f"shipit-dashboard: {exc}", file=sys.stderr)
        return 2


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM after its graceful shutdown; a service stopped on purpose should exit 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _serve(args: argparse.Namespace) -> int:
    from .app import Settings, create_app
    from .store import Store

    host, port = parse_listen(args.listen)
    if args.retention_days is not None and args.retention_days <= 0:
        raise UsageError(f"--retention-days {args.retention_days}: must be more than 0 (omit it to keep everything)")
    settings = Settings(
        ingest_token=read_token("--token-file", args.token_file),
        read_token=read_token("--read-token-file", args.read_token_file) if args.read_token_file else None,
        stale_after_s=args.stale_after_hours * 3600,
        retention_days=args.retention_days,
        dora_window_days=args.dora_window_days,
    )
    url = DatabaseURL.parse(args.database)
    store = Store.open(Database(url))
    log.info("database %s at schema version %d", url.display(), store.schema_version())
    try:
        config = uvicorn.Config(
            create_app(store, settings),
            host=host,
            port=port,
            log_level=args.log_level,
            log_config=None,
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=10,
        )
        _Server(config).run()
    finally:
        store.close()
    log.info("stopped")
    return 0
