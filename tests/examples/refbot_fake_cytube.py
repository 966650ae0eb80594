"""A minimal CyTube server for the reference bot's end-to-end tests.

A real socket.io v4 server (python-socketio AsyncServer on aiohttp) that follows
/work/shared/CYTUBE_PROTOCOL.md for the parts a chat bot touches: socketconfig,
joinChannel with the 15-message replay before `userlist`, account and guest
login, duplicate-login kicks (with the `userLeave` of its own name that the new
socket receives), HTML-escaped chat echoed to the whole room. Everything else of
CyTube (rate limits, ranks, playlists) is left out; the full stand-in lives in
sandbox/cytube.
"""

from __future__ import annotations

import html
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import socketio
from aiohttp import web

NAME_RE = re.compile(r"^[\w-]{1,20}$", re.ASCII)
CHANNEL_RE = re.compile(r"^[\w-]{1,30}$", re.ASCII)
REPLAY_LENGTH = 15
MAX_CHAT_LENGTH = 320


@dataclass
class Connection:
    sid: str
    channel: str | None = None
    name: str | None = None
    guest: bool = False


@dataclass
class FakeCytube:
    accounts: dict[str, tuple[str, str]] = field(default_factory=dict)  # lowercased name -> (name, password)
    connections: dict[str, Connection] = field(default_factory=dict)
    replay: dict[str, deque[dict[str, Any]]] = field(default_factory=dict)
    connect_count: int = 0
    disconnect_reasons: dict[str, list[str]] = field(default_factory=dict)  # user name -> reasons
    channel_opts: dict[str, Any] = field(default_factory=dict)  # sent in the join burst when set
    throttled: dict[str, int] = field(default_factory=dict)  # lowercased name -> cooldown ms for its next chat
    refusal: str | None = None  # when set, every connection is refused with this connect_error message
    guest_login_delay: bool = False  # refuse guest logins as CyTube does within 60 s of the last one
    resend_userlist: bool = False  # resend `userlist` after a login, as CyTube does when the rank crosses 2
    http_url: str = ""

    def __post_init__(self) -> None:
        self.sio = socketio.AsyncServer(async_mode="aiohttp", logger=False, engineio_logger=False)
        self.app = web.Application()
        self.sio.attach(self.app)
        self.app.router.add_get("/socketconfig/{channel}.json", self._socketconfig)
        for event in ("connect", "disconnect", "joinChannel", "login", "chatMsg"):
            self.sio.on(event, getattr(self, f"_on_{event.lower()}"))
        self._runner: web.AppRunner | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        port = self._runner.addresses[0][1]
        self.http_url = f"http://{host}:{port}"

    async def stop(self) -> None:
        for sid in list(self.connections):
            await self.sio.disconnect(sid)
        await self.sio.shutdown()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- test hooks -------------------------------------------------------

    def register_account(self, name: str, password: str) -> None:
        self.accounts[name.lower()] = (name, password)

    async def kick(self, channel: str, name: str, reason: str) -> int:
        victims = [c for c in self._members(channel.lower()) if c.name and c.name.lower() == name.lower()]
        for victim in victims:
            await self._kick(victim, reason)
        return len(victims)

    async def say_as(self, channel: str, username: str, text: str) -> None:
        """Chat as `username`, e.g. "[server]", without a socket."""
        await self._broadcast_chat(channel, username, text)

    def throttle_next_chat(self, name: str, cooldown_ms: int) -> None:
        """Drop `name`'s next chat message and send it `cooldown`, as CyTube's flood limiter does."""
        self.throttled[name.lower()] = cooldown_ms

    # --- protocol ---------------------------------------------------------

    async def _socketconfig(self, request: web.Request) -> web.Response:
        channel = request.match_info["channel"]
        if not CHANNEL_RE.match(channel):
            return web.json_response({"error": f'Channel "{channel}" does not exist.'}, status=404)
        return web.json_response({"servers": [{"url": self.http_url, "secure": False}]})

    async def _on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        if self.refusal is not None:
            raise socketio.exceptions.ConnectionRefusedError(self.refusal)
        self.connect_count += 1
        self.connections[sid] = Connection(sid)
        await self.sio.emit("rank", -1, to=sid)

    async def _on_disconnect(self, sid: str, reason: Any = None) -> None:
        conn = self.connections.pop(sid, None)
        if conn and conn.name:
            self.disconnect_reasons.setdefault(conn.name.lower(), []).append(str(reason))
        if conn and conn.channel and conn.name:
            await self.sio.emit("userLeave", {"name": conn.name}, room=conn.channel)

    async def _on_joinchannel(self, sid: str, data: Any) -> None:
        conn = self.connections.get(sid)
        if conn is None or conn.channel is not None or not isinstance(data, dict):
            return
        name = data.get("name")
        if not isinstance(name, str) or not CHANNEL_RE.match(name):
            await self._kick(conn, "Invalid channel name")
            return
        channel = name.lower()
        conn.channel = channel
        await self.sio.enter_room(sid, channel)
        if self.channel_opts:
            await self.sio.emit("channelOpts", self.channel_opts, to=sid)
        for message in self.replay.get(channel, ()):
            await self.sio.emit("chatMsg", message, to=sid)
        await self.sio.emit("userlist", [self._user(c) for c in self._members(channel) if c.name], to=sid)
        if conn.name:
            await self._announce_login(conn)

    async def _on_login(self, sid: str, data: Any) -> None:
        conn = self.connections.get(sid)
        if conn is None or conn.name is not None:
            return
        if not isinstance(data, dict):
            await self.sio.emit("errorMsg", {"msg": "Invalid login frame"}, to=sid)
            return
        name, password = str(data.get("name", "")), data.get("pw") or ""
        error = self._check_account(name, password) if password else self._check_guest(conn, name)
        if error:
            await self.sio.emit("login", {"success": False, "error": error}, to=sid)
            return
        conn.name = self.accounts[name.lower()][0] if password else name
        conn.guest = not password
        await self.sio.emit("rank", 0 if conn.guest else 1, to=sid)
        reply = {"success": True, "name": conn.name, **({"guest": True} if conn.guest else {})}
        await self.sio.emit("login", reply, to=sid)
        if conn.channel:
            await self._announce_login(conn)
            if self.resend_userlist:
                await self.sio.emit("userlist", [self._user(c) for c in self._members(conn.channel) if c.name], to=sid)

    async def _on_chatmsg(self, sid: str, data: Any) -> None:
        conn = self.connections.get(sid)
        if conn is None or not conn.channel or not conn.name:
            return
        if not isinstance(data, dict) or not isinstance(data.get("msg"), str):
            await self.sio.emit("errorMsg", {"msg": "Unexpected error for message chatMsg"}, to=sid)
            return
        cooldown_ms = self.throttled.pop(conn.name.lower(), None)
        if cooldown_ms is not None:
            await self.sio.emit("cooldown", cooldown_ms, to=sid)
            return
        await self._broadcast_chat(conn.channel, conn.name, data["msg"])

    # --- helpers ----------------------------------------------------------

    def _check_account(self, name: str, password: str) -> str | None:
        account = self.accounts.get(name.lower())
        if account is None:
            return "User does not exist"
        if account[1] != password[:100]:
            return "Invalid username/password combination"
        return None

    def _check_guest(self, conn: Connection, name: str) -> str | None:
        if self.guest_login_delay:
            return "Guest logins are restricted to one per IP address per 60 seconds."
        if not NAME_RE.match(name):
            return "Invalid username.  Usernames must be 1-20 characters long"
        if name.lower() in self.accounts:
            return "That username is registered."
        if conn.channel and any(c.name and c.name.lower() == name.lower() for c in self._members(conn.channel)):
            return "That name is already in use on this channel."
        return None

    async def _announce_login(self, conn: Connection) -> None:
        """Kick an older login of the same name, then tell the room (as CyTube does)."""
        assert conn.channel and conn.name
        older = [
            c for c in self._members(conn.channel) if c is not conn and c.name and c.name.lower() == conn.name.lower()
        ]
        for old in older:
            old.name = None  # its disconnect must not send a second userLeave
            await self._kick(old, "Duplicate login")
        if older:
            await self.sio.emit("userLeave", {"name": conn.name}, room=conn.channel)
        await self.sio.emit("addUser", self._user(conn), room=conn.channel)

    async def _kick(self, conn: Connection, reason: str) -> None:
        await self.sio.emit("kick", {"reason": reason}, to=conn.sid)
        await self.sio.disconnect(conn.sid)

    async def _broadcast_chat(self, channel: str, username: str, text: str) -> None:
        message = {
            "username": username,
            "msg": html.escape(text[:MAX_CHAT_LENGTH], quote=False),
            "meta": {},
            "time": int(time.time() * 1000),
        }
        self.replay.setdefault(channel, deque(maxlen=REPLAY_LENGTH)).append(message)
        await self.sio.emit("chatMsg", message, room=channel)

    def _members(self, channel: str) -> list[Connection]:
        return [c for c in self.connections.values() if c.channel == channel]

    @staticmethod
    def _user(conn: Connection) -> dict[str, Any]:
        return {
            "name": conn.name,
            "rank": 0 if conn.guest else 1,
            "profile": {"image": "", "text": ""},
            "meta": {"afk": False, "muted": False},
        }
