"""Test harness for the reference bot: servers, a probe client, bot processes.

The tests talk to a CyTube-like server only through `CytubeServer`, so the
in-test fake can be swapped for the sandbox stand-in (REFBOT_E2E_SERVER=standin).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import socketio

REPO = Path(__file__).resolve().parents[2]
REFBOT_SRC = REPO / "examples" / "refbot" / "src"
BUILT_VERSION = "9.8.7"
BOT_NAME = "shipbot"
PROBE_NAME = "shipprobe"
T = TypeVar("T")


class LoopThread:
    """An asyncio loop in a daemon thread, driven from synchronous tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="test-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.run(self._cancel_tasks())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()

    @staticmethod
    async def _cancel_tasks() -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class Inbox:
    """Items from another thread, waited for with a deadline."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.items: list[Any] = []

    def add(self, item: Any) -> None:
        with self._cond:
            self.items.append(item)
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[Any], bool], timeout: float) -> Any:
        """The first item matching `predicate`; None after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for item in self.items:
                    if predicate(item):
                        return item
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)


def wait_until(condition: Callable[[], T], timeout: float, interval: float = 0.02) -> T | None:
    """Poll `condition` until it returns something truthy, for at most `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result or time.monotonic() >= deadline:
            return result or None
        time.sleep(interval)


# --- servers --------------------------------------------------------------


class CytubeServer(Protocol):
    http_url: str

    def register_account(self, name: str, password: str) -> None: ...

    def kick(self, channel: str, name: str, reason: str) -> int: ...

    def say_as(self, channel: str, username: str, text: str) -> None: ...


class FakeServerHandle:
    """The in-test fake (refbot_fake_cytube), run on the test loop.

    Tests that need more than the CytubeServer protocol use `.fake` directly,
    after skipping with `require_fake`.
    """

    def __init__(self, loop: LoopThread, port: int = 0) -> None:
        from refbot_fake_cytube import FakeCytube

        self._loop = loop
        self.fake = FakeCytube()
        loop.run(self.fake.start(port=port))
        self.http_url = self.fake.http_url

    def register_account(self, name: str, password: str) -> None:
        self.fake.register_account(name, password)

    def kick(self, channel: str, name: str, reason: str) -> int:
        return self._loop.run(self.fake.kick(channel, name, reason))

    def say_as(self, channel: str, username: str, text: str) -> None:
        self._loop.run(self.fake.say_as(channel, username, text))

    def close(self) -> None:
        self._loop.run(self.fake.stop())


class StandInServerHandle:
    """The sandbox CyTube stand-in (python -m sandbox.cytube) as a subprocess.

    Every bot and probe of the tests connects from 127.0.0.1, so the per-IP
    limits (connections, guest logins) are relaxed; chat limits stay CyTube's.
    It has no say-as hook: tests that need one are skipped against it.
    """

    RELAXED_LIMITS = {
        "conn_burst": 10000,
        "conn_refill_per_s": 1000,
        "ip_connection_limit": 10000,
        "guest_login_delay_s": 0.001,
    }

    def __init__(self, workdir: Path) -> None:
        ready = workdir / "standin-ready.json"
        config = workdir / "standin-config.json"
        config.write_text(json.dumps({"binds": ["127.0.0.1"], "limits": self.RELAXED_LIMITS}))
        command = [sys.executable, "-m", "sandbox.cytube", "--config", str(config)]
        command += ["--http-port", "0", "--io-port", "0", "--admin-port", "0", "--bind", "127.0.0.1"]
        command += ["--accounts", str(workdir / "standin-accounts.json"), "--ready-file", str(ready)]
        self._log = (workdir / "standin.log").open("wb")
        self._process = subprocess.Popen(command, cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT)
        ports = wait_until(lambda: ready.exists() and _read_json(ready), timeout=20)
        if not ports:
            self.close()
            raise RuntimeError(f"the stand-in did not become ready; see {workdir / 'standin.log'}")
        self.http_url = f"http://127.0.0.1:{ports['http_port']}"
        self._admin_url = f"http://127.0.0.1:{ports['admin_port']}"

    def _admin(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self._admin_url}{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            return {"status": exc.code, **json.loads(exc.read() or b"{}")}

    def register_account(self, name: str, password: str) -> None:
        self._admin("/admin/accounts", {"name": name, "password": password})

    def kick(self, channel: str, name: str, reason: str) -> int:
        return int(self._admin("/admin/kick", {"channel": channel, "name": name, "reason": reason}).get("kicked", 0))

    def say_as(self, channel: str, username: str, text: str) -> None:
        import pytest

        pytest.skip("the stand-in has no say-as hook")

    def close(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(5)
        self._log.close()


def require_fake(server: CytubeServer) -> FakeServerHandle:
    """The fake behind `server`; skips the test when running against the stand-in."""
    if not isinstance(server, FakeServerHandle):
        import pytest

        pytest.skip("needs a hook of the in-test fake server")
    return server


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # still being written


# --- probe ----------------------------------------------------------------


@dataclass(frozen=True)
class Chat:
    username: str
    text: str  # as received: HTML-escaped
    received: float  # time.monotonic()


class Probe:
    """A real socket.io client that joins the channel, logs in and chats."""

    def __init__(self, loop: LoopThread, server: CytubeServer, channel: str, name: str, password: str) -> None:
        self._loop = loop
        self.channel = channel
        self.name = name
        self.chat = Inbox()
        self.events = Inbox()
        self._users: set[str] = set()
        self._client = socketio.AsyncClient(reconnection=False)
        for event in ("userlist", "addUser", "userLeave", "chatMsg", "login"):
            self._client.on(event, self._recorder(event))
        loop.run(self._connect(server, password), timeout=15)

    def users(self) -> set[str]:
        return set(self._users)

    def say(self, text: str) -> float:
        """Send chat; returns when it was sent (time.monotonic())."""
        sent = time.monotonic()
        self._loop.run(self._client.emit("chatMsg", {"msg": text, "meta": {}}))
        return sent

    def wait_chat(self, username: str, text: str, timeout: float) -> Chat | None:
        return self.chat.wait_for(lambda c: c.username.lower() == username.lower() and c.text == text, timeout)

    def close(self) -> None:
        self._loop.run(self._client.disconnect())

    async def _connect(self, server: CytubeServer, password: str) -> None:
        url = await asyncio.to_thread(_socketio_url, server.http_url, self.channel)
        await self._client.connect(url, transports=["websocket"], wait_timeout=10)
        await self._client.emit("joinChannel", {"name": self.channel})
        if not await asyncio.to_thread(self.events.wait_for, lambda e: e[0] == "userlist", 10):
            raise RuntimeError("probe: no userlist after joinChannel")
        await self._client.emit("login", {"name": self.name, "pw": password})
        login = await asyncio.to_thread(self.events.wait_for, lambda e: e[0] == "login", 10)
        if not login or not login[1].get("success"):
            raise RuntimeError(f"probe login failed: {login}")

    def _recorder(self, event: str) -> Callable[[Any], Coroutine[Any, Any, None]]:
        async def record(data: Any = None) -> None:
            if event == "userlist":
                self._users = {u["name"].lower() for u in data}
            elif event == "addUser":
                self._users.add(data["name"].lower())
            elif event == "userLeave":
                self._users.discard(data["name"].lower())
            elif event == "chatMsg":
                self.chat.add(Chat(data["username"], data["msg"], time.monotonic()))
            self.events.add((event, data))

        return record


def _socketio_url(http_url: str, channel: str) -> str:
    with urllib.request.urlopen(f"{http_url}/socketconfig/{channel}.json", timeout=10) as response:
        servers = json.load(response)["servers"]
    return next((s for s in servers if s.get("secure")), servers[0])["url"]


# --- bot processes ----------------------------------------------------------


def toml_document(sections: dict[str, dict[str, Any]]) -> str:
    """Just enough TOML writing for bot configs (strings, numbers, booleans)."""
    lines: list[str] = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in values.items())
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value)  # a JSON string is a valid TOML basic string


HEALTH_LINE = re.compile(r"health endpoint on (http://\S+/health)")


@dataclass
class BotProcess:
    command: list[str]
    config_path: Path
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    passwords: list[str] = field(default_factory=list)

    def start(self) -> BotProcess:
        self.started = time.monotonic()
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [*self.command, "--config", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        return self

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_log(self, pattern: str, timeout: float = 10.0) -> re.Match[str] | None:
        regex = re.compile(pattern)
        return wait_until(lambda: regex.search(self.output()), timeout)

    def log_times(self, pattern: str) -> list[float]:
        """Timestamps (seconds of the day) of the log lines matching `pattern`."""
        regex = re.compile(pattern)
        return [_seconds_of_day(line.split(" ", 1)[0]) for line in self.output().splitlines() if regex.search(line)]

    @property
    def health_url(self) -> str:
        match = self.wait_log(HEALTH_LINE.pattern)
        assert match, f"no health endpoint line in the bot's log:\n{self.output()}"
        return match.group(1)

    def health(self, path: str = "/health") -> tuple[int, dict[str, Any]]:
        url = self.health_url.removesuffix("/health") + path
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def wait_health(self, predicate: Callable[[int, dict[str, Any]], bool], timeout: float = 10.0) -> bool:
        return bool(wait_until(lambda: predicate(*self.health()), timeout))

    def wait_joined(self, timeout: float = 10.0) -> None:
        joined = self.wait_health(lambda status, body: status == 200 and body["joined"], timeout)
        assert joined, f"bot not joined after {timeout} s:\n{self.output()}"

    def wait_exit(self, timeout: float) -> int | None:
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def signal(self, signum: int = signal.SIGTERM) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.signal(signal.SIGTERM)
        if self.wait_exit(5) is None:
            self.process.kill()
            self.process.wait(5)


def _seconds_of_day(stamp: str) -> float:
    hours, minutes, seconds = stamp.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(extra: dict[str, str] | None = None, pythonpath: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CYTUBE_BOT_PASSWORD", "CREDENTIALS_DIRECTORY")}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    env.update(extra or {})
    return env


# --- fixtures' helpers -------------------------------------------------------


@dataclass(frozen=True)
class Installed:
    wheel: Path
    target: Path  # a pip --target directory: goes on PYTHONPATH
    script: Path


@dataclass
class BotFactory:
    server: CytubeServer
    installed: Installed
    channel: str
    workdir: Path
    password: str = field(default_factory=lambda: f"pw-{secrets.token_hex(12)}")
    bots: list[BotProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server.register_account(BOT_NAME, self.password)

    def config(self, name: str = BOT_NAME, **sections: dict[str, Any]) -> dict[str, dict[str, Any]]:
        document: dict[str, dict[str, Any]] = {
            "server": {"url": self.server.http_url, "channel": self.channel},
            "account": {"name": name},
            "bot": {"health_listen": "127.0.0.1:0", "log_level": "debug"},
            "faults": {},
        }
        for section, values in sections.items():
            document.setdefault(section, {}).update(values)
        return document

    def start(
        self,
        config: dict[str, dict[str, Any]] | None = None,
        password: str | None = None,
        env: dict[str, str] | None = None,
        wait_joined: bool = True,
    ) -> BotProcess:
        number = len(self.bots) + 1
        document = config or self.config()
        password = self.password if password is None else password
        if password and "password_file" not in document["account"] and not env:
            secret = self.workdir / f"bot{number}.password"
            secret.write_text(password + "\n")
            document["account"]["password_file"] = str(secret)
        config_path = self.workdir / f"bot{number}.toml"
        config_path.write_text(toml_document(document))
        bot = BotProcess(
            command=[str(self.installed.script)],
            config_path=config_path,
            log_path=self.workdir / f"bot{number}.log",
            env=child_env(env, pythonpath=self.installed.target),
            passwords=[s for s in (password, self.password) if s],
        )
        self.bots.append(bot.start())
        if wait_joined:
            bot.wait_joined()
        return bot

    def close(self) -> None:
        for bot in self.bots:
            bot.stop()
        for bot in self.bots:
            output = bot.output()
            for secret in bot.passwords:
                assert secret not in output, f"a password appeared in the output of {bot.config_path.name}"
