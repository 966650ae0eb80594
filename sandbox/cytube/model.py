"""Server-side state: sockets (sessions), channels, and the payloads built from them."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .accounts import Account
from .config import CHAT_BUFFER_SIZE
from .limits import FloodLimiter, Throttle

RANK_ANONYMOUS = -1
RANK_GUEST = 0
RANK_MODERATOR = 2
RANK_SITE_ADMIN = 255

# permissions.js loadUnregistered(): the whole permission set of an unregistered channel.
UNREGISTERED_PERMISSIONS: dict[str, float] = {
    "seeplaylist": -1,
    "playlistadd": -1,
    "playlistnext": 0,
    "playlistmove": 0,
    "playlistdelete": 0,
    "playlistjump": 0,
    "playlistaddlist": 0,
    "oplaylistadd": -1,
    "oplaylistnext": 0,
    "oplaylistmove": 0,
    "oplaylistdelete": 0,
    "oplaylistjump": 0,
    "oplaylistaddlist": 0,
    "playlistaddcustom": 0,
    "playlistaddlive": 0,
    "exceedmaxlength": 0,
    "addnontemp": 0,
    "settemp": 0,
    "playlistshuffle": 0,
    "playlistclear": 0,
    "pollctl": 0,
    "pollvote": -1,
    "viewhiddenpoll": 1.5,
    "voteskip": -1,
    "viewvoteskip": 1.5,
    "playlistlock": 2,
    "leaderctl": 0,
    "drink": 0,
    "chat": 0,
    "chatclear": 2,
    "exceedmaxitems": 2,
    "deletefromchannellib": 2,
}

# permissions.js DEFAULT_PERMISSIONS: a registered channel that never changed them.
REGISTERED_PERMISSIONS: dict[str, float] = {
    "seeplaylist": -1,
    "playlistadd": 1.5,
    "playlistnext": 1.5,
    "playlistmove": 1.5,
    "playlistdelete": 2,
    "playlistjump": 1.5,
    "playlistaddlist": 1.5,
    "oplaylistadd": -1,
    "oplaylistnext": 1.5,
    "oplaylistmove": 1.5,
    "oplaylistdelete": 2,
    "oplaylistjump": 1.5,
    "oplaylistaddlist": 1.5,
    "playlistaddcustom": 3,
    "playlistaddrawfile": 2,
    "playlistaddlive": 1.5,
    "exceedmaxlength": 2,
    "addnontemp": 2,
    "settemp": 2,
    "playlistshuffle": 2,
    "playlistclear": 2,
    "pollctl": 1.5,
    "pollvote": -1,
    "viewhiddenpoll": 1.5,
    "voteskip": -1,
    "viewvoteskip": 1.5,
    "mute": 1.5,
    "kick": 1.5,
    "ban": 2,
    "motdedit": 3,
    "filteredit": 3,
    "filterimport": 3,
    "emoteedit": 3,
    "emoteimport": 3,
    "playlistlock": 2,
    "leaderctl": 2,
    "drink": 1.5,
    "chat": 0,
    "chatclear": 2,
    "exceedmaxitems": 2,
    "deletefromchannellib": 2,
    "exceedmaxdurationperuser": 2,
}

EMPTY_MD5_B64 = base64.b64encode(hashlib.md5(b"").digest()).decode("ascii")
EMPTY_PROFILE = {"image": "", "text": ""}
PLAYLIST_META = {"count": 0, "rawTime": 0, "time": "00:00"}


def channel_options(name: str, afk_timeout_s: float) -> dict[str, Any]:
    """opts.js defaults, in CyTube's key order."""
    return {
        "allow_voteskip": True,
        "voteskip_ratio": 0.5,
        "afk_timeout": int(afk_timeout_s) if float(afk_timeout_s).is_integer() else afk_timeout_s,
        "pagetitle": name,
        "maxlength": 0,
        "externalcss": "",
        "externaljs": "",
        "chat_antiflood": False,
        "chat_antiflood_params": {"burst": 4, "sustained": 1, "cooldown": 4},
        "show_public": False,
        "enable_link_regex": True,
        "password": False,
        "allow_dupes": False,
        "torbanned": False,
        "block_anonymous_users": False,
        "allow_ascii_control": False,
        "playlist_max_per_user": 0,
        "new_user_chat_delay": 0,
        "new_user_chat_link_delay": 0,
        "playlist_max_duration_per_user": 0,
    }


def cloak_ip(ip: str) -> str:
    """Moderator-visible IP: each segment replaced by a short hash of the segments so far."""
    if ":" in ip:
        parts, width, sep = ip.split(":")[:4], 4, ":"
    else:
        parts, width, sep = ip.split("."), 3, "."
    seen = ""
    cloaked = []
    for index, segment in enumerate(parts):
        digest = hashlib.md5((seen + segment + str(index)).encode("utf-8")).digest()
        cloaked.append(base64.b64encode(digest).decode("ascii")[:width])
        seen += segment
    cloaked.extend("*" for _ in range(4 - len(cloaked)))
    return sep.join(cloaked)


@dataclass(eq=False)
class Session:
    """One socket.io connection and the CyTube user behind it."""

    sid: str
    ip: str
    connected_at: float = field(default_factory=time.time)
    counted: bool = False  # holds a slot of the per-IP concurrent limit
    dead: bool = False
    name: str = ""
    global_rank: float = RANK_ANONYMOUS
    channel_rank: float = RANK_ANONYMOUS
    account: Account | None = None
    logged_in: bool = False
    logging_in: bool = False
    join_used: bool = False
    channel: Channel | None = None
    accepted: bool = False  # fully joined: in the room and the user list
    afk: bool = False
    afk_timer: asyncio.TimerHandle | None = None
    flood: FloodLimiter = field(default_factory=FloodLimiter)
    playlist_requests: FloodLimiter = field(default_factory=FloodLimiter)
    acp_requested: bool = False  # initACP is handled once, when the socket is logged in

    @property
    def effective_rank(self) -> float:
        return max(self.channel_rank, self.global_rank)

    @property
    def lower_name(self) -> str:
        return self.name.lower()

    @property
    def registered(self) -> bool:
        return self.account is not None

    def cancel_afk_timer(self) -> None:
        if self.afk_timer is not None:
            self.afk_timer.cancel()
            self.afk_timer = None


def user_meta(user: Session, viewer: Session) -> dict[str, Any]:
    meta: dict[str, Any] = {"afk": user.afk, "muted": False}
    if viewer.global_rank >= RANK_SITE_ADMIN or viewer.effective_rank >= RANK_MODERATOR:
        ip = user.ip if viewer.global_rank >= RANK_SITE_ADMIN else cloak_ip(user.ip)
        meta.update({"smuted": False, "aliases": [user.name], "ip": ip})
    return meta


def pack_user(user: Session, viewer: Session) -> dict[str, Any]:
    """The user object as ``viewer`` sees it (moderators see aliases and a cloaked IP)."""
    return {
        "name": user.name,
        "rank": user.effective_rank,
        "profile": dict(EMPTY_PROFILE),
        "meta": user_meta(user, viewer),
    }


@dataclass(eq=False)
class Channel:
    name: str
    registered: bool
    afk_timeout_s: float
    usercount_throttle: Throttle | None = None
    room: list[Session] = field(default_factory=list)  # receives channel broadcasts
    users: list[Session] = field(default_factory=list)  # the user list, in join order
    buffer: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=CHAT_BUFFER_SIZE))
    drinks: int = 0

    @property
    def permissions(self) -> dict[str, float]:
        return REGISTERED_PERMISSIONS if self.registered else UNREGISTERED_PERMISSIONS

    def has_permission(self, user: Session, node: str) -> bool:
        required = self.permissions.get(node)
        return required is not None and user.effective_rank >= required

    @property
    def playlist_locked(self) -> bool:
        # Unregistered channels have an open playlist; registered ones start locked.
        return self.registered

    @property
    def uses_default_filters(self) -> bool:
        # An unregistered channel never loads module state, so its filter list is empty.
        return self.registered

    def options(self) -> dict[str, Any]:
        return channel_options(self.name, self.afk_timeout_s)

    def find_user(self, lower_name: str) -> Session | None:
        return next((u for u in self.users if u.lower_name == lower_name), None)

    def logged_in_users(self) -> list[Session]:
        return [u for u in self.users if u.name]
