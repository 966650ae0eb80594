"""One socket.io connection to CyTube: join, log in, answer commands.

Imported lazily by the bot: `import socketio` is most of the startup time.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import engineio
import socketio

from .commands import ChatMessage, CommandContext, reply_for
from .config import Config
from .outbox import DEFAULT_BURST, DEFAULT_PER_S, Outbox
from .outcome import Outcome

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
GOODBYE_TIMEOUT_S = 0.5
DUPLICATE_LOGIN = "Duplicate login"
RATE_LIMITED = "Rate limit exceeded"
GUEST_COOLDOWN_MARK = "Guest logins are restricted"
GUEST_COOLDOWN_S = 60.0
EXIT_DUPLICATE_LOGIN = 3
EXIT_LOGIN_FAILED = 4


class _InOrderEngineIOClient(engineio.Client):
    """engine.io runs every message handler in a new thread, so two messages can
    be handled out of order. The bot must see the join replay before `userlist`
    (that is how it tells old chat from new), so messages are dispatched on the
    reading thread, in arrival order; handlers therefore must never block.

    The exception is a socket.io DISCONNECT packet ("1..."): handling it joins the
    reading thread, which is impossible from that thread itself.
    """

    def _trigger_event(self, event: str, *args: Any, **kwargs: Any) -> Any:
        if event == "message" and not (isinstance(args[0], str) and args[0].startswith("1")):
            kwargs["run_async"] = False
        return super()._trigger_event(event, *args, **kwargs)

    def disconnect(self, abort: bool = False, reason: Any = None) -> None:
        # socket.io's disconnect() queues its goodbye packet and then closes the
        # websocket at once, often before the writer thread has sent it: the
        # server would see a dropped transport instead of a client leaving.
        if self.state == "connected" and not abort and self.current_transport == "websocket":
            self._wait_for_sent(GOODBYE_TIMEOUT_S)
        super().disconnect(abort=abort, reason=reason)

    def _wait_for_sent(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self.queue.all_tasks_done:
            while self.queue.unfinished_tasks and (remaining := deadline - time.monotonic()) > 0:
                self.queue.all_tasks_done.wait(remaining)


class _InOrderClient(socketio.Client):
    def _engineio_client_class(self) -> type[engineio.Client]:
        return _InOrderEngineIOClient


def _library_logger(name: str) -> logging.Logger:
    """socket.io's and engine.io's loggers, held at WARNING: at INFO and below they
    log every packet, and the login packet carries the password."""
    logger = logging.getLogger(name)
    logger.setLevel(logging.WARNING)
    return logger


class Session:
    def __init__(self, config: Config, version: str, outbox: Outbox) -> None:
        self._config = config
        self._version = version
        self._outbox = outbox
        self._lock = threading.Lock()
        self._ended = threading.Event()
        self._outcome: Outcome | None = None
        self._refusal: str | None = None
        self.connected = False
        self.logged_in = False
        self.name = config.account.name
        self.joined_at_ms: float | None = None
        self.joined_monotonic: float | None = None
        self._client = _InOrderClient(
            reconnection=False,
            handle_sigint=False,
            logger=_library_logger("socketio.client"),
            engineio_logger=_library_logger("engineio.client"),
        )
        self._register_handlers()

    @property
    def joined(self) -> bool:
        """In the channel's user list: join accepted and logged in."""
        return self.joined_at_ms is not None and self.logged_in

    def run(self, url: str) -> Outcome:
        """Connect and block until the connection ends for any reason."""
        try:
            self._connect(url)
        except socketio.exceptions.ConnectionError as exc:
            refusal = self._refusal or str(exc)
            self.end(Outcome(f"connection to {url} failed: {refusal}", rate_limited=refusal == RATE_LIMITED))
        self._ended.wait()
        self._close()
        assert self._outcome is not None
        return self._outcome

    def end(self, outcome: Outcome) -> None:
        """Finish the session; the first reason given wins."""
        with self._lock:
            if self._outcome is None:
                self._outcome = outcome
        self._ended.set()

    def _connect(self, url: str) -> None:
        try:
            self._client.connect(url, transports=["websocket"], wait_timeout=CONNECT_TIMEOUT_S)
        except socketio.exceptions.ConnectionError as exc:
            if self._refusal is not None or self._ended.is_set():
                raise
            log.info("websocket connection to %s failed (%s); trying long-polling", url, exc)
            self._client.connect(url, transports=["polling", "websocket"], wait_timeout=CONNECT_TIMEOUT_S)

    def _close(self) -> None:
        self._outbox.detach()
        self.connected = False
        try:
            self._client.disconnect()
        except Exception as exc:  # already gone: nothing left to close
            log.debug("disconnect: %s", exc)

    def _register_handlers(self) -> None:
        handlers = {
            "connect": self._on_connect,
            "connect_error": self._on_connect_error,
            "disconnect": self._on_disconnect,
            "userlist": self._on_userlist,
            "login": self._on_login,
            "kick": self._on_kick,
            "chatMsg": self._on_chat,
            "cooldown": self._on_cooldown,
            "channelOpts": self._on_channel_opts,
            "userLeave": self._on_user_leave,
            "errorMsg": self._on_error_msg,
            "noflood": self._on_warning("noflood"),
            "spamFiltered": self._on_warning("spamFiltered"),
            "needPassword": self._on_need_password,
        }
        for event, handler in handlers.items():
            self._client.on(event, handler)

    def _on_connect(self) -> None:
        self.connected = True
        log.info("connected (%s)", self._client.transport())
        channel = self._config.server.channel
        if self._config.faults.never_join:
            log.warning("fault never_join: connected but not joining #%s", channel)
            return
        self._client.emit("joinChannel", {"name": channel})

    def _on_connect_error(self, data: Any = None) -> None:
        message = data.get("message") if isinstance(data, dict) else data
        self._refusal = str(message)

    def _on_disconnect(self, reason: Any = None) -> None:
        self.connected = False
        self.logged_in = False
        self.end(Outcome(f"disconnected: {reason or 'unknown reason'}"))

    def _on_userlist(self, users: Any) -> None:
        if self.joined_at_ms is not None:
            return  # resent after rank changes
        self.joined_at_ms = time.time() * 1000
        self.joined_monotonic = time.monotonic()
        log.info(
            "joined #%s (%d users listed)", self._config.server.channel, len(users) if isinstance(users, list) else 0
        )
        account = self._config.account
        login = {"name": account.name} if account.is_guest else {"name": account.name, "pw": account.password}
        self._client.emit("login", login)

    def _on_login(self, reply: Any) -> None:
        if not isinstance(reply, dict):
            return
        if reply.get("success"):
            self.name = str(reply.get("name") or self._config.account.name)
            self.logged_in = True
            log.info("logged in as %s (%s)", self.name, "guest" if reply.get("guest") else "account")
            self._outbox.attach(self._send_chat)
            return
        error = str(reply.get("error") or "no reason given")
        if self._config.account.is_guest and GUEST_COOLDOWN_MARK in error:
            self.end(Outcome(f"guest login refused: {error}", min_delay_s=GUEST_COOLDOWN_S))
            return
        log.error("login as %s failed: %s", self._config.account.name, error)
        self.end(Outcome(f"login failed: {error}", exit_code=EXIT_LOGIN_FAILED))

    def _on_kick(self, data: Any) -> None:
        reason = str(data.get("reason", "")) if isinstance(data, dict) else ""
        if reason == DUPLICATE_LOGIN:
            log.error(
                "kicked: %s - another client logged in as %s in #%s; exiting without reconnecting "
                "(two bots sharing one account would kick each other forever)",
                reason,
                self.name,
                self._config.server.channel,
            )
            self.end(Outcome(f"kicked: {reason}", exit_code=EXIT_DUPLICATE_LOGIN))
            return
        self.end(Outcome(f"kicked: {reason or 'no reason given'}"))

    def _on_chat(self, payload: Any) -> None:
        message = ChatMessage.from_payload(payload)
        if message is None:
            return
        context = CommandContext(
            own_name=self.name,
            prefix=self._config.bot.command_prefix,
            version=self._version,
            joined_at_ms=self.joined_at_ms,
        )
        reply = reply_for(message, context)
        if reply is None:
            return
        if self._config.faults.never_answer:
            log.warning("fault never_answer: ignoring %s from %s", reply.command, message.username)
            return
        received = time.monotonic()

        def on_sent(sent_at: float) -> None:
            log.info("answered %s from %s in %.0f ms", reply.command, message.username, (sent_at - received) * 1000)

        self._outbox.submit(reply.text, received + self._config.faults.answer_delay_s, on_sent)

    def _send_chat(self, text: str) -> None:
        self._client.emit("chatMsg", {"msg": text, "meta": {}})

    def _on_cooldown(self, milliseconds: Any) -> None:
        delay_ms = float(milliseconds) if isinstance(milliseconds, (int, float)) else 1000.0
        log.warning("chat throttled by the server: pausing replies for %.0f ms", delay_ms)
        self._outbox.pause(delay_ms / 1000)

    def _on_channel_opts(self, opts: Any) -> None:
        if not isinstance(opts, dict):
            return
        params = opts.get("chat_antiflood_params")
        if opts.get("chat_antiflood") and isinstance(params, dict):
            self._outbox.set_flood_limit(int(params.get("burst", 4)), float(params.get("sustained", 1)))
        else:
            self._outbox.set_flood_limit(DEFAULT_BURST, DEFAULT_PER_S)

    def _on_user_leave(self, data: Any) -> None:
        # After a duplicate login the *new* socket is also told that its own
        # name left; that is the old socket going, not us.
        if isinstance(data, dict) and str(data.get("name", "")).casefold() == self.name.casefold():
            log.debug("ignored a userLeave carrying our own name %s", self.name)

    def _on_error_msg(self, data: Any) -> None:
        log.warning("server error message: %s", data.get("msg") if isinstance(data, dict) else data)

    def _on_need_password(self, wrong: Any = None) -> None:
        log.error("#%s needs a channel password, which this bot does not support", self._config.server.channel)

    @staticmethod
    def _on_warning(event: str) -> Any:
        def handler(data: Any = None) -> None:
            log.warning("server sent %s: %s", event, data)

        return handler
