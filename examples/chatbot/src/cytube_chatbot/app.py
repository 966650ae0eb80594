"""Command line: ``cytube-chatbot [CONFIG.json]`` (default ``./config.json``).

Exit codes: 0 stopped by SIGTERM/SIGINT, 1 crash (or the crash_at_start fault,
or an unwritable working directory), 2 bad config, 3 kicked for a duplicate
login, 4 login refused.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from .client import Connection, socket_url
from .settings import Settings, SettingsError, load
from .store import Store, StoreError

LOG = logging.getLogger("chatbot")
FIRST_RETRY_S = 2.0
MAX_RETRY_S = 60.0
STABLE_AFTER_S = 30.0  # a connection that stayed joined this long resets the retry delay


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    # At INFO these libraries log raw packets, and the login packet holds the password.
    for noisy in ("socketio", "engineio", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _install_signal_handlers(stop: threading.Event, wake: threading.Event) -> None:
    def handle(signum: int, frame: FrameType | None) -> None:
        LOG.info("received %s: leaving", signal.Signals(signum).name)
        stop.set()
        wake.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def serve(settings: Settings, store: Store, stop: threading.Event, wake: threading.Event) -> int:
    started = time.monotonic()
    delay = FIRST_RETRY_S
    while not stop.is_set():
        try:
            url = socket_url(settings)
        except Exception as exc:  # any failure to ask the site is worth a retry
            LOG.warning("socketconfig lookup failed: %s; retrying in %.0f s", exc, delay)
        else:
            ending = Connection(settings, store, started, wake, stop).run(url)
            if ending.exit_code is not None:
                return ending.exit_code
            if ending.was_joined_s >= STABLE_AFTER_S:
                delay = FIRST_RETRY_S
            if not stop.is_set():
                LOG.warning("reconnecting in %.0f s", delay)
        if stop.wait(delay):
            break
        delay = min(delay * 2, MAX_RETRY_S)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0].startswith("-")):
        print("usage: cytube-chatbot [CONFIG.json]", file=sys.stderr)
        return 2
    config_path = Path(args[0] if args else "config.json")
    try:
        settings = load(config_path)
    except SettingsError as exc:
        print(f"chatbot: config error: {exc}", file=sys.stderr)
        return 2
    _configure_logging(settings.log_level)
    LOG.info("chatbot starting: #%s as %s", settings.channel, settings.username)
    if settings.faults.crash_at_start:
        LOG.error("crashing on purpose (fault crash_at_start)")
        return 1
    try:
        store = Store(Path(settings.database))
    except StoreError as exc:
        LOG.error("%s", exc)
        return 1
    stop, wake = threading.Event(), threading.Event()
    _install_signal_handlers(stop, wake)
    try:
        code = serve(settings, store, stop, wake)
    finally:
        store.close()
    LOG.info("exiting with status %d", code)
    return code
