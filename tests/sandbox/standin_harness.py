"""Helpers for the CyTube stand-in tests: a server subprocess and a recording socket.io client."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt
import requests
import socketio

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

START_TIMEOUT_S = 15.0
WAIT_S = 5.0

# Accounts every test server knows (cheap bcrypt cost keeps start-up fast).
ACCOUNTS = {
    "shipbot": ("bot-password-1", 1),
    "shipbot2": ("bot-password-2", 1),
    "shipprobe": ("probe-password-3", 1),
    "ModBot": ("mod-password-4", 2),
}
REGISTERED_PATTERN = "reg-*"  # channels named reg-... behave as registered ones


class ServerFailed(RuntimeError):
    pass


@dataclass
class StandIn:
    """A stand-in server running as a subprocess on ephemeral ports."""

    process: subprocess.Popen[bytes]
    ports: dict[str, Any]
    log_path: Path

    @property
    def io_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['io_port']}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['http_port']}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['admin_port']}"

    def admin(self, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        if body is None:
            return requests.get(self.admin_url + path, timeout=WAIT_S)
        return requests.post(self.admin_url + path, json=body, timeout=WAIT_S)

    def state(self) -> dict[str, Any]:
        response = self.admin("/admin/state")
        response.raise_for_status()
        return response.json()

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def write_accounts(path: Path) -> None:
    entries = [
        {"name": name, "bcrypt": bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4)).decode(), "rank": rank}
        for name, (pw, rank) in ACCOUNTS.items()
    ]
    path.write_text(json.dumps({"accounts": entries}), encoding="utf-8")


def start_standin(
    workdir: Path, limits: dict[str, Any] | None = None, extra_config: dict[str, Any] | None = None
) -> StandIn:
    workdir.mkdir(parents=True, exist_ok=True)
    accounts = workdir / "accounts.json"
    write_accounts(accounts)
    config = {
        "binds": ["127.0.0.1"],
        "registered_channels": [REGISTERED_PATTERN],
        "advertised_io_url": "http://10.231.255.1:1337",
        **(extra_config or {}),
    }
    if limits:
        config["limits"] = limits
    config_path = workdir / "config.json"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    ready = workdir / "ready.json"
    log_path = workdir / "server.log"
    command = [
        sys.executable,
        "-m",
        "sandbox.cytube",
        "--config",
        str(config_path),
        "--http-port",
        "0",
        "--io-port",
        "0",
        "--admin-port",
        "0",
        "--bind",
        "127.0.0.1",
        "--accounts",
        str(accounts),
        "--ready-file",
        str(ready),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise ServerFailed(f"stand-in did not start:\n{log_path.read_text()}")
        time.sleep(0.05)
    return StandIn(process=process, ports=json.loads(ready.read_text()), log_path=log_path)


_ip_counter = itertools.count(1)
_name_counter = itertools.count(1)


def fresh_ip() -> str:
    """A distinct client address per call (sent as X-Forwarded-For from loopback)."""
    n = next(_ip_counter)
    return f"10.77.{n // 250}.{n % 250 + 1}"


def fresh_channel(registered: bool = False) -> str:
    n = next(_name_counter)
    return f"reg-{os.getpid()}-{n}" if registered else f"chan-{os.getpid()}-{n}"


BARRIER_REPLY = ("errorMsg", {"msg": "Invalid login frame"})


@dataclass
class Probe:
    """A python-socketio client that records every event it receives, in order."""

    server: StandIn
    ip: str
    client: socketio.Client = field(default_factory=lambda: socketio.Client(reconnection=False))
    events: list[tuple[str, Any]] = field(default_factory=list)
    connect_error: Any = None
    disconnect_reason: Any = None
    disconnected: threading.Event = field(default_factory=threading.Event)
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _barriers_sent: int = 0
    _barriers_answered: int = 0

    def __post_init__(self) -> None:
        self.client.on("*", self._record)
        self.client.on("connect_error", self._on_connect_error)
        self.client.on("disconnect", self._on_disconnect)

    def _record(self, event: str, *args: Any) -> None:
        data = args[0] if args else None
        with self._cond:
            if (event, data) == BARRIER_REPLY and self._barriers_answered < self._barriers_sent:
                self._barriers_answered += 1  # kept out of ``events``
            else:
                self.events.append((event, data))
            self._cond.notify_all()

    def _on_connect_error(self, data: Any = None) -> None:
        self.connect_error = data

    def _on_disconnect(self, reason: Any = None) -> None:
        self.disconnect_reason = reason
        self.disconnected.set()

    def connect(self, transports: tuple[str, ...] = ("websocket",), wait_rank: bool = True) -> Probe:
        self.client.connect(
            self.server.io_url, headers={"X-Forwarded-For": self.ip}, transports=list(transports), wait_timeout=WAIT_S
        )
        if wait_rank:
            self.wait_for("rank")
        return self

    def emit(self, event: str, *payload: Any) -> None:
        """Emit with one payload (any JSON value, null included) or none at all."""
        if payload:
            self.client.emit(event, (payload[0],))  # a 1-tuple is sent as exactly one argument
        else:
            self.client.emit(event)

    def names(self) -> list[str]:
        with self._cond:
            return [name for name, _ in self.events]

    def payloads(self, event: str) -> list[Any]:
        with self._cond:
            return [data for name, data in self.events if name == event]

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not condition():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out waiting for {what}; got {self.events[-12:]}")
                self._cond.wait(remaining)

    def wait_for(
        self, event: str, match: Callable[[Any], bool] = lambda _: True, timeout: float = WAIT_S, count: int = 1
    ) -> Any:
        """Wait until ``count`` matching events arrived; return the last of them."""

        def found() -> list[Any]:
            return [data for name, data in self.events if name == event and match(data)]

        self.wait_until(lambda: len(found()) >= count, f"{count} x {event}", timeout)
        with self._cond:
            return found()[count - 1]

    def barrier(self, timeout: float = WAIT_S) -> None:
        """Round trip: everything the server sent for earlier events has arrived after this.

        The server handles one socket's events in order, and a non-object login
        always answers with an errorMsg; that reply is not recorded in ``events``.
        """
        with self._cond:
            self._barriers_sent += 1
            wanted = self._barriers_sent
        self.client.emit("login", 0)
        self.wait_until(lambda: self._barriers_answered >= wanted, "barrier reply", timeout)

    def join(self, channel: str) -> None:
        before = len(self.payloads("userlist"))
        self.emit("joinChannel", {"name": channel})
        self.wait_for("userlist", count=before + 1)
        self.barrier()  # the rest of the burst (usercount, channelNotRegistered) is in too

    def login(self, name: str, password: str | None = None) -> dict[str, Any]:
        before = len(self.payloads("login"))
        self.emit("login", {"name": name, "pw": password} if password else {"name": name})
        return self.wait_for("login", count=before + 1)

    def chat(self, text: str) -> None:
        self.emit("chatMsg", {"msg": text})

    def close(self) -> None:
        if self.client.connected:
            self.client.disconnect()


def password(name: str) -> str:
    return ACCOUNTS[name][0]


def v3_frame(packets: list[str]) -> str:
    """Engine.IO 3 string payload framing: ``<UTF-16 length>:<packet>`` per packet."""
    return "".join(f"{len(p.encode('utf-16-le')) // 2}:{p}" for p in packets)


def v3_frame_binary(packets: list[str]) -> bytes:
    """Engine.IO 3 binary (XHR2) framing, which python-engineio 3 clients POST."""
    body = b""
    for packet in packets:
        data = packet.encode("utf-8")
        body += b"\x00" + bytes(int(d) for d in str(len(data))) + b"\xff" + data
    return body


def v3_unframe(payload: str) -> list[str]:
    """Split a v3 string payload; lengths count UTF-16 units, as JavaScript's String.length."""
    packets: list[str] = []
    units = payload.encode("utf-16-le")
    index = 0
    while index < len(units):
        colon = units.index(":".encode("utf-16-le"), index)
        while (colon - index) % 2:  # stay on UTF-16 unit boundaries
            colon = units.index(":".encode("utf-16-le"), colon + 1)
        length = int(units[index:colon].decode("utf-16-le"))
        start = colon + 2
        packets.append(units[start : start + 2 * length].decode("utf-16-le"))
        index = start + 2 * length
    return packets


@dataclass
class RawV3Client:
    """An Engine.IO 3 / socket.io 2 client speaking the wire format directly over HTTP polling."""

    server: StandIn
    ip: str
    eio: str | None = "3"
    sid: str = ""
    handshake: dict[str, Any] = field(default_factory=dict)
    http: requests.Session = field(default_factory=requests.Session)

    def url(self, **extra: str) -> str:
        query = {"transport": "polling", **extra}
        if self.eio is not None:
            query["EIO"] = self.eio
        if self.sid:
            query["sid"] = self.sid
        return self.server.io_url + "/socket.io/?" + "&".join(f"{k}={v}" for k, v in query.items())

    def open(self) -> requests.Response:
        response = self.http.get(self.url(), headers={"X-Forwarded-For": self.ip}, timeout=WAIT_S)
        packets = v3_unframe(response.text)
        assert packets[0].startswith("0"), response.text
        self.handshake = json.loads(packets[0][1:])
        self.sid = self.handshake["sid"]
        return response

    def poll(self) -> list[str]:
        response = self.http.get(self.url(), timeout=WAIT_S)
        assert response.status_code == 200, response.text
        return v3_unframe(response.text)

    def post(self, packets: list[str], binary: bool = False) -> requests.Response:
        body: str | bytes = v3_frame_binary(packets) if binary else v3_frame(packets)
        content_type = "application/octet-stream" if binary else "text/plain;charset=UTF-8"
        response = self.http.post(self.url(), data=body, headers={"Content-Type": content_type}, timeout=WAIT_S)
        assert response.status_code == 200, response.text
        return response

    def emit(self, event: str, payload: Any = None, binary: bool = False) -> None:
        arguments = [event] if payload is None else [event, payload]
        self.post(["42" + json.dumps(arguments)], binary=binary)

    def events_until(self, event: str, timeout: float = WAIT_S) -> list[tuple[str, Any]]:
        """Poll until ``event`` arrives; return every socket.io event seen, in order."""
        seen: list[tuple[str, Any]] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for packet in self.poll():
                if packet.startswith("42"):
                    name, *args = json.loads(packet[2:])
                    seen.append((name, args[0] if args else None))
            if any(name == event for name, _ in seen):
                return seen
        raise AssertionError(f"no {event} within {timeout} s; got {seen}")
