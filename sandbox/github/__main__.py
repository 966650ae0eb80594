"""Command line: ``python -m sandbox.github --port 0 --admin-port 0 --token-file FILE``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from .app import State, build_admin_app, build_api_app
from .serving import Listener, serve
from .spec import DEFAULT_SPEC, SpecMissing, load_cut
from .store import DEFAULT_LOGIN
from .validation import Validator

DEFAULT_PORT = 8092
DEFAULT_ADMIN_PORT = 8093


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.github",
        description="GitHub REST API stand-in validated against GitHub's OpenAPI description.",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"API port (default {DEFAULT_PORT}; 0: any)")
    parser.add_argument("--admin-port", type=int, default=DEFAULT_ADMIN_PORT, help="admin port on 127.0.0.1")
    parser.add_argument("--bind", action="append", metavar="ADDR", help="API listen address (repeatable)")
    parser.add_argument("--token-file", type=Path, help="accepted tokens, one per line (kept out of argv)")
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="api.github.com.json of @octokit/openapi")
    parser.add_argument("--cut-cache", type=Path, help="where the cut description is cached")
    parser.add_argument("--ready-file", type=Path, help="write the ports here as JSON once listening")
    parser.add_argument("--log-level", default="INFO")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    try:
        validator = Validator(load_cut(args.spec, args.cut_cache))
    except SpecMissing as exc:
        logging.getLogger("github-standin").error("%s", exc)
        return 2
    tokens = {}
    if args.token_file is not None:
        tokens = {line.strip(): DEFAULT_LOGIN for line in args.token_file.read_text().splitlines() if line.strip()}
    state = State(validator=validator, tokens=tokens)
    ports: dict[str, int] = {}
    listeners = [
        Listener(build_api_app(state), tuple(args.bind or ["127.0.0.1"]), args.port, "api_port"),
        Listener(build_admin_app(state, ports), ("127.0.0.1",), args.admin_port, "admin_port"),
    ]
    asyncio.run(serve(listeners, args.ready_file, ports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
