"""Per-IP limits: connection rate, concurrent connections; channel throttles and AFK."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import requests
import socketio
from standin_harness import Probe, StandIn, fresh_channel, fresh_ip

pytestmark = pytest.mark.standin

RATE_LIMITED = {"message": "Rate limit exceeded"}


@pytest.fixture(scope="module")
def fast_refill(standin_factory: Callable[..., StandIn]) -> StandIn:
    """CyTube's bucket size, but one token per 2 s instead of one per 10 s."""
    return standin_factory({"conn_refill_per_s": 0.5})


@pytest.fixture(scope="module")
def relaxed(standin_factory: Callable[..., StandIn]) -> StandIn:
    """Room for many connections per IP, quick usercount throttle and AFK timer."""
    return standin_factory({"conn_burst": 40, "usercount_throttle_ms": 400, "afk_timeout_s": 0.5})


def refused(probes: Callable[..., Probe], server: StandIn, ip: str) -> Probe:
    probe = probes(server, ip=ip, connect=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        probe.connect()
    return probe


def test_sixth_connection_in_a_burst_is_refused(standin: StandIn, probes: Callable[..., Probe]) -> None:
    ip = fresh_ip()
    for _ in range(5):
        probes(standin, ip=ip)
    assert refused(probes, standin, ip).connect_error == RATE_LIMITED
    time.sleep(1.0)  # CyTube refills one token per 10 s: still refused a second later
    assert refused(probes, standin, ip).connect_error == RATE_LIMITED
    assert standin.state()["counters"]["connections_rate_limited"] >= 2


def test_rate_limit_is_per_forwarded_ip(standin: StandIn, probes: Callable[..., Probe]) -> None:
    first, second = fresh_ip(), fresh_ip()
    for ip in (first, second):
        for _ in range(5):
            assert probes(standin, ip=ip).client.connected


def test_engineio_handshake_without_connect_uses_no_token(standin: StandIn, probes: Callable[..., Probe]) -> None:
    ip = fresh_ip()
    for _ in range(6):
        response = requests.get(
            standin.io_url + "/socket.io/?EIO=4&transport=polling", headers={"X-Forwarded-For": ip}, timeout=5
        )
        assert response.status_code == 200
    for _ in range(5):
        probes(standin, ip=ip)


def test_bucket_refills_one_token_and_refusals_cost_nothing(fast_refill: StandIn, probes: Callable[..., Probe]) -> None:
    ip = fresh_ip()
    for _ in range(5):
        probes(fast_refill, ip=ip)
    for _ in range(3):
        refused(probes, fast_refill, ip)
    time.sleep(2.05)
    probes(fast_refill, ip=ip)
    assert refused(probes, fast_refill, ip).connect_error == RATE_LIMITED


def test_eleventh_concurrent_connection_is_kicked(relaxed: StandIn, probes: Callable[..., Probe]) -> None:
    ip = fresh_ip()
    first = [probes(relaxed, ip=ip) for _ in range(10)]
    extra = probes(relaxed, ip=ip, connect=False)
    extra.connect(wait_rank=False)
    assert extra.disconnected.wait(5)
    assert extra.events == [("kick", {"reason": "Too many connections from your IP address"})]
    assert extra.disconnect_reason != "server disconnect"  # the transport is closed, as in CyTube
    first[0].close()
    deadline = time.monotonic() + 5
    while relaxed.state()["connections"]["by_ip"].get(ip) != 9:
        assert time.monotonic() < deadline, "connection count did not drop"
        time.sleep(0.02)
    assert probes(relaxed, ip=ip).events[0] == ("rank", -1)


def test_usercount_is_throttled_leading_and_trailing(relaxed: StandIn, probes: Callable[..., Probe]) -> None:
    channel = fresh_channel()
    first, second = probes(relaxed), probes(relaxed)
    first.join(channel)
    assert first.payloads("usercount") == [1]
    second.join(channel)
    assert second.payloads("usercount") == []  # inside the throttle window: not in the burst
    assert second.wait_for("usercount", timeout=3) == 2
    assert first.wait_for("usercount", count=2, timeout=3) == 2


def test_idle_user_is_marked_afk_and_chat_clears_it(relaxed: StandIn, probes: Callable[..., Probe]) -> None:
    probe = probes(relaxed)
    probe.login("sleepy")
    probe.join(fresh_channel())
    assert probe.wait_for("setAFK", timeout=3) == {"name": "sleepy", "afk": True}
    assert probe.payloads("setUserMeta")[-1] == {"name": "sleepy", "meta": {"afk": True, "muted": False}}
    start = len(probe.events)
    probe.chat("awake")
    probe.wait_for("chatMsg")
    names = [n for n in probe.names()[start:] if n in ("setUserMeta", "setAFK", "chatMsg")]
    assert names == ["setUserMeta", "setAFK", "chatMsg"]
    assert probe.payloads("setAFK")[-1] == {"name": "sleepy", "afk": False}
