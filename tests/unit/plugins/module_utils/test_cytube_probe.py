"""Unit tests for plugins/module_utils/cytube_probe.py.

The probe runs against ``FakeCytube``, a small in-process double of the CyTube
server's event flow (join burst with replay, login replies, chat echo, kicks).
The real stand-in and the real reference bot are exercised by
tests/integration/test_cytube_check_live.py.
"""

from __future__ import annotations

import heapq
import html
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import pytest
from ansible_collections.cytube.shipit.plugins.module_utils import cytube_probe as cp
from ansible_collections.cytube.shipit.plugins.module_utils.cytube_client import (
    EVENT_DISCONNECT,
    ChatMessage,
    CytubeConnectError,
    Event,
    decode_chat_html,
)
from ansible_collections.cytube.shipit.plugins.module_utils.cytube_socketconfig import CytubeHTTPError, ServerEntry
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_http import NetworkFailure
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_ratelimit import ConnectionBudget

pytestmark = pytest.mark.timeout(30)

TOKEN = "abcdef0123"
ROUND = "command_round_trip"
PASSWORD = "s3cret-Pa55"


# --------------------------------------------------------------------- the double


def cytube_html(text: str) -> str:
    """Roughly what CyTube does to chat text: escape, then the _x_ filter."""
    escaped = html.escape(text, quote=False)
    return re.sub(r"_(.+?)_", r"<em>\1</em>", escaped)


class FakeSession:
    """Implements the CytubeSession interface on top of FakeCytube."""

    def __init__(self, world: FakeCytube, timeout: float, **kwargs: Any) -> None:
        self.world = world
        self.timeout = timeout
        self.kwargs = kwargs
        self.pending: list[tuple[float, int, str, tuple[Any, ...]]] = []
        self.seq = 0
        self.closed = False
        self.cond = threading.Condition()
        world.sessions.append(self)

    def connect(self, url: str) -> None:
        self.world.connect_urls.append(url)
        if self.world.connect_exception is not None:
            raise self.world.connect_exception
        if self.world.refuse_connects > 0:
            self.world.refuse_connects -= 1
            raise CytubeConnectError("refused by CyTube: Rate limit exceeded", refused_reason="Rate limit exceeded")
        if self.world.connect_error:
            raise CytubeConnectError(
                f"refused by CyTube: {self.world.connect_error}", refused_reason=self.world.connect_error
            )

    def push(self, name: str, *args: Any, delay: float = 0.0) -> None:
        with self.cond:
            self.seq += 1
            heapq.heappush(self.pending, (time.monotonic() + delay, self.seq, name, args))
            self.cond.notify_all()

    def emit(self, event: str, data: Any) -> None:
        self.world.emitted.append((event, data))
        self.world.handle(self, event, data)

    def next_event(self, deadline: float) -> Optional[Event]:
        with self.cond:
            while True:
                now = time.monotonic()
                if self.pending and self.pending[0][0] <= now:
                    at, _, name, args = heapq.heappop(self.pending)
                    return Event(name, args, at, time.time() - (now - at))
                if now >= deadline:
                    return None
                wake = min(deadline, self.pending[0][0]) if self.pending else deadline
                self.cond.wait(max(0.0, wake - now))

    def close(self, timeout: float = 2.0) -> None:
        self.closed = True


class FakeCytube:
    """The server side: what CyTube sends in reply to the probe's events."""

    def __init__(
        self,
        bot: str = "shipbot",
        bot_present: bool = True,
        version: str = "1.4.2",
        reply: Optional[Callable[[str], Optional[str]]] = None,
        reply_delay: float = 0.0,
        replay: Optional[list[dict[str, Any]]] = None,
        echo: bool = True,
        login_error: Optional[str] = None,
        login_name: Optional[str] = None,
        connect_error: Optional[str] = None,
        join_kick: Optional[str] = None,
        kick_on_round: Optional[int] = None,
        bot_joins_after: Optional[float] = None,
        drop_notice: Optional[tuple[str, Any]] = None,
        no_userlist: bool = False,
        others: Optional[list[tuple[str, str, float]]] = None,
        echo_delay: float = 0.0,
    ) -> None:
        self.bot = bot
        self.bot_present = bot_present
        self.version = version
        self.reply = reply if reply is not None else self.default_reply
        self.reply_delay = reply_delay
        self.replay = replay or []
        self.echo = echo
        self.login_error = login_error
        self.login_name = login_name
        self.connect_error = connect_error
        self.join_kick = join_kick
        self.kick_on_round = kick_on_round
        self.bot_joins_after = bot_joins_after
        self.drop_notice = drop_notice
        self.no_userlist = no_userlist
        self.echo_delay = echo_delay
        self.others = others or []  # (sender, text template with {token}, delay)
        self.sessions: list[FakeSession] = []
        self.connect_urls: list[str] = []
        self.emitted: list[tuple[str, Any]] = []
        self.rounds = 0
        self.connect_exception: Optional[Exception] = None
        self.refuse_connects = 0
        self.registered = True

    def default_reply(self, text: str) -> Optional[str]:
        parts = text.split()
        if parts and parts[0] == "!ping":
            return f"pong {self.version} {parts[1]}" if len(parts) > 1 else f"pong {self.version}"
        return None

    def session_factory(self, **kwargs: Any) -> FakeSession:
        timeout = kwargs.pop("timeout")
        return FakeSession(self, timeout, **kwargs)

    def handle(self, s: FakeSession, event: str, data: Any) -> None:
        if event == "joinChannel":
            if self.join_kick is not None:
                s.push("kick", {"reason": self.join_kick})
                s.push(EVENT_DISCONNECT, "server disconnect")
                return
            s.push("setPermissions", {})
            for old in self.replay:
                s.push("chatMsg", old)
            users = [{"name": "someone", "rank": 0}]
            if self.bot_present:
                users.append({"name": self.bot, "rank": 1})
            if not self.no_userlist:
                s.push("userlist", users)
            if not self.registered:
                s.push("usercount", len(users))
                s.push("channelNotRegistered")
            if self.bot_joins_after is not None:
                s.push("addUser", {"name": self.bot, "rank": 1}, delay=self.bot_joins_after)
        elif event == "login":
            if self.login_error:
                s.push("login", {"success": False, "error": self.login_error})
            else:
                name = self.login_name or data["name"]
                s.push("rank", 1)
                s.push("login", {"success": True, "name": name})
                s.push("addUser", {"name": name, "rank": 1})
        elif event == "chatMsg":
            self.rounds += 1
            text = data["msg"]
            token = text.split()[-1]
            if self.kick_on_round == self.rounds:
                s.push("kick", {"reason": "Duplicate login"})
                s.push(EVENT_DISCONNECT, "server disconnect")
                return
            if self.drop_notice is not None:
                s.push(*self.drop_notice)
                return
            now_ms = time.time() * 1000
            if self.echo:
                s.push(
                    "chatMsg",
                    {"username": "shipprobe", "msg": cytube_html(text), "meta": {}, "time": now_ms},
                    delay=self.echo_delay,
                )
            for sender, template, delay in self.others:
                s.push(
                    "chatMsg",
                    {"username": sender, "msg": cytube_html(template.format(token=token)), "meta": {}, "time": now_ms},
                    delay=delay,
                )
            answer = self.reply(text) if (self.bot_present or self.bot_joins_after is not None) else None
            if answer is not None:
                s.push(
                    "chatMsg",
                    {
                        "username": self.bot,
                        "msg": cytube_html(answer),
                        "meta": {},
                        "time": now_ms + self.reply_delay * 1000,
                    },
                    delay=self.reply_delay,
                )


def config(**over: Any) -> cp.ProbeConfig:
    base = dict(
        server_url="http://cytube.test:8080",
        channel="testchan",
        bot_name="shipbot",
        probe_user="shipprobe",
        probe_password=PASSWORD,
        connect_timeout=1.0,
        reply_timeout=0.5,
        interval=0.0,
    )
    base.update(over)
    return cp.ProbeConfig(**base)


def good_fetch(*args: Any, **kwargs: Any) -> list[ServerEntry]:
    return [ServerEntry("http://cytube.test:1337", False), ServerEntry("https://cytube.test:8443", True)]


def run(
    world: FakeCytube,
    cfg: Optional[cp.ProbeConfig] = None,
    fetch: Callable[..., Any] = good_fetch,
    token: Optional[str] = TOKEN,
    limiter: Optional[Any] = None,
) -> cp.ProbeReport:
    factory = (lambda: token) if token else cp.make_token
    return cp.run_probe(
        cfg or config(),
        session_factory=world.session_factory,
        fetch=fetch,
        token_factory=factory,
        limiter=limiter or cp.NoLimit(),
    )


def names(report: cp.ProbeReport) -> list[str]:
    return [c.name for c in report.checks]


# -------------------------------------------------------------------- patterns


def test_build_expect_pattern_substitutes_and_escapes_the_token() -> None:
    pattern = cp.build_expect_pattern(cp.DEFAULT_EXPECT, TOKEN)
    assert pattern.pattern == r"^pong (?P<version>\S+) abcdef0123$"
    assert pattern.search("pong 1.2 abcdef0123").group("version") == "1.2"
    assert not pattern.search("pong 1.2 abcdef0123x")
    # regex metacharacters in a (custom) token are escaped, quantifiers survive
    odd = cp.build_expect_pattern(r"^ok \d{2} {token}$", "a.b+c")
    assert odd.search("ok 42 a.b+c") and not odd.search("ok 42 aXbbc")


def test_expect_version_group_detection() -> None:
    assert cp.expect_has_version_group(cp.DEFAULT_EXPECT)
    assert not cp.expect_has_version_group(r"^pong {token}$")


# -------------------------------------------------------------------- matching


def _msg(
    user: str, text: str, received: float = 10.0, time_ms: Optional[float] = 5000.0, replay: bool = False
) -> ChatMessage:
    return ChatMessage(user, cytube_html(text), text, time_ms, received, 0.0, replay)


@pytest.fixture()
def matcher() -> cp.RoundMatcher:
    return cp.RoundMatcher(
        "ShipBot",
        "shipprobe",
        TOKEN,
        cp.build_expect_pattern(cp.DEFAULT_EXPECT, TOKEN),
        sent_mono=5.0,
        sent_wall_ms=4000.0,
    )


def test_match_from_bot_any_case(matcher: cp.RoundMatcher) -> None:
    outcome, found = matcher.classify(_msg("shipbot", "pong 1.0 abcdef0123"))
    assert outcome == cp.MATCH and found is not None and found.group("version") == "1.0"


@pytest.mark.parametrize(
    "msg,outcome",
    [
        (_msg("shipbot", "pong 1.0 abcdef0123", replay=True), cp.REPLAY),
        (_msg("shipbot", "pong 1.0 abcdef0123", received=4.9), cp.BEFORE_SEND),
        (_msg("SHIPPROBE", "pong 1.0 abcdef0123"), cp.OWN_ECHO),  # own echo never counts
        (_msg("shipprobe", "hello"), cp.OWN_OTHER),
        (_msg("impostor", "pong 1.0 abcdef0123"), cp.FOREIGN),
        (_msg("impostor", "hi"), cp.OTHER),
        (_msg("shipbot", "pong 1.0 0000000000", time_ms=3000.0), cp.STALE),  # before the send, no token
        (_msg("shipbot", "pong 1.0 0000000000"), cp.BOT_OTHER),  # another token
        (_msg("shipbot", "error: unknown abcdef0123"), cp.WRONG),
        (_msg("shipbot", "pong 1.0 abcdef0123 extra"), cp.WRONG),
    ],
)
def test_reply_rules(matcher: cp.RoundMatcher, msg: ChatMessage, outcome: str) -> None:
    assert matcher.classify(msg)[0] == outcome


def test_clock_skew_token_rescues_an_early_server_time(matcher: cp.RoundMatcher) -> None:
    # server clock behind ours: time < send time, but received after the send with the token
    assert matcher.classify(_msg("shipbot", "pong 1.0 abcdef0123", time_ms=100.0))[0] == cp.MATCH


def test_without_token_in_expect_server_time_decides() -> None:
    m = cp.RoundMatcher(
        "shipbot",
        "shipprobe",
        TOKEN,
        cp.build_expect_pattern(r"^pong (?P<version>\S+)$", TOKEN),
        sent_mono=5.0,
        sent_wall_ms=4000.0,
    )
    assert m.classify(_msg("shipbot", "pong 2.0", time_ms=4000.0))[0] == cp.MATCH
    assert m.classify(_msg("shipbot", "pong 2.0", time_ms=3999.0))[0] == cp.STALE
    assert m.classify(_msg("shipbot", "pong 2.0", time_ms=None))[0] == cp.STALE


def test_html_transformed_reply_matches_after_decoding() -> None:
    m = cp.RoundMatcher("shipbot", "shipprobe", TOKEN, cp.build_expect_pattern(cp.DEFAULT_EXPECT, TOKEN), 0.0, 0.0)
    raw = cytube_html("pong 1.0_rc_1 abcdef0123")
    assert "<em>rc</em>" in raw
    msg = ChatMessage("shipbot", raw, decode_chat_html(raw), 1.0, 1.0, 0.0, False)
    outcome, found = m.classify(msg)
    assert outcome == cp.MATCH and found.group("version") == "1.0_rc_1"


# --------------------------------------------------------------------- verdicts


def _check(name: str, ok: bool = True, failure: Optional[str] = None, rnd: Optional[int] = None) -> cp.CheckResult:
    return cp.CheckResult(name, ok, 1.0, "e", "s", "m", failure=failure if not ok else None, round=rnd)


BASE_OK = [_check(n) for n in ("socketconfig", "connect", "join", "login", "bot_present")]


@pytest.mark.parametrize(
    "failing,verdict",
    [
        ("socketconfig", cp.INCONCLUSIVE),
        ("connect", cp.INCONCLUSIVE),
        ("join", cp.INCONCLUSIVE),
        ("login", cp.INCONCLUSIVE),
    ],
)
def test_cytube_side_failures_are_inconclusive(failing: str, verdict: str) -> None:
    checks = []
    for c in BASE_OK:
        checks.append(_check(c.name, False, cp.INCONCLUSIVE) if c.name == failing else c)
        if c.name == failing:
            break
    assert cp.classify(checks, 1, 0) == (verdict, checks[-1])


def test_bot_absent_is_unhealthy() -> None:
    checks = [*BASE_OK[:-1], _check("bot_present", False, cp.UNHEALTHY)]
    assert cp.classify(checks, 1, 0)[0] == cp.UNHEALTHY


@pytest.mark.parametrize(
    "rounds,repeat,max_failures,verdict",
    [
        ([True], 1, 0, cp.HEALTHY),
        ([cp.UNHEALTHY], 1, 0, cp.UNHEALTHY),
        ([cp.INCONCLUSIVE], 1, 0, cp.INCONCLUSIVE),
        ([True, cp.UNHEALTHY, True], 3, 1, cp.HEALTHY),
        ([True, cp.UNHEALTHY, cp.UNHEALTHY], 3, 1, cp.UNHEALTHY),
        ([True, cp.UNHEALTHY, cp.INCONCLUSIVE], 3, 1, cp.INCONCLUSIVE),
        ([cp.UNHEALTHY, cp.UNHEALTHY], 5, 1, cp.UNHEALTHY),  # stopped early, decided
        ([True, cp.INCONCLUSIVE], 5, 2, cp.INCONCLUSIVE),  # window cut short
    ],
)
def test_window_verdicts(rounds: list[Any], repeat: int, max_failures: int, verdict: str) -> None:
    checks = list(BASE_OK) + [
        _check(cp.ROUND_CHECK, r is True, None if r is True else r, i + 1) for i, r in enumerate(rounds)
    ]
    got, decisive = cp.classify(checks, repeat, max_failures)
    assert got == verdict
    assert (decisive is None) == (verdict == cp.HEALTHY)


# -------------------------------------------------------------- end to end (fake)


def test_healthy_returns_version_and_all_checks() -> None:
    world = FakeCytube()
    report = run(world)
    assert report.verdict == cp.HEALTHY, report.msg
    assert report.version == "1.4.2"
    assert names(report) == ["socketconfig", "connect", "join", "login", "bot_present", "command_round_trip"]
    assert all(c.ok and c.latency_ms is not None and c.latency_ms >= 0 for c in report.checks)
    assert report.failed_check is None
    assert report.msg.startswith("healthy:") and "1.4.2" in report.msg
    # the secure socketconfig entry was preferred; one connection; closed
    assert world.connect_urls == ["https://cytube.test:8443"]
    assert all(s.closed for s in world.sessions)
    assert ("chatMsg", {"msg": "!ping " + TOKEN}) in world.emitted
    assert ("login", {"name": "shipprobe", "pw": PASSWORD}) in world.emitted


def test_guest_login_sends_no_password_and_channel_password_is_sent() -> None:
    world = FakeCytube()
    report = run(world, config(probe_password="", channel_password="chanpw"))
    assert report.verdict == cp.HEALTHY
    assert ("login", {"name": "shipprobe"}) in world.emitted
    assert ("joinChannel", {"name": "testchan", "pw": "chanpw"}) in world.emitted


def test_random_tokens_per_round() -> None:
    world = FakeCytube()
    report = run(world, config(repeat=3), token=None)
    assert report.verdict == cp.HEALTHY
    tokens = [d["msg"].split()[1] for e, d in world.emitted if e == "chatMsg"]
    assert len(set(tokens)) == 3 and all(re.fullmatch(r"[0-9a-f]{10}", t) for t in tokens)


def test_replayed_reply_never_counts() -> None:
    # a message that would match, but replayed before the user list: must be ignored
    old = {"username": "shipbot", "msg": "pong 0.0.1 " + TOKEN, "meta": {}, "time": time.time() * 1000 + 60000}
    world = FakeCytube(replay=[old], reply=lambda text: None)
    report = run(world)
    assert report.verdict == cp.UNHEALTHY
    assert report.failed_check == "command_round_trip"
    assert report.version is None


def test_own_echo_never_counts() -> None:
    # the probe's own command looks exactly like a reply; the bot stays silent
    world = FakeCytube(bot="shipbot", reply=lambda text: None)
    report = run(world, config(command="pong 9.9"))
    assert report.verdict == cp.UNHEALTHY
    assert "echoed" in report.checks[-1].seen


def test_reply_from_someone_else_does_not_count() -> None:
    world = FakeCytube(reply=lambda text: None, others=[("impostor", "pong 6.6.6 {token}", 0.0)])
    report = run(world)
    assert report.verdict == cp.UNHEALTHY
    assert "impostor" in report.checks[-1].seen


def test_wrong_token_reply_is_unhealthy_with_what_was_said() -> None:
    world = FakeCytube(reply=lambda text: "pong 1.4.2 0000000000")
    report = run(world)
    assert report.verdict == cp.UNHEALTHY
    assert "pong 1.4.2 0000000000" in report.checks[-1].seen


def test_wrong_reply_with_token_fails_fast() -> None:
    world = FakeCytube(reply=lambda text: f"error: unknown command {text.split()[1]}")
    report = run(world, config(reply_timeout=3.0))
    last = report.checks[-1]
    assert report.verdict == cp.UNHEALTHY and not last.ok
    assert last.message.startswith("wrong reply")
    assert report.elapsed_ms < 1500  # did not wait for the 3 s timeout


def test_html_transformed_version_is_decoded() -> None:
    world = FakeCytube(version="2.0_rc_1")
    report = run(world)
    assert report.verdict == cp.HEALTHY and report.version == "2.0_rc_1"


def test_expect_version_mismatch_is_unhealthy() -> None:
    report = run(FakeCytube(version="1.4.1"), config(expect_version="1.4.2"))
    assert report.verdict == cp.UNHEALTHY
    assert report.version == "1.4.1"
    assert "expected '1.4.2', seen '1.4.1'" in report.checks[-1].message
    assert "expected" in report.msg and "seen" in report.msg


def test_late_reply_is_unhealthy_and_bounded() -> None:
    world = FakeCytube(reply_delay=2.0)
    start = time.monotonic()
    report = run(world, config(reply_timeout=0.3))
    assert time.monotonic() - start < 1.5
    assert report.verdict == cp.UNHEALTHY and report.failed_check == "command_round_trip"
    assert "no reply within 0.3s" in report.checks[-1].seen


def test_bot_absent_is_unhealthy_bot_present() -> None:
    report = run(FakeCytube(bot_present=False), config(connect_timeout=0.3))
    assert report.verdict == cp.UNHEALTHY and report.failed_check == "bot_present"
    assert "someone" in report.checks[-1].seen
    assert names(report)[-1] == "bot_present"


def test_bot_absent_from_an_unregistered_channel_says_check_the_name() -> None:
    world = FakeCytube(bot_present=False)
    world.registered = False
    report = run(world, config(connect_timeout=0.3, channel="tsetchan"))
    assert report.verdict == cp.UNHEALTHY and report.failed_check == "bot_present"
    assert "CyTube says channel 'tsetchan' is not registered on this server" in report.msg
    assert "check the channel name" in report.msg


def test_bot_absent_from_a_registered_channel_has_no_registration_hint() -> None:
    report = run(FakeCytube(bot_present=False), config(connect_timeout=0.3))
    assert "not registered" not in report.msg


def test_bot_joining_shortly_after_is_waited_for() -> None:
    report = run(FakeCytube(bot_present=False, bot_joins_after=0.2))
    assert report.verdict == cp.HEALTHY, report.msg
    present = report.checks[names(report).index("bot_present")]
    assert 150 <= present.latency_ms < 900


def test_socketconfig_failure_is_inconclusive() -> None:
    def fetch(*args: Any, **kwargs: Any) -> Any:
        raise CytubeHTTPError("HTTP 503 from http://cytube.test:8080/socketconfig/testchan.json", status=503)

    world = FakeCytube()
    report = run(world, fetch=fetch)
    assert report.verdict == cp.INCONCLUSIVE and report.failed_check == "socketconfig"
    assert "HTTP 503" in report.msg
    assert world.sessions == []  # nothing connected


def test_rate_limit_is_inconclusive() -> None:
    world = FakeCytube(connect_error="Rate limit exceeded")
    report = run(world)
    assert report.verdict == cp.INCONCLUSIVE and report.failed_check == "connect"
    assert "CyTube refused the connection: Rate limit exceeded (per-IP limit" in report.msg
    assert all(s.closed for s in world.sessions)


class FakeClock:
    def __init__(self) -> None:
        self.now = 5_000.0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_rate_limit_refusal_waits_for_the_next_token_and_retries(tmp_path: Any) -> None:
    clock = FakeClock()
    limiter = ConnectionBudget("cytube.test_8443", str(tmp_path), clock=clock.time, sleep=clock.sleep)
    world = FakeCytube()
    world.refuse_connects = 1  # another client behind our address emptied CyTube's bucket
    report = run(world, config(rate_limit_wait=30), limiter=limiter)
    assert report.verdict == cp.HEALTHY, report.msg
    assert clock.slept == [pytest.approx(10.25)]  # the refusal emptied our copy of the bucket
    assert len(world.sessions) == 2 and all(s.closed for s in world.sessions)  # never reconnects a session
    connect = report.checks[names(report).index("connect")]
    assert "waited 10.2 s for a connection token; 1 attempt(s) refused by CyTube: Rate limit exceeded" in connect.seen


def test_an_empty_bucket_beyond_the_wait_budget_is_inconclusive_without_connecting(tmp_path: Any) -> None:
    clock = FakeClock()
    limiter = ConnectionBudget("cytube.test_8443", str(tmp_path), clock=clock.time, sleep=clock.sleep)
    limiter.reserve(5, 0)  # five recent probes from this controller
    world = FakeCytube()
    report = run(world, config(rate_limit_wait=4), limiter=limiter)
    assert report.verdict == cp.INCONCLUSIVE and report.failed_check == "connect"
    assert "rate limited, retry in 7 s" in report.msg
    assert world.connect_urls == [] and clock.slept == []


def test_probes_in_a_row_take_tokens_and_wait_for_them(tmp_path: Any) -> None:
    clock = FakeClock()
    limiter = ConnectionBudget("cytube.test_8443", str(tmp_path), clock=clock.time, sleep=clock.sleep)
    verdicts = [run(FakeCytube(), config(rate_limit_wait=15), limiter=limiter).verdict for _ in range(7)]
    assert verdicts == [cp.HEALTHY] * 7
    assert clock.slept == pytest.approx([10.25, 10.25])


@pytest.mark.parametrize(
    "failure",
    [
        NetworkFailure("refused", "TCP connection refused on cytube.test:1337 (nothing listens on that port)"),
        NetworkFailure("timeout", "no answer from cytube.test:1337 within 1.0s (timeout)"),
        NetworkFailure("tls_certificate", "TLS certificate of cytube.test:8443 not accepted (self-signed)"),
    ],
)
def test_network_failures_are_named_and_not_blamed_on_cytube(failure: NetworkFailure) -> None:
    world = FakeCytube()
    world.connect_exception = CytubeConnectError(
        f"cannot connect to https://cytube.test:8443: {failure}", failure=failure
    )
    report = run(world)
    assert report.verdict == cp.INCONCLUSIVE and report.failed_check == "connect"
    assert f"cannot connect to CyTube: {failure}" in report.msg
    assert "refused the connection" not in report.msg and "per-IP" not in report.msg


@pytest.mark.parametrize(
    "error,hint",
    [
        ("Invalid username/password combination", "check probe_user/probe_password"),
        ("Guest logins are restricted to one per IP address per 60 seconds.", "guest cooldown"),
    ],
)
def test_login_failure_is_inconclusive(error: str, hint: str) -> None:
    report = run(FakeCytube(login_error=error))
    assert report.verdict == cp.INCONCLUSIVE and report.failed_check == "login"
    assert error in report.msg and hint in report.msg


def test_kick_during_join_is_inconclusive() -> None:
    report = run(FakeCytube(join_kick="You are banned from this channel."))
    assert report.verdict == cp.INCONCLUSIVE and report.failed_check == "join"
    assert "banned" in report.msg


def test_join_without_userlist_times_out_inconclusive() -> None:
    start = time.monotonic()
    report = run(FakeCytube(no_userlist=True), config(connect_timeout=0.3))
    assert time.monotonic() - start < 1.5
    assert report.verdict == cp.INCONCLUSIVE and report.failed_check == "join"


def test_no_echo_means_cytube_dropped_the_command_inconclusive() -> None:
    report = run(FakeCytube(echo=False, reply=lambda text: None))
    assert report.verdict == cp.INCONCLUSIVE and report.failed_check == "command_round_trip"
    assert "no echo" in report.msg


def test_slow_cytube_echo_makes_a_missing_reply_inconclusive() -> None:
    # the echo alone took more than half of reply_timeout: even an instant bot's
    # reply (same trip back) could not have arrived in time
    report = run(FakeCytube(echo_delay=0.35, reply=lambda text: None), config(reply_timeout=0.6))
    assert report.verdict == cp.INCONCLUSIVE, report.msg
    assert "too slow" in report.msg
    fast = run(FakeCytube(echo_delay=0.1, reply=lambda text: None), config(reply_timeout=0.6))
    assert fast.verdict == cp.UNHEALTHY, fast.msg


def test_cooldown_notice_is_inconclusive() -> None:
    report = run(FakeCytube(drop_notice=("cooldown", 100)), config(reply_timeout=3))
    assert report.verdict == cp.INCONCLUSIVE and "cooldown" in report.msg
    assert report.elapsed_ms < 1500


def test_window_uses_one_connection_and_reports_each_round() -> None:
    world = FakeCytube()
    report = run(world, config(repeat=4, interval=0.05), token=None)
    assert report.verdict == cp.HEALTHY, report.msg
    rounds = [c for c in report.checks if c.name == cp.ROUND_CHECK]
    assert [c.round for c in rounds] == [1, 2, 3, 4]
    assert len(world.sessions) == 1 and len(world.connect_urls) == 1
    assert "4/4 rounds" in report.msg


def _flaky(fail_rounds: list[int]) -> FakeCytube:
    world = FakeCytube()
    normal = world.default_reply

    def reply(text: str) -> Optional[str]:
        return None if world.rounds in fail_rounds else normal(text)

    world.reply = reply
    return world


def test_window_tolerates_max_failures() -> None:
    report = run(_flaky([2]), config(repeat=3, max_failures=1, reply_timeout=0.2), token=None)
    assert report.verdict == cp.HEALTHY, report.msg
    assert [c.ok for c in report.checks if c.name == cp.ROUND_CHECK] == [True, False, True]


def test_window_stops_early_once_unhealthy() -> None:
    world = _flaky([2, 3, 4, 5])
    report = run(world, config(repeat=5, max_failures=1, reply_timeout=0.2), token=None)
    assert report.verdict == cp.UNHEALTHY
    assert len([c for c in report.checks if c.name == cp.ROUND_CHECK]) == 3
    assert "round 2/5" in report.msg


def test_kick_mid_window_is_inconclusive_and_never_reconnects() -> None:
    world = FakeCytube(kick_on_round=2)
    report = run(world, config(repeat=4, interval=0.05), token=None)
    assert report.verdict == cp.INCONCLUSIVE, report.msg
    assert "Duplicate login" in report.msg
    assert len(world.connect_urls) == 1
    assert len([c for c in report.checks if c.name == cp.ROUND_CHECK]) == 2


def test_canonical_login_name_is_used_for_the_echo() -> None:
    # CyTube answers an account login with the canonical name; the echo uses it
    world = FakeCytube(login_name="ShipProbe", reply=lambda text: None)
    report = run(world, config(probe_user="SHIPPROBE"))
    assert report.verdict == cp.UNHEALTHY
    assert "echoed" in report.checks[-1].seen


def test_secrets_are_scrubbed_from_the_report() -> None:
    world = FakeCytube(login_error=f"Invalid login for password {PASSWORD}")
    cfg = config()
    report = run(world, cfg)
    text = repr(report.as_dict(cfg.secrets))
    assert PASSWORD not in text and "********" in text


def test_unexpected_library_error_is_inconclusive_and_closes() -> None:
    world = FakeCytube()

    def boom(s: FakeSession, event: str, data: Any) -> None:
        if event == "chatMsg":
            raise RuntimeError("library surprise")
        FakeCytube.handle(world, s, event, data)

    world.handle = boom  # type: ignore[method-assign]
    report = run(world)
    assert report.verdict == cp.INCONCLUSIVE
    assert "library surprise" in report.msg
    assert all(s.closed for s in world.sessions)


def test_max_wall_time_formula() -> None:
    cfg = config(connect_timeout=5, reply_timeout=5, repeat=3, interval=10)
    assert cfg.max_wall_time() == pytest.approx(5 * 5 + 15 + 20 + 3)


class _BusySession(FakeSession):
    """A channel so busy that an event is always waiting."""

    def next_event(self, deadline: float) -> Optional[Event]:
        now = time.monotonic()
        return Event("usercount", (7,), now, time.time())


def test_a_busy_channel_cannot_hold_the_probe_past_its_deadline() -> None:
    probe = cp.Probe(config(), _BusySession(FakeCytube(), 1.0))
    start = time.monotonic()
    assert probe.pump(start + 0.2, lambda: False) is False
    assert time.monotonic() - start < 0.5


def test_join_held_for_a_refused_login_names_both() -> None:
    # channels that block anonymous users hold the join until a login succeeds
    world = FakeCytube(no_userlist=True, login_error="Invalid username/password combination")
    report = run(world, config(connect_timeout=0.3))
    assert report.verdict == cp.INCONCLUSIVE and report.failed_check == "join"
    assert "the login was refused too: Invalid username/password combination" in report.msg


# ------------------------------------------------------------- pm and presence modes

STATUS = "status: up 12 s, 3 messages and 2 users seen"


class ModesCytube(FakeCytube):
    """FakeCytube plus private messages, the probe's rank and a bot that leaves (and comes back)."""

    def __init__(
        self,
        probe_rank: float = 2,
        pm_answer: Optional[Callable[[str], Optional[str]]] = None,
        bot_leaves_after: Optional[float] = None,
        bot_rejoins_after: Optional[float] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.probe_rank = probe_rank
        self.pm_answer = pm_answer if pm_answer is not None else (lambda text: STATUS if text == "status" else None)
        self.bot_leaves_after = bot_leaves_after
        self.bot_rejoins_after = bot_rejoins_after

    def handle(self, s: FakeSession, event: str, data: Any) -> None:
        if event == "login" and not self.login_error:
            s.push("rank", self.probe_rank)
            s.push("login", {"success": True, "name": data["name"]})
            return
        if event == "joinChannel" and self.bot_leaves_after is not None:
            super().handle(s, event, data)
            s.push("userLeave", {"name": self.bot}, delay=self.bot_leaves_after)
            if self.bot_rejoins_after is not None:
                s.push("addUser", {"name": self.bot, "rank": 1}, delay=self.bot_rejoins_after)
            return
        if event == "pm":
            self.rounds += 1
            if not self.bot_present:
                s.push("errorMsg", {"msg": f"PM failed: {data['to']} isn't connected to this channel."})
                return
            now_ms = time.time() * 1000
            entry = {"username": "shipprobe", "msg": cytube_html(data["msg"]), "meta": {}, "time": now_ms}
            s.push("pm", dict(entry, to=data["to"]))
            answer = self.pm_answer(data["msg"])
            if answer is not None:
                reply = {"username": self.bot, "msg": cytube_html(answer), "meta": {}, "time": now_ms}
                s.push("pm", dict(reply, to="shipprobe"), delay=self.reply_delay)
            return
        super().handle(s, event, data)


STATUS_EXPECT = r"^status: up \d+ s, \d+ messages and \d+ users seen$"


def pm_config(**over: Any) -> cp.ProbeConfig:
    return config(**{"mode": "pm", "command": "status", "expect": STATUS_EXPECT, "probe_rank": 2, **over})


def test_pm_mode_sends_the_command_privately_without_a_token_and_matches_the_private_reply() -> None:
    world = ModesCytube()
    report = run(world, pm_config())
    assert report.verdict == cp.HEALTHY, report.msg
    assert names(report) == ["socketconfig", "connect", "join", "login", "probe_rank", "bot_present", ROUND]
    assert ("pm", {"to": "shipbot", "msg": "status"}) in world.emitted
    assert not [e for e in world.emitted if e[0] == "chatMsg"], "pm mode must not speak in public"
    assert "by private message" in report.msg
    assert STATUS in report.checks[-1].seen


def test_pm_mode_sends_the_token_when_expect_uses_it() -> None:
    world = ModesCytube(pm_answer=lambda text: "ok " + text.split()[-1])
    report = run(world, pm_config(command="!status", expect="^ok {token}$"))
    assert report.verdict == cp.HEALTHY, report.msg
    assert ("pm", {"to": "shipbot", "msg": "!status " + TOKEN}) in world.emitted


def test_pm_mode_ignores_a_matching_public_message() -> None:
    world = ModesCytube(pm_answer=lambda text: None, others=[("shipbot", STATUS, 0.0)])
    report = run(world, pm_config(command="status"))
    assert report.verdict == cp.UNHEALTHY and report.failed_check == ROUND, report.msg


def test_pm_mode_bot_that_never_answers_is_unhealthy() -> None:
    report = run(ModesCytube(pm_answer=lambda text: None), pm_config())
    assert report.verdict == cp.UNHEALTHY and report.failed_check == ROUND, report.msg
    assert "no reply from 'shipbot'" in report.msg and "CyTube echoed the command" in report.msg


def test_pm_mode_bot_that_left_is_unhealthy_by_cytubes_refusal() -> None:
    world = ModesCytube(bot_present=False)
    world.handle = _present_then_gone(world)  # type: ignore[method-assign]
    report = run(world, pm_config())
    assert report.verdict == cp.UNHEALTHY and report.failed_check == ROUND, report.msg
    assert "isn't connected" in report.msg and "could not deliver the private message" in report.msg


def _present_then_gone(world: ModesCytube) -> Callable[[FakeSession, str, Any], None]:
    """The bot is in the user list the probe gets, but gone by the time the PM arrives."""
    original = world.handle

    def handle(s: FakeSession, event: str, data: Any) -> None:
        if event == "joinChannel":
            s.push("userlist", [{"name": "someone", "rank": 0}, {"name": world.bot, "rank": 1}])
            return
        original(s, event, data)

    return handle


def test_pm_mode_probe_rank_too_low_is_inconclusive_naming_the_fix() -> None:
    world = ModesCytube(probe_rank=1)
    report = run(world, pm_config())
    assert report.verdict == cp.INCONCLUSIVE and report.failed_check == "probe_rank", report.msg
    assert "rank 1" in report.msg and "/rank shipprobe 2" in report.msg
    assert not [e for e in world.emitted if e[0] == "pm"], "no PM before the rank is known to be enough"


def test_probe_rank_raised_after_login_is_waited_for() -> None:
    world = ModesCytube(probe_rank=1)
    original = world.handle

    def handle(s: FakeSession, event: str, data: Any) -> None:
        original(s, event, data)
        if event == "login":
            s.push("rank", 2, delay=0.1)

    world.handle = handle  # type: ignore[method-assign]
    report = run(world, pm_config())
    assert report.verdict == cp.HEALTHY, report.msg


def test_presence_mode_healthy_once_without_any_message() -> None:
    world = ModesCytube()
    report = run(world, config(mode="presence", repeat=1))
    assert report.verdict == cp.HEALTHY, report.msg
    assert names(report) == ["socketconfig", "connect", "join", "login", "bot_present"]
    assert not [e for e in world.emitted if e[0] in ("chatMsg", "pm")]
    assert report.msg == "healthy: 'shipbot' is in channel 'testchan'"


def test_presence_mode_window_the_bot_stays() -> None:
    report = run(ModesCytube(), config(mode="presence", repeat=3, interval=0.2))
    assert report.verdict == cp.HEALTHY, report.msg
    assert names(report)[-1] == "bot_stays" and "stayed for the 0.4 s window" in report.msg


def test_presence_mode_leave_and_rejoin_during_the_window_is_unhealthy_naming_the_time() -> None:
    world = ModesCytube(bot_leaves_after=0.15, bot_rejoins_after=0.2)
    report = run(world, config(mode="presence", repeat=3, interval=0.5))
    assert report.verdict == cp.UNHEALTHY and report.failed_check == "bot_stays", report.msg
    assert re.search(r"left at \d\d:\d\d:\d\d UTC, 0\.\d s into the window", report.msg), report.msg


def test_presence_mode_absent_bot_is_unhealthy() -> None:
    report = run(ModesCytube(bot_present=False), config(mode="presence", repeat=1))
    assert report.verdict == cp.UNHEALTHY and report.failed_check == "bot_present", report.msg


def test_presence_mode_lost_connection_in_the_window_is_inconclusive() -> None:
    world = ModesCytube()
    original = world.handle

    def handle(s: FakeSession, event: str, data: Any) -> None:
        original(s, event, data)
        if event == "joinChannel":
            s.push("kick", {"reason": "Duplicate login"}, delay=0.1)

    world.handle = handle  # type: ignore[method-assign]
    report = run(world, config(mode="presence", repeat=3, interval=0.5))
    assert report.verdict == cp.INCONCLUSIVE and report.failed_check == "bot_stays", report.msg


def test_the_preflight_login_check_includes_the_probe_rank() -> None:
    world = ModesCytube(probe_rank=1)
    checks = cp.check_login(pm_config(), "http://cytube.test:1337", cp.NoLimit(), world.session_factory)
    assert [(c.name, c.ok) for c in checks] == [
        ("connect", True),
        ("join", True),
        ("login", True),
        ("probe_rank", False),
    ]
    assert not [e for e in world.emitted if e[0] == "pm"]


def test_the_preflight_login_books_the_verification_connection_for_its_channel(tmp_path: Path) -> None:
    """Runs started together must not queue each other's verification beyond its wait: the pre-flight
    books its login and the verification at once, and the verification's limiter uses that slot."""
    cfg = config(rate_limit_dir=str(tmp_path), channel="TestChan")
    shared = ConnectionBudget("cytube.test_1337", str(tmp_path))
    checks = cp.check_login(cfg, "http://cytube.test:1337", shared, FakeCytube().session_factory)
    assert [(c.name, c.ok) for c in checks][:1] == [("connect", True)]
    assert len(shared.booked("testchan")) == 1  # the verification's, booked under the channel
    limiter = cp.default_limiter(cfg, "http://cytube.test:1337")
    assert limiter.claim == "testchan" and limiter.budget.path == shared.path


def test_a_preflight_whose_two_connections_do_not_fit_the_wait_is_rate_limited_before_connecting(
    tmp_path: Path,
) -> None:
    shared = ConnectionBudget("cytube.test_1337", str(tmp_path))
    shared.reserve(5, 0)
    world = FakeCytube()
    checks = cp.check_login(config(rate_limit_wait=5), "http://cytube.test:1337", shared, world.session_factory)
    assert [(c.name, c.ok, c.failure) for c in checks] == [("connect", False, cp.INCONCLUSIVE)]
    assert checks[0].seen.startswith("rate limited, retry in")
    assert shared.booked("testchan") == [] and not world.emitted
