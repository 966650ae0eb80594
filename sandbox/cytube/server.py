"""The socket.io side of the stand-in: connections, joins, logins, kicks and faults."""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import asdict, dataclass
from typing import Any

import socketio

from .accounts import AccountStore, is_valid_username
from .chat import ChatHandler
from .clientip import resolve_client_ip
from .config import CHANNEL_NAME_RE, MAX_HTTP_BUFFER_SIZE, PING_INTERVAL_S, PING_TIMEOUT_S, Config
from .eio3 import LegacyEngine
from .limits import GuestLoginTracker, Throttle, TokenBucket
from .model import (
    EMPTY_MD5_B64,
    PLAYLIST_META,
    RANK_GUEST,
    RANK_MODERATOR,
    RANK_SITE_ADMIN,
    Channel,
    Session,
    pack_user,
)
from .outbox import Outbox
from .textproc import format_number
from .typecheck import MISSING

LOG = logging.getLogger("cytube-standin")

RESERVED_NAME_RE = re.compile(r"(?:(.*?[-_])?admin(istrator)?([-_].*)?|(.*?[-_])?owner([-_].*)?)\Z", re.IGNORECASE)

MSG_INVALID_CHANNEL = (
    "Invalid channel name.  Channel names may consist of 1-30 characters in the set a-z, A-Z, 0-9, -, and _"
)
MSG_INVALID_USERNAME = (
    "Invalid username.  Usernames must be 1-20 characters long and consist only of characters a-z, A-Z, 0-9, -, or _."
)
MSG_RESERVED = "That username is reserved."
MSG_REGISTERED = "That username is registered."
MSG_NAME_IN_USE = "That name is already in use on this channel."
MSG_PLAYLIST_LIMIT = "Get Playlist URLs is limited to 1 usage every 60 seconds.  Please try again later."
MSG_ACP_KICK = "Attempted initACP from non privileged user.  This incident will be reported."
CHANLOG_MIN_RANK = 3

Handler = Callable[[Session, Any], Awaitable[None]]


@dataclass
class Faults:
    down: bool = False
    slow_ms: int = 0
    drop_chat: bool = False


def crosses_userlist_boundary(new: float, old: float) -> bool:
    """Moderator (2) and site-admin (255) ranks see a different user list."""
    return any((new >= edge) != (old >= edge) for edge in (RANK_MODERATOR, RANK_SITE_ADMIN))


class CytubeServer:
    def __init__(self, config: Config, accounts: AccountStore) -> None:
        self.config = config
        self.limits = config.limits
        self.accounts = accounts
        self.faults = Faults()
        self.counters: Counter[str] = Counter()
        self.sio = socketio.AsyncServer(
            async_mode="aiohttp",
            ping_interval=PING_INTERVAL_S,
            ping_timeout=PING_TIMEOUT_S,
            max_http_buffer_size=MAX_HTTP_BUFFER_SIZE,
            http_compression=False,
            cors_allowed_origins=[],  # no Origin check and no CORS headers
            async_handlers=False,  # one socket's events are handled in order, like CyTube
            logger=False,
            engineio_logger=False,
        )
        self.legacy = LegacyEngine(self)
        self.out = Outbox(self.sio, self.legacy, lambda: self.faults.slow_ms, self._count_emits)
        self.sessions: dict[str, Session] = {}
        self.channels: dict[str, Channel] = {}
        self.buckets: dict[str, TokenBucket] = {}
        self.ip_counts: dict[str, int] = {}
        self.guest_logins = GuestLoginTracker(self.limits.guest_login_delay_s)
        self.chat = ChatHandler(self)
        self.abort_connections: Callable[[], None] = lambda: None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.handlers: dict[str, Callable[..., Awaitable[None]]] = {}
        self._register_handlers()

    # ----------------------------------------------------------------- plumbing

    def _register_handlers(self) -> None:
        self.sio.on("connect", self.on_connect)
        self.sio.on("disconnect", self.on_disconnect)
        events: dict[str, Handler] = {
            "joinChannel": self.handle_join,
            "login": self.handle_login,
            "chatMsg": self.chat.handle_chat,
            "pm": self.chat.handle_pm,
            "requestPlaylist": self.handle_request_playlist,
            "readChanLog": self.handle_read_chan_log,
            "initACP": self.handle_init_acp,
        }
        for event, handler in events.items():
            self.handlers[event] = self._guarded(event, handler)
            self.sio.on(event, self.handlers[event])

    async def dispatch(self, sid: str, event: str, args: list[Any]) -> None:
        """An event from an Engine.IO 3 client; unknown events are ignored, as by CyTube."""
        handler = self.handlers.get(event)
        if handler is not None:
            await handler(sid, *args)

    def _guarded(self, event: str, handler: Handler) -> Callable[..., Awaitable[None]]:
        async def dispatch(sid: str, *args: Any) -> None:
            session = self.sessions.get(sid)
            if session is None or session.dead:
                return
            try:
                await handler(session, args[0] if args else MISSING)
            except Exception:
                LOG.exception("error handling %s from %s", event, session.ip)

        return dispatch

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _count_emits(self, count: int) -> None:
        self.counters["events_emitted"] += count

    async def emit(self, session: Session, event: str, *payload: Any) -> None:
        await self.out.emit(session.sid, event, *payload)

    async def broadcast(self, channel: Channel, event: str, payload: Any) -> None:
        """Send to every socket in the channel's room (CyTube's broadcastAll)."""
        await self.out.emit_many([s.sid for s in channel.room], event, payload)

    # ------------------------------------------------------------- connections

    def _bucket(self, ip: str) -> TokenBucket:
        if ip not in self.buckets:
            self.buckets[ip] = TokenBucket(self.limits.conn_burst, self.limits.conn_refill_per_s)
        return self.buckets[ip]

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        request = environ.get("aiohttp.request")
        peer = (request.remote if request is not None else None) or environ.get("REMOTE_ADDR", "")
        ip = resolve_client_ip(peer, environ.get("HTTP_X_FORWARDED_FOR"))
        transport = "websocket" if "transport=websocket" in environ.get("QUERY_STRING", "") else "polling"
        refusal = self.admit(sid, ip, transport, wait_for_connect=True)
        if refusal is not None:
            raise socketio.exceptions.ConnectionRefusedError(refusal)

    def admit(self, sid: str, ip: str, transport: str, *, wait_for_connect: bool) -> str | None:
        """CyTube's connect middleware; returns the refusal message, or None when accepted."""
        if self.faults.down:
            return "Server is down"
        if self._bucket(ip).throttle():
            self.counters["connections_rate_limited"] += 1
            LOG.info("connect refused ip=%s: connection rate limit exceeded", ip)
            return "Rate limit exceeded"
        session = Session(sid=sid, ip=ip)
        self.sessions[sid] = session
        over_limit = self.ip_counts.get(ip, 0) >= self.limits.ip_connection_limit
        if over_limit:
            session.dead = True
        else:
            self.ip_counts[ip] = self.ip_counts.get(ip, 0) + 1
            session.counted = True
        # The CONNECT acknowledgement is sent after this handler returns; events must follow it.
        self.spawn(self._after_connect(session, over_limit, transport, wait_for_connect))
        return None

    async def _after_connect(self, session: Session, over_limit: bool, transport: str, wait_for_connect: bool) -> None:
        for _ in range(100 if wait_for_connect else 0):
            if self.sio.manager.is_connected(session.sid, "/"):
                break
            await asyncio.sleep(0)
        if over_limit:
            self.counters["connections_over_ip_limit"] += 1
            LOG.info("connect rejected ip=%s: too many connections from this IP", session.ip)
            await self.emit(session, "kick", {"reason": "Too many connections from your IP address"})
            await self.out.drop_transport(session.sid)
            return
        self.counters["connections_accepted"] += 1
        LOG.info("connect ip=%s sid=%s transport=%s", session.ip, session.sid, transport)
        await self.emit(session, "rank", -1)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        session = self.sessions.pop(sid, None)
        if session is None:
            return
        session.dead = True
        self.out.release_long_poll(sid)
        await self.part(session)
        if session.counted:
            remaining = self.ip_counts.get(session.ip, 1) - 1
            if remaining > 0:
                self.ip_counts[session.ip] = remaining
            else:
                self.ip_counts.pop(session.ip, None)
        LOG.info("disconnect ip=%s sid=%s name=%s reason=%s", session.ip, sid, session.name or "-", reason)

    async def kick(self, session: Session, reason: str) -> None:
        """Send ``kick`` and disconnect; the user leaves the channel immediately."""
        LOG.info('kick ip=%s name=%s reason="%s"', session.ip, session.name or "-", reason)
        self.counters["kicks"] += 1
        await self.emit(session, "kick", {"reason": reason})
        session.dead = True
        await self.part(session)
        await self.out.disconnect(session.sid)

    # ---------------------------------------------------------------- channels

    def _new_throttle(self, channel: Channel) -> Throttle:
        async def send_usercount() -> None:
            await self.broadcast(channel, "usercount", len(channel.users))

        return Throttle(self.limits.usercount_throttle_ms / 1000.0, send_usercount)

    def get_channel(self, name: str) -> Channel:
        channel = self.channels.get(name)
        if channel is None:
            channel = Channel(
                name=name, registered=self.config.is_registered(name), afk_timeout_s=self.limits.afk_timeout_s
            )
            channel.usercount_throttle = self._new_throttle(channel)
            self.channels[name] = channel
        return channel

    def _maybe_unload(self, channel: Channel) -> None:
        if channel.room or channel.users:
            return
        if channel.usercount_throttle is not None:
            channel.usercount_throttle.cancel()
        if channel.registered:
            # A registered channel is saved on unload; its chat buffer survives.
            channel.usercount_throttle = self._new_throttle(channel)
        else:
            self.channels.pop(channel.name, None)

    async def _usercount(self, channel: Channel) -> None:
        if channel.usercount_throttle is not None:
            await channel.usercount_throttle.call()

    async def handle_join(self, session: Session, data: Any) -> None:
        if session.join_used:  # CyTube registers joinChannel with once()
            return
        session.join_used = True
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            return
        name = data["name"]
        if CHANNEL_NAME_RE.fullmatch(name) is None:
            await self.emit(session, "errorMsg", {"msg": MSG_INVALID_CHANNEL})
            await self.kick(session, "Invalid channel name")
            return
        await self.join(session, self.get_channel(name.lower()))

    async def join(self, session: Session, channel: Channel) -> None:
        session.channel = channel
        session.accepted = True
        channel.room.append(session)
        self.counters["joins"] += 1
        LOG.info("join #%s ip=%s sid=%s name=%s", channel.name, session.ip, session.sid, session.name or "-")
        self.start_afk_timer(session)
        if session.logged_in:
            await self._announce_login(session)
        channel.users.append(session)
        await self._send_join_burst(session, channel)
        if session.logged_in and session.registered:
            await self._apply_channel_rank(session)
            await self.emit(session, "listPlaylists", [])

    async def _send_join_burst(self, session: Session, channel: Channel) -> None:
        await self.emit(session, "setPermissions", dict(channel.permissions))
        await self.emit(session, "setPlaylistLocked", channel.playlist_locked)
        await self.emit(session, "emoteList", [])
        for message in list(channel.buffer):
            await self.emit(session, "chatMsg", message)
        await self.emit(session, "drinkCount", channel.drinks)
        await self.emit(
            session, "channelCSSJS", {"css": "", "cssHash": EMPTY_MD5_B64, "js": "", "jsHash": EMPTY_MD5_B64}
        )
        await self.emit(session, "setMotd", "")
        await self.emit(session, "channelOpts", channel.options())
        await self.emit(session, "setPlaylistMeta", dict(PLAYLIST_META))
        await self.emit(session, "playlist", [])
        await self.send_userlist(session)
        await self._usercount(channel)
        if not channel.registered:
            await self.emit(session, "channelNotRegistered")

    async def send_userlist(self, session: Session) -> None:
        if session.channel is None:
            return
        users = [pack_user(u, session) for u in session.channel.logged_in_users()]
        await self.emit(session, "userlist", users)

    async def part(self, session: Session) -> None:
        """Remove a socket from its channel (disconnect or kick)."""
        session.cancel_afk_timer()
        channel = session.channel
        session.channel = None
        if channel is None or not session.accepted:
            return
        session.accepted = False
        if session in channel.room:
            channel.room.remove(session)
        if session.logged_in:
            await self.broadcast(channel, "userLeave", {"name": session.name})
        if session in channel.users:
            channel.users.remove(session)
        await self._usercount(channel)
        self._maybe_unload(channel)

    # ------------------------------------------------------------------ logins

    async def handle_login(self, session: Session, data: Any) -> None:
        if not isinstance(data, dict):
            # In JavaScript null and arrays are objects: they pass this check and go nowhere.
            if data is not None and not isinstance(data, list):
                await self.emit(session, "errorMsg", {"msg": "Invalid login frame"})
            return
        name = data.get("name")
        if not isinstance(name, str):
            return
        password = data.get("pw") or ""
        if not isinstance(password, str):
            password = ""
        if session.logging_in or session.logged_in:
            return
        if not password:
            await self.guest_login(session, name)
            return
        session.logging_in = True
        self.spawn(self.account_login(session, name, password))

    async def _login_failed(self, session: Session, name: str, error: str) -> None:
        self.counters["logins_failed"] += 1
        LOG.info('login failed ip=%s name=%s error="%s"', session.ip, name, error)
        await self.emit(session, "login", {"success": False, "error": error})

    def _guest_login_error(self, session: Session, name: str) -> str | None:
        if self.guest_logins.blocked(session.ip):
            delay = format_number(self.limits.guest_login_delay_s)
            return f"Guest logins are restricted to one per IP address per {delay} seconds."
        if not is_valid_username(name):
            return MSG_INVALID_USERNAME
        if RESERVED_NAME_RE.match(name):
            return MSG_RESERVED
        if self.accounts.is_taken(name):
            return MSG_REGISTERED
        # Only checked when already in a channel; a later join kicks the older user instead.
        if session.channel is not None and session.channel.find_user(name.lower()) is not None:
            return MSG_NAME_IN_USE
        return None

    async def guest_login(self, session: Session, name: str) -> None:
        error = self._guest_login_error(session, name)
        if error is not None:
            await self._login_failed(session, name, error)
            return
        self.guest_logins.record(session.ip)
        old_rank = session.effective_rank
        session.name = name
        session.global_rank = RANK_GUEST
        self.counters["guest_logins"] += 1
        await self._finish_login(session, old_rank, {"success": True, "name": name, "guest": True})

    async def account_login(self, session: Session, name: str, password: str) -> None:
        account, error = await self.accounts.verify(name, password)
        if session.dead:
            return
        if account is None:
            session.logging_in = False
            await self._login_failed(session, name, error or "")
            return
        old_rank = session.effective_rank
        session.account = account
        session.name = account.name
        session.global_rank = account.rank
        await self._finish_login(session, old_rank, {"success": True, "name": account.name})

    async def _finish_login(self, session: Session, old_rank: float, reply: dict[str, Any]) -> None:
        await self.emit(session, "rank", session.effective_rank)
        await self._maybe_resend_userlist(session, old_rank)
        await self.emit(session, "login", reply)
        session.logged_in = True
        session.logging_in = False
        self.counters["logins_ok"] += 1
        LOG.info(
            "login ok ip=%s name=%s guest=%s rank=%s",
            session.ip,
            session.name,
            not session.registered,
            session.effective_rank,
        )
        if session.accepted:
            await self._announce_login(session)
            if session.registered:
                await self._apply_channel_rank(session)
        if session.acp_requested and not session.dead:
            await self._check_acp(session)

    async def _maybe_resend_userlist(self, session: Session, old_rank: float) -> None:
        if session.accepted and crosses_userlist_boundary(session.effective_rank, old_rank):
            await self.send_userlist(session)

    async def _announce_login(self, session: Session) -> None:
        """A logged-in user in a channel: kick same-name users, then announce with addUser."""
        channel = session.channel
        if channel is None:
            return
        for other in list(channel.users):
            if other is not session and other.lower_name == session.lower_name:
                await self.kick(other, "Duplicate login")
        for viewer in list(channel.users):
            await self.emit(viewer, "addUser", pack_user(session, viewer))
        await self.chat.send_mod_message(channel, f"{session.name} joined (aliases: {session.name})", RANK_MODERATOR)

    async def _apply_channel_rank(self, session: Session) -> None:
        """What follows CyTube's channel-rank lookup for an account in a channel."""
        channel = session.channel
        if channel is None:
            return
        old_rank = session.effective_rank
        session.channel_rank = self.config.channel_rank(channel.name, session.name)
        change = {"name": session.name, "rank": session.effective_rank}
        # CyTube sends all of this in one tick of its event loop, so nothing the user does on seeing its new rank
        # (this runs beside the user's next events, as CyTube's login does) can reach anyone before the broadcast.
        # Every await here may yield to those events, so everyone else gets the broadcast first.
        await self.out.emit_many([s.sid for s in channel.room if s is not session], "setUserRank", change)
        await self.emit(session, "rank", session.effective_rank)
        await self._maybe_resend_userlist(session, old_rank)
        await self.emit(session, "setPlaylistMeta", dict(PLAYLIST_META))
        await self.emit(session, "playlist", [])
        if session in channel.room:
            await self.emit(session, "setUserRank", change)

    # ------------------------------------------- other events a bot may send

    async def handle_request_playlist(self, session: Session, data: Any) -> None:
        if not session.accepted:
            return
        if session.playlist_requests.throttle(burst=1, sustained=0, cooldown=60):
            await self.emit(session, "errorMsg", {"msg": MSG_PLAYLIST_LIMIT, "code": "REQ_PLAYLIST_LIMIT_REACHED"})
            return
        await self.emit(session, "setPlaylistMeta", dict(PLAYLIST_META))
        await self.emit(session, "playlist", [])

    async def handle_read_chan_log(self, session: Session, data: Any) -> None:
        channel = session.channel
        if channel is None or not session.accepted:
            return
        if session.effective_rank < CHANLOG_MIN_RANK:
            await self.kick(session, "Attempted readChanLog with insufficient permission")
            return
        if not channel.registered:
            await self.emit(
                session,
                "readChanLog",
                {"success": False, "data": "Channel log is only available to registered channels."},
            )
            return
        lines = [f"<{m['username']}> {m['msg']}" for m in channel.buffer]
        await self.emit(session, "readChanLog", {"success": True, "data": "\n".join(lines)})

    async def handle_init_acp(self, session: Session, data: Any) -> None:
        if session.acp_requested:  # registered with once()
            return
        session.acp_requested = True
        if session.logged_in:
            await self._check_acp(session)

    async def _check_acp(self, session: Session) -> None:
        # The admin panel itself is not reproduced; a site admin just gets no answer.
        if session.global_rank < RANK_SITE_ADMIN:
            await self.kick(session, MSG_ACP_KICK)

    # --------------------------------------------------------------------- AFK

    def start_afk_timer(self, session: Session) -> None:
        session.cancel_afk_timer()
        if session.channel is None or session.channel.afk_timeout_s <= 0:
            return
        loop = asyncio.get_running_loop()
        session.afk_timer = loop.call_later(
            session.channel.afk_timeout_s, lambda: self.spawn(self.set_afk(session, True))
        )

    async def set_afk(self, session: Session, afk: bool) -> None:
        channel = session.channel
        if channel is None or not session.accepted:
            return
        if session.afk == afk:
            self.start_afk_timer(session)
            return
        session.afk = afk
        if afk:
            session.cancel_afk_timer()
            await self.emit(session, "clearVoteskipVote")
        else:
            self.start_afk_timer(session)
        for viewer in list(channel.users):
            await self.emit(viewer, "setUserMeta", {"name": session.name, "meta": pack_user(session, viewer)["meta"]})
        await self.broadcast(channel, "setAFK", {"name": session.name, "afk": afk})

    # ------------------------------------------------------------ admin faults

    def faults_dict(self) -> dict[str, Any]:
        return asdict(self.faults)

    async def set_faults(self, changes: dict[str, Any]) -> None:
        going_down = changes.get("down") is True and not self.faults.down
        for key, value in changes.items():
            setattr(self.faults, key, value)
        LOG.info("faults now %s", self.faults_dict())
        if going_down:
            await self.drop_everything()

    async def drop_everything(self) -> None:
        """The "down" fault: every socket and HTTP connection goes away at once."""
        for eio_sid, sock in list(self.sio.eio.sockets.items()):
            await sock.close(wait=False, abort=True, reason=self.sio.reason.TRANSPORT_CLOSE)
            # Wake a websocket writer or a pending long-poll so its request finishes.
            sock.queue.put_nowait(None)
            self.sio.eio.sockets.pop(eio_sid, None)
        await self.legacy.drop_all()
        self.abort_connections()

    async def admin_kick(self, channel_name: str, name: str, reason: str) -> int:
        channel = self.channels.get(channel_name.lower())
        if channel is None:
            return 0
        targets = [u for u in channel.users if u.name and u.lower_name == name.lower()]
        for target in targets:
            await self.kick(target, reason)
        return len(targets)

    def reset(self) -> None:
        self.faults = Faults()
        self.buckets.clear()
        self.guest_logins.clear()
        for session in self.sessions.values():
            session.flood.count = 0
            session.flood.last_time = float("-inf")
        for channel in self.channels.values():
            channel.buffer.clear()
        LOG.info("admin reset: faults off, limits and chat buffers cleared")

    def state(self) -> dict[str, Any]:
        channels = []
        for channel in sorted(self.channels.values(), key=lambda c: c.name):
            channels.append(
                {
                    "name": channel.name,
                    "registered": channel.registered,
                    "usercount": len(channel.users),
                    "anonymous": sum(1 for u in channel.users if not u.name),
                    "users": [
                        {"name": u.name, "rank": u.effective_rank, "guest": not u.registered, "ip": u.ip, "afk": u.afk}
                        for u in channel.logged_in_users()
                    ],
                    "chat_buffer": len(channel.buffer),
                    "drinks": channel.drinks,
                }
            )
        return {
            "faults": self.faults_dict(),
            "counters": dict(sorted(self.counters.items())),
            "channels": channels,
            "connections": {"total": len(self.sessions), "by_ip": dict(sorted(self.ip_counts.items()))},
            "guest_login_cooldowns": self.guest_logins.snapshot(),
            "accounts": self.accounts.names(),
            "limits": asdict(self.limits),
            "pending_delayed_events": self.out.pending(),
        }
