# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The outside-in health check of a CyTube bot, used by ``cytube.shipit.cytube_check``.

The probe does what a user would: reads ``/socketconfig/<channel>.json``, opens ONE
socket.io connection, joins the channel, logs in, looks for the bot in the user
list and says ``<command> <token>``; the bot must answer, and the answer is matched
on sender, time and decoded text. A stability window repeats the command on the
same connection (CyTube's per-IP rate limit forbids reconnecting).

Verdicts:

* ``inconclusive``: CyTube itself is unreachable or refuses the probe (socketconfig,
  connect, join, login, kicks, lost connection, the probe's own command dropped);
  nothing can be said about the bot.
* ``unhealthy``: CyTube works but the bot is absent, silent, late or wrong.
* ``healthy``: every round answered (or at most ``max_failures`` failed).
"""

from __future__ import annotations

import re
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Pattern, Tuple

from ansible_collections.cytube.shipit.plugins.module_utils.cytube_client import (
    EVENT_DISCONNECT,
    ChatMessage,
    CytubeConnectError,
    CytubeSession,
    Event,
    UserList,
    forwarded_headers,
    make_token,
    same_name,
    scrub,
)
from ansible_collections.cytube.shipit.plugins.module_utils.cytube_socketconfig import (
    CytubeError,
    ServerEntry,
    fetch_socketconfig,
    one_line,
    pick_server,
    socketconfig_url,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_http import TLSSettings
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_ratelimit import (
    DEFAULT_CONNECTION_WAIT_S,
    ClaimedBudget,
    ConnectionBudget,
    RateLimited,
    claim_key,
    server_key,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_verdict import (
    HEALTHY,
    INCONCLUSIVE,
    UNHEALTHY,
)

CHECK_NAMES = (
    "socketconfig",
    "connect",
    "join",
    "login",
    "probe_rank",
    "bot_present",
    "command_round_trip",
    "bot_stays",
)
ROUND_CHECK = "command_round_trip"
RANK_CHECK = "probe_rank"
STAY_CHECK = "bot_stays"

#: Verification modes: a public command, a private message, or presence alone (docs/bots.md).
COMMAND_MODE = "command"
PM_MODE = "pm"
PRESENCE_MODE = "presence"
MODES = (COMMAND_MODE, PM_MODE, PRESENCE_MODE)

DEFAULT_COMMAND = "!ping"
TOKEN_PLACEHOLDER = "{token}"
DEFAULT_EXPECT = r"^pong (?P<version>\S+) {token}$"
#: used to compile ``expect`` during validation
SAMPLE_TOKEN = "0123abcd45"
#: longest wait for a clean disconnect
CLOSE_TIMEOUT_S = 2.0
#: events already queued at a deadline are still read for this long
DRAIN_S = 0.05
#: a missing reply is CyTube's fault when the probe's own echo took more than this
#: share of reply_timeout (the reply needs the same trip back)
SLOW_ECHO_SHARE = 0.5
#: notices CyTube sends to a sender whose chat message it dropped
DROP_NOTICES = ("cooldown", "noflood", "spamFiltered")


def build_expect_pattern(expect: str, token: str) -> Pattern[str]:
    """Compile ``expect`` with every ``{token}`` replaced by the escaped ``token``.

    Only the literal ``{token}`` is substituted (no ``str.format``), so regex
    quantifiers such as ``\\d{2}`` stay intact.
    """
    return re.compile(expect.replace(TOKEN_PLACEHOLDER, re.escape(token)))


def expect_has_version_group(expect: str) -> bool:
    """True when ``expect`` captures a group named ``version``."""
    return "version" in build_expect_pattern(expect, SAMPLE_TOKEN).groupindex


def command_text(command: str, token: str) -> str:
    """What the probe says in the channel."""
    return "%s %s" % (command, token)


# ------------------------------------------------------------------ config/results


@dataclass
class ProbeConfig:
    """Everything the probe needs; validated by ``cytube_check_spec.validate``."""

    server_url: str
    channel: str
    bot_name: str
    probe_user: str
    probe_password: str = ""
    channel_password: Optional[str] = None
    command: str = DEFAULT_COMMAND
    expect: str = DEFAULT_EXPECT
    expect_version: Optional[str] = None
    connect_timeout: float = 5.0
    reply_timeout: float = 5.0
    repeat: int = 1
    interval: float = 10.0
    max_failures: int = 0
    validate_certs: bool = True
    ca_path: Optional[str] = None
    forwarded_for: Optional[str] = None
    #: seconds the probe may wait for a token of CyTube's per-IP connection limit
    rate_limit_wait: float = DEFAULT_CONNECTION_WAIT_S
    #: where the controller keeps its connection buckets (None: the cache directory)
    rate_limit_dir: Optional[str] = None
    #: command (public chat), pm (private message) or presence (the user list only)
    mode: str = COMMAND_MODE
    #: the lowest channel rank the probe needs (bots that answer moderators only); 0: any
    probe_rank: float = 0.0

    @property
    def secrets(self) -> List[str]:
        return [s for s in (self.probe_password, self.channel_password) if s]

    @property
    def sends_token(self) -> bool:
        """Whether the command carries the token: always in public; in a PM only when ``expect`` uses it."""
        return self.mode != PM_MODE or TOKEN_PLACEHOLDER in self.expect

    @property
    def window_s(self) -> float:
        """How long presence mode watches the bot stay (0: it is looked for once)."""
        return self.interval * (self.repeat - 1)

    @property
    def rounds_expected(self) -> int:
        return 0 if self.mode == PRESENCE_MODE else self.repeat

    def message_text(self, token: str) -> str:
        """What the probe sends for one round."""
        return command_text(self.command, token) if self.sends_token else self.command

    def max_wall_time(self) -> float:
        """Upper bound of a probe's wall time, in seconds (documented)."""
        return (
            (5 if self.probe_rank > 0 else 4) * self.connect_timeout
            + self.connect_timeout  # socketconfig, connect(x2), join+login, bot
            + self.reply_timeout * self.repeat
            + self.interval * (self.repeat - 1)
            + CLOSE_TIMEOUT_S
            + 1.0
        )


@dataclass
class CheckResult:
    """One check; ``failure`` is the verdict its failure implies (None when ok)."""

    name: str
    ok: bool
    latency_ms: Optional[float]
    expected: str
    seen: str
    message: str
    failure: Optional[str] = None
    round: Optional[int] = None

    def as_dict(self, secret_values: List[str]) -> Dict[str, Any]:
        out: Dict[str, Any] = {
            "name": self.name,
            "ok": self.ok,
            "latency_ms": self.latency_ms,
            "expected": scrub(self.expected, secret_values),
            "seen": scrub(self.seen, secret_values),
            "message": scrub(self.message, secret_values),
        }
        if self.round is not None:
            out["round"] = self.round
        return out


@dataclass
class ProbeReport:
    verdict: str
    checks: List[CheckResult]
    version: Optional[str]
    failed_check: Optional[str]
    msg: str
    elapsed_ms: float

    def as_dict(self, secret_values: List[str]) -> Dict[str, Any]:
        return {
            "verdict": self.verdict,
            "checks": [c.as_dict(secret_values) for c in self.checks],
            "version": self.version,
            "failed_check": self.failed_check,
            "msg": scrub(self.msg, secret_values),
            "elapsed_ms": self.elapsed_ms,
        }


def ms(seconds: float) -> float:
    """Seconds to milliseconds, one decimal."""
    return round(seconds * 1000.0, 1)


def _seconds(value: float) -> str:
    """``50`` rather than ``50.0``."""
    return ("%.1f" % value).rstrip("0").rstrip(".")


def _utc_clock(wall: float) -> str:
    return time.strftime("%H:%M:%S UTC", time.gmtime(wall))


def _quote(text: Optional[str], limit: int = 120) -> str:
    if text is None:
        return "nothing"
    return repr(one_line(text, limit))


# -------------------------------------------------------------------- matching

# Outcomes of RoundMatcher.classify
REPLAY = "replay"  # received before the join completed (CyTube replays 15)
BEFORE_SEND = "before_send"  # received before the command went out
OWN_ECHO = "own_echo"  # the probe's own command, echoed back by CyTube
OWN_OTHER = "own_other"  # something else from the probe's name
FOREIGN = "foreign"  # someone else quoting the token (not the bot)
OTHER = "other"  # unrelated chat
STALE = "stale"  # from the bot, timed before the send, no token
MATCH = "match"  # the reply
WRONG = "wrong"  # the bot answered this token, but not as expected
BOT_OTHER = "bot_other"  # the bot said something else (no token, no match)


@dataclass
class RoundMatcher:
    """Rules for recognising the bot's reply to one command.

    A message counts only when it was received after the join completed (not a
    replay), after the command was sent, comes from ``bot_name`` (any case) and
    not from the probe itself, and either carries a server ``time`` at or after
    the send time or contains the token (clock skew). Its decoded text must match
    ``pattern``; a message from the bot that carries the token but does not match
    is a wrong reply.
    """

    bot_name: str
    probe_name: str
    token: str
    pattern: Pattern[str]
    sent_mono: float
    sent_wall_ms: float
    #: what the probe sent: its echo is recognised by it when the token was not sent (a PM)
    sent_text: str = ""

    def classify(self, msg: ChatMessage) -> Tuple[str, Optional["re.Match[str]"]]:
        if msg.replay:
            return REPLAY, None
        if msg.received_mono < self.sent_mono:
            return BEFORE_SEND, None
        has_token = self.token in msg.text
        if same_name(msg.username, self.probe_name):
            own = has_token or (bool(self.sent_text) and msg.text.strip() == self.sent_text.strip())
            return (OWN_ECHO if own else OWN_OTHER), None
        if not same_name(msg.username, self.bot_name):
            return (FOREIGN if has_token else OTHER), None
        in_time = has_token or (msg.time_ms is not None and msg.time_ms >= self.sent_wall_ms)
        if not in_time:
            return STALE, None
        found = self.pattern.search(msg.text)
        if found:
            return MATCH, found
        return (WRONG if has_token else BOT_OTHER), None


# -------------------------------------------------------------------- verdict


def classify(checks: List[CheckResult], repeat: int, max_failures: int) -> Tuple[str, Optional[CheckResult]]:
    """The verdict and the check that decided it (None when healthy).

    ``repeat`` is the number of command rounds expected (0 in presence mode).
    A failing step other than a command round decides alone. For the rounds:
    more than ``max_failures`` rounds failing for the bot's fault -> unhealthy;
    otherwise more than ``max_failures`` failing for any reason, or a window cut
    short -> inconclusive; otherwise healthy.
    """
    for check in checks:
        if check.name != ROUND_CHECK and not check.ok:
            return (check.failure or INCONCLUSIVE), check
    rounds = [c for c in checks if c.name == ROUND_CHECK]
    failed = [c for c in rounds if not c.ok]
    bot_failed = [c for c in failed if c.failure == UNHEALTHY]
    if len(bot_failed) > max_failures:
        return UNHEALTHY, bot_failed[0]
    if len(failed) > max_failures:
        first = next(c for c in failed if c.failure != UNHEALTHY)
        return INCONCLUSIVE, first
    if len(rounds) < repeat:
        first = next((c for c in failed if c.failure != UNHEALTHY), failed[0] if failed else None)
        return INCONCLUSIVE, first
    return HEALTHY, None


def summarize(
    verdict: str, decisive: Optional[CheckResult], checks: List[CheckResult], cfg: ProbeConfig, version: Optional[str]
) -> str:
    """The one-line ``msg``."""
    rounds = [c for c in checks if c.name == ROUND_CHECK]
    if verdict == HEALTHY and cfg.mode == PRESENCE_MODE:
        stayed = " and stayed for the %s s window" % _seconds(cfg.window_s) if cfg.window_s > 0 else ""
        return "healthy: %r is in channel %r%s" % (cfg.bot_name, cfg.channel, stayed)
    if verdict == HEALTHY:
        good = [c.latency_ms for c in rounds if c.ok and c.latency_ms is not None]
        ver = " (version %s)" % version if version else ""
        if cfg.repeat == 1:
            return "healthy: %r answered %r%s on channel %r in %s ms%s" % (
                cfg.bot_name,
                cfg.command,
                " by private message" if cfg.mode == PM_MODE else "",
                cfg.channel,
                good[0] if good else "?",
                ver,
            )
        return "healthy: %r answered %d/%d rounds on channel %r (median %s ms, max %s ms)%s" % (
            cfg.bot_name,
            len(good),
            cfg.repeat,
            cfg.channel,
            round(statistics.median(good), 1) if good else "?",
            max(good) if good else "?",
            ver,
        )
    if decisive is None:
        return "%s: the check did not complete" % verdict
    where = decisive.name
    if decisive.round is not None and cfg.repeat > 1:
        failed = len([c for c in rounds if not c.ok])
        where = "%s round %d/%d (%d failed, max_failures %d)" % (
            decisive.name,
            decisive.round,
            cfg.repeat,
            failed,
            cfg.max_failures,
        )
    return "%s: check %s failed: %s; expected %s; seen %s" % (
        verdict,
        where,
        one_line(decisive.message, 200),
        one_line(decisive.expected, 200),
        one_line(decisive.seen, 200),
    )


# ---------------------------------------------------------------------- probe

#: CyTube's per-IP connection rate limit, for messages
RATE_LIMIT_RULE = "per-IP limit: 5 connections, then 1 per 10 s"


def connect_failure_message(exc: CytubeConnectError) -> str:
    """What the ``connect`` check says: CyTube's refusal, or the network's real cause."""
    if exc.refused_reason:
        message = "CyTube refused the connection: %s" % exc.refused_reason
        if exc.rate_limited:
            message += " (%s)" % RATE_LIMIT_RULE
        return message
    if exc.failure is not None:
        return "cannot connect to CyTube: %s" % exc.failure
    return "cannot connect to CyTube"


class NoLimit:
    """A limiter that never waits, for callers that queue elsewhere (and tests).

    It knows no schedule, so after a refusal it cannot promise a token: the next
    ``take`` raises :class:`RateLimited` and the probe stops retrying.
    """

    def __init__(self) -> None:
        self.refusals = 0

    def take(self, wait_budget: float) -> float:
        if self.refusals:
            raise RateLimited("rate limited, retry in 10 s: CyTube refused the connection", retry_in_s=10.0)
        return 0.0

    def refused(self) -> None:
        self.refusals += 1


def _waits_note(waited: float, refusals: List[str]) -> str:
    notes = []
    if waited > 0:
        notes.append("waited %.1f s for a connection token" % waited)
    if refusals:
        notes.append("%d attempt(s) refused by CyTube: %s" % (len(refusals), refusals[-1]))
    return " (%s)" % "; ".join(notes) if notes else ""


def _rate_limited_check(expected: str, exc: RateLimited, refusals: List[str]) -> CheckResult:
    message = "rate limited (%s): no connection token within rate_limit_wait" % RATE_LIMIT_RULE
    if refusals:
        message = "CyTube refused the connection: %s (%s); no token within rate_limit_wait" % (
            refusals[-1],
            RATE_LIMIT_RULE,
        )
    return CheckResult("connect", False, 0.0, expected, str(exc), message, failure=INCONCLUSIVE)


def _connect_failed_check(expected: str, latency: float, exc: CytubeConnectError) -> CheckResult:
    return CheckResult(
        "connect", False, latency, expected, str(exc), connect_failure_message(exc), failure=INCONCLUSIVE
    )


SessionFactory = Callable[..., CytubeSession]
Fetcher = Callable[..., Any]


@dataclass
class _State:
    """What the probe has learnt from the server's events so far."""

    users: UserList = field(default_factory=UserList)
    userlist_mono: Optional[float] = None
    login: Optional[Mapping[str, Any]] = None
    login_mono: Optional[float] = None
    kicked: Optional[str] = None
    disconnected: Optional[str] = None
    need_password: Optional[bool] = None
    errors: List[str] = field(default_factory=list)
    drops: List[Tuple[str, Any]] = field(default_factory=list)
    chats: List[ChatMessage] = field(default_factory=list)
    bot_seen_mono: Optional[float] = None
    bot_left: bool = False
    #: when the bot first left after being seen (monotonic and wall clock)
    bot_left_at: Optional[Tuple[float, float]] = None
    channel_not_registered: bool = False
    #: the probe's own effective rank, as CyTube last said (``rank`` event)
    rank: Optional[float] = None
    pms: List[ChatMessage] = field(default_factory=list)

    @property
    def lost(self) -> Optional[str]:
        """Why the connection is gone, or None while it is usable."""
        if self.kicked is not None:
            return "kicked by CyTube: %s" % (self.kicked or "(no reason given)")
        if self.disconnected is not None:
            return "disconnected by CyTube (%s)" % (self.disconnected or "no reason")
        return None


@dataclass
class _RoundSeen:
    """What one command round has seen so far."""

    echo: Optional[ChatMessage] = None
    match: Optional[ChatMessage] = None
    found: Optional["re.Match[str]"] = None
    wrong: Optional[ChatMessage] = None
    foreign: List[ChatMessage] = field(default_factory=list)
    bot_other: List[ChatMessage] = field(default_factory=list)

    def note(self, msg: ChatMessage, outcome: str, found: Optional["re.Match[str]"]) -> bool:
        """Record a classified chat message; True once the round is decided (reply or wrong reply)."""
        if outcome == OWN_ECHO and self.echo is None:
            self.echo = msg
        elif outcome == MATCH:
            self.match, self.found = msg, found
            return True
        elif outcome == WRONG:
            self.wrong = msg
            return True
        elif outcome == FOREIGN:
            self.foreign.append(msg)
        elif outcome == BOT_OTHER:
            self.bot_other.append(msg)
        return False


@dataclass
class _Round:
    """One command round: its token, the reply pattern, and when the command went out."""

    number: int
    token: str
    pattern: Pattern[str]
    expected: str
    sent_mono: float = 0.0

    def result(
        self, ok: bool, latency: Optional[float], seen: str, message: str, failure: Optional[str] = None
    ) -> CheckResult:
        return CheckResult(ROUND_CHECK, ok, latency, self.expected, seen, message, failure=failure, round=self.number)


class Probe:
    """Runs the checks on one session; results accumulate in ``checks``."""

    def __init__(
        self,
        cfg: ProbeConfig,
        session: CytubeSession,
        token_factory: Callable[[], str] = make_token,
        limiter: Optional[Any] = None,
        new_session: Optional[Callable[[], CytubeSession]] = None,
    ) -> None:
        self.cfg = cfg
        self.session = session
        #: ``take(wait_budget) -> seconds waited`` and ``refused()``, as ConnectionBudget
        self.limiter = limiter if limiter is not None else NoLimit()
        #: makes the session for a retry after a rate-limit refusal (None: never retry)
        self.new_session = new_session
        self.token_factory = token_factory
        self.state = _State()
        self.checks: List[CheckResult] = []
        self.version: Optional[str] = None
        self.probe_name = cfg.probe_user

    # ---- event pump
    def _apply(self, event: Event) -> None:
        st = self.state
        if st.users.apply(event):
            if event.name == "userlist" and st.userlist_mono is None:
                st.userlist_mono = event.mono
            present = st.users.get(self.cfg.bot_name) is not None
            if present and st.bot_seen_mono is None:
                st.bot_seen_mono = event.mono
            if not present and st.bot_seen_mono is not None:
                st.bot_left = True
                if st.bot_left_at is None:
                    st.bot_left_at = (event.mono, event.wall)
            return
        name = event.name
        if name == "chatMsg":
            msg = ChatMessage.from_event(event, replay=not st.users.received)
            if msg is not None:
                st.chats.append(msg)
        elif name == "pm":
            private = ChatMessage.from_event(event, replay=False)
            if private is not None:
                st.pms.append(private)
        elif name == "rank":
            if isinstance(event.data, (int, float)) and not isinstance(event.data, bool):
                st.rank = float(event.data)
        elif name == "login":
            st.login = event.data if isinstance(event.data, Mapping) else {"success": False, "error": repr(event.data)}
            st.login_mono = event.mono
        elif name == "kick":
            data = event.data
            st.kicked = str(data.get("reason", "")) if isinstance(data, Mapping) else str(data or "")
        elif name == EVENT_DISCONNECT:
            st.disconnected = ", ".join(str(a) for a in event.args) or "server disconnect"
        elif name == "needPassword":
            st.need_password = bool(event.data)
        elif name == "cancelNeedPassword":
            st.need_password = None
        elif name == "errorMsg":
            data = event.data
            st.errors.append(one_line(data.get("msg", data) if isinstance(data, Mapping) else data))
        elif name in DROP_NOTICES:
            st.drops.append((name, event.data))
        elif name == "channelNotRegistered":
            st.channel_not_registered = True

    def pump(self, deadline: float, until: Callable[[], bool]) -> bool:
        """Apply events until ``until()`` holds (True), the deadline passes or the
        connection is lost (False)."""
        if until():
            return True
        while True:
            if self.state.lost:
                return False
            if time.monotonic() > deadline + DRAIN_S:
                return until()  # a busy channel cannot keep the probe past its deadline
            event = self.session.next_event(deadline)
            if event is None:
                return until()
            self._apply(event)
            if until():
                return True

    def _emit(self, event: str, data: Any) -> None:
        try:
            self.session.emit(event, data)
        except CytubeError as exc:
            if self.state.disconnected is None:
                self.state.disconnected = "cannot send %s: %s" % (event, exc)

    def _add(self, check: CheckResult) -> CheckResult:
        self.checks.append(check)
        return check

    # ---- steps
    def connect(self, url: str) -> bool:
        """Open the connection within CyTube's per-IP rate limit.

        A connection token is taken first (waiting within ``rate_limit_wait``); a
        "Rate limit exceeded" refusal empties the controller's bucket and, while the
        budget lasts, the probe waits for the next token and tries again on a new session.
        """
        expected = "a socket.io connection to %s within %ss" % (url, self.cfg.connect_timeout)
        deadline = time.monotonic() + self.cfg.rate_limit_wait
        waited = 0.0
        refusals: List[str] = []
        while True:
            try:
                waited += self.limiter.take(max(0.0, deadline - time.monotonic()))
            except RateLimited as exc:
                self._add(_rate_limited_check(expected, exc, refusals))
                return False
            start = time.monotonic()
            try:
                self.session.connect(url)
            except CytubeConnectError as exc:
                if exc.rate_limited:
                    self.limiter.refused()
                    refusals.append(str(exc.refused_reason))
                    if self.new_session is not None and len(refusals) <= self._max_refusals():
                        self._replace_session()
                        continue  # the limiter now waits for the next token, or says when to retry
                self._add(_connect_failed_check(expected, ms(time.monotonic() - start), exc))
                return False
            seen = "connected to %s%s" % (url, _waits_note(waited, refusals))
            self._add(CheckResult("connect", True, ms(time.monotonic() - start), expected, seen, "connected"))
            return True

    def _max_refusals(self) -> int:
        """A bound on retries, whatever the limiter: one per refill that fits the budget."""
        return 2 + int(self.cfg.rate_limit_wait // 10)

    def _replace_session(self) -> None:
        """A refused session is spent (one connection per session): close it, make another."""
        if self.new_session is None:
            raise CytubeError("no session factory to retry with")
        self.session.close(CLOSE_TIMEOUT_S)
        self.session = self.new_session()

    def join_and_login(self) -> bool:
        cfg, st = self.cfg, self.state
        join: Dict[str, Any] = {"name": cfg.channel}
        if cfg.channel_password:
            join["pw"] = cfg.channel_password
        login: Dict[str, Any] = {"name": cfg.probe_user}
        if cfg.probe_password:
            login["pw"] = cfg.probe_password
        # Both are sent at once (CyTube handles them in order): one round trip
        # instead of two, and channels that block anonymous users hold the join
        # until the login succeeds.
        start = time.monotonic()
        self._emit("joinChannel", join)
        login_start = time.monotonic()
        self._emit("login", login)
        deadline = start + cfg.connect_timeout
        self.pump(deadline, lambda: st.users.received and st.login is not None)
        now = time.monotonic()

        join_expected = "the channel's user list for %r within %ss" % (cfg.channel, cfg.connect_timeout)
        if st.userlist_mono is not None:
            self._add(
                CheckResult(
                    "join",
                    True,
                    ms(st.userlist_mono - start),
                    join_expected,
                    "user list with %d user(s)" % len(st.users.users),
                    "joined",
                )
            )
        else:
            seen, message = self._why_no_join(now - start)
            self._add(CheckResult("join", False, ms(now - start), join_expected, seen, message, failure=INCONCLUSIVE))
            return False

        kind = "guest login" if not cfg.probe_password else "account login"
        login_expected = "%s as %r accepted within %ss" % (kind, cfg.probe_user, cfg.connect_timeout)
        reply = st.login
        if reply is None:
            seen = st.lost or "no login reply"
            self._add(
                CheckResult(
                    "login",
                    False,
                    ms(now - login_start),
                    login_expected,
                    seen,
                    "CyTube did not answer the probe's login",
                    failure=INCONCLUSIVE,
                )
            )
            return False
        latency = ms((st.login_mono or now) - login_start)
        if not reply.get("success"):
            error = one_line(reply.get("error") or "login refused")
            message = "CyTube refused the probe's %s" % kind
            if "one per ip" in error.lower() or "guest logins are restricted" in error.lower():
                message += " (guest cooldown: one guest login per IP per 60 s; use a registered probe account)"
            elif "registered" in error.lower() and not cfg.probe_password:
                message += " (the name belongs to an account: give probe_password, or pick another guest name)"
            elif "invalid username/password" in error.lower() or "does not exist" in error.lower():
                message += " (check probe_user/probe_password)"
            self._add(
                CheckResult("login", False, latency, login_expected, "error: %s" % error, message, failure=INCONCLUSIVE)
            )
            return False
        self.probe_name = str(reply.get("name") or cfg.probe_user)
        self._add(
            CheckResult(
                "login",
                True,
                latency,
                login_expected,
                "logged in as %r%s" % (self.probe_name, " (guest)" if reply.get("guest") else ""),
                "logged in",
            )
        )
        return True

    def _why_no_join(self, waited: float) -> Tuple[str, str]:
        st, cfg = self.state, self.cfg
        if st.lost:
            return st.lost, "CyTube closed the probe's connection during the join"
        if st.need_password is not None:
            if cfg.channel_password:
                return "needPassword (password rejected)", "CyTube rejected channel_password for %r" % cfg.channel
            return "needPassword", "channel %r is password protected: set channel_password" % cfg.channel
        login_error = ""
        if st.login is not None and not st.login.get("success"):
            login_error = "; the login was refused too: %s" % one_line(st.login.get("error") or "no reason")
        if st.errors:
            return "errorMsg: %s%s" % (st.errors[-1], login_error), "CyTube did not accept the join"
        return ("no user list after %.1f s%s" % (waited, login_error), "CyTube did not complete the join in time")

    def bot_present(self) -> bool:
        cfg, st = self.cfg, self.state
        expected = "%r in the user list of %r (waiting up to %ss)" % (cfg.bot_name, cfg.channel, cfg.connect_timeout)
        start = time.monotonic()
        self.pump(start + cfg.connect_timeout, lambda: st.users.get(cfg.bot_name) is not None)
        now = time.monotonic()
        user = st.users.get(cfg.bot_name)
        if user is not None:
            latency = ms(max(0.0, (st.bot_seen_mono or now) - start))
            self._add(
                CheckResult(
                    "bot_present",
                    True,
                    latency,
                    expected,
                    "%r present (rank %s)" % (user.get("name"), user.get("rank")),
                    "bot is in the channel",
                )
            )
            return True
        names = st.users.names()
        shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
        seen = "not in the user list; %d user(s) present: %s" % (len(names), shown or "none")
        if st.lost:
            self._add(
                CheckResult(
                    "bot_present",
                    False,
                    ms(now - start),
                    expected,
                    st.lost,
                    "CyTube closed the probe's connection",
                    failure=INCONCLUSIVE,
                )
            )
        else:
            self._add(
                CheckResult(
                    "bot_present",
                    False,
                    ms(now - start),
                    expected,
                    seen,
                    self._bot_absent_message(),
                    failure=UNHEALTHY,
                )
            )
        return False

    def _bot_absent_message(self) -> str:
        cfg = self.cfg
        message = "bot %r is not in channel %r" % (cfg.bot_name, cfg.channel)
        if self.state.channel_not_registered:
            message += (
                "; CyTube says channel %r is not registered on this server (channelNotRegistered): "
                "check the channel name" % cfg.channel
            )
        return message

    def probe_rank_ok(self) -> bool:
        """Whether CyTube gives the probe the rank the bot wants (``probe_rank``; nothing to check at 0).

        Too low a rank is not the bot's fault: the verdict is inconclusive and names the fix.
        """
        cfg, st = self.cfg, self.state
        if cfg.probe_rank <= 0:
            return True
        expected = "the probe's rank in %r at least %s within %ss" % (
            cfg.channel,
            _seconds(cfg.probe_rank),
            cfg.connect_timeout,
        )
        start = time.monotonic()
        self.pump(start + cfg.connect_timeout, lambda: st.rank is not None and st.rank >= cfg.probe_rank)
        latency = ms(time.monotonic() - start)
        if st.rank is not None and st.rank >= cfg.probe_rank:
            self._add(CheckResult(RANK_CHECK, True, latency, expected, "rank %s" % _seconds(st.rank), "rank is enough"))
            return True
        seen = st.lost or ("rank %s" % _seconds(st.rank) if st.rank is not None else "no rank from CyTube")
        message = (
            "the probe account %r has too low a rank in channel %r for the bot to answer it: give it rank %s "
            "(the channel owner types /rank %s %s in CyTube's chat), or lower probe_rank"
            % (self.probe_name, cfg.channel, _seconds(cfg.probe_rank), self.probe_name, _seconds(cfg.probe_rank))
        )
        self._add(CheckResult(RANK_CHECK, False, latency, expected, seen, message, failure=INCONCLUSIVE))
        return False

    def bot_stays(self) -> None:
        """Presence mode: the bot must stay in the user list for the whole window, on this one connection."""
        cfg, st = self.cfg, self.state
        window = cfg.window_s
        if window <= 0:
            return
        expected = "%r in the user list of %r for %s s" % (cfg.bot_name, cfg.channel, _seconds(window))
        start = time.monotonic()
        self.pump(start + window, lambda: st.bot_left)
        now = time.monotonic()
        if st.bot_left_at is not None:
            left_mono, left_wall = st.bot_left_at
            into = max(0.0, left_mono - start)
            back = " and came back" if st.users.get(cfg.bot_name) is not None else ""
            seen = "left at %s, %.1f s into the window%s" % (_utc_clock(left_wall), into, back)
            message = "bot %r left channel %r during the stability window" % (cfg.bot_name, cfg.channel)
            self._add(CheckResult(STAY_CHECK, False, ms(into), expected, seen, message, failure=UNHEALTHY))
        elif st.lost:
            message = "connection lost during the stability window (%.1f s of %s s watched)" % (
                now - start,
                _seconds(window),
            )
            self._add(CheckResult(STAY_CHECK, False, ms(now - start), expected, st.lost, message, failure=INCONCLUSIVE))
        else:
            seen = "present for %s s" % _seconds(window)
            self._add(CheckResult(STAY_CHECK, True, ms(now - start), expected, seen, "bot stayed in the channel"))

    def command_round(self, number: int) -> CheckResult:
        """One ``<command> <token>`` (in public or privately) and the bot's answer, judged."""
        attempt = self._new_round(number)
        if self.state.lost:
            return attempt.result(False, None, self.state.lost, "connection lost before the command", INCONCLUSIVE)
        seen = self._send_and_watch(attempt)
        return self._judge_round(attempt, seen, time.monotonic())

    def _new_round(self, number: int) -> "_Round":
        cfg = self.cfg
        token = self.token_factory()
        pattern = build_expect_pattern(cfg.expect, token)
        expected = "a reply from %r matching %r within %ss" % (cfg.bot_name, pattern.pattern, cfg.reply_timeout)
        if cfg.expect_version:
            expected += " with version %r" % cfg.expect_version
        return _Round(number, token, pattern, expected)

    def _send_and_watch(self, attempt: "_Round") -> _RoundSeen:
        """Send the command (public chat or a PM), then read until the reply, a wrong reply, a drop
        notice, a refused PM or the deadline."""
        cfg, st = self.cfg, self.state
        private = cfg.mode == PM_MODE
        inbox = st.pms if private else st.chats
        st.chats.clear()
        st.pms.clear()
        st.drops.clear()
        st.errors.clear()
        text = cfg.message_text(attempt.token)
        sent_wall_ms = time.time() * 1000.0
        attempt.sent_mono = time.monotonic()
        if private:
            self._emit("pm", {"to": cfg.bot_name, "msg": text})
        else:
            self._emit("chatMsg", {"msg": text})
        matcher = RoundMatcher(
            cfg.bot_name, self.probe_name, attempt.token, attempt.pattern, attempt.sent_mono, sent_wall_ms, text
        )
        seen = _RoundSeen()
        read = [0]

        def settled() -> bool:
            while read[0] < len(inbox):
                msg = inbox[read[0]]
                read[0] += 1
                if seen.note(msg, *matcher.classify(msg)):
                    return True
            return bool(st.drops) or (private and bool(st.errors))

        self.pump(attempt.sent_mono + cfg.reply_timeout, settled)
        return seen

    def _judge_round(self, attempt: "_Round", seen: _RoundSeen, now: float) -> CheckResult:
        """The first rule that applies: a reply, a wrong reply, CyTube's fault, or the bot's silence."""
        return (
            self._judge_reply(attempt, seen)
            or self._judge_wrong_reply(attempt, seen)
            or self._judge_refused_pm(attempt, now)
            or self._judge_cytube_trouble(attempt, now)
            or self._judge_silence(attempt, seen, now)
        )

    def _judge_reply(self, attempt: "_Round", seen: _RoundSeen) -> Optional[CheckResult]:
        if seen.match is None:
            return None
        cfg, msg = self.cfg, seen.match
        latency = ms(msg.received_mono - attempt.sent_mono)
        version = seen.found.groupdict().get("version") if seen.found is not None else None
        if version is not None:
            self.version = version
        if cfg.expect_version is not None and version != cfg.expect_version:
            seen_text = "%s after %s ms (version %r)" % (_quote(msg.text), latency, version)
            message = "wrong version: expected %r, seen %r" % (cfg.expect_version, version)
            return attempt.result(False, latency, seen_text, message, UNHEALTHY)
        return attempt.result(True, latency, "%s after %s ms" % (_quote(msg.text), latency), "bot answered")

    def _judge_wrong_reply(self, attempt: "_Round", seen: _RoundSeen) -> Optional[CheckResult]:
        if seen.wrong is None:
            return None
        latency = ms(seen.wrong.received_mono - attempt.sent_mono)
        seen_text = "%s after %s ms" % (_quote(seen.wrong.text), latency)
        return attempt.result(False, latency, seen_text, "wrong reply from %r" % self.cfg.bot_name, UNHEALTHY)

    def _judge_refused_pm(self, attempt: "_Round", now: float) -> Optional[CheckResult]:
        """CyTube refused the PM: the bot's fault when it has left the channel, else CyTube's."""
        st = self.state
        if self.cfg.mode != PM_MODE or not st.errors:
            return None
        waited = ms(now - attempt.sent_mono)
        error = st.errors[0]
        seen_text = "errorMsg: %s" % error
        if "isn't connected" in error or "is not connected" in error:
            message = "bot %r is not in channel %r: CyTube could not deliver the private message" % (
                self.cfg.bot_name,
                self.cfg.channel,
            )
            return attempt.result(False, waited, seen_text, message, UNHEALTHY)
        return attempt.result(False, waited, seen_text, "CyTube refused the probe's private message", INCONCLUSIVE)

    def _judge_cytube_trouble(self, attempt: "_Round", now: float) -> Optional[CheckResult]:
        """CyTube dropped the command or lost the connection: nothing is known about the bot."""
        st = self.state
        waited = ms(now - attempt.sent_mono)
        if st.drops:
            name, data = st.drops[0]
            seen_text = "%s %s" % (name, one_line(data))
            return attempt.result(
                False, waited, seen_text, "CyTube dropped the probe's command (%s)" % name, INCONCLUSIVE
            )
        if st.lost:
            return attempt.result(False, waited, st.lost, "connection lost while waiting for the reply", INCONCLUSIVE)
        return None

    def _judge_silence(self, attempt: "_Round", seen: _RoundSeen, now: float) -> CheckResult:
        """No reply: the bot's fault only when CyTube delivered the command in good time."""
        cfg = self.cfg
        waited = ms(now - attempt.sent_mono)
        extra = self._silence_notes(seen)
        if seen.echo is None:
            seen_text = "no echo of the command from CyTube within %ss%s" % (cfg.reply_timeout, extra)
            return attempt.result(False, waited, seen_text, "CyTube did not deliver the probe's command", INCONCLUSIVE)
        echo_s = seen.echo.received_mono - attempt.sent_mono
        seen_text = "no reply within %ss (CyTube echoed the command after %s ms)%s" % (
            cfg.reply_timeout,
            ms(echo_s),
            extra,
        )
        if echo_s > cfg.reply_timeout * SLOW_ECHO_SHARE:
            # The command reaches the bot about when it reaches us, and the reply takes
            # about as long again: even an instant bot could not have answered in time.
            message = "CyTube is too slow to judge the bot (the echo alone took more than half of reply_timeout)"
            return attempt.result(False, waited, seen_text, message, INCONCLUSIVE)
        return attempt.result(False, waited, seen_text, "no reply from %r" % cfg.bot_name, UNHEALTHY)

    def _silence_notes(self, seen: _RoundSeen) -> str:
        """What else was said meanwhile, for the operator reading a missing reply."""
        cfg = self.cfg
        notes = []
        if seen.foreign:
            other = seen.foreign[0]
            notes.append("%s quoted the token: %s" % (repr(other.username), _quote(other.text)))
        if seen.bot_other:
            notes.append("%r said %s" % (cfg.bot_name, _quote(seen.bot_other[-1].text)))
        if self.state.users.get(cfg.bot_name) is None:
            notes.append("%r is not in the user list" % cfg.bot_name)
        return ("; " + "; ".join(notes)) if notes else ""

    def rounds(self) -> None:
        cfg = self.cfg
        bot_failures = 0
        next_start = time.monotonic()
        for number in range(1, cfg.repeat + 1):
            if number > 1:
                # keep reading (kicks, user list) while waiting for the next round
                self.pump(next_start, lambda: False)
            next_start = time.monotonic() + cfg.interval
            result = self._add(self.command_round(number))
            if not result.ok and result.failure == UNHEALTHY:
                bot_failures += 1
            if bot_failures > cfg.max_failures:
                return  # the verdict cannot change any more
            if self.state.lost:
                return  # one connection per window: never reconnect

    def run(self, url: str, through: str = ROUND_CHECK) -> None:
        """The steps in order, each only after the previous passed, up to ``through``."""
        # "login" (the deploy pre-flight) includes the rank: all the probe account itself must bring.
        if not (self.connect(url) and self.join_and_login() and self.probe_rank_ok()) or through == "login":
            return
        if not self.bot_present() or through != ROUND_CHECK:
            return
        if self.cfg.mode == PRESENCE_MODE:
            self.bot_stays()
        else:
            self.rounds()

    def step_names(self) -> Tuple[str, ...]:
        """The checks this configuration runs, in order (after ``socketconfig``)."""
        steps = ["connect", "join", "login"]
        if self.cfg.probe_rank > 0:
            steps.append(RANK_CHECK)
        steps.append("bot_present")
        steps.append(STAY_CHECK if self.cfg.mode == PRESENCE_MODE else ROUND_CHECK)
        return tuple(steps)


def run_probe(
    cfg: ProbeConfig,
    session_factory: SessionFactory = CytubeSession,
    fetch: Fetcher = fetch_socketconfig,
    token_factory: Callable[[], str] = make_token,
    limiter: Optional[Any] = None,
) -> ProbeReport:
    """Run every check against CyTube and return the report; never raises
    :class:`CytubeError`. The session is always closed.

    ``limiter`` defaults to the controller-wide bucket of the server's connection
    rate limit (:class:`ConnectionBudget`).
    """
    started = time.monotonic()
    connection = _ConnectionSettings.from_config(cfg)
    checks: List[CheckResult] = []
    version: Optional[str] = None
    server = read_socketconfig(cfg, fetch, connection, checks)
    if server is not None:
        limiter = limiter if limiter is not None else default_limiter(cfg, server.url)
        version = probe_server(
            cfg, server.url, connection.session_maker(cfg, session_factory), token_factory, limiter, checks
        )
    return build_report(cfg, checks, version, started)


@dataclass(frozen=True)
class _ConnectionSettings:
    """What the socketconfig request and every session share: headers and TLS."""

    headers: Dict[str, str]
    tls: TLSSettings

    @classmethod
    def from_config(cls, cfg: ProbeConfig) -> "_ConnectionSettings":
        return cls(forwarded_headers(cfg.forwarded_for), TLSSettings(cfg.validate_certs, cfg.ca_path))

    def session_maker(self, cfg: ProbeConfig, session_factory: SessionFactory) -> Callable[[], CytubeSession]:
        def make() -> CytubeSession:
            return session_factory(
                timeout=cfg.connect_timeout,
                validate_certs=cfg.validate_certs,
                ca_path=cfg.ca_path,
                headers=self.headers,
                tls=self.tls,
            )

        return make


#: what the deploy pre-flight books at once: its own login, then the verification after the build
LOGIN_AND_VERIFICATION = 2


def default_limiter(cfg: ProbeConfig, socketio_url: str) -> ClaimedBudget:
    """The controller-wide bucket for the server at ``socketio_url`` (and the posed client IP),
    with the connections the channel's pre-flight booked used first."""
    budget = ConnectionBudget(server_key(socketio_url, cfg.forwarded_for), cfg.rate_limit_dir)
    return ClaimedBudget(budget, claim_key(cfg.channel))


def read_socketconfig(
    cfg: ProbeConfig, fetch: Fetcher, connection: _ConnectionSettings, checks: List[CheckResult]
) -> Optional[ServerEntry]:
    """The ``socketconfig`` check: the server entry to connect to, or None."""
    url = socketconfig_url(cfg.server_url, cfg.channel)
    expected = "HTTP 200 with a servers list from %s within %ss" % (url, cfg.connect_timeout)
    start = time.monotonic()
    try:
        entries = fetch(
            cfg.server_url,
            cfg.channel,
            timeout=cfg.connect_timeout,
            validate_certs=cfg.validate_certs,
            ca_path=cfg.ca_path,
            headers=connection.headers,
            tls=connection.tls,
        )
        server = pick_server(entries)
    except CytubeError as exc:
        checks.append(
            CheckResult(
                "socketconfig",
                False,
                ms(time.monotonic() - start),
                expected,
                str(exc),
                "cannot read CyTube's socketconfig",
                failure=INCONCLUSIVE,
            )
        )
        return None
    seen = "server %s (secure: %s)" % (server.url, str(server.secure).lower())
    checks.append(CheckResult("socketconfig", True, ms(time.monotonic() - start), expected, seen, "socketconfig read"))
    return server


def probe_server(
    cfg: ProbeConfig,
    socketio_url: str,
    new_session: Callable[[], CytubeSession],
    token_factory: Callable[[], str],
    limiter: Any,
    checks: List[CheckResult],
    through: str = ROUND_CHECK,
) -> Optional[str]:
    """Run the checks from ``connect`` on (up to ``through``); returns the bot's version."""
    try:
        session = new_session()
    except CytubeError as exc:
        checks.append(
            CheckResult(
                "connect",
                False,
                0.0,
                "a socket.io client",
                str(exc),
                "cannot create the socket.io client",
                failure=INCONCLUSIVE,
            )
        )
        return None
    probe = Probe(cfg, session, token_factory, limiter=limiter, new_session=new_session)
    try:
        run_guarded(probe, socketio_url, through)
    finally:
        probe.session.close(CLOSE_TIMEOUT_S)
    checks.extend(probe.checks)
    return probe.version


def check_login(
    cfg: ProbeConfig,
    socketio_url: str,
    limiter: Optional[Any] = None,
    session_factory: SessionFactory = CytubeSession,
) -> List[CheckResult]:
    """``connect``, ``join``, ``login`` and (with ``probe_rank``) ``probe_rank`` on ONE connection, nothing more.

    The deploy pre-flight uses it to prove, before anything changes, that the probe
    account can do what the verification will need. With the controller's bucket it
    books two connections under the channel's claim, this one and the verification's:
    runs started together then cannot queue each other's verification beyond its wait
    (the last runs are refused here, before anything changes, instead).
    """
    connection = _ConnectionSettings.from_config(cfg)
    checks: List[CheckResult] = []
    limiter = limiter if limiter is not None else default_limiter(cfg, socketio_url)
    if isinstance(limiter, ConnectionBudget):
        limiter = ClaimedBudget(limiter, claim_key(cfg.channel))
    if isinstance(limiter, ClaimedBudget):
        try:
            limiter.book(LOGIN_AND_VERIFICATION, cfg.rate_limit_wait)
        except RateLimited as exc:
            return [_rate_limited_check("a socket.io connection to %s" % socketio_url, exc, [])]
    new_session = connection.session_maker(cfg, session_factory)
    probe_server(cfg, socketio_url, new_session, make_token, limiter, checks, through="login")
    return checks


def run_guarded(probe: Probe, socketio_url: str, through: str = ROUND_CHECK) -> None:
    """``probe.run``; a library surprise becomes a failed check, so what was seen is kept."""
    try:
        probe.run(socketio_url, through)
    except Exception as exc:
        done = [c.name for c in probe.checks]
        steps = probe.step_names()
        pending = next((n for n in steps if n not in done), steps[-1])
        probe.checks.append(
            CheckResult(
                pending,
                False,
                None,
                "no error",
                "%s: %s" % (type(exc).__name__, one_line(exc)),
                "the probe failed unexpectedly",
                failure=INCONCLUSIVE,
            )
        )


def build_report(cfg: ProbeConfig, checks: List[CheckResult], version: Optional[str], started: float) -> ProbeReport:
    """The verdict, the deciding check and the one-line message, secrets scrubbed."""
    verdict, decisive = classify(checks, cfg.rounds_expected, cfg.max_failures)
    msg = summarize(verdict, decisive, checks, cfg, version)
    return ProbeReport(
        verdict=verdict,
        checks=checks,
        version=version,
        failed_check=decisive.name if decisive is not None else None,
        msg=scrub(msg, cfg.secrets),
        elapsed_ms=ms(time.monotonic() - started),
    )
