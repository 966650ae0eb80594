"""Engine.IO 3 / socket.io 2 clients (CyTube's allowEIO3), driven with the raw v3 wire format."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import requests
import websocket
from standin_harness import WAIT_S, Probe, RawV3Client, StandIn, fresh_channel, fresh_ip, v3_unframe

pytestmark = pytest.mark.standin

OPEN_KEYS = ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"]


@pytest.mark.parametrize("eio", ["3", "5", None])
def test_polling_handshake_uses_v3_framing_for_any_eio_but_4(standin: StandIn, eio: str | None) -> None:
    client = RawV3Client(standin, fresh_ip(), eio=eio)
    response = client.open()
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert response.text.startswith("119:0{")  # CyTube's 20-character sid gives exactly 119
    assert list(client.handshake) == OPEN_KEYS
    assert client.handshake["upgrades"] == ["websocket"]
    assert (client.handshake["pingInterval"], client.handshake["pingTimeout"]) == (25000, 120000)
    assert client.handshake["maxPayload"] == 1048576


def test_first_poll_holds_the_automatic_connect_then_anonymous_rank(standin: StandIn) -> None:
    client = RawV3Client(standin, fresh_ip())
    client.open()
    response = client.http.get(client.url(), timeout=WAIT_S)
    assert response.text == '2:4013:42["rank",-1]'


def test_handshake_spends_a_connection_token_and_refusal_is_a_v2_error_packet(
    standin: StandIn, probes: Callable[..., Probe]
) -> None:
    ip = fresh_ip()
    for _ in range(5):
        client = RawV3Client(standin, ip)
        client.open()
        assert client.poll()[0] == "40"
    refused = RawV3Client(standin, ip)
    refused.open()
    assert refused.poll() == ['44"Rate limit exceeded"']
    later = probes(standin, ip=ip, connect=False)  # the v4 side shares the same bucket
    with pytest.raises(Exception, match="failed to connect"):
        later.connect(wait_rank=False)
    assert later.connect_error == {"message": "Rate limit exceeded"}


@pytest.mark.parametrize("binary", [False, True], ids=["string-body", "binary-body"])
def test_join_login_and_chat_round_trip(standin: StandIn, binary: bool) -> None:
    client = RawV3Client(standin, fresh_ip())
    client.open()
    client.poll()
    channel = fresh_channel()
    client.emit("joinChannel", {"name": channel}, binary=binary)
    burst = client.events_until("userlist")
    assert burst[0][0] == "setPermissions"
    client.emit("login", {"name": "oldclient"}, binary=binary)
    client.events_until("login")
    client.emit("chatMsg", {"msg": "héllo 😀"}, binary=binary)
    chat = [data for name, data in client.events_until("chatMsg") if name == "chatMsg"]
    assert chat[0]["username"] == "oldclient"
    assert chat[0]["msg"] == "héllo 😀"


def test_payload_length_counts_utf16_units(standin: StandIn) -> None:
    client = RawV3Client(standin, fresh_ip())
    client.open()
    client.poll()
    client.emit("joinChannel", {"name": fresh_channel()})
    client.events_until("userlist")
    client.emit("login", {"name": "emojiclient"})
    client.events_until("login")
    client.emit("chatMsg", {"msg": "😀"})
    response = client.http.get(client.url(), timeout=WAIT_S)
    packet = next(p for p in v3_unframe(response.text) if "chatMsg" in p)
    # One emoji is one code point but two UTF-16 units (and four UTF-8 bytes).
    assert f"{len(packet) + 1}:{packet}" in response.text


def test_v3_and_v4_clients_share_a_channel(standin: StandIn, probes: Callable[..., Probe]) -> None:
    channel = fresh_channel()
    modern = probes(standin)
    modern.login("modernclient")
    modern.join(channel)
    old = RawV3Client(standin, fresh_ip())
    old.open()
    old.poll()
    old.emit("joinChannel", {"name": channel})
    userlist = dict(old.events_until("userlist"))["userlist"]
    assert [u["name"] for u in userlist] == ["modernclient"]
    modern.chat("from the new side")
    received = dict(old.events_until("chatMsg"))["chatMsg"]
    assert received["msg"] == "from the new side"


def test_client_ping_gets_pong(standin: StandIn) -> None:
    client = RawV3Client(standin, fresh_ip())
    client.open()
    client.poll()
    client.post(["2"])
    assert client.poll() == ["3"]


def test_unknown_sid_and_transport_are_engineio_errors(standin: StandIn) -> None:
    client = RawV3Client(standin, fresh_ip())
    client.sid = "nosuchsession0000000"
    response = requests.get(client.url(), timeout=WAIT_S)
    assert (response.status_code, response.json()) == (400, {"code": 1, "message": "Session ID unknown"})
    response = requests.get(standin.io_url + "/socket.io/?EIO=3&transport=flash", timeout=WAIT_S)
    assert (response.status_code, response.json()) == (400, {"code": 0, "message": "Transport unknown"})


def test_admin_kick_reaches_v3_client_then_namespace_disconnect(standin: StandIn) -> None:
    channel = fresh_channel()
    client = RawV3Client(standin, fresh_ip())
    client.open()
    client.poll()
    client.emit("joinChannel", {"name": channel})
    client.events_until("userlist")
    client.emit("login", {"name": "kickme"})
    client.events_until("login")
    assert standin.admin("/admin/kick", {"channel": channel, "name": "kickme", "reason": "bye"}).status_code == 200
    packets = client.poll()
    assert packets[-2:] == ['42["kick",{"reason":"bye"}]', "41"]


def _ws_url(standin: StandIn, sid: str | None) -> str:
    base = standin.io_url.replace("http://", "ws://") + "/socket.io/?EIO=3&transport=websocket"
    return base + (f"&sid={sid}" if sid else "")


def test_websocket_upgrade_from_polling(standin: StandIn) -> None:
    client = RawV3Client(standin, fresh_ip())
    client.open()
    assert client.poll() == ["40", '42["rank",-1]']
    ws = websocket.create_connection(_ws_url(standin, client.sid), timeout=WAIT_S)
    try:
        ws.send("2probe")
        assert ws.recv() == "3probe"
        assert client.poll() == ["6"]  # the paused poll is released with a noop
        ws.send("5")
        ws.send("42" + json.dumps(["joinChannel", {"name": fresh_channel()}]))
        names = []
        while "userlist" not in names:
            packet = ws.recv()
            assert packet.startswith("42"), packet  # one packet per frame, no length prefix
            names.append(json.loads(packet[2:])[0])
        ws.send("2")
        while (packet := ws.recv()).startswith("42"):
            pass  # the rest of the join burst
        assert packet == "3"
    finally:
        ws.close()


def test_websocket_only_connection(standin: StandIn) -> None:
    ws = websocket.create_connection(_ws_url(standin, None), timeout=WAIT_S, header=[f"X-Forwarded-For: {fresh_ip()}"])
    try:
        opened = ws.recv()
        assert opened.startswith("0{")
        assert json.loads(opened[1:])["upgrades"] == []
        assert ws.recv() == "40"
        assert ws.recv() == '42["rank",-1]'
    finally:
        ws.close()


def test_state_counts_v3_sessions_like_any_other(standin: StandIn) -> None:
    ip = fresh_ip()
    client = RawV3Client(standin, ip)
    client.open()
    client.poll()
    assert standin.state()["connections"]["by_ip"][ip] == 1
    client.post(["41"])  # socket.io 2 client disconnect
    assert ip not in standin.state()["connections"]["by_ip"]


def test_down_fault_drops_v3_sessions_and_refuses_new_handshakes(standin: StandIn) -> None:
    ip = fresh_ip()
    client = RawV3Client(standin, ip)
    client.open()
    client.poll()
    assert standin.state()["connections"]["by_ip"][ip] == 1
    assert standin.admin("/admin/faults", {"down": True}).status_code == 200
    assert ip not in standin.state()["connections"]["by_ip"]
    assert requests.get(client.url(), timeout=WAIT_S).status_code == 503
    assert standin.admin("/admin/faults", {"down": False}).status_code == 200
    response = requests.get(client.url(), timeout=WAIT_S)  # the old session is gone for good
    assert (response.status_code, response.json()["message"]) == (400, "Session ID unknown")
