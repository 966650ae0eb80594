"""Command line: ``python -m sandbox.cytube --config FILE`` or ``... hash-password``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from . import config as config_module
from .accounts import AccountFileError, hash_password
from .config import ACCOUNT_HASH_ROUNDS, ConfigError


def _run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.cytube",
        description="CyTube-compatible stand-in server (socketconfig, socket.io, admin API). "
        "Use 'python -m sandbox.cytube hash-password' to hash a password read from stdin.",
    )
    parser.add_argument("--config", type=Path, required=True, help="JSON config file")
    parser.add_argument("--http-port", type=int, help="HTTP (socketconfig) port; 0 = ephemeral")
    parser.add_argument("--io-port", type=int, help="socket.io port; 0 = ephemeral")
    parser.add_argument("--admin-port", type=int, help="admin API port (127.0.0.1); 0 = ephemeral")
    parser.add_argument(
        "--bind",
        action="append",
        metavar="ADDR",
        help="listen address for HTTP and socket.io (repeatable; replaces 'binds')",
    )
    parser.add_argument("--accounts", type=Path, help="accounts JSON file (replaces 'accounts_file')")
    parser.add_argument("--advertised-url", help="socket.io URL that socketconfig advertises")
    parser.add_argument("--ready-file", type=Path, help="write the actual ports here as JSON once listening")
    parser.add_argument("--log-level", default="INFO", help="default INFO")
    return parser


def _hash_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.cytube hash-password",
        description="Read a password from stdin (first line) and print its bcrypt hash.",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=ACCOUNT_HASH_ROUNDS,
        help=f"bcrypt cost (default {ACCOUNT_HASH_ROUNDS}, as CyTube)",
    )
    return parser


def hash_password_command(argv: list[str]) -> int:
    args = _hash_parser().parse_args(argv)
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        print("hash-password: empty password on stdin", file=sys.stderr)
        return 2
    print(hash_password(password, args.rounds))
    return 0


def serve_command(argv: list[str]) -> int:
    args = _run_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = config_module.load(args.config)
        config = config_module.with_overrides(
            config,
            http_port=args.http_port,
            io_port=args.io_port,
            admin_port=args.admin_port,
            binds=args.bind,
            accounts_file=args.accounts,
            advertised_io_url=args.advertised_url,
        )
        from .app import run  # aiohttp/socket.io are only needed to serve

        return asyncio.run(run(config, args.ready_file))
    except (ConfigError, AccountFileError) as exc:
        logging.getLogger("cytube-standin").error("%s", exc)
        return 2


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["hash-password"]:
        return hash_password_command(argv[1:])
    return serve_command(argv)


if __name__ == "__main__":
    sys.exit(main())
