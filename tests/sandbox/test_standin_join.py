"""joinChannel: the burst, replay, userlists and the join gates."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from standin_harness import Probe, StandIn, fresh_channel, password

pytestmark = pytest.mark.standin

BURST_UNREGISTERED = [
    "setPermissions",
    "setPlaylistLocked",
    "emoteList",
    "drinkCount",
    "channelCSSJS",
    "setMotd",
    "channelOpts",
    "setPlaylistMeta",
    "playlist",
    "userlist",
    "usercount",
    "channelNotRegistered",
]
INVALID_CHANNEL = (
    "Invalid channel name.  Channel names may consist of 1-30 characters in the set a-z, A-Z, 0-9, -, and _"
)


def events_after(probe: Probe, start: int) -> list[str]:
    return probe.names()[start:]


def test_join_burst_order_on_fresh_unregistered_channel(standin: StandIn, probes: Callable[..., Probe]) -> None:
    probe = probes(standin)
    start = len(probe.events)
    probe.emit("joinChannel", {"name": fresh_channel()})
    probe.wait_for("channelNotRegistered")
    assert events_after(probe, start) == BURST_UNREGISTERED


def test_join_burst_payloads(standin: StandIn, probes: Callable[..., Probe]) -> None:
    probe = probes(standin)
    channel = fresh_channel()
    probe.join(channel)
    probe.barrier()
    assert probe.payloads("setPlaylistLocked") == [False]
    assert probe.payloads("emoteList") == [[]]
    assert probe.payloads("drinkCount") == [0]
    assert probe.payloads("setMotd") == [""]
    assert probe.payloads("playlist") == [[]]
    assert probe.payloads("setPlaylistMeta") == [{"count": 0, "rawTime": 0, "time": "00:00"}]
    assert probe.payloads("usercount") == [1]
    assert probe.payloads("setPermissions")[0]["chat"] == 0
    opts = probe.payloads("channelOpts")[0]
    assert opts["afk_timeout"] == 600 and opts["chat_antiflood"] is False
    assert opts["chat_antiflood_params"] == {"burst": 4, "sustained": 1, "cooldown": 4}
    assert (opts["new_user_chat_delay"], opts["new_user_chat_link_delay"]) == (0, 0)
    assert (opts["password"], opts["block_anonymous_users"], opts["allow_ascii_control"]) == (False, False, False)
    assert opts["enable_link_regex"] is True and opts["pagetitle"] == channel


def test_registered_channel_burst_has_no_channel_not_registered(standin: StandIn, probes: Callable[..., Probe]) -> None:
    probe = probes(standin)
    probe.join(fresh_channel(registered=True))
    probe.barrier()
    assert "channelNotRegistered" not in probe.names()
    assert probe.payloads("setPlaylistLocked") == [True]


def test_channel_name_is_lowercased(standin: StandIn, probes: Callable[..., Probe]) -> None:
    channel = fresh_channel()
    first, second = probes(standin), probes(standin)
    first.login("LowerA")
    first.join(channel.upper())
    second.join(channel)
    assert [u["name"] for u in second.payloads("userlist")[-1]] == ["LowerA"]


def test_userlist_lists_logged_in_users_only_and_includes_self_logged_in_before_join(
    standin: StandIn, probes: Callable[..., Probe]
) -> None:
    channel = fresh_channel()
    anonymous, member, newcomer = probes(standin), probes(standin), probes(standin)
    anonymous.join(channel)
    member.login("memberuser")
    member.join(channel)
    newcomer.login("newcomer")
    newcomer.join(channel)
    users = newcomer.payloads("userlist")[-1]
    assert users == [
        {"name": "memberuser", "rank": 0, "profile": {"image": "", "text": ""}, "meta": {"afk": False, "muted": False}},
        {"name": "newcomer", "rank": 0, "profile": {"image": "", "text": ""}, "meta": {"afk": False, "muted": False}},
    ]
    assert "addUser" not in newcomer.names()  # no addUser for itself when logged in first


def test_login_after_join_sends_add_user_for_self(standin: StandIn, probes: Callable[..., Probe]) -> None:
    probe = probes(standin)
    probe.join(fresh_channel())
    assert probe.payloads("userlist")[-1] == []
    probe.login("latecomer")
    added = probe.wait_for("addUser")
    assert added["name"] == "latecomer" and added["rank"] == 0
    assert probe.names()[-3:] == ["rank", "login", "addUser"]


def test_replay_of_last_15_messages_between_emotes_and_drinkcount(
    standin: StandIn, probes: Callable[..., Probe]
) -> None:
    channel = fresh_channel()
    talker, joiner = probes(standin), probes(standin)
    talker.login("talker")
    talker.join(channel)
    for i in range(20):
        talker.chat(f"line {i}")
    talker.wait_for("chatMsg", lambda m: m["msg"] == "line 19")
    start = len(joiner.events)
    joiner.join(channel)
    names = events_after(joiner, start)
    replayed = [m["msg"] for m in joiner.payloads("chatMsg")]
    assert replayed == [f"line {i}" for i in range(5, 20)]
    first, last = names.index("chatMsg"), len(names) - 1 - names[::-1].index("chatMsg")
    assert names[first - 1] == "emoteList" and names[last + 1] == "drinkCount"


def test_unregistered_channel_forgets_chat_when_empty_registered_keeps_it(
    standin: StandIn, probes: Callable[..., Probe]
) -> None:
    for registered, expected in ((False, []), (True, ["kept?"])):
        channel = fresh_channel(registered=registered)
        talker = probes(standin)
        talker.login(f"keeper{int(registered)}")
        talker.join(channel)
        talker.chat("kept?")
        talker.wait_for("chatMsg")
        talker.close()
        standin_wait_empty(standin, channel)
        joiner = probes(standin)
        joiner.join(channel)
        joiner.barrier()
        assert [m["msg"] for m in joiner.payloads("chatMsg")] == expected


def standin_wait_empty(standin: StandIn, channel: str) -> None:
    import time

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        listed = {c["name"]: c for c in standin.state()["channels"]}
        if channel not in listed or listed[channel]["usercount"] == 0:
            return
        time.sleep(0.02)
    raise AssertionError(f"{channel} did not empty")


def test_invalid_channel_name_error_then_kick_then_disconnect(standin: StandIn, probes: Callable[..., Probe]) -> None:
    probe = probes(standin)
    start = len(probe.events)
    probe.emit("joinChannel", {"name": "bad name!"})
    assert probe.disconnected.wait(5)
    assert probe.events[start:] == [
        ("errorMsg", {"msg": INVALID_CHANNEL}),
        ("kick", {"reason": "Invalid channel name"}),
    ]
    assert probe.disconnect_reason == "server disconnect"


def test_second_join_is_ignored(standin: StandIn, probes: Callable[..., Probe]) -> None:
    probe = probes(standin)
    probe.join(fresh_channel())
    start = len(probe.events)
    probe.emit("joinChannel", {"name": fresh_channel()})
    probe.barrier()
    assert events_after(probe, start) == []


@pytest.mark.parametrize("payload", ["chan", 7, {"name": 7}, {"nom": "chan"}])
def test_malformed_join_is_silent_but_uses_up_the_join(
    standin: StandIn, probes: Callable[..., Probe], payload: object
) -> None:
    probe = probes(standin)
    start = len(probe.events)
    probe.emit("joinChannel", payload)
    probe.emit("joinChannel", {"name": fresh_channel()})
    probe.barrier()
    assert events_after(probe, start) == []
    assert not probe.disconnected.is_set()


def test_chat_before_join_is_dropped(standin: StandIn, probes: Callable[..., Probe]) -> None:
    probe = probes(standin)
    probe.login("early")
    start = len(probe.events)
    probe.chat("too early")
    probe.emit("chatMsg", {"msg": 5})  # no handler yet, so not even a type error
    probe.barrier()
    assert events_after(probe, start) == []


def test_account_join_gets_channel_rank_and_playlists_after_burst(
    standin: StandIn, probes: Callable[..., Probe]
) -> None:
    probe = probes(standin)
    probe.login("shipbot2", password("shipbot2"))
    start = len(probe.events)
    probe.emit("joinChannel", {"name": fresh_channel()})
    probe.wait_for("listPlaylists")
    assert events_after(probe, start)[-6:] == [
        "channelNotRegistered",
        "rank",
        "setPlaylistMeta",
        "playlist",
        "setUserRank",
        "listPlaylists",
    ]
    assert probe.payloads("setUserRank") == [{"name": "shipbot2", "rank": 1}]


def test_leaving_sends_user_leave_for_logged_in_users_only(standin: StandIn, probes: Callable[..., Probe]) -> None:
    channel = fresh_channel()
    watcher, anonymous, guest = probes(standin), probes(standin), probes(standin)
    watcher.join(channel)
    anonymous.join(channel)
    guest.login("leaver")
    guest.join(channel)
    anonymous.close()
    guest.close()
    watcher.wait_for("userLeave")
    watcher.barrier()
    assert watcher.payloads("userLeave") == [{"name": "leaver"}]
