"""login: guest rules in CyTube's order, account logins, duplicate logins."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from standin_harness import Probe, StandIn, fresh_channel, fresh_ip, password

pytestmark = pytest.mark.standin

INVALID_NAME = (
    "Invalid username.  Usernames must be 1-20 characters long and consist only of characters a-z, A-Z, 0-9, -, or _."
)
COOLDOWN = "Guest logins are restricted to one per IP address per 60 seconds."


def failure(error: str) -> dict[str, object]:
    return {"success": False, "error": error}


def test_guest_login_success_sends_rank_then_login(standin: StandIn, probes: Callable[..., Probe]) -> None:
    probe = probes(standin)
    start = len(probe.events)
    assert probe.login("GuestOne") == {"success": True, "name": "GuestOne", "guest": True}
    assert probe.events[start:] == [("rank", 0), ("login", {"success": True, "name": "GuestOne", "guest": True})]


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("bad name!", INVALID_NAME),
        ("a" * 21, INVALID_NAME),
        ("admin", "That username is reserved."),
        ("Bot-Administrator", "That username is reserved."),
        ("owner_x", "That username is reserved."),
        ("shipbot", "That username is registered."),
        ("SHIPBOT", "That username is registered."),
        ("SH1PB0T", "That username is registered."),  # look-alikes: o/0, I/l/1
        ("modbot", "That username is registered."),
        ("ship-probe", "That username is registered."),  # - and _ are look-alikes too
    ],
)
def test_guest_login_rejections(standin: StandIn, probes: Callable[..., Probe], name: str, error: str) -> None:
    probe = probes(standin)
    standin.admin("/admin/accounts", {"name": "ship_probe", "password": "x-secret"})
    assert probe.login(name) == failure(error)


def test_guest_name_in_use_on_channel_is_case_insensitive(standin: StandIn, probes: Callable[..., Probe]) -> None:
    channel = fresh_channel()
    first, second = probes(standin), probes(standin)
    first.login("probeguest")
    first.join(channel)
    second.join(channel)
    assert second.login("PROBEGUEST") == failure("That name is already in use on this channel.")


def test_guest_cooldown_is_per_ip_across_channels_and_only_after_success(
    standin: StandIn, probes: Callable[..., Probe]
) -> None:
    ip = fresh_ip()
    first, second, third = (probes(standin, ip=ip) for _ in range(3))
    assert first.login("bad name!") == failure(INVALID_NAME)  # failures start no timer
    first.join(fresh_channel())
    assert first.login("firstguest")["success"] is True
    second.join(fresh_channel())
    assert second.login("secondguest") == failure(COOLDOWN)
    assert third.login("bad name!") == failure(COOLDOWN)  # the cooldown is checked first
    other_ip = probes(standin)
    assert other_ip.login("otherguest")["success"] is True


def test_guest_cooldown_cleared_by_admin_reset(standin: StandIn, probes: Callable[..., Probe]) -> None:
    ip = fresh_ip()
    first, second = probes(standin, ip=ip), probes(standin, ip=ip)
    assert first.login("resetguest1")["success"] is True
    assert second.login("resetguest2") == failure(COOLDOWN)
    assert standin.admin("/admin/reset", {}).status_code == 200
    assert second.login("resetguest3")["success"] is True


def test_account_login_uses_canonical_name_and_has_no_guest_key(standin: StandIn, probes: Callable[..., Probe]) -> None:
    probe = probes(standin)
    start = len(probe.events)
    reply = probe.login("SHIPBOT", password("shipbot"))
    assert reply == {"success": True, "name": "shipbot"}
    assert probe.events[start:] == [("rank", 1), ("login", reply)]


@pytest.mark.parametrize(
    ("name", "secret", "error"),
    [
        ("shipbot", "wrong-password", "Invalid username/password combination"),
        ("nosuchuser", "whatever", "User does not exist"),
        ("bad name!", "whatever", 'Invalid username "bad name!"'),
    ],
)
def test_account_login_failures(
    standin: StandIn, probes: Callable[..., Probe], name: str, secret: str, error: str
) -> None:
    assert probes(standin).login(name, secret) == failure(error)


def test_password_is_cut_to_100_characters(standin: StandIn, probes: Callable[..., Probe]) -> None:
    secret = "p" * 100
    assert standin.admin("/admin/accounts", {"name": "longpw", "password": secret}).status_code in (200, 201)
    assert probes(standin).login("longpw", secret + "ignored-tail")["success"] is True


def test_account_login_does_not_use_the_guest_cooldown(standin: StandIn, probes: Callable[..., Probe]) -> None:
    ip = fresh_ip()
    guest, bot = probes(standin, ip=ip), probes(standin, ip=ip)
    assert guest.login("cooldownguest")["success"] is True
    assert bot.login("shipprobe", password("shipprobe"))["success"] is True


@pytest.mark.parametrize("payload", ["text", 5, True])
def test_non_object_login_frame(standin: StandIn, probes: Callable[..., Probe], payload: object) -> None:
    probe = probes(standin)
    probe.emit("login", payload)
    assert probe.wait_for("errorMsg") == {"msg": "Invalid login frame"}


@pytest.mark.parametrize("payload", [None, [], {"name": 5}, {"pw": "x"}])
def test_login_without_string_name_is_ignored(standin: StandIn, probes: Callable[..., Probe], payload: object) -> None:
    probe = probes(standin)
    start = len(probe.events)
    probe.emit("login", payload)
    probe.barrier()
    assert probe.names()[start:] == []


def test_login_when_logged_in_or_in_progress_is_ignored(standin: StandIn, probes: Callable[..., Probe]) -> None:
    probe = probes(standin)
    probe.emit("login", {"name": "shipbot", "pw": password("shipbot")})
    probe.emit("login", {"name": "whileinprogress"})  # the bcrypt check is still running
    probe.wait_for("login")
    probe.emit("login", {"name": "afterwards"})
    probe.barrier()
    assert probe.payloads("login") == [{"success": True, "name": "shipbot"}]


def test_duplicate_login_kicks_the_older_socket(standin: StandIn, probes: Callable[..., Probe]) -> None:
    channel = fresh_channel()
    old, observer, new = probes(standin), probes(standin), probes(standin)
    for probe in (old, observer):
        probe.join(channel)
    old.login("shipbot", password("shipbot"))
    observer.wait_for("addUser", lambda u: u["name"] == "shipbot")
    new.join(channel)
    start_observer, start_new = len(observer.events), len(new.events)
    new.login("shipbot", password("shipbot"))
    assert old.disconnected.wait(5)
    assert old.payloads("kick") == [{"reason": "Duplicate login"}]
    assert old.disconnect_reason == "server disconnect"
    observer.wait_for("addUser", lambda u: u["name"] == "shipbot", count=2)
    seen = [e for e in observer.events[start_observer:] if e[0] in ("userLeave", "addUser")]
    assert [name for name, _ in seen] == ["userLeave", "addUser"]
    assert seen[0][1] == {"name": "shipbot"}
    new.wait_for("addUser")
    names = [n for n in new.names()[start_new:] if n in ("rank", "login", "userLeave", "addUser")]
    assert names[:4] == ["rank", "login", "userLeave", "addUser"]
    assert new.payloads("userLeave") == [{"name": "shipbot"}]


def test_duplicate_login_before_join_kicks_older_user_at_join(standin: StandIn, probes: Callable[..., Probe]) -> None:
    channel = fresh_channel()
    old, new = probes(standin), probes(standin)
    old.login("dupguest")
    old.join(channel)
    new.login("dupguest")  # not in a channel yet: no name-in-use check
    new.join(channel)
    assert old.disconnected.wait(5)
    assert old.payloads("kick") == [{"reason": "Duplicate login"}]
    assert [u["name"] for u in new.payloads("userlist")[-1]] == ["dupguest"]


def test_same_account_in_two_channels_is_not_kicked(standin: StandIn, probes: Callable[..., Probe]) -> None:
    first, second = probes(standin), probes(standin)
    first.login("shipbot", password("shipbot"))
    first.join(fresh_channel())
    second.login("shipbot", password("shipbot"))
    second.join(fresh_channel())
    first.barrier()
    assert "kick" not in first.names()
    assert not first.disconnected.is_set()


def test_runtime_account_registration(standin: StandIn, probes: Callable[..., Probe]) -> None:
    response = standin.admin("/admin/accounts", {"name": "RuntimeBot", "password": "rt-secret", "rank": 1})
    assert response.status_code == 201
    assert response.json()["name"] == "RuntimeBot"
    assert probes(standin).login("runtimebot", "rt-secret") == {"success": True, "name": "RuntimeBot"}
    assert probes(standin).login("RUNTIMEB0T") == failure("That username is registered.")
    assert "RuntimeBot" in standin.state()["accounts"]


def test_moderator_sees_join_notices_and_extended_user_meta(standin: StandIn, probes: Callable[..., Probe]) -> None:
    channel = fresh_channel()
    mod = probes(standin)
    mod.join(channel)
    start = len(mod.events)
    mod.login("modbot", password("ModBot"))
    mod.wait_for("setUserRank")
    names = [n for n in mod.names()[start:] if n in ("rank", "userlist", "login", "addUser")]
    assert names[:4] == ["rank", "userlist", "login", "addUser"]  # crossing rank 2 resends the list
    guest = probes(standin)
    guest.login("visitor")
    guest.join(channel)
    notice = mod.wait_for("chatMsg", lambda m: m["username"] == "[server]" and "visitor" in m["msg"])
    assert notice["msg"] == "visitor joined (aliases: visitor)"
    assert notice["meta"] == {"addClass": "server-whisper", "addClassToNameAndTimestamp": True}
    added = mod.wait_for("addUser", lambda u: u["name"] == "visitor")
    assert set(added["meta"]) == {"afk", "muted", "smuted", "aliases", "ip"}
    assert added["meta"]["ip"] != guest.ip and added["meta"]["aliases"] == ["visitor"]
    guest.barrier()
    assert all(m["username"] != "[server]" for m in guest.payloads("chatMsg"))
    assert set(guest.payloads("userlist")[-1][0]["meta"]) == {"afk", "muted"}
