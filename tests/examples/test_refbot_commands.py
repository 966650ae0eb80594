"""Which chat messages the bot answers, and with what."""

from __future__ import annotations

import pytest
from cytube_refbot.commands import (
    CLOCK_SKEW_TOLERANCE_MS,
    ChatMessage,
    CommandContext,
    Reply,
    reply_for,
)

JOINED_AT_MS = 1_700_000_000_000.0
CONTEXT = CommandContext(own_name="ShipBot", prefix="!", version="1.2.3", joined_at_ms=JOINED_AT_MS)


def chat(text: str, username: str = "alice", time_ms: float | None = JOINED_AT_MS + 5) -> ChatMessage:
    return ChatMessage(username=username, html_text=text, time_ms=time_ms)


def answer(text: str, **kwargs: object) -> str | None:
    reply = reply_for(chat(text, **kwargs), CONTEXT)  # type: ignore[arg-type]
    return reply.text if reply else None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("!ping", "pong 1.2.3"),
        ("!ping abc123", "pong 1.2.3 abc123"),
        ("  !ping   abc-123  ", "pong 1.2.3 abc-123"),
        ("!ping " + "a" * 64, "pong 1.2.3 " + "a" * 64),
        ("!version", "cytube-refbot 1.2.3"),
    ],
)
def test_commands(text: str, expected: str) -> None:
    assert answer(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "!ping " + "a" * 65,  # too long
        "!ping abc_123",  # "_" is not a token character
        "!ping health<em>check</em>token",  # what CyTube makes of "health_check_token"
        "!ping a b",
        "!ping t\u00f6ken",
        "!pingx",
        "!PING",
        "ping",
        "?ping",
        "!version now",
        "",
        "hello !ping",
    ],
)
def test_not_commands(text: str) -> None:
    assert answer(text) is None


def test_html_is_decoded_before_parsing() -> None:
    context = CommandContext(own_name="ShipBot", prefix="&>", version="1.2.3", joined_at_ms=JOINED_AT_MS)
    assert reply_for(chat("&amp;&gt;ping tok"), context) == Reply("ping", "pong 1.2.3 tok")
    assert answer("!ping&#32;tok") == "pong 1.2.3 tok"
    assert answer("!ping &lt;b&gt;") is None


def test_own_messages_are_ignored_case_insensitively() -> None:
    assert answer("!ping", username="shipbot") is None
    assert answer("!ping", username="SHIPBOT") is None


def test_server_notices_are_ignored() -> None:
    assert answer("!ping", username="[server]") is None


def test_replay_before_join_accepted_is_ignored() -> None:
    before_join = CommandContext(own_name="ShipBot", prefix="!", version="1.2.3", joined_at_ms=None)
    assert reply_for(chat("!ping"), before_join) is None


def test_messages_stamped_well_before_the_join_are_ignored() -> None:
    assert answer("!ping", time_ms=JOINED_AT_MS - CLOCK_SKEW_TOLERANCE_MS - 1) is None
    # Within the skew tolerance (the server's clock may lag ours) they count.
    assert answer("!ping", time_ms=JOINED_AT_MS - CLOCK_SKEW_TOLERANCE_MS + 1) == "pong 1.2.3"
    assert answer("!ping", time_ms=None) == "pong 1.2.3"


@pytest.mark.parametrize(
    "payload",
    [None, "text", {"msg": "!ping"}, {"username": "a"}, {"username": 1, "msg": "!ping"}, {"username": "a", "msg": 2}],
)
def test_malformed_payloads(payload: object) -> None:
    assert ChatMessage.from_payload(payload) is None


def test_payload_parsing() -> None:
    message = ChatMessage.from_payload({"username": "a", "msg": "!ping", "meta": {}, "time": 5})
    assert message == ChatMessage("a", "!ping", 5)
    assert ChatMessage.from_payload({"username": "a", "msg": "x", "time": True}) == ChatMessage("a", "x", None)
