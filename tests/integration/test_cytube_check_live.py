"""cytube.shipit.cytube_check against the real CyTube stand-in and the real reference bot.

Each test starts real processes: the stand-in (``python -m sandbox.cytube``, one per
module, reset between tests) and the reference bot (``python -m cytube_refbot``, one
per test, with its fault switches), and runs the module the way an operator does,
``ansible localhost -m cytube.shipit.cytube_check`` from the repository root.

Every probe poses as its own client IP through ``forwarded_for`` (the stand-in, like
CyTube, trusts X-Forwarded-For from loopback), so the per-IP connection rate limit and
guest cooldown only bite where a test wants them to.

Run: ``.venv/bin/pytest tests/integration/test_cytube_check_live.py``.
Latency figures (opt-in, not a timed test):
``CYTUBE_CHECK_MEASURE=1 .venv/bin/pytest -s tests/integration/test_cytube_check_live.py -k measure``.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / ".collections"))

STANDIN = REPO / "sandbox" / "cytube" / "__main__.py"
REFBOT_SRC = REPO / "examples" / "refbot" / "src"
PYTHON = sys.executable
ANSIBLE = str(Path(PYTHON).with_name("ansible"))

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.skipif(
        not STANDIN.exists() or not (REFBOT_SRC / "cytube_refbot").is_dir(),
        reason="needs sandbox/cytube and examples/refbot",
    ),
]

BOT = "shipbot"
PROBE = "shipprobe"
BOT_PASSWORD = "bot-" + secrets.token_urlsafe(12)
PROBE_PASSWORD = "Probe-" + secrets.token_urlsafe(16)

_ips = itertools.count(1)
_channels = itertools.count(1)


def fresh_ip() -> str:
    """A client IP of its own for one probe (sent as X-Forwarded-For)."""
    n = next(_ips)
    return f"10.77.{n // 250}.{n % 250 + 1}"


# ----------------------------------------------------------------- the stand-in


def _http(method: str, url: str, body: Any = None, timeout: float = 5.0) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read().decode() or "null")


@dataclass
class StandIn:
    proc: subprocess.Popen
    info: dict[str, Any]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.info['http_port']}"

    @property
    def io_url(self) -> str:
        return f"http://127.0.0.1:{self.info['io_port']}"

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        return _http(method, f"http://127.0.0.1:{self.info['admin_port']}{path}", body)

    def state(self) -> dict[str, Any]:
        return self.admin("GET", "/admin/state")

    def faults(self, **switches: Any) -> None:
        self.admin("POST", "/admin/faults", switches)

    def reset(self) -> None:
        self.admin("POST", "/admin/reset", {})

    def users(self, channel: str) -> list[str]:
        for entry in self.state()["channels"]:
            if entry["name"] == channel.lower():
                return [u["name"] for u in entry["users"]]
        return []

    def counter(self, name: str) -> int:
        return int(self.state()["counters"].get(name, 0))


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    tmp = tmp_path_factory.mktemp("cytube-standin")
    (tmp / "config.json").write_text("{}")  # stock CyTube limits
    (tmp / "accounts.json").write_text('{"accounts": []}')
    ready, log = tmp / "ready.json", tmp / "standin.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "sandbox.cytube",
                "--config",
                str(tmp / "config.json"),
                "--http-port",
                "0",
                "--io-port",
                "0",
                "--admin-port",
                "0",
                "--bind",
                "127.0.0.1",
                "--accounts",
                str(tmp / "accounts.json"),
                "--ready-file",
                str(ready),
            ],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: (ready.exists() and ready.stat().st_size > 0) or proc.poll() is not None, 20, "the stand-in")
        assert proc.poll() is None, log.read_text()
        server = StandIn(proc, json.loads(ready.read_text()), log)
        server.admin("POST", "/admin/accounts", {"name": BOT, "password": BOT_PASSWORD})
        server.admin("POST", "/admin/accounts", {"name": PROBE, "password": PROBE_PASSWORD})
        yield server
    finally:
        stop(proc)


@pytest.fixture()
def cytube(standin: StandIn) -> Iterator[StandIn]:
    standin.reset()  # faults off, rate-limit buckets and guest cooldowns cleared
    yield standin
    standin.reset()


@pytest.fixture()
def channel(request: pytest.FixtureRequest) -> str:
    stem = re.sub(r"[^\w-]", "", request.node.name.replace("test_", ""))[:22]
    return f"c{next(_channels)}-{stem}"


# ------------------------------------------------------------------- the bot


@dataclass
class Bot:
    proc: subprocess.Popen
    log: Path

    @property
    def version(self) -> str:
        """The version the bot announced at start (its own view, whatever is installed)."""
        found = re.search(r"cytube-refbot (\S+) starting", self.log.read_text())
        assert found, self.log.read_text()
        return found.group(1)


@dataclass
class BotFactory:
    cytube: StandIn
    channel: str
    tmp: Path
    bots: list[Bot] = field(default_factory=list)

    def __call__(self, wait_joined: bool = True, **faults: Any) -> Bot:
        n = len(self.bots)
        config = self.tmp / f"bot{n}.toml"
        lines = [
            "[server]",
            f'url = "{self.cytube.url}"',
            f'channel = "{self.channel}"',
            "[account]",
            f'name = "{BOT}"',
            "[bot]",
            'health_listen = ""',
            'log_level = "info"',
            "[faults]",
        ]
        for key, value in faults.items():
            lines.append(f"{key} = {json.dumps(value)}")
        config.write_text("\n".join(lines) + "\n")
        log = self.tmp / f"bot{n}.log"
        env = dict(os.environ, PYTHONPATH=str(REFBOT_SRC), CYTUBE_BOT_PASSWORD=BOT_PASSWORD)
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [PYTHON, "-m", "cytube_refbot", "--config", str(config)],
                cwd=self.tmp,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        bot = Bot(proc, log)
        self.bots.append(bot)
        if wait_joined:
            try:
                wait_for(
                    lambda: BOT in self.cytube.users(self.channel) or proc.poll() is not None, 15, "the bot to join"
                )
            except AssertionError:
                raise AssertionError("bot did not join:\n" + log.read_text()) from None
            assert proc.poll() is None, log.read_text()
        return bot


@pytest.fixture()
def start_bot(cytube: StandIn, channel: str, tmp_path: Path) -> Iterator[BotFactory]:
    factory = BotFactory(cytube, channel, tmp_path)
    yield factory
    for bot in factory.bots:
        stop(bot.proc)


# ---------------------------------------------------------------- the module


@dataclass
class Run:
    rc: int
    status: str
    result: dict[str, Any]
    output: str
    wall_s: float

    @property
    def verdict(self) -> str:
        return self.result["verdict"]

    def checks(self, name: str) -> list[dict[str, Any]]:
        return [c for c in self.result["checks"] if c["name"] == name]


def module_args(cytube: StandIn, channel: str, **over: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "server_url": cytube.url,
        "channel": channel,
        "bot_name": BOT,
        "probe_user": PROBE,
        "probe_password": PROBE_PASSWORD,
        "forwarded_for": fresh_ip(),
        "connect_timeout": 2,
        "reply_timeout": 2,
    }
    args.update(over)
    return args


def ansible_cmd(args: dict[str, Any], verbose: bool, module: str = "cytube.shipit.cytube_check") -> list[str]:
    """Ad-hoc run; with JSON results it prints ``localhost | STATUS => {json}``."""
    cmd = [ANSIBLE, "localhost", "-m", module, "-a", json.dumps(args)]
    return cmd + (["-vvv"] if verbose else [])


RESULT_START = re.compile(r"^localhost \| (SUCCESS|CHANGED|FAILED!) => ", re.M)


def parse_result(output: str) -> tuple[str, dict[str, Any]]:
    found = RESULT_START.search(output)
    assert found, output
    result, _ = json.JSONDecoder().raw_decode(output, found.end())
    return found.group(1), result


#: the controller's connection buckets of this test run (never the operator's cache)
RATE_LIMIT_CACHE = Path(os.environ.get("TMPDIR", "/tmp")) / f"cytube-check-live-{os.getpid()}"


def ansible_env() -> dict[str, str]:
    return dict(
        os.environ,
        XDG_CACHE_HOME=str(RATE_LIMIT_CACHE),
        PATH=f"{Path(PYTHON).parent}:{os.environ.get('PATH', '')}",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="False",
        ANSIBLE_LOCALHOST_WARNING="False",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_CALLBACK_RESULT_FORMAT="json",
    )


def run_check(
    args: dict[str, Any], verbose: bool = False, timeout: float = 60, module: str = "cytube.shipit.cytube_check"
) -> Run:
    start = time.monotonic()
    proc = subprocess.run(
        ansible_cmd(args, verbose, module), cwd=REPO, env=ansible_env(), capture_output=True, text=True, timeout=timeout
    )
    wall = time.monotonic() - start
    output = proc.stdout + proc.stderr
    status, result = parse_result(proc.stdout)
    return Run(proc.returncode, status, result, output, wall)


def max_wall_s(args: dict[str, Any]) -> float:
    """The documented bound on the probe's wall time."""
    repeat = args.get("repeat", 1)
    return (
        5 * args.get("connect_timeout", 5)
        + repeat * args.get("reply_timeout", 5)
        + (repeat - 1) * args.get("interval", 10)
        + 3
    )


def assert_bounded(run: Run, args: dict[str, Any]) -> None:
    assert run.result["elapsed_ms"] / 1000 <= max_wall_s(args), run.result


# ===================================================================== tests


def test_healthy_bot_reports_its_version(cytube: StandIn, channel: str, start_bot: BotFactory) -> None:
    bot = start_bot()
    args = module_args(cytube, channel, expect_version=bot.version)
    run = run_check(args)
    assert run.rc == 0, run.output
    assert run.verdict == "healthy", run.result["msg"]
    assert run.result["version"] == bot.version
    assert run.result["failed_check"] is None and run.result["changed"] is False
    assert [c["name"] for c in run.result["checks"]] == [
        "socketconfig",
        "connect",
        "join",
        "login",
        "bot_present",
        "command_round_trip",
    ]
    assert all(c["ok"] and c["latency_ms"] >= 0 for c in run.result["checks"])
    assert_bounded(run, args)


def test_wrong_expected_version_is_unhealthy(cytube: StandIn, channel: str, start_bot: BotFactory) -> None:
    bot = start_bot()
    run = run_check(module_args(cytube, channel, expect_version=bot.version + ".other"))
    assert run.verdict == "unhealthy" and run.result["failed_check"] == "command_round_trip"
    assert run.result["version"] == bot.version
    assert f"seen {bot.version!r}" in run.result["msg"]


def test_never_join_is_unhealthy_bot_present(cytube: StandIn, channel: str, start_bot: BotFactory) -> None:
    bot = start_bot(wait_joined=False, never_join=True)
    wait_for(lambda: "connect" in bot.log.read_text(), 10, "the bot to connect")
    args = module_args(cytube, channel, connect_timeout=1)
    run = run_check(args)
    assert run.rc == 0  # default fail_on: [] reports without failing
    assert run.verdict == "unhealthy", run.result["msg"]
    assert run.result["failed_check"] == "bot_present"
    assert "bot_present" in run.result["msg"] and BOT in run.result["msg"]
    assert_bounded(run, args)


def test_crash_at_start_is_unhealthy_bot_present(cytube: StandIn, channel: str, start_bot: BotFactory) -> None:
    bot = start_bot(wait_joined=False, crash_at_start=True)
    try:
        code = bot.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        raise AssertionError("the crash_at_start bot kept running:\n" + bot.log.read_text()) from None
    assert code == 1, bot.log.read_text()
    run = run_check(module_args(cytube, channel, connect_timeout=1))
    assert run.verdict == "unhealthy" and run.result["failed_check"] == "bot_present"


def test_never_answer_is_unhealthy_round_trip(cytube: StandIn, channel: str, start_bot: BotFactory) -> None:
    start_bot(never_answer=True)
    args = module_args(cytube, channel, reply_timeout=1, fail_on=["unhealthy"])
    run = run_check(args)
    assert run.rc != 0 and run.status == "FAILED!"  # fail_on: unhealthy fails the task, with every result
    assert run.verdict == "unhealthy" and run.result["failed_check"] == "command_round_trip"
    msg = run.result["msg"]
    assert msg.startswith("verdict unhealthy is in fail_on: unhealthy: check command_round_trip failed")
    assert "expected a reply from 'shipbot'" in msg and "seen no reply within 1.0s" in msg
    assert "CyTube echoed the command" in msg  # CyTube delivered it: the bot's fault
    assert [c["ok"] for c in run.result["checks"]] == [True] * 5 + [False]
    assert_bounded(run, args)


def test_own_echo_never_counts_as_the_reply(cytube: StandIn, channel: str, start_bot: BotFactory) -> None:
    # The probe's own message "pong 9.9.9 <token>" matches the default expect; CyTube
    # echoes it back to the probe. It must not pass for the (silent) bot's reply.
    start_bot(never_answer=True)
    run = run_check(module_args(cytube, channel, command="pong 9.9.9", reply_timeout=1))
    assert run.verdict == "unhealthy", run.result["msg"]
    assert run.result["version"] is None


def test_slow_answer_is_unhealthy_round_trip(cytube: StandIn, channel: str, start_bot: BotFactory) -> None:
    start_bot(answer_delay_s=3.0)
    args = module_args(cytube, channel, reply_timeout=1)
    run = run_check(args)
    assert run.verdict == "unhealthy" and run.result["failed_check"] == "command_round_trip"
    assert run.checks("command_round_trip")[0]["latency_ms"] < 2000
    assert_bounded(run, args)


def test_standin_down_is_inconclusive(cytube: StandIn, channel: str, start_bot: BotFactory) -> None:
    start_bot()
    cytube.faults(down=True)
    run = run_check(module_args(cytube, channel, fail_on=["inconclusive"]))
    assert run.rc != 0
    assert run.verdict == "inconclusive" and run.result["failed_check"] == "socketconfig"
    assert "HTTP 503" in run.result["msg"]


def test_slow_join_beyond_connect_timeout_is_inconclusive(cytube: StandIn, channel: str, start_bot: BotFactory) -> None:
    start_bot()
    cytube.faults(slow_ms=2500)
    args = module_args(cytube, channel, connect_timeout=1)
    run = run_check(args)
    assert run.verdict == "inconclusive", run.result["msg"]
    assert run.result["failed_check"] in ("join", "connect")
    assert_bounded(run, args)


def test_slow_chat_delivery_is_inconclusive_not_the_bots_fault(
    cytube: StandIn, channel: str, start_bot: BotFactory
) -> None:
    # every server event is delayed 700 ms: the probe's own echo alone takes more than
    # half of reply_timeout, so even an instant bot could not answer in time
    start_bot()
    cytube.faults(slow_ms=700)
    run = run_check(module_args(cytube, channel, connect_timeout=3, reply_timeout=1.2))
    assert run.verdict == "inconclusive", run.result["msg"]
    assert run.result["failed_check"] == "command_round_trip"
    assert "too slow" in run.result["msg"]


def test_slow_but_within_thresholds_is_healthy(cytube: StandIn, channel: str, start_bot: BotFactory) -> None:
    start_bot()
    cytube.faults(slow_ms=150)
    run = run_check(module_args(cytube, channel, connect_timeout=3, reply_timeout=3))
    assert run.verdict == "healthy", run.result["msg"]
    # the delay shows up in the reported latencies: echo and reply each pass the outbox
    assert run.checks("command_round_trip")[0]["latency_ms"] >= 250


def test_dropped_chat_is_inconclusive(cytube: StandIn, channel: str, start_bot: BotFactory) -> None:
    start_bot()
    cytube.faults(drop_chat=True)
    run = run_check(module_args(cytube, channel, reply_timeout=1))
    assert run.verdict == "inconclusive" and run.result["failed_check"] == "command_round_trip"
    assert "no echo" in run.result["msg"]


def _empty_the_bucket(cytube: StandIn, ip: str) -> None:
    """Five connections from ``ip`` that the controller's bucket does not know about."""
    import socketio

    for _ in range(5):  # CyTube's bucket: 5 connections, then one per 10 s
        client = socketio.Client(reconnection=False)
        client.connect(cytube.io_url, headers={"X-Forwarded-For": ip}, transports=["websocket"], wait_timeout=5)
        client.disconnect()


def _connect_check(report: Any) -> Any:
    return next(c for c in report.checks if c.name == "connect")


def test_rate_limited_probe_without_wait_budget_is_inconclusive(
    cytube: StandIn, channel: str, start_bot: BotFactory, tmp_path: Path
) -> None:
    # in process: the probe must start within CyTube's 10 s refill of the emptied bucket
    start_bot()
    ip = fresh_ip()
    _empty_the_bucket(cytube, ip)
    refused = cytube.counter("connections_rate_limited")
    report = _in_process_probe(cytube, channel, ip, tmp_path, rate_limit_wait=0)
    assert report.verdict == "inconclusive" and report.failed_check == "connect"
    assert "CyTube refused the connection: Rate limit exceeded" in report.msg
    assert "no token within rate_limit_wait" in report.msg
    assert "rate limited, retry in 11 s" in _connect_check(report).seen  # the next token: 10.25 s
    assert cytube.counter("connections_rate_limited") == refused + 1  # one attempt, no retry


def test_rate_limit_refusal_is_waited_out_within_the_budget(
    cytube: StandIn, channel: str, start_bot: BotFactory, tmp_path: Path
) -> None:
    start_bot()
    ip = fresh_ip()
    _empty_the_bucket(cytube, ip)
    refused = cytube.counter("connections_rate_limited")
    accepted = cytube.counter("connections_accepted")
    report = _in_process_probe(cytube, channel, ip, tmp_path, rate_limit_wait=15)
    assert report.verdict == "healthy", report.msg
    assert "1 attempt(s) refused by CyTube: Rate limit exceeded" in _connect_check(report).seen
    assert cytube.counter("connections_rate_limited") == refused + 1
    assert cytube.counter("connections_accepted") == accepted + 1


def _in_process_probe(cytube: StandIn, channel: str, ip: str, state_dir: Path, limiter: Any = None, **over: Any) -> Any:
    from ansible_collections.cytube.shipit.plugins.module_utils.cytube_check_spec import ARGUMENT_SPEC, to_config
    from ansible_collections.cytube.shipit.plugins.module_utils.cytube_probe import run_probe

    defaults = {name: spec.get("default") for name, spec in ARGUMENT_SPEC.items()}
    wait = over.pop("rate_limit_wait", 60.0)
    cfg = to_config({**defaults, **module_args(cytube, channel, forwarded_for=ip, **over)})
    cfg.rate_limit_dir = str(state_dir)
    cfg.rate_limit_wait = wait
    return run_probe(cfg, limiter=limiter)


@pytest.mark.timeout(240)
def test_ten_probes_in_a_row_all_get_the_right_verdict(
    cytube: StandIn, channel: str, start_bot: BotFactory, tmp_path: Path
) -> None:
    from ansible_collections.cytube.shipit.plugins.module_utils.cytube_probe import NoLimit

    start_bot()
    ip = fresh_ip()
    # without the controller's bucket, CyTube's limit decides half of the verdicts
    blind = [_in_process_probe(cytube, channel, ip, tmp_path, limiter=NoLimit()).verdict for _ in range(10)]
    assert blind.count("inconclusive") == 5, blind
    cytube.admin("POST", "/admin/reset", {})  # refill CyTube's buckets
    refused = cytube.counter("connections_rate_limited")
    reports = [_in_process_probe(cytube, channel, ip, tmp_path) for _ in range(10)]
    assert [r.verdict for r in reports] == ["healthy"] * 10, [r.msg for r in reports]
    assert cytube.counter("connections_rate_limited") == refused  # queued, never refused
    # the burst went at once; each later probe waited for its token
    waited = ["waited" in next(c.seen for c in r.checks if c.name == "connect") for r in reports]
    assert waited == [False] * 5 + [True] * 5, [r.checks[1].seen for r in reports]


@pytest.mark.timeout(240)
def test_concurrent_probes_queue_on_the_shared_bucket(
    cytube: StandIn, channel: str, start_bot: BotFactory, tmp_path: Path
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    start_bot()
    ip = fresh_ip()
    # one probe account each: a second login of one account in a channel kicks the first (CyTube's rule)
    probes = [f"probe{n}" for n in range(7)]
    for name in probes:
        cytube.admin("POST", "/admin/accounts", {"name": name, "password": PROBE_PASSWORD})
    refused = cytube.counter("connections_rate_limited")
    with ThreadPoolExecutor(max_workers=len(probes)) as pool:
        reports = list(pool.map(lambda p: _in_process_probe(cytube, channel, ip, tmp_path, probe_user=p), probes))
    assert [r.verdict for r in reports] == ["healthy"] * 7, [r.msg for r in reports]
    assert cytube.counter("connections_rate_limited") == refused


def test_unreachable_socketio_port_names_the_real_cause(cytube: StandIn, channel: str) -> None:
    import http.server
    import socket
    import threading

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    body = json.dumps({"servers": [{"url": f"http://127.0.0.1:{dead_port}", "secure": False}]}).encode()

    class Socketconfig(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Socketconfig)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        run = run_check(module_args(cytube, channel, server_url=f"http://127.0.0.1:{server.server_address[1]}"))
    finally:
        server.shutdown()
        server.server_close()
    assert run.verdict == "inconclusive" and run.result["failed_check"] == "connect"
    assert f"TCP connection refused on 127.0.0.1:{dead_port}" in run.result["msg"]
    assert "refused by CyTube" not in run.result["msg"]


def test_wrong_probe_password_is_inconclusive(cytube: StandIn, channel: str, start_bot: BotFactory) -> None:
    start_bot()
    wrong = "Wrong-" + secrets.token_urlsafe(10)
    run = run_check(module_args(cytube, channel, probe_password=wrong), verbose=True)
    assert run.verdict == "inconclusive" and run.result["failed_check"] == "login"
    assert "Invalid username/password combination" in run.result["msg"]
    assert wrong not in run.output and PROBE_PASSWORD not in run.output


def test_guest_probe_and_the_guest_cooldown(cytube: StandIn, channel: str, start_bot: BotFactory) -> None:
    start_bot()
    ip = fresh_ip()
    first = run_check(module_args(cytube, channel, probe_user="guestprobe", probe_password="", forwarded_for=ip))
    assert first.verdict == "healthy", first.result["msg"]
    second = run_check(module_args(cytube, channel, probe_user="guestprobe2", probe_password="", forwarded_for=ip))
    assert second.verdict == "inconclusive" and second.result["failed_check"] == "login"
    assert "guest cooldown" in second.result["msg"]


def test_stability_window_uses_one_connection(cytube: StandIn, channel: str, start_bot: BotFactory) -> None:
    start_bot()
    accepted = cytube.counter("connections_accepted")
    args = module_args(cytube, channel, repeat=4, interval=0.4)
    run = run_check(args)
    assert run.verdict == "healthy", run.result["msg"]
    assert cytube.counter("connections_accepted") == accepted + 1  # one connection for 4 rounds
    rounds = run.checks("command_round_trip")
    assert [r["round"] for r in rounds] == [1, 2, 3, 4] and all(r["ok"] for r in rounds)
    assert run.result["elapsed_ms"] >= 3 * 400  # rounds are spaced by interval
    assert_bounded(run, args)


def test_stability_window_stops_once_unhealthy(cytube: StandIn, channel: str, start_bot: BotFactory) -> None:
    start_bot(never_answer=True)
    args = module_args(cytube, channel, repeat=5, interval=0.2, max_failures=1, reply_timeout=0.5)
    run = run_check(args)
    assert run.verdict == "unhealthy"
    assert len(run.checks("command_round_trip")) == 2
    assert "round 1/5 (2 failed, max_failures 1)" in run.result["msg"]


def test_kick_during_the_window_is_inconclusive(cytube: StandIn, channel: str, start_bot: BotFactory) -> None:
    start_bot()
    accepted = cytube.counter("connections_accepted")
    args = module_args(cytube, channel, repeat=20, interval=0.5, reply_timeout=1)
    proc = subprocess.Popen(
        ansible_cmd(args, False),
        cwd=REPO,
        env=ansible_env(),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: PROBE in cytube.users(channel), 20, "the probe to join")
        time.sleep(0.6)  # let a round or two pass
        cytube.admin("POST", "/admin/kick", {"channel": channel, "name": PROBE, "reason": "Duplicate login"})
        stdout, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    _, result = parse_result(stdout)
    assert result["verdict"] == "inconclusive", result["msg"]
    assert "kicked by CyTube: Duplicate login" in result["msg"]
    assert len([c for c in result["checks"] if c["name"] == "command_round_trip"]) < 20
    assert cytube.counter("connections_accepted") == accepted + 1  # never reconnected


@pytest.mark.parametrize("fault", [{}, {"never_answer": True}])
def test_password_never_in_verbose_output(
    cytube: StandIn, channel: str, start_bot: BotFactory, fault: dict[str, Any]
) -> None:
    start_bot(**fault)
    chan_pw = "Chan-" + secrets.token_urlsafe(10)
    args = module_args(cytube, channel, reply_timeout=1, fail_on=["unhealthy"], channel_password=chan_pw)
    run = run_check(args, verbose=True)
    assert run.verdict == ("unhealthy" if fault else "healthy"), run.result["msg"]
    assert (run.rc != 0) is bool(fault)
    assert "module_args" in run.output  # really -vvv: the invocation is printed (by the action plugin too)
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in run.output  # ... with the passwords masked
    assert PROBE_PASSWORD not in run.output
    assert chan_pw not in run.output
    assert PROBE_PASSWORD not in json.dumps(run.result)


def test_invalid_options_fail_before_connecting(cytube: StandIn, channel: str) -> None:
    accepted = cytube.counter("connections_accepted")
    run = run_check(module_args(cytube, "bad channel!", probe_user=BOT))
    assert run.rc != 0
    assert "channel 'bad channel!' is not a valid CyTube channel name" in run.result["msg"]
    assert "kick the bot" in run.result["msg"]
    assert cytube.counter("connections_accepted") == accepted


# ============================================================ the deploy pre-flight


def preflight_args(cytube: StandIn, channel: str, **over: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "server_url": cytube.url,
        "channel": channel,
        "probe_user": PROBE,
        "probe_password": PROBE_PASSWORD,
        "forwarded_for": fresh_ip(),
        "timeout": 2,
        "connections_needed": 2,
        "wait_budget": 30,
    }
    args.update(over)
    return args


def run_preflight(args: dict[str, Any], verbose: bool = False) -> Run:
    return run_check(args, verbose=verbose, module="cytube.shipit.bot_preflight")


def test_preflight_proves_the_probe_can_log_in_on_one_connection(cytube: StandIn, channel: str) -> None:
    accepted = cytube.counter("connections_accepted")
    run = run_preflight(preflight_args(cytube, channel))
    assert run.rc == 0, run.output
    assert run.result["verdict"] == "reachable" and run.result["probe_login"] is True
    assert [c["name"] for c in run.result["checks"]] == ["socketconfig", "rate_limit", "connect", "join", "login"]
    assert cytube.counter("connections_accepted") == accepted + 1


def test_preflight_refuses_a_probe_that_cannot_log_in(cytube: StandIn, channel: str) -> None:
    wrong = "Wrong-" + secrets.token_urlsafe(10)
    run = run_preflight(preflight_args(cytube, channel, probe_password=wrong), verbose=True)
    assert run.rc != 0 and run.result["failed_check"] == "login" and run.result["probe_login"] is False
    msg = run.result["msg"]
    assert f"the probe account {PROBE!r} cannot log in to CyTube at {cytube.url}" in msg
    assert "Invalid username/password combination" in msg and "shipit_probe_password" in msg
    assert "nothing was changed on the bot hosts" in msg
    assert wrong not in run.output and PROBE_PASSWORD not in run.output


def test_preflight_refuses_an_empty_probe_password_before_any_connection(cytube: StandIn, channel: str) -> None:
    accepted = cytube.counter("connections_accepted")
    run = run_preflight(preflight_args(cytube, channel, probe_password=""))
    assert run.rc != 0 and f"probe_password is empty for probe_user {PROBE!r}" in run.result["msg"]
    assert cytube.counter("connections_accepted") == accepted


def test_preflight_refuses_when_the_connections_cannot_be_had_in_time(cytube: StandIn, channel: str) -> None:
    ip = fresh_ip()
    for _ in range(5):  # five probes from this controller just now
        assert run_preflight(preflight_args(cytube, channel, forwarded_for=ip, connections_needed=0)).rc == 0
    accepted = cytube.counter("connections_accepted")
    run = run_preflight(preflight_args(cytube, channel, forwarded_for=ip, connections_needed=2, wait_budget=5))
    assert run.rc != 0 and run.result["failed_check"] == "rate_limit"
    assert run.result["msg"].startswith("rate limited, retry in ")
    assert cytube.counter("connections_accepted") == accepted  # refused before connecting


# ============================================================ measurement


@pytest.mark.skipif(os.environ.get("CYTUBE_CHECK_MEASURE") != "1", reason="set CYTUBE_CHECK_MEASURE=1")
@pytest.mark.timeout(600)
def test_measure_latencies(cytube: StandIn, channel: str, start_bot: BotFactory, tmp_path: Path) -> None:
    """Median latency of each check over 10 runs: in-process, as a module process, through ansible."""
    from ansible_collections.cytube.shipit.plugins.module_utils.cytube_check_spec import ARGUMENT_SPEC, to_config
    from ansible_collections.cytube.shipit.plugins.module_utils.cytube_probe import run_probe

    start_bot()
    defaults = {name: spec.get("default") for name, spec in ARGUMENT_SPEC.items()}
    per_check: dict[str, list[float]] = {}
    elapsed: list[float] = []
    for _ in range(10):
        report = run_probe(to_config({**defaults, **module_args(cytube, channel)}))
        assert report.verdict == "healthy", report.msg
        for check in report.checks:
            per_check.setdefault(check.name, []).append(check.latency_ms)
        elapsed.append(report.elapsed_ms)

    # the module as its own process (what AnsiballZ runs): interpreter start, imports, probe
    module = REPO / "plugins" / "modules" / "cytube_check.py"
    env = dict(os.environ, PYTHONPATH=str(REPO / ".collections"))
    process: list[float] = []
    for n in range(10):
        args_file = tmp_path / f"args{n}.json"
        args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": module_args(cytube, channel)}))
        start = time.monotonic()
        out = subprocess.run([PYTHON, str(module), str(args_file)], env=env, capture_output=True, text=True, timeout=60)
        process.append((time.monotonic() - start) * 1000)
        assert json.loads(out.stdout)["verdict"] == "healthy", out.stdout + out.stderr

    walls = [run_check(module_args(cytube, channel)).wall_s * 1000 for _ in range(10)]
    figures = {name: statistics.median(values) for name, values in per_check.items()}
    figures["probe_elapsed"] = statistics.median(elapsed)
    figures["module_process_wall"] = statistics.median(process)
    figures["ansible_adhoc_wall"] = statistics.median(walls)
    print("\nmedian of 10 runs (ms):")
    for name, value in figures.items():
        print(f"  {name:<22} {value:8.1f}")
    (tmp_path / "latencies.json").write_text(json.dumps(figures, indent=2))
