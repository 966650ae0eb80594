"""`cytube-refbot --config PATH`: exit codes 0 stopped, 1 crashed, 2 bad config,
3 kicked for a duplicate login, 4 login refused."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from . import __version__
from .config import ConfigError, HealthListen, load_config

if TYPE_CHECKING:
    from .bot import Bot

log = logging.getLogger("cytube_refbot")

EXIT_CRASHED = 1
EXIT_BAD_CONFIG = 2
SHUTDOWN_GRACE_S = 1.5  # systemd and the contract allow 2 s from SIGTERM to exit
QUIET_LIBRARIES = ("websocket", "urllib3")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cytube-refbot", description="A reference CyTube chat bot.")
    parser.add_argument("--config", type=Path, required=True, help="TOML configuration file")
    parser.add_argument("--check-config", action="store_true", help="validate the config (not the password) and exit")
    parser.add_argument("--version", action="version", version=f"cytube-refbot {__version__}")
    return parser.parse_args(argv)


def configure_logging(level: str) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=level.upper(),
        format="%(asctime)s.%(msecs)03d %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    # Connection-level chatter; socket.io's own loggers are held down in session.py.
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = load_config(args.config, read_password=not args.check_config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_CONFIG
    if args.check_config:
        print(f"config ok: {args.config}")
        return 0
    configure_logging(config.bot.log_level)
    log.info("cytube-refbot %s starting: %s as %s", __version__, config.server.url, config.account.name)
    if config.faults.crash_at_start:
        log.error("fault crash_at_start: exiting with status %d", EXIT_CRASHED)
        return EXIT_CRASHED

    from .bot import Bot

    bot = Bot(config, __version__)
    return run_until_stopped(bot, config.bot.health_listen)


def run_until_stopped(bot: Bot, health_listen: HealthListen | None) -> int:
    wake = threading.Event()
    finished = threading.Event()
    exit_codes: list[int] = []

    def work() -> None:
        try:
            exit_codes.append(bot.run())
        except Exception:
            log.exception("unexpected error")
            exit_codes.append(EXIT_CRASHED)
        finally:
            finished.set()
            wake.set()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        log.info("received %s: disconnecting", name)
        bot.request_stop(f"stopped by {name}")
        wake.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    threading.Thread(target=work, name="bot", daemon=True).start()
    if health_listen is not None:
        start_health(bot, health_listen)
    wake.wait()
    if not finished.wait(SHUTDOWN_GRACE_S):
        log.warning("connection did not close within %.1f s; exiting anyway", SHUTDOWN_GRACE_S)
        return 0
    log.info("exiting with status %d", exit_codes[0])
    return exit_codes[0]


def start_health(bot: Bot, listen: HealthListen) -> None:
    from .health import start_health_server

    try:
        host, port = start_health_server(listen, bot.snapshot)
    except OSError as exc:
        # The bot is still useful without its health endpoint; the outside check will tell.
        log.error("health endpoint %s:%d unavailable: %s", listen.host, listen.port, exc)
        return
    shown_host = f"[{host}]" if ":" in host else host
    log.info("health endpoint on http://%s:%d/health", shown_host, port)
