"""examples/chatbot end to end: its wheel's console script against the CyTube stand-in.

The stand-in (sandbox/cytube) runs with stored channel ranks, so a probe account is a
moderator (rank 2) in the test channels, as the sandbox config makes it in
shipit-chatbot. Probes are the stand-in tests' recording python-socketio clients.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "sandbox"))

from standin_harness import Probe, StandIn, fresh_ip, password, start_standin  # noqa: E402

pytestmark = pytest.mark.standin

BUILT_VERSION = "7.6.5"
BOT = "shipbot"
MODERATOR = "shipprobe"  # channel rank 2 in every test channel
MEMBER = "shipbot2"  # an account with the default channel rank 1
CHANNELS = [f"cb-{os.getpid()}-{n}" for n in range(16)]
RELAXED = {"conn_burst": 10000, "conn_refill_per_s": 1000, "ip_connection_limit": 10000, "guest_login_delay_s": 0.001}
HELP_REPLY = "chatbot commands: !help shows this; moderators can PM me the word status"
STATUS_REPLY = re.compile(r"status: up \d+ s, \d+ messages and \d+ users seen")
WAIT_S = 10.0

_channels = itertools.count()


@dataclass
class Installed:
    wheel: Path
    target: Path

    @property
    def script(self) -> Path:
        return self.target / "bin" / "cytube-chatbot"


@pytest.fixture(scope="module")
def chatbot_install(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    wheel_dir = tmp_path_factory.mktemp("chatbot-wheel")
    built = subprocess.run(
        [str(REPO / "examples" / "build-wheel.sh"), BUILT_VERSION, str(wheel_dir), "chatbot"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    wheel = Path(built.stdout.strip())
    target = tmp_path_factory.mktemp("chatbot-site")
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target", str(target)]
    subprocess.run([*pip, str(wheel)], check=True, timeout=120)
    return Installed(wheel=wheel, target=target)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    standin = start_standin(
        tmp_path_factory.mktemp("chatbot-standin"),
        RELAXED,
        {
            # Advertise this server itself (the harness default names the shared sandbox's address).
            "advertised_io_url": None,
            "registered_channels": ["cb-*"],
            "channel_ranks": {name: {MODERATOR: 2} for name in CHANNELS},
        },
    )
    yield standin
    standin.stop()


@pytest.fixture
def channel() -> str:
    return CHANNELS[next(_channels)]


@dataclass
class BotRun:
    process: subprocess.Popen[bytes]
    log_path: Path
    workdir: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_log(self, pattern: str, timeout: float = WAIT_S) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.log())
            if found is not None:
                return found
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        found = re.search(pattern, self.log())
        assert found is not None, f"no {pattern!r} in the bot's log:\n{self.log()}"
        return found

    def wait_exit(self, timeout: float = WAIT_S) -> int:
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@pytest.fixture
def run_bot(
    chatbot_install: Installed, server: StandIn, channel: str, tmp_path: Path
) -> Iterator[Callable[..., BotRun]]:
    started: list[BotRun] = []

    def start(env: dict[str, str] | None = None, **overrides: Any) -> BotRun:
        workdir = tmp_path / f"bot{len(started)}"
        workdir.mkdir()
        config = {
            "server": server.http_url,
            "channel": channel,
            "username": BOT,
            "password": password(BOT),
            **overrides,
        }
        (workdir / "config.json").write_text(json.dumps(config), encoding="utf-8")
        log_path = workdir / "bot.log"
        child_env = {k: v for k, v in os.environ.items() if k != "CHATBOT_FAULTS"}
        child_env.update({"PYTHONPATH": str(chatbot_install.target), **(env or {})})
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [str(chatbot_install.script), "config.json"],
                cwd=workdir,
                env=child_env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        run = BotRun(process=process, log_path=log_path, workdir=workdir)
        started.append(run)
        return run

    yield start
    for run in started:
        run.stop()
        assert password(BOT) not in run.log()


@pytest.fixture
def probes(server: StandIn, channel: str) -> Iterator[Callable[..., Probe]]:
    made: list[Probe] = []

    def make(name: str | None = None, join: bool = True) -> Probe:
        probe = Probe(server=server, ip=fresh_ip()).connect()
        made.append(probe)
        if join:
            probe.join(channel)
        if name is not None:
            account = name in (MODERATOR, MEMBER, BOT)
            reply = probe.login(name, password(name)) if account else probe.login(name)
            assert reply["success"], reply
            if account and join:
                # The channel rank follows the login reply; a PM sent before it counts as rank 1.
                probe.wait_for("setUserRank", lambda change: change["name"] == name)
        return probe

    yield make
    for probe in made:
        probe.close()


def joined_bot(run_bot: Callable[..., BotRun], **overrides: Any) -> BotRun:
    bot = run_bot(**overrides)
    bot.wait_log(r"logged in as shipbot")
    return bot


def users_of(server: StandIn, channel: str) -> list[str]:
    return [u["name"] for c in server.state()["channels"] if c["name"] == channel for u in c["users"]]


def test_joins_logs_in_and_is_listed(server: StandIn, channel: str, run_bot: Callable[..., BotRun]) -> None:
    bot = joined_bot(run_bot)
    assert BOT in users_of(server, channel)
    assert BUILT_VERSION not in bot.log()  # it never says its version


def test_answers_help_publicly(run_bot: Callable[..., BotRun], probes: Callable[..., Probe]) -> None:
    joined_bot(run_bot)
    asker = probes(MEMBER)
    asker.chat("!help please")
    reply = asker.wait_for("chatMsg", lambda m: m["username"] == BOT, timeout=WAIT_S)
    assert reply["msg"] == HELP_REPLY


def test_status_pm_answered_to_a_channel_moderator_who_logged_in_after_the_bot(
    run_bot: Callable[..., BotRun], probes: Callable[..., Probe]
) -> None:
    joined_bot(run_bot)
    moderator = probes(MODERATOR)  # the bot learns rank 2 from setUserRank, after addUser said 1
    moderator.emit("pm", {"to": BOT, "msg": "status"})
    reply = moderator.wait_for("pm", lambda m: m["username"] == BOT, timeout=WAIT_S)
    assert STATUS_REPLY.fullmatch(reply["msg"]), reply
    assert BUILT_VERSION not in reply["msg"]


def test_status_pm_answered_to_a_moderator_listed_before_the_bot_joined(
    run_bot: Callable[..., BotRun], probes: Callable[..., Probe]
) -> None:
    moderator = probes(MODERATOR)  # the bot learns rank 2 from its userlist
    joined_bot(run_bot)
    moderator.emit("pm", {"to": BOT, "msg": "STATUS"})
    reply = moderator.wait_for("pm", lambda m: m["username"] == BOT, timeout=WAIT_S)
    assert STATUS_REPLY.fullmatch(reply["msg"]), reply


def test_status_pm_sent_the_moment_the_rank_arrives_is_judged_by_that_rank(
    server: StandIn, channel: str, run_bot: Callable[..., BotRun]
) -> None:
    """CyTube broadcasts setUserRank before the asker can react to its own rank; a bot that handles events on
    threads of their own (python-engineio's default) may still see the PM first and call the asker rank 1."""
    bot = joined_bot(run_bot)
    for attempt in range(25):
        moderator = Probe(server=server, ip=fresh_ip()).connect()
        try:
            moderator.join(channel)
            moderator.login(MODERATOR, password(MODERATOR))
            moderator.wait_for("rank", lambda rank: rank == 2)
            moderator.emit("pm", {"to": BOT, "msg": "status"})
            reply = moderator.wait_for("pm", lambda m: m["username"] == BOT, timeout=WAIT_S)
        finally:
            moderator.close()
        assert STATUS_REPLY.fullmatch(reply["msg"]), (attempt, reply)
        time.sleep(0.15)  # the bot's own replies stay under CyTube's chat throttle (10 a second after a burst of 20)
    assert "ignored" not in bot.log(), bot.log()


@pytest.mark.parametrize("name", [MEMBER, "someguest"])
def test_status_pm_ignored_below_rank_2(
    run_bot: Callable[..., BotRun], probes: Callable[..., Probe], name: str
) -> None:
    bot = joined_bot(run_bot)
    asker = probes(name)
    asker.emit("pm", {"to": BOT, "msg": "status"})
    bot.wait_log(rf"status PM from {name} ignored: rank [01](\.0)? is below 2")
    asker.barrier()
    assert [m for m in asker.payloads("pm") if m["username"] == BOT] == []


def test_writes_its_database_in_the_working_directory(
    run_bot: Callable[..., BotRun], probes: Callable[..., Probe]
) -> None:
    bot = joined_bot(run_bot)
    talker = probes(MEMBER)
    talker.chat("hello database")
    bot.wait_log(r"<shipbot2> hello database")
    with sqlite3.connect(bot.workdir / "chatbot.db") as db:
        messages = db.execute("SELECT username, text FROM messages").fetchall()
        users = {name for (name,) in db.execute("SELECT name FROM users")}
    assert ("shipbot2", "hello database") in messages
    assert {"shipbot", "shipbot2"} <= users


def test_unwritable_database_location_exits_1_saying_why(run_bot: Callable[..., BotRun]) -> None:
    bot = run_bot(database="no-such-dir/chatbot.db")
    assert bot.wait_exit() == 1
    assert "cannot open database no-such-dir/chatbot.db" in bot.log()
    assert "working directory must be writable" in bot.log()


def test_fault_crash_at_start_exits_1(run_bot: Callable[..., BotRun]) -> None:
    bot = run_bot(faults={"crash_at_start": True})
    assert bot.wait_exit() == 1
    assert "fault crash_at_start" in bot.log()


def test_fault_never_join_from_the_environment(server: StandIn, channel: str, run_bot: Callable[..., BotRun]) -> None:
    bot = run_bot(env={"CHATBOT_FAULTS": "never_join"})
    bot.wait_log(r"connected; not joining \(fault never_join\)")
    assert server.state()["connections"]["total"] >= 1
    assert BOT not in users_of(server, channel)
    assert bot.process.poll() is None


def test_fault_never_answer_stays_silent(run_bot: Callable[..., BotRun], probes: Callable[..., Probe]) -> None:
    bot = joined_bot(run_bot, faults={"never_answer": True})
    moderator = probes(MODERATOR)
    moderator.chat("!help")
    moderator.emit("pm", {"to": BOT, "msg": "status"})
    bot.wait_log(r"not answering !help from shipprobe \(fault never_answer\)")
    bot.wait_log(r"not answering status from shipprobe \(fault never_answer\)")
    moderator.barrier()
    assert [m for m in moderator.payloads("chatMsg") + moderator.payloads("pm") if m["username"] == BOT] == []


def test_duplicate_login_exits_3(run_bot: Callable[..., BotRun], probes: Callable[..., Probe]) -> None:
    bot = joined_bot(run_bot)
    probes(BOT)
    assert bot.wait_exit() == 3
    assert "Duplicate login" in bot.log()


def test_wrong_password_exits_4(run_bot: Callable[..., BotRun]) -> None:
    bot = run_bot(password="not-the-password")
    assert bot.wait_exit() == 4
    assert "login refused: Invalid username/password combination" in bot.log()
    assert "not-the-password" not in bot.log()


def test_sigterm_leaves_the_channel_and_exits_0(run_bot: Callable[..., BotRun], probes: Callable[..., Probe]) -> None:
    watcher = probes(MEMBER)
    bot = joined_bot(run_bot)
    bot.process.send_signal(signal.SIGTERM)
    assert bot.wait_exit() == 0
    assert watcher.wait_for("userLeave", lambda u: u["name"] == BOT) == {"name": BOT}


def test_moderator_kick_is_logged_with_its_traceback_and_the_bot_comes_back(
    server: StandIn, channel: str, run_bot: Callable[..., BotRun]
) -> None:
    bot = joined_bot(run_bot)
    assert server.admin("/admin/kick", {"channel": channel, "name": BOT, "reason": "go away"}).json()["kicked"] == 1
    bot.wait_log(r"Traceback \(most recent call last\)(.|\n)*Kicked: go away")
    bot.wait_log(r"reconnecting in 2 s")
    bot.wait_log(r"(?s)reconnecting in 2 s.*logged in as shipbot")
    # A kick logs a WARNING with its traceback and nothing else: an ERROR line fails the journal check on a host.
    assert " ERROR " not in bot.log() and "handler error" not in bot.log(), bot.log()
