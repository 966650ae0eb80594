"""One socket.io connection to CyTube: join, log in, track ranks, answer."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import engineio
import requests
import socketio

from . import replies
from .settings import Settings
from .store import Store

LOG = logging.getLogger("chatbot")
SOCKETCONFIG_TIMEOUT_S = 10
CONNECT_TIMEOUT_S = 10
SOCKETIO_EVENT = "2"  # the socket.io packet type of an event


class Kicked(Exception):
    """CyTube kicked the bot (logged with its traceback, then the bot reconnects)."""


@dataclass
class Ending:
    """How a connection ended: exit_code None means reconnect."""

    exit_code: int | None
    was_joined_s: float = 0.0


def now_ms() -> int:
    return int(time.time() * 1000)


def socket_url(settings: Settings) -> str:
    """CyTube's socketconfig lookup; a secure entry wins."""
    response = requests.get(f"{settings.server}/socketconfig/{settings.channel}.json", timeout=SOCKETCONFIG_TIMEOUT_S)
    response.raise_for_status()
    servers = response.json()["servers"]
    secure = [s for s in servers if s.get("secure")]
    return str((secure or servers)[0]["url"])


class InOrderEngineIO(engineio.Client):
    """Hands socket.io events to the bot one at a time, in the order they arrived.

    python-engineio runs every message handler on a thread of its own, so a PM could be handled before the
    setUserRank that CyTube sent ahead of it, and the bot would judge the sender by a stale rank. Event packets
    ("2...") are dispatched on the reader thread instead; the bot's handlers only emit and write SQLite, so they
    never block it. Other packets keep their own thread: a server disconnect ("1") joins the reader thread.
    Overrides private methods of the pinned python-engineio/python-socketio (tests/examples/test_chatbot_units.py).
    """

    def _trigger_event(self, event: str, *args: Any, **kwargs: Any) -> Any:
        if event == "message" and args and isinstance(args[0], str) and args[0].startswith(SOCKETIO_EVENT):
            kwargs["run_async"] = False
        return super()._trigger_event(event, *args, **kwargs)


class InOrderClient(socketio.Client):
    def _engineio_client_class(self) -> type[engineio.Client]:
        return InOrderEngineIO


class Connection:
    def __init__(
        self, settings: Settings, store: Store, started: float, wake: threading.Event, stop: threading.Event
    ) -> None:
        self.settings = settings
        self.store = store
        self.started = started
        self.wake = wake  # set by every handler that may end the connection, and by SIGTERM
        self.stop = stop
        self.ranks: dict[str, float] = {}  # lower-case name -> rank, from userlist/addUser/setUserRank
        self.ranks_lock = threading.Lock()
        self.joined_ms = 0
        self.joined_at: float | None = None
        self.login_sent = False
        self.exit_code: int | None = None
        self.ended = threading.Event()
        self.sio = InOrderClient(reconnection=False, logger=False, engineio_logger=False)
        for event, handler in {
            "connect": self.on_connect,
            "disconnect": self.on_disconnect,
            "userlist": self.on_userlist,
            "addUser": self.on_add_user,
            "setUserRank": self.on_set_user_rank,
            "userLeave": self.on_user_leave,
            "login": self.on_login,
            "chatMsg": self.on_chat,
            "pm": self.on_pm,
            "kick": self.on_kick,
            "errorMsg": self.on_error_msg,
        }.items():
            self.sio.on(event, handler)

    # ------------------------------------------------------------ lifecycle

    def run(self, url: str) -> Ending:
        LOG.info("connecting to %s for #%s", url, self.settings.channel)
        try:
            self.sio.connect(url, wait_timeout=CONNECT_TIMEOUT_S)
        except socketio.exceptions.ConnectionError as exc:
            LOG.warning("cannot connect: %s", exc)
            return Ending(exit_code=None)
        while not (self.ended.is_set() or self.stop.is_set() or self.exit_code is not None):
            self.wake.wait()
            self.wake.clear()
        self.close()
        joined_s = time.monotonic() - self.joined_at if self.joined_at is not None else 0.0
        return Ending(exit_code=self.exit_code, was_joined_s=joined_s)

    def close(self) -> None:
        if self.sio.connected:
            self.sio.disconnect()

    def finish(self, exit_code: int | None) -> None:
        if self.exit_code is None:
            self.exit_code = exit_code
        self.wake.set()

    def on_connect(self) -> None:
        if self.settings.faults.never_join:
            LOG.info("connected; not joining (fault never_join)")
            return
        self.joined_ms = now_ms()
        self.sio.emit("joinChannel", {"name": self.settings.channel})

    def on_disconnect(self, reason: Any = None) -> None:
        LOG.warning("disconnected from #%s (%s)", self.settings.channel, reason)
        self.ended.set()
        self.wake.set()

    # ---------------------------------------------------------------- users

    def _remember(self, user: dict[str, Any]) -> None:
        name, rank = user.get("name"), user.get("rank")
        if isinstance(name, str) and name and isinstance(rank, (int, float)):
            with self.ranks_lock:
                self.ranks[name.lower()] = rank
            self.store.saw_user(name, now_ms())

    def on_userlist(self, users: list[dict[str, Any]]) -> None:
        with self.ranks_lock:
            self.ranks.clear()
        for user in users:
            self._remember(user)
        if not self.login_sent:
            self.login_sent = True
            LOG.info("joined #%s (%d users)", self.settings.channel, len(users))
            credentials = {"name": self.settings.username}
            if self.settings.password:
                credentials["pw"] = self.settings.password
            self.sio.emit("login", credentials)

    def on_add_user(self, user: dict[str, Any]) -> None:
        self._remember(user)

    def on_set_user_rank(self, change: dict[str, Any]) -> None:
        name, rank = change.get("name"), change.get("rank")
        if isinstance(name, str) and isinstance(rank, (int, float)):
            with self.ranks_lock:
                self.ranks[name.lower()] = rank

    def on_user_leave(self, user: dict[str, Any]) -> None:
        name = user.get("name")
        if isinstance(name, str) and name.lower() != self.settings.username.lower():
            with self.ranks_lock:
                self.ranks.pop(name.lower(), None)

    def rank_of(self, name: str) -> float | None:
        with self.ranks_lock:
            return self.ranks.get(name.lower())

    def on_login(self, reply: dict[str, Any]) -> None:
        if reply.get("success"):
            self.joined_at = time.monotonic()
            LOG.info("logged in as %s", reply.get("name"))
            return
        LOG.error("login refused: %s", reply.get("error"))
        self.finish(4)

    # ----------------------------------------------------------------- chat

    def on_chat(self, message: dict[str, Any]) -> None:
        username, text, stamp = message.get("username", ""), message.get("msg", ""), message.get("time", 0)
        if not replies.is_new_chat(username, self.settings.username, stamp, self.joined_ms):
            return
        LOG.info("<%s> %s", username, replies.plain_text(text))  # this bot keeps a chat log in its journal
        self.store.record_message(stamp, username, replies.plain_text(text))
        if not replies.is_help_command(text):
            return
        if self.settings.faults.never_answer:
            LOG.info("not answering !help from %s (fault never_answer)", username)
            return
        self.sio.emit("chatMsg", {"msg": replies.HELP_TEXT})
        LOG.info("answered !help from %s", username)

    def on_pm(self, message: dict[str, Any]) -> None:
        sender = message.get("username", "")
        if sender.lower() == self.settings.username.lower():
            return  # CyTube echoes our own PMs back
        if not replies.is_status_request(message.get("msg", "")):
            return
        if self.settings.faults.never_answer:
            LOG.info("not answering status from %s (fault never_answer)", sender)
            return
        rank = self.rank_of(sender)
        if not replies.may_ask_status(rank):
            LOG.info("status PM from %s ignored: rank %s is below %s", sender, rank, replies.STATUS_MIN_RANK)
            return
        text = replies.status_text(time.monotonic() - self.started, self.store.counts())
        self.sio.emit("pm", {"to": sender, "msg": text})
        LOG.info("status sent to %s", sender)

    def on_kick(self, payload: dict[str, Any]) -> None:
        reason = payload.get("reason", "")
        if reason == "Duplicate login":
            LOG.error("kicked: Duplicate login (another client uses this account here); giving up")
            self.finish(3)
            return
        try:
            raise Kicked(reason)
        except Kicked:
            LOG.warning("kicked from #%s", self.settings.channel, exc_info=True)

    def on_error_msg(self, payload: dict[str, Any]) -> None:
        LOG.warning("server says: %s", payload.get("msg"))
