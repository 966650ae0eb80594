"""chatMsg and pm handling, in CyTube's processing order."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .accounts import is_valid_username
from .model import RANK_MODERATOR, Channel, Session
from .textproc import (
    as_sent_by_node,
    first_word_command,
    format_chat_text,
    js_substring,
    js_trim,
    replace_control_chars,
)
from .typecheck import CHAT_TEMPLATE, PM_TEMPLATE, check, event_error

if TYPE_CHECKING:
    from .server import CytubeServer

LOG = logging.getLogger("cytube-standin")

DRINK_RE = re.compile(r"/d-?[0-9]*")
DRINK_COUNT_RE = re.compile(r"-?[0-9]+")
DRINK_LIMIT = 10000
SHOUT_RANK = 1.5

# Moderation commands CyTube knows but the stand-in does not act on. They are
# swallowed (never broadcast), which is what CyTube does for users without the
# permission, i.e. every bot-level account.
SWALLOWED_COMMANDS = frozenset(
    {
        "a",
        "mute",
        "smute",
        "unmute",
        "unsmute",
        "kick",
        "kickanons",
        "ban",
        "ipban",
        "banip",
        "clean",
        "cleantitle",
        "poll",
        "hpoll",
        "rank",
    }
)


def now_ms() -> int:
    return int(time.time() * 1000)


def js_number(value: float) -> float:
    return int(value) if float(value).is_integer() else value


class ChatHandler:
    def __init__(self, server: CytubeServer) -> None:
        self.server = server
        self.commands: dict[str, Callable[[Session, Channel, str, dict[str, Any]], Awaitable[None]]] = {
            "me": self._cmd_me,
            "sp": self._cmd_spoiler,
            "say": self._cmd_shout,
            "rcv": self._cmd_shout,
            "shout": self._cmd_shout,
            "clear": self._cmd_clear,
            "afk": self._cmd_afk,
        }

    # ------------------------------------------------------------------ chatMsg

    async def handle_chat(self, session: Session, data: Any) -> None:
        channel = session.channel
        if channel is None or not session.accepted:  # no handler before the join is accepted
            return
        error = check(data, CHAT_TEMPLATE)
        if error is not None:
            await self.server.emit(session, "errorMsg", event_error("chatMsg", error))
            return
        if not channel.has_permission(session, "chat"):  # anonymous: dropped silently
            return
        message = as_sent_by_node(js_substring(data["msg"], self.server.limits.max_chat_message_length))
        message = replace_control_chars(message)
        if not js_trim(message) or not session.logged_in:
            return
        meta = self._allowed_meta(session, data.get("meta") or {})
        self.server.counters["chat_received"] += 1
        message, accepted = await self._drink(session, channel, message, meta)
        if accepted:
            await self.process(session, channel, message, meta)

    @staticmethod
    def _allowed_meta(session: Session, client_meta: dict[str, Any]) -> dict[str, Any]:
        """Client meta is discarded except a moderator's modflair equal to their own rank."""
        flair = client_meta.get("modflair")
        if (
            session.effective_rank >= RANK_MODERATOR
            and isinstance(flair, (int, float))
            and not isinstance(flair, bool)
            and flair == session.effective_rank
        ):
            return {"modflair": flair}
        return {}

    async def _drink(self, session: Session, channel: Channel, message: str, meta: dict[str, Any]) -> tuple[str, bool]:
        """CyTube's /d handling, which runs before the flood limiter (any "/d..." message)."""
        if DRINK_RE.match(message) is None or not channel.has_permission(session, "drink"):
            return message, True
        rest = message[2:]
        number = DRINK_COUNT_RE.match(rest)
        if number is None:
            rest, count = js_trim(rest) + " drink!", 1
        else:
            count = int(number.group(0))
            if not -DRINK_LIMIT <= count <= DRINK_LIMIT:
                return message, False
            rest = js_trim(rest.replace(number.group(0), "", 1))
            if not rest and count <= 0:
                channel.drinks += count
                await self.server.broadcast(channel, "drinkCount", channel.drinks)
                return message, False
            rest += f" drink! (x{count})"
        channel.drinks += count
        await self.server.broadcast(channel, "drinkCount", channel.drinks)
        meta["addClass"] = "drink"
        meta["forceShowName"] = True
        return rest, True

    async def process(self, session: Session, channel: Channel, message: str, meta: dict[str, Any]) -> None:
        if "/afk" not in message:
            await self.server.set_afk(session, False)
        entry = {
            "username": session.name,
            "msg": format_chat_text(message, use_filters=channel.uses_default_filters),
            "meta": meta,
            "time": now_ms(),
        }
        if await self._throttled(session):
            LOG.info("chat #%s %s: throttled", channel.name, session.name)
            return
        if message.startswith(">"):
            meta["addClass"] = "greentext"
        command = first_word_command(message)
        if command in self.commands:
            await self.commands[command](session, channel, message, meta)
            return
        if command in SWALLOWED_COMMANDS:
            LOG.info("chat #%s %s: command /%s not broadcast", channel.name, session.name, command)
            return
        await self.send_message(channel, entry)

    async def _throttled(self, session: Session) -> bool:
        limits = self.server.limits
        if not session.flood.throttle(limits.chat_burst, limits.chat_sustained):
            return False
        self.server.counters["chat_throttled"] += 1
        await self.server.emit(session, "cooldown", js_number(1000 / limits.chat_sustained))
        return True

    async def send_message(self, channel: Channel, entry: dict[str, Any]) -> None:
        if self.server.faults.drop_chat:
            self.server.counters["chat_dropped"] += 1
            LOG.info("chat #%s %s: dropped by the drop_chat fault", channel.name, entry["username"])
            return
        await self.server.broadcast(channel, "chatMsg", entry)
        channel.buffer.append(entry)
        self.server.counters["chat_broadcast"] += 1
        LOG.info("chat #%s %s: %r", channel.name, entry["username"], entry["msg"][:120])

    async def send_mod_message(self, channel: Channel, text: str, min_rank: float) -> None:
        entry = {
            "username": "[server]",
            "msg": text,
            "meta": {"addClass": "server-whisper", "addClassToNameAndTimestamp": True},
            "time": now_ms(),
        }
        targets = [u.sid for u in channel.users if u.effective_rank >= min_rank]
        await self.server.out.emit_many(targets, "chatMsg", entry)

    # ----------------------------------------------------------------- commands

    @staticmethod
    def _arguments(message: str) -> str:
        return " ".join(message.split(" ")[1:])

    async def _cmd_me(self, session: Session, channel: Channel, message: str, meta: dict[str, Any]) -> None:
        meta.update({"addClass": "action", "action": True})
        await self.process(session, channel, self._arguments(message), meta)

    async def _cmd_spoiler(self, session: Session, channel: Channel, message: str, meta: dict[str, Any]) -> None:
        meta["addClass"] = "spoiler"
        await self.process(session, channel, self._arguments(message), meta)

    async def _cmd_shout(self, session: Session, channel: Channel, message: str, meta: dict[str, Any]) -> None:
        if session.effective_rank < SHOUT_RANK:
            return
        meta.update({"addClass": "shout", "addClassToNameAndTimestamp": True, "forceShowName": True})
        await self.process(session, channel, self._arguments(message), meta)

    async def _cmd_clear(self, session: Session, channel: Channel, message: str, meta: dict[str, Any]) -> None:
        if not channel.has_permission(session, "chatclear"):
            return
        channel.buffer.clear()
        await self.server.broadcast(channel, "clearchat", {"clearedBy": session.name})
        await self.send_mod_message(channel, f"{session.name} cleared chat.", -1)

    async def _cmd_afk(self, session: Session, channel: Channel, message: str, meta: dict[str, Any]) -> None:
        await self.server.set_afk(session, not session.afk)

    # ----------------------------------------------------------------------- pm

    async def handle_pm(self, session: Session, data: Any) -> None:
        channel = session.channel
        if channel is None or not session.accepted:
            return
        error = check(data, PM_TEMPLATE)
        if error is not None:
            await self.server.emit(session, "errorMsg", event_error("pm", error))
            return
        failure = await self._pm_failure(session, channel, data["to"].lower())
        if failure is not None:
            if failure:
                await self.server.emit(session, "errorMsg", {"msg": failure})
            return
        target = channel.find_user(data["to"].lower())
        assert target is not None
        message = as_sent_by_node(js_substring(data["msg"], self.server.limits.max_chat_message_length))
        meta = {"addClass": "greentext"} if message.startswith(">") else {}
        entry = {
            "username": session.name,
            "msg": format_chat_text(message, use_filters=channel.uses_default_filters),
            "meta": meta,
            "time": now_ms(),
            "to": target.name,
        }
        if self.server.faults.drop_chat:
            self.server.counters["pm_dropped"] += 1
            return
        await self.server.emit(target, "pm", entry)
        await self.server.emit(session, "pm", entry)
        self.server.counters["pm_delivered"] += 1
        LOG.info("pm #%s %s -> %s", channel.name, session.name, target.name)

    async def _pm_failure(self, session: Session, channel: Channel, to: str) -> str | None:
        """CyTube's PM checks in order; "" means dropped silently (throttled)."""
        if not session.logged_in:
            return "You must be signed in to send PMs"
        if to == session.lower_name:
            return "You can't PM yourself!"
        if not is_valid_username(to):
            return f"PM failed: {to} isn't a valid username."
        if await self._throttled(session):
            return ""
        if channel.find_user(to) is None:
            return f"PM failed: {to} isn't connected to this channel."
        return None
