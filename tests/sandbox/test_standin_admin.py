"""The loopback admin API: state, fault switches, kicks, reset."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import requests
import socketio
from standin_harness import Probe, StandIn, fresh_channel

pytestmark = pytest.mark.standin


def joined(server: StandIn, probes: Callable[..., Probe], name: str, channel: str) -> Probe:
    probe = probes(server)
    probe.login(name)
    probe.join(channel)
    return probe


def timed_barrier(probe: Probe) -> float:
    started = time.monotonic()
    probe.barrier()
    return time.monotonic() - started


def test_state_lists_channels_users_faults_and_counters(standin: StandIn, probes: Callable[..., Probe]) -> None:
    channel = fresh_channel()
    joined(standin, probes, "stateuser", channel)
    probes(standin).join(channel)
    state = standin.state()
    listed = {c["name"]: c for c in state["channels"]}[channel]
    assert listed["usercount"] == 2 and listed["anonymous"] == 1 and listed["registered"] is False
    assert [(u["name"], u["rank"], u["guest"]) for u in listed["users"]] == [("stateuser", 0, True)]
    assert state["faults"] == {"down": False, "slow_ms": 0, "drop_chat": False}
    assert state["counters"]["joins"] >= 2


@pytest.mark.parametrize("body", [{"down": "yes"}, {"slow_ms": -1}, {"slow_ms": 1.5}, {"explode": True}])
def test_invalid_fault_requests_are_rejected(standin: StandIn, body: dict[str, object]) -> None:
    response = standin.admin("/admin/faults", body)
    assert response.status_code == 400
    assert "error" in response.json()
    assert standin.state()["faults"] == {"down": False, "slow_ms": 0, "drop_chat": False}


def test_down_drops_sockets_and_refuses_quickly(
    standin_factory: Callable[..., StandIn], probes: Callable[..., Probe]
) -> None:
    server = standin_factory()
    victim = joined(server, probes, "victim", fresh_channel())
    assert server.admin("/admin/faults", {"down": True}).json()["faults"]["down"] is True
    assert victim.disconnected.wait(3)
    assert victim.disconnect_reason != "server disconnect"  # looks like a dead server, so clients retry
    started = time.monotonic()
    with pytest.raises(socketio.exceptions.ConnectionError):
        probes(server, connect=False).connect()
    assert requests.get(server.http_url + "/socketconfig/x.json", timeout=2).status_code == 503
    assert time.monotonic() - started < 2
    assert server.state()["connections"]["total"] == 0
    server.admin("/admin/faults", {"down": False})
    assert probes(server).events[0] == ("rank", -1)
    assert requests.get(server.http_url + "/socketconfig/x.json", timeout=2).status_code == 200


def test_slow_delays_every_event_in_order(standin: StandIn, probes: Callable[..., Probe]) -> None:
    probe = joined(standin, probes, "slowpoke", fresh_channel())
    assert timed_barrier(probe) < 0.3
    standin.admin("/admin/faults", {"slow_ms": 500})
    assert timed_barrier(probe) >= 0.45
    for i in range(3):
        probe.chat(f"slow {i}")
    started = time.monotonic()
    probe.wait_for("chatMsg", count=3)
    assert [m["msg"] for m in probe.payloads("chatMsg")] == ["slow 0", "slow 1", "slow 2"]
    assert time.monotonic() - started >= 0.3
    standin.admin("/admin/faults", {"slow_ms": 0})
    time.sleep(0.6)  # let anything still queued drain
    assert timed_barrier(probe) < 0.3


def test_drop_chat_accepts_but_broadcasts_nothing(standin: StandIn, probes: Callable[..., Probe]) -> None:
    channel = fresh_channel()
    sender = joined(standin, probes, "dropsender", channel)
    watcher = joined(standin, probes, "dropwatcher", channel)
    standin.admin("/admin/faults", {"drop_chat": True})
    sender.chat("into the void")
    sender.emit("pm", {"to": "dropwatcher", "msg": "also void"})
    sender.barrier()
    watcher.barrier()
    assert sender.payloads("chatMsg") == [] and watcher.payloads("chatMsg") == []
    assert sender.payloads("pm") == [] and sender.payloads("errorMsg") == []
    assert standin.state()["counters"]["chat_dropped"] == 1
    standin.admin("/admin/faults", {"drop_chat": False})
    sender.chat("back again")
    assert watcher.wait_for("chatMsg")["msg"] == "back again"


def test_admin_kick(standin: StandIn, probes: Callable[..., Probe]) -> None:
    channel = fresh_channel()
    target = joined(standin, probes, "kickme", channel)
    watcher = joined(standin, probes, "kickwatcher", channel)
    response = standin.admin("/admin/kick", {"channel": channel, "name": "KICKME", "reason": "maintenance"})
    assert response.status_code == 200 and response.json() == {"kicked": 1}
    assert target.disconnected.wait(3)
    assert target.payloads("kick") == [{"reason": "maintenance"}]
    assert watcher.wait_for("userLeave") == {"name": "kickme"}
    missing = standin.admin("/admin/kick", {"channel": channel, "name": "ghost", "reason": "x"})
    assert missing.status_code == 404


def test_reset_clears_faults_and_chat_buffers(standin: StandIn, probes: Callable[..., Probe]) -> None:
    channel = fresh_channel()
    talker = joined(standin, probes, "resettalker", channel)
    talker.chat("before reset")
    talker.wait_for("chatMsg")
    standin.admin("/admin/faults", {"drop_chat": True, "slow_ms": 5})
    assert standin.admin("/admin/reset", {}).json() == {"faults": {"down": False, "slow_ms": 0, "drop_chat": False}}
    joiner = probes(standin)
    joiner.join(channel)
    assert joiner.payloads("chatMsg") == []


def test_log_has_a_line_per_event_and_never_a_password(standin: StandIn, probes: Callable[..., Probe]) -> None:
    probe = probes(standin)
    probe.login("shipbot", "Wrong-Secret-xyz")
    probe.login("shipbot", "bot-password-1")
    probe.join(fresh_channel())
    probe.chat("logged line")
    probe.wait_for("chatMsg")
    deadline = time.monotonic() + 5
    while "logged line" not in standin.log():
        assert time.monotonic() < deadline, "chat was not logged"
        time.sleep(0.02)
    log = standin.log()
    assert f"connect ip={probe.ip}" in log and "join #" in log
    assert "login ok ip=" + probe.ip in log and "login failed ip=" + probe.ip in log
    assert "Wrong-Secret-xyz" not in log and "bot-password-1" not in log
