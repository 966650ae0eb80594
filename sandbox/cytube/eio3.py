"""Engine.IO 3 / socket.io 2 clients, which CyTube accepts through ``allowEIO3``.

python-engineio 4 only speaks Engine.IO 4, so this module answers every
``/socket.io/`` request whose ``EIO`` is not ``4`` (node's engine.io treats any
other value, or none, as v3). It implements what a socket.io 2 client meets:

- polling with v3 payload framing: ``<length>:<packet>`` per packet, the length
  counted in UTF-16 units; client bodies may also use the binary (XHR2) framing
  ``\\x00<digits>\\xff<utf-8 packet>``;
- the websocket upgrade (``2probe``/``3probe``, a noop to the paused poll, ``5``)
  and websocket-only connections;
- heartbeats in the v3 direction: the client pings, the server answers ``3``;
  a socket that sends nothing for pingInterval + pingTimeout is closed;
- socket.io's automatic connect to ``/`` at handshake time: ``40`` then the
  connection's events, or ``44"<reason>"`` when CyTube's middleware refuses it.

The handshake therefore takes a connection-rate token, as on CyTube.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .clientip import resolve_client_ip
from .config import MAX_HTTP_BUFFER_SIZE, PING_INTERVAL_S, PING_TIMEOUT_S

if TYPE_CHECKING:
    from .server import CytubeServer

LOG = logging.getLogger("cytube-standin")

# Engine.IO packet types (v3 and v4 share them).
OPEN, CLOSE, PING, PONG, MESSAGE, UPGRADE, NOOP = "0", "1", "2", "3", "4", "5", "6"
# socket.io packet types.
SIO_CONNECT, SIO_DISCONNECT, SIO_EVENT, SIO_ERROR = "0", "1", "2", "4"
PLAIN_TEXT = "text/plain; charset=UTF-8"
SID_BYTES = 15  # base64 of 15 bytes: 20 characters, like engine.io's base64id


class PayloadError(ValueError):
    """A polling body that is not a valid Engine.IO 3 payload."""


def utf16_length(text: str) -> int:
    return sum(2 if ord(char) > 0xFFFF else 1 for char in text)


def encode_payload(packets: list[str]) -> str:
    """v3 string framing; JavaScript counts the length in UTF-16 units."""
    return "".join(f"{utf16_length(packet)}:{packet}" for packet in packets)


def _take_utf16(text: str, start: int, units: int) -> int:
    """Index in ``text`` after ``units`` UTF-16 units from ``start``."""
    index = start
    while units > 0:
        if index >= len(text):
            raise PayloadError("packet length runs past the end of the payload")
        units -= 2 if ord(text[index]) > 0xFFFF else 1
        index += 1
    if units < 0:
        raise PayloadError("packet length splits a character")
    return index


def _decode_string_payload(text: str) -> list[str]:
    packets: list[str] = []
    index = 0
    while index < len(text):
        colon = text.find(":", index)
        length = text[index:colon]
        if colon < 0 or not length.isdigit():
            raise PayloadError(f"bad length prefix at offset {index}")
        end = _take_utf16(text, colon + 1, int(length))
        packets.append(text[colon + 1 : end])
        index = end
    return packets


def _decode_binary_payload(body: bytes) -> list[str]:
    packets: list[str] = []
    index = 0
    while index < len(body):
        kind = body[index]
        end_of_length = body.find(b"\xff", index + 1)
        digits = body[index + 1 : end_of_length]
        if kind > 1 or end_of_length < 0 or any(d > 9 for d in digits):
            raise PayloadError(f"bad binary length prefix at offset {index}")
        length = int("".join(str(d) for d in digits) or "0")
        chunk = body[end_of_length + 1 : end_of_length + 1 + length]
        if len(chunk) != length:
            raise PayloadError("packet length runs past the end of the payload")
        # Binary attachments (kind 1) never reach a chat server; keep them decodable.
        packets.append(chunk.decode("utf-8") if kind == 0 else "b4" + base64.b64encode(chunk).decode("ascii"))
        index = end_of_length + 1 + length
    return packets


def decode_payload(body: bytes) -> list[str]:
    """A client's polling body, in either framing (engine.io-parser v2 decodePayload)."""
    if body[:1] in (b"\x00", b"\x01"):
        return _decode_binary_payload(body)
    try:
        return _decode_string_payload(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PayloadError("payload is not UTF-8") from exc


def event_packet(event: str, data: Any) -> str:
    """An Engine.IO message carrying a socket.io EVENT for namespace ``/``."""
    arguments = [event] if data is None else [event, data]
    return MESSAGE + SIO_EVENT + json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)


def error_json(code: int, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=400)


@dataclass(eq=False)
class LegacySocket:
    sid: str
    ip: str
    transport: str  # "polling" or "websocket"
    queue: list[str] = field(default_factory=list)
    poll: asyncio.Future[None] | None = None  # a GET waiting for packets
    websocket: web.WebSocketResponse | None = None
    probe: web.WebSocketResponse | None = None  # an upgrade in progress
    probed: bool = False  # the probe was answered: polls get a noop until the upgrade
    admitted: bool = False  # socket.io connected to "/" (a CytubeServer session exists)
    closed: bool = False
    timeout: asyncio.TimerHandle | None = None

    def wake_poll(self) -> None:
        if self.poll is not None and not self.poll.done():
            self.poll.set_result(None)


class LegacyEngine:
    """The Engine.IO 3 sockets of one server, bridged to CytubeServer's handlers."""

    def __init__(self, server: CytubeServer) -> None:
        self.server = server
        self.sockets: dict[str, LegacySocket] = {}

    def owns(self, sid: str) -> bool:
        return sid in self.sockets

    # --------------------------------------------------------------- requests

    async def handle(self, request: web.Request) -> web.StreamResponse:
        transport = request.query.get("transport")
        if transport not in ("polling", "websocket"):
            return error_json(0, "Transport unknown")
        sid = request.query.get("sid")
        if sid is None:
            return await self._handshake(request, transport)
        sock = self.sockets.get(sid)
        if sock is None or sock.closed:
            return error_json(1, "Session ID unknown")
        if transport == "websocket":
            return await self._upgrade(request, sock)
        if request.method == "GET":
            return await self._poll(sock)
        if request.method == "POST":
            return await self._receive_post(request, sock)
        return error_json(2, "Bad handshake method")

    async def _handshake(self, request: web.Request, transport: str) -> web.StreamResponse:
        if request.method != "GET":
            return error_json(2, "Bad handshake method")
        peer = request.remote or ""
        sock = LegacySocket(
            sid=base64.urlsafe_b64encode(secrets.token_bytes(SID_BYTES)).decode("ascii"),
            ip=resolve_client_ip(peer, request.headers.get("X-Forwarded-For")),
            transport=transport,
        )
        self.sockets[sock.sid] = sock
        self._touch(sock)
        open_packet = OPEN + json.dumps(
            {
                "sid": sock.sid,
                "upgrades": ["websocket"] if transport == "polling" else [],
                "pingInterval": PING_INTERVAL_S * 1000,
                "pingTimeout": PING_TIMEOUT_S * 1000,
                "maxPayload": MAX_HTTP_BUFFER_SIZE,
            },
            separators=(",", ":"),
        )
        LOG.info("engine.io 3 handshake ip=%s sid=%s transport=%s", sock.ip, sock.sid, transport)
        if transport == "websocket":
            websocket = web.WebSocketResponse(autoping=True, max_msg_size=MAX_HTTP_BUFFER_SIZE)
            await websocket.prepare(request)
            sock.websocket = websocket
            await websocket.send_str(open_packet)
            self._auto_connect(sock)
            await self._flush(sock)
            await self._read_websocket(sock, websocket)
            return websocket
        # The automatic namespace connect is queued behind the open packet: it reaches
        # the client in its first poll, as with node's engine.io.
        self._auto_connect(sock)
        return web.Response(text=encode_payload([open_packet]), content_type="text/plain", charset="UTF-8")

    def _auto_connect(self, sock: LegacySocket) -> None:
        """socket.io 2 clients join "/" implicitly; CyTube's middleware runs now."""
        refusal = self.server.admit(sock.sid, sock.ip, sock.transport, wait_for_connect=False)
        if refusal is not None:
            self.server.counters["eio3_refused"] += 1
            sock.queue.append(MESSAGE + SIO_ERROR + json.dumps(refusal))
            return
        sock.admitted = True
        self.server.counters["eio3_connections"] += 1
        sock.queue.insert(0, MESSAGE + SIO_CONNECT)

    async def _poll(self, sock: LegacySocket) -> web.StreamResponse:
        if sock.transport != "polling" or sock.poll is not None:
            # engine.io: a second concurrent GET (or polling after the upgrade) is an error.
            await self.close(sock, "transport error", send_close=False)
            return error_json(3, "Bad request")
        if not sock.queue and not sock.probed:
            sock.poll = asyncio.get_running_loop().create_future()
            try:
                await sock.poll
            finally:
                sock.poll = None
        packets, sock.queue = sock.queue, []
        if sock.closed and not packets:
            packets = [CLOSE]
        if not packets:
            packets = [NOOP]  # released for an upgrade
        return web.Response(text=encode_payload(packets), content_type="text/plain", charset="UTF-8")

    async def _receive_post(self, request: web.Request, sock: LegacySocket) -> web.StreamResponse:
        body = await request.read()
        try:
            packets = decode_payload(body)
        except PayloadError as exc:
            LOG.info("engine.io 3 sid=%s: bad payload: %s", sock.sid, exc)
            await self.close(sock, "parse error", send_close=False)
            return error_json(3, "Bad request")
        for packet in packets:
            await self._on_packet(sock, packet)
        return web.Response(text="ok", content_type="text/html", charset="UTF-8")

    async def _upgrade(self, request: web.Request, sock: LegacySocket) -> web.StreamResponse:
        if sock.transport != "polling" or sock.probe is not None:
            return error_json(3, "Bad request")
        websocket = web.WebSocketResponse(autoping=True, max_msg_size=MAX_HTTP_BUFFER_SIZE)
        await websocket.prepare(request)
        sock.probe = websocket
        await self._read_websocket(sock, websocket)
        return websocket

    # ---------------------------------------------------------------- packets

    async def _read_websocket(self, sock: LegacySocket, websocket: web.WebSocketResponse) -> None:
        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            if websocket is sock.probe and sock.transport == "polling":
                await self._on_probe_packet(sock, websocket, message.data)
            elif websocket is sock.websocket:
                await self._on_packet(sock, message.data)
        if websocket is sock.websocket:
            await self.close(sock, "transport close", send_close=False)
        elif websocket is sock.probe:
            sock.probe, sock.probed = None, False

    async def _on_probe_packet(self, sock: LegacySocket, websocket: web.WebSocketResponse, packet: str) -> None:
        self._touch(sock)
        if packet == PING + "probe":
            await websocket.send_str(PONG + "probe")
            sock.probed = True
            sock.wake_poll()  # a noop lets the client pause polling
        elif packet == UPGRADE:
            sock.transport, sock.websocket, sock.probe, sock.probed = "websocket", websocket, None, False
            LOG.info("engine.io 3 sid=%s upgraded to websocket", sock.sid)
            await self._flush(sock)

    async def _on_packet(self, sock: LegacySocket, packet: str) -> None:
        if sock.closed:
            return
        self._touch(sock)
        kind, data = packet[:1], packet[1:]
        if kind == PING:
            await self.send(sock, PONG + data)
        elif kind == CLOSE:
            await self.close(sock, "transport close", send_close=False)
        elif kind == MESSAGE:
            await self._on_socketio_packet(sock, data)

    async def _on_socketio_packet(self, sock: LegacySocket, packet: str) -> None:
        kind, rest = packet[:1], packet[1:]
        if kind == SIO_DISCONNECT and rest in ("", "/", "/,"):
            await self.close(sock, "client namespace disconnect", send_close=False)
            return
        if kind != SIO_EVENT or not sock.admitted:
            return  # other namespaces, acks and binary events mean nothing to CyTube
        start = rest.find("[")
        if start < 0 or (rest[:start] and not rest[:start].isdigit()):
            return  # another namespace ("/x,[...]"): not served by CyTube
        try:
            arguments = json.loads(rest[start:])
        except ValueError:
            return
        if isinstance(arguments, list) and arguments and isinstance(arguments[0], str):
            await self.server.dispatch(sock.sid, arguments[0], arguments[1:])

    # ---------------------------------------------------------------- sending

    async def send(self, sock: LegacySocket, packet: str) -> None:
        if sock.closed:
            return
        sock.queue.append(packet)
        await self._flush(sock)

    async def _flush(self, sock: LegacySocket) -> None:
        if sock.transport == "polling":
            sock.wake_poll()
            return
        websocket = sock.websocket
        packets, sock.queue = sock.queue, []
        for packet in packets:
            if websocket is None or websocket.closed:
                return
            await websocket.send_str(packet)

    async def emit(self, sid: str, event: str, data: Any) -> None:
        sock = self.sockets.get(sid)
        if sock is not None:
            await self.send(sock, event_packet(event, data))

    async def disconnect(self, sid: str) -> None:
        """socket.io namespace disconnect: the client closes its engine afterwards."""
        sock = self.sockets.get(sid)
        if sock is None:
            return
        await self.send(sock, MESSAGE + SIO_DISCONNECT)
        await self._end_session(sock, "server namespace disconnect")

    async def drop_transport(self, sid: str) -> None:
        sock = self.sockets.get(sid)
        if sock is not None:
            await self.close(sock, "forced close", send_close=sock.transport == "polling")

    def release_long_poll(self, sid: str) -> None:
        sock = self.sockets.get(sid)
        if sock is not None:
            sock.wake_poll()

    # ---------------------------------------------------------------- closing

    def _touch(self, sock: LegacySocket) -> None:
        """Any packet from the client proves it alive (engine.io resetPingTimeout)."""
        if sock.timeout is not None:
            sock.timeout.cancel()
        sock.timeout = asyncio.get_running_loop().call_later(
            PING_INTERVAL_S + PING_TIMEOUT_S, lambda: self.server.spawn(self.close(sock, "ping timeout"))
        )

    async def _end_session(self, sock: LegacySocket, reason: str) -> None:
        if sock.admitted:
            sock.admitted = False
            await self.server.on_disconnect(sock.sid, reason)

    async def close(self, sock: LegacySocket, reason: str, send_close: bool = True) -> None:
        if sock.closed:
            return
        if send_close:
            if sock.transport == "polling":
                sock.queue.append(CLOSE)
            sock.wake_poll()
        sock.closed = True
        if sock.timeout is not None:
            sock.timeout.cancel()
        self.sockets.pop(sock.sid, None)
        LOG.info("engine.io 3 sid=%s closed: %s", sock.sid, reason)
        await self._end_session(sock, reason)
        sock.wake_poll()
        for websocket in (sock.websocket, sock.probe):
            if websocket is not None and not websocket.closed:
                await websocket.close()

    async def drop_all(self) -> None:
        """The "down" fault: every v3 socket goes away without a close packet."""
        for sock in list(self.sockets.values()):
            await self.close(sock, "transport close", send_close=False)
