"""Decide whether a chat message is a command for this bot and what to answer.

Pure functions only: the socket.io session feeds them decoded payloads.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

TOKEN_RE = re.compile(r"[A-Za-z0-9-]{1,64}")
SERVER_USERNAME = "[server]"
# CyTube stamps chat with its own clock; tolerate that much skew before
# judging a message by its timestamp to be older than our join.
CLOCK_SKEW_TOLERANCE_MS = 10_000


@dataclass(frozen=True)
class ChatMessage:
    username: str
    html_text: str
    time_ms: float | None

    @classmethod
    def from_payload(cls, payload: Any) -> ChatMessage | None:
        """Build from a `chatMsg` payload; None when it is not shaped like one."""
        if not isinstance(payload, dict):
            return None
        username, text, time_ms = payload.get("username"), payload.get("msg"), payload.get("time")
        if not isinstance(username, str) or not isinstance(text, str):
            return None
        if not isinstance(time_ms, (int, float)) or isinstance(time_ms, bool):
            time_ms = None
        return cls(username=username, html_text=text, time_ms=time_ms)


@dataclass(frozen=True)
class CommandContext:
    own_name: str
    prefix: str
    version: str
    # Wall-clock ms at which the join was accepted; None while the join replay
    # (the channel's last messages) is still arriving.
    joined_at_ms: float | None


@dataclass(frozen=True)
class Reply:
    command: str
    text: str


def reply_for(message: ChatMessage, context: CommandContext) -> Reply | None:
    """The answer to `message`, or None when the bot must stay silent."""
    if not is_live_message_from_other(message, context):
        return None
    return parse_command(html.unescape(message.html_text), context)


def is_live_message_from_other(message: ChatMessage, context: CommandContext) -> bool:
    if message.username == SERVER_USERNAME:
        return False
    if message.username.casefold() == context.own_name.casefold():
        return False
    if context.joined_at_ms is None:
        return False
    if message.time_ms is not None and message.time_ms < context.joined_at_ms - CLOCK_SKEW_TOLERANCE_MS:
        return False
    return True


def parse_command(text: str, context: CommandContext) -> Reply | None:
    """Parse decoded chat text: `!ping`, `!ping <token>`, `!version`."""
    words = text.split()
    if not words or not words[0].startswith(context.prefix):
        return None
    command, args = words[0][len(context.prefix) :], words[1:]
    if command == "ping" and not args:
        return Reply("ping", f"pong {context.version}")
    if command == "ping" and len(args) == 1 and TOKEN_RE.fullmatch(args[0]):
        return Reply("ping", f"pong {context.version} {args[0]}")
    if command == "version" and not args:
        return Reply("version", f"cytube-refbot {context.version}")
    return None
