"""Command line: ``python -m sandbox.webhooks --port 0 --admin-port 0 --secret-file FILE``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from sandbox.github.serving import Listener, serve

from .app import State, build_admin_app, build_app

DEFAULT_PORT = 8094
DEFAULT_ADMIN_PORT = 8095


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.webhooks",
        description="Webhook receiver standing in for Slack, Discord and signed generic webhooks.",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"receiver port (default {DEFAULT_PORT})")
    parser.add_argument("--admin-port", type=int, default=DEFAULT_ADMIN_PORT, help="admin port on 127.0.0.1")
    parser.add_argument("--bind", action="append", metavar="ADDR", help="listen address (repeatable)")
    parser.add_argument(
        "--secret-file",
        type=Path,
        help="generic webhook secrets, one 'name=secret' per line ('*=secret' for any name); kept out of argv",
    )
    parser.add_argument("--ready-file", type=Path, help="write the ports here as JSON once listening")
    parser.add_argument("--log-level", default="INFO")
    return parser


def read_secrets(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {name.strip(): secret.strip() for name, secret in pairs}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    state = State(secrets=read_secrets(args.secret_file))
    ports: dict[str, int] = {}
    listeners = [
        Listener(build_app(state), tuple(args.bind or ["127.0.0.1"]), args.port, "port"),
        Listener(build_admin_app(state, ports), ("127.0.0.1",), args.admin_port, "admin_port"),
    ]
    asyncio.run(serve(listeners, args.ready_file, ports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
