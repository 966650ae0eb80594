"""What the bot answers (pure functions, no I/O)."""

from __future__ import annotations

import html

from .store import Counts

HELP_TEXT = "chatbot commands: !help shows this; moderators can PM me the word status"
STATUS_MIN_RANK = 2  # CyTube's moderator rank
SERVER_NAME = "[server]"
# Messages stamped this long before the join are CyTube's replay buffer, not new chat.
REPLAY_TOLERANCE_MS = 2000


def plain_text(message: str) -> str:
    """CyTube sends chat HTML-escaped; commands are matched on the decoded text."""
    return html.unescape(message).strip()


def is_help_command(message: str) -> bool:
    words = plain_text(message).split()
    return bool(words) and words[0].lower() == "!help"


def is_status_request(message: str) -> bool:
    return plain_text(message).lower() == "status"


def may_ask_status(rank: float | None) -> bool:
    return rank is not None and rank >= STATUS_MIN_RANK


def status_text(uptime_s: float, counts: Counts) -> str:
    return f"status: up {int(uptime_s)} s, {counts.messages} messages and {counts.users} users seen"


def is_new_chat(username: str, own_name: str, time_ms: int, joined_ms: int) -> bool:
    """Chat worth recording and answering: not ours, not a server notice, not the replay."""
    if username == SERVER_NAME or username.lower() == own_name.lower():
        return False
    return time_ms >= joined_ms - REPLAY_TOLERANCE_MS
