"""chatMsg and pm: echo, HTML transform, limits, flood control, PM rules."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from standin_harness import Probe, StandIn, fresh_channel, password

pytestmark = pytest.mark.standin


def chatter(
    standin: StandIn,
    probes: Callable[..., Probe],
    name: str = "chatter",
    registered: bool = False,
    channel: str | None = None,
) -> Probe:
    probe = probes(standin)
    probe.login(name)
    probe.join(channel or fresh_channel(registered=registered))
    return probe


def echo_of(probe: Probe, text: str, registered: bool = False) -> dict[str, object]:
    start = len(probe.payloads("chatMsg"))
    probe.chat(text)
    return probe.wait_for("chatMsg", count=start + 1)


def test_sender_receives_its_own_chat(standin: StandIn, probes: Callable[..., Probe]) -> None:
    probe = chatter(standin, probes)
    before_ms = int(time.time() * 1000)
    message = echo_of(probe, "hello there")
    assert message["username"] == "chatter"
    assert message["msg"] == "hello there"
    assert message["meta"] == {}
    assert before_ms - 1000 <= message["time"] <= int(time.time() * 1000) + 1000


def test_everyone_in_the_room_gets_it_including_anonymous(standin: StandIn, probes: Callable[..., Probe]) -> None:
    channel = fresh_channel()
    anonymous = probes(standin)
    anonymous.join(channel)
    sender = chatter(standin, probes, channel=channel)
    echo_of(sender, "to all")
    assert anonymous.wait_for("chatMsg")["msg"] == "to all"


def test_registered_channel_applies_default_filters(standin: StandIn, probes: Callable[..., Probe]) -> None:
    probe = chatter(standin, probes, registered=True)
    assert echo_of(probe, "health_check_token_42")["msg"] == "health<em>check</em>token_42"
    assert echo_of(probe, "<b>")["msg"] == "&lt;b&gt;"
    assert echo_of(probe, "`c` *b* ~~s~~")["msg"] == "<code>c</code> <strong>b</strong> <s>s</s>"


def test_unregistered_channel_escapes_and_links_but_has_no_filters(
    standin: StandIn, probes: Callable[..., Probe]
) -> None:
    probe = chatter(standin, probes)
    assert echo_of(probe, "health_check_token_42 <b>")["msg"] == "health_check_token_42 &lt;b&gt;"
    assert echo_of(probe, "go https://e.com/x")["msg"] == (
        'go <a href="https://e.com/x" target="_blank" rel="noopener noreferrer">https://e.com/x</a>'
    )


def test_greentext(standin: StandIn, probes: Callable[..., Probe]) -> None:
    message = echo_of(chatter(standin, probes), ">implying")
    assert message["msg"] == "&gt;implying"
    assert message["meta"] == {"addClass": "greentext"}


def test_message_cut_to_320(standin: StandIn, probes: Callable[..., Probe]) -> None:
    assert echo_of(chatter(standin, probes), "x" * 400)["msg"] == "x" * 320


def test_cut_counts_utf16_units_and_a_split_emoji_becomes_replacement_char(
    standin: StandIn, probes: Callable[..., Probe]
) -> None:
    probe = chatter(standin, probes)
    assert echo_of(probe, "\U0001f600" * 160)["msg"] == "\U0001f600" * 160  # exactly 320 units
    cut = echo_of(probe, "x" + "\U0001f600" * 200)["msg"]
    assert cut == "x" + "\U0001f600" * 159 + "\ufffd"  # 1 + 318 units, then half an emoji


def test_pm_cut_through_an_emoji_ends_in_replacement_char(standin: StandIn, probes: Callable[..., Probe]) -> None:
    channel = fresh_channel()
    target = chatter(standin, probes, "CutTarget", channel=channel)
    sender = chatter(standin, probes, "cutsender", channel=channel)
    sender.emit("pm", {"to": "cuttarget", "msg": "x" + "\U0001f600" * 200})
    assert target.wait_for("pm")["msg"] == "x" + "\U0001f600" * 159 + "\ufffd"


def test_control_characters_become_spaces(standin: StandIn, probes: Callable[..., Probe]) -> None:
    assert echo_of(chatter(standin, probes), "a\x01\x02b\tc\nd")["msg"] == "a b c d"


def test_client_meta_is_discarded(standin: StandIn, probes: Callable[..., Probe]) -> None:
    probe = chatter(standin, probes)
    probe.emit("chatMsg", {"msg": "plain", "meta": {"addClass": "shout", "modflair": 1}})
    assert probe.wait_for("chatMsg")["meta"] == {}


def test_whitespace_only_chat_is_dropped(standin: StandIn, probes: Callable[..., Probe]) -> None:
    probe = chatter(standin, probes)
    probe.chat("   \t \u00a0 ")
    probe.barrier()
    assert probe.payloads("chatMsg") == []


def test_anonymous_chat_is_dropped_silently(standin: StandIn, probes: Callable[..., Probe]) -> None:
    channel = fresh_channel()
    watcher = chatter(standin, probes, channel=channel)
    anonymous = probes(standin)
    anonymous.join(channel)
    anonymous.chat("from nobody")
    anonymous.barrier()
    watcher.barrier()
    assert anonymous.payloads("chatMsg") == [] and watcher.payloads("chatMsg") == []
    assert anonymous.payloads("errorMsg") == []


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"msg": 5}, "Expected key msg to be of type string, instead got number"),
        ({"text": "x"}, "Missing key: string:msg"),
        ({"msg": "x", "extra": 1}, "Extra key: extra"),
    ],
)
def test_wrong_chat_payload_gets_typecheck_error(
    standin: StandIn, probes: Callable[..., Probe], payload: dict[str, object], error: str
) -> None:
    probe = chatter(standin, probes)
    probe.emit("chatMsg", payload)
    assert probe.wait_for("errorMsg") == {"msg": f"Unexpected error for message chatMsg: {error}"}


def test_flood_25_back_to_back_gives_20_echoes_and_5_cooldowns(standin: StandIn, probes: Callable[..., Probe]) -> None:
    probe = chatter(standin, probes)
    for i in range(25):
        probe.chat(f"flood {i}")
    probe.barrier()
    assert [m["msg"] for m in probe.payloads("chatMsg")] == [f"flood {i}" for i in range(20)]
    assert probe.payloads("cooldown") == [100] * 5


def test_flood_limiter_is_shared_by_chat_and_pm(standin: StandIn, probes: Callable[..., Probe]) -> None:
    channel = fresh_channel()
    target = chatter(standin, probes, "pmtarget", channel=channel)
    sender = chatter(standin, probes, "pmsender", channel=channel)
    for i in range(20):
        sender.emit("pm", {"to": "pmtarget", "msg": f"pm {i}"})
    sender.chat("one too many")
    sender.barrier()
    assert len(sender.payloads("pm")) == 20
    assert sender.payloads("cooldown") == [100]
    assert target.payloads("chatMsg") == []


def test_pm_delivered_and_echoed(standin: StandIn, probes: Callable[..., Probe]) -> None:
    channel = fresh_channel()
    target = chatter(standin, probes, "PmTarget", channel=channel)
    sender = chatter(standin, probes, "pmsender", channel=channel)
    sender.emit("pm", {"to": "pmtarget", "msg": "psst <i>", "meta": {"addClass": "shout"}})
    received = target.wait_for("pm")
    echoed = sender.wait_for("pm")
    assert received == echoed
    assert set(received) == {"username", "msg", "meta", "time", "to"}
    assert (received["username"], received["msg"], received["meta"], received["to"]) == (
        "pmsender",
        "psst &lt;i&gt;",
        {},
        "PmTarget",
    )


def test_pm_to_self(standin: StandIn, probes: Callable[..., Probe]) -> None:
    probe = chatter(standin, probes, "selfish")
    probe.emit("pm", {"to": "SELFISH", "msg": "hi me"})
    assert probe.wait_for("errorMsg") == {"msg": "You can't PM yourself!"}


def test_pm_to_absent_user(standin: StandIn, probes: Callable[..., Probe]) -> None:
    probe = chatter(standin, probes)
    probe.emit("pm", {"to": "nobody_here", "msg": "hello?"})
    assert probe.wait_for("errorMsg") == {"msg": "PM failed: nobody_here isn't connected to this channel."}


def test_pm_requires_login(standin: StandIn, probes: Callable[..., Probe]) -> None:
    probe = probes(standin)
    probe.join(fresh_channel())
    probe.emit("pm", {"to": "someone", "msg": "hi"})
    assert probe.wait_for("errorMsg") == {"msg": "You must be signed in to send PMs"}


def test_registered_account_chat(standin: StandIn, probes: Callable[..., Probe]) -> None:
    probe = probes(standin)
    probe.login("shipprobe", password("shipprobe"))
    probe.join(fresh_channel(registered=True))
    assert echo_of(probe, "pong 1.0 abc123")["username"] == "shipprobe"


def test_me_command_is_an_action(standin: StandIn, probes: Callable[..., Probe]) -> None:
    message = echo_of(chatter(standin, probes), "/me waves")
    assert (message["msg"], message["meta"]) == ("waves", {"addClass": "action", "action": True})


def test_moderation_commands_are_not_broadcast(standin: StandIn, probes: Callable[..., Probe]) -> None:
    probe = chatter(standin, probes)
    probe.chat("/kick someone")
    probe.chat("/unknowncmd still chat")
    assert probe.wait_for("chatMsg")["msg"] == "/unknowncmd still chat"
    assert len(probe.payloads("chatMsg")) == 1


def test_request_playlist_once_per_minute(standin: StandIn, probes: Callable[..., Probe]) -> None:
    probe = chatter(standin, probes)
    start = len(probe.events)
    probe.emit("requestPlaylist")
    probe.emit("requestPlaylist")
    probe.barrier()
    assert probe.names()[start:] == ["setPlaylistMeta", "playlist", "errorMsg"]
    assert probe.payloads("errorMsg")[-1]["code"] == "REQ_PLAYLIST_LIMIT_REACHED"


def test_read_chan_log_below_rank_3_kicks(standin: StandIn, probes: Callable[..., Probe]) -> None:
    probe = chatter(standin, probes)
    probe.emit("readChanLog")
    assert probe.disconnected.wait(5)
    assert probe.payloads("kick") == [{"reason": "Attempted readChanLog with insufficient permission"}]


def test_init_acp_from_non_admin_kicks_once_logged_in(standin: StandIn, probes: Callable[..., Probe]) -> None:
    probe = probes(standin)
    probe.emit("initACP")
    probe.barrier()
    assert not probe.disconnected.is_set()
    probe.emit("login", {"name": "curious"})
    assert probe.disconnected.wait(5)
    assert probe.payloads("kick") == [
        {"reason": "Attempted initACP from non privileged user.  This incident will be reported."}
    ]
