"""The bot's life: connect, stay connected, reconnect with backoff, stop on request."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .backoff import Backoff, ConnectionBudget, reconnect_delay
from .config import Config
from .outcome import Outcome

if TYPE_CHECKING:
    from .outbox import Outbox
    from .session import Session

log = logging.getLogger(__name__)

SOCKETCONFIG_TIMEOUT_S = 5.0
# A connection that stayed joined this long was healthy: start backoff afresh.
STABLE_AFTER_S = 30.0


class SocketConfigError(Exception):
    pass


def socketio_url_from(socketconfig: Any) -> str:
    """Pick the socket.io URL from a /socketconfig/<channel>.json document.

    Like CyTube's web client, prefer a `secure` entry; among equals prefer IPv4.
    """
    servers = socketconfig.get("servers") if isinstance(socketconfig, dict) else None
    usable = [s for s in servers or [] if isinstance(s, dict) and isinstance(s.get("url"), str) and s["url"]]
    if not usable:
        raise SocketConfigError(f"socketconfig lists no servers: {socketconfig!r}")
    best = min(usable, key=lambda s: (not s.get("secure"), bool(s.get("ipv6"))))
    return str(best["url"])


class Bot:
    def __init__(self, config: Config, version: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._config = config
        self._version = version
        self._clock = clock
        self._started = clock()
        self._stop = threading.Event()
        self._session: Session | None = None
        self._backoff = Backoff()
        self._budget = ConnectionBudget(now=clock())

    def snapshot(self) -> dict[str, Any]:
        """The health endpoint's view of the bot."""
        session = self._session
        return {
            "connected": bool(session and session.connected),
            "joined": bool(session and session.joined),
            "logged_in": bool(session and session.logged_in),
            "channel": self._config.server.channel,
            "name": session.name if session else self._config.account.name,
            "version": self._version,
            "uptime_s": round(self._clock() - self._started, 3),
        }

    def request_stop(self, why: str) -> None:
        self._stop.set()
        session = self._session
        if session is not None:
            session.end(Outcome(why, exit_code=0))

    def run(self) -> int:
        """Run until stopped (0) or a fatal condition (its exit code)."""
        from .outbox import Outbox

        outbox = Outbox()
        try:
            return self._run_sessions(outbox)
        finally:
            outbox.close()

    def _run_sessions(self, outbox: Outbox) -> int:
        delay = 0.0
        while not self._stop.is_set():
            if delay and self._stop.wait(delay):
                break
            outcome = self._one_session(outbox)
            if outcome.exit_code is not None:
                return outcome.exit_code
            if self._stop.is_set():
                break
            delay = reconnect_delay(self._backoff, self._budget, self._clock(), outcome.min_delay_s)
            log.warning("%s; reconnect in %.1f s", outcome.reason, delay)
        return 0

    def _one_session(self, outbox: Outbox) -> Outcome:
        from .session import Session  # socket.io is imported here, off the config-check path

        self._budget.spend(self._clock())
        try:
            url = self._socketio_url()
        except SocketConfigError as exc:
            return Outcome(str(exc))
        session = Session(self._config, self._version, outbox)
        self._session = session
        if self._stop.is_set():
            return Outcome("stopping", exit_code=0)
        log.info("connecting to %s for #%s", url, self._config.server.channel)
        outcome = session.run(url)
        self._after_session(session, outcome)
        return outcome

    def _after_session(self, session: Session, outcome: Outcome) -> None:
        now = self._clock()
        if outcome.rate_limited:
            self._budget.exhaust(now)
        if session.joined_monotonic is not None and now - session.joined_monotonic >= STABLE_AFTER_S:
            self._backoff.reset()

    def _socketio_url(self) -> str:
        server = self._config.server
        if server.socket_url:
            return server.socket_url
        import requests  # already loaded by socket.io's client

        url = f"{server.url}/socketconfig/{server.channel}.json"
        try:
            response = requests.get(url, timeout=SOCKETCONFIG_TIMEOUT_S)
        except requests.RequestException as exc:
            raise SocketConfigError(f"GET {url} failed: {exc}") from None
        if response.status_code != 200:
            raise SocketConfigError(f"GET {url} answered {response.status_code}: {response.text[:200]}")
        try:
            return socketio_url_from(response.json())
        except ValueError:
            raise SocketConfigError(f"GET {url} did not return JSON") from None
