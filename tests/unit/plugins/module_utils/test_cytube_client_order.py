"""The private hooks cytube_client puts into python-socketio/python-engineio, tested for real.

``_OrderedClient`` overrides ``socketio.Client._engineio_client_class`` and
``engineio.Client._trigger_event`` (no public API keeps socket.io events in arrival
order: engineio runs each message handler in a thread of its own). These tests pin
the behaviour against the installed versions (requirements.txt gives the tested
range): the hooks exist, are used, and a burst of events arrives in order.

The server is a minimal Engine.IO 4 / socket.io 5 websocket endpoint on a raw socket.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from ansible_collections.cytube.shipit.plugins.module_utils import cytube_client as cc
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = [
    pytest.mark.timeout(30),
    pytest.mark.skipif(not (cc.HAS_SOCKETIO and cc.HAS_WEBSOCKET_CLIENT), reason="python-socketio not installed"),
]

BURST = 400
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _send_text(conn: socket.socket, text: str) -> None:
    data = text.encode()
    if len(data) < 126:
        header = struct.pack("!BB", 0x81, len(data))
    else:
        header = struct.pack("!BBH", 0x81, 126, len(data))
    conn.sendall(header + data)


def _read_exact(conn: socket.socket, size: int) -> bytes:
    out = b""
    while len(out) < size:
        chunk = conn.recv(size - len(out))
        if not chunk:
            raise ConnectionError("closed")
        out += chunk
    return out


def _recv_text(conn: socket.socket) -> str:
    _opcode, second = _read_exact(conn, 2)
    size = second & 0x7F
    if size == 126:
        size = struct.unpack("!H", _read_exact(conn, 2))[0]
    mask = _read_exact(conn, 4)
    payload = _read_exact(conn, size)
    return bytes(b ^ mask[i % 4] for i, b in enumerate(payload)).decode()


def _serve_one(listener: socket.socket) -> None:
    conn, _ = listener.accept()
    with conn:
        request = b""
        while b"\r\n\r\n" not in request:
            request += conn.recv(4096)
        key = next(
            line.split(":", 1)[1].strip()
            for line in request.decode().split("\r\n")
            if line.lower().startswith("sec-websocket-key")
        )
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        conn.sendall(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
            ).encode()
        )
        handshake = {"sid": "eio-sid", "upgrades": [], "pingInterval": 25000, "pingTimeout": 60000}
        _send_text(conn, "0" + json.dumps(handshake))
        while not _recv_text(conn).startswith("40"):  # socket.io CONNECT to "/"
            pass
        _send_text(conn, '40{"sid":"sio-sid"}')
        for number in range(BURST):  # back to back, as CyTube's join burst
            _send_text(conn, "42" + json.dumps(["n", number]))
        conn.settimeout(5)
        try:
            while conn.recv(4096):
                pass
        except OSError:
            pass


@pytest.fixture()
def burst_server() -> Iterator[str]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    thread = threading.Thread(target=_serve_one, args=(listener,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def test_the_private_hooks_exist_in_the_installed_versions() -> None:
    assert callable(getattr(cc.socketio.Client, "_engineio_client_class", None))
    assert callable(getattr(cc.engineio.Client, "_trigger_event", None))
    assert cc.ORDER_HOOKS and cc._client_class() is cc._OrderedClient


class _UnevenSession(cc.CytubeSession):
    """Handling some events takes longer (a busy controller): order must not depend on it."""

    def _on_any(self, event: str, *args: object) -> None:
        if event == "n" and isinstance(args[0], int) and args[0] % 3 == 0:
            time.sleep(0.002)
        super()._on_any(event, *args)


def test_a_burst_of_events_arrives_in_order(burst_server: str) -> None:
    session = _UnevenSession(timeout=3.0)
    session.connect(burst_server)
    try:
        assert isinstance(session._client.eio, cc._OrderedEngineIOClient)  # the hook is in use
        numbers: list[int] = []
        deadline = time.monotonic() + 10
        while len(numbers) < BURST:
            event = session.next_event(deadline)
            assert event is not None, f"only {len(numbers)} events arrived"
            if event.name == "n":
                numbers.append(event.data)
        assert numbers == list(range(BURST))
    finally:
        session.close()


# ------------------------------------------------------- declared requirements

REPO = Path(__file__).resolve().parents[4]


def _declared() -> dict[str, Requirement]:
    lines = (REPO / "requirements.txt").read_text().splitlines()
    reqs = [Requirement(line.split("#")[0]) for line in lines if line.split("#")[0].strip()]
    return {canonicalize_name(r.name): r for r in reqs}


def test_requirements_cover_the_libraries_cytube_client_imports() -> None:
    declared = _declared()
    assert set(declared) == {"python-socketio", "python-engineio", "websocket-client"}
    for name, requirement in declared.items():
        installed = importlib.metadata.version(name)
        assert requirement.specifier.contains(installed), f"{name} {installed} is outside {requirement.specifier}"
        assert any(spec.operator == "<" for spec in requirement.specifier), f"{name}: no upper bound"


def test_execution_environment_metadata_points_at_requirements_txt() -> None:
    meta = yaml.safe_load((REPO / "meta" / "execution-environment.yml").read_text())
    assert meta["dependencies"]["python"] == "requirements.txt"
    assert (REPO / meta["dependencies"]["python"]).is_file()
