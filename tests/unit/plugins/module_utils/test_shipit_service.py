"""Unit tests for shipit_service: unit state reading, readiness polling, journal errors."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ansible_collections.cytube.shipit.plugins.module_utils import shipit_service as ss

pytestmark = pytest.mark.timeout(30)


class FakeSystemd:
    """Answers `systemctl show` from a list of property snapshots (one per call) and `journalctl`."""

    def __init__(self, snapshots: list[dict[str, str]], journal: Sequence[dict[str, Any]] = ()) -> None:
        self.snapshots = snapshots
        self.journal = journal
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str]) -> tuple[int, str, str]:
        self.calls.append(list(argv))
        if argv[0] == "systemctl":
            props = self.snapshots[0] if len(self.snapshots) == 1 else self.snapshots.pop(0)
            return 0, "".join("{}={}\n".format(*kv) for kv in props.items()), ""
        if argv[0] == "journalctl":
            return 0, "".join(json.dumps(e) + "\n" for e in self.journal), ""
        return 1, "", "unexpected"


def props(
    active: str = "active", sub: str = "running", pid: int = 42, restarts: int = 0, **extra: str
) -> dict[str, str]:
    base = {
        "LoadState": "loaded",
        "ActiveState": active,
        "SubState": sub,
        "MainPID": str(pid),
        "NRestarts": str(restarts),
        "Result": "success",
        "InvocationID": "abc",
    }
    base.update(extra)
    return base


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture()
def health_server(json_endpoint: Callable[..., str]) -> dict[str, Any]:
    state: dict[str, Any] = {"status": 200, "body": {"connected": True, "joined": True, "version": "2.0.0"}}
    state["url"] = json_endpoint(lambda: (state["status"], state["body"]))
    return state


def test_ready_with_health(health_server: dict[str, Any]) -> None:
    fake = FakeSystemd([props()])
    result = ss.wait_ready(fake, "cytube-bot@x.service", health_server["url"], timeout=5, settle=0, version="2.0.0")
    assert result["ready"] and all(c["ok"] for c in result["checks"])
    assert [c["name"] for c in result["checks"]] == ["unit_active", "unit_stable", "health"]


def test_wrong_version_is_not_ready(health_server: dict[str, Any]) -> None:
    clock = Clock()
    fake = FakeSystemd([props()])
    result = ss.wait_ready(
        fake, "u", health_server["url"], timeout=1, settle=0, version="3.0.0", sleep=clock.sleep, clock=clock
    )
    assert not result["ready"]
    health = next(c for c in result["checks"] if c["name"] == "health")
    assert not health["ok"] and "expected version 3.0.0" in health["seen"]


def test_another_channels_bot_on_the_health_port_is_not_this_bot(health_server: dict[str, Any]) -> None:
    health_server["body"] = {"connected": True, "joined": True, "version": "2.0.0", "channel": "lobby"}
    clock = Clock()
    result = ss.wait_ready(
        FakeSystemd([props()]), "u", health_server["url"], 1, 0, "2.0.0", sleep=clock.sleep, clock=clock, channel="quiz"
    )
    assert not result["ready"]
    health = next(c for c in result["checks"] if c["name"] == "health")
    assert "the bot of channel lobby, not of quiz" in health["seen"]


def test_the_health_endpoints_channel_is_compared_without_case_and_only_when_reported(
    health_server: dict[str, Any],
) -> None:
    for reported in ("Quiz", None):
        health_server["body"] = {"connected": True, "joined": True, "version": "2.0.0", "channel": reported}
        result = ss.wait_ready(FakeSystemd([props()]), "u", health_server["url"], 5, 0, "2.0.0", channel="quiz")
        assert result["ready"], reported


def test_never_joins_times_out_with_what_was_seen(health_server: dict[str, Any]) -> None:
    health_server.update(status=503, body={"connected": True, "joined": False, "version": "2.0.0"})
    clock = Clock()
    fake = FakeSystemd([props()])
    result = ss.wait_ready(fake, "u", health_server["url"], timeout=2, settle=0, sleep=clock.sleep, clock=clock)
    assert not result["ready"]
    health = result["checks"][2]
    assert "HTTP 503" in health["seen"] and '"joined": false' in health["seen"]
    assert result["checks"][0]["ok"]  # the unit itself is fine


def test_crash_loop_stops_early() -> None:
    clock = Clock()
    fake = FakeSystemd(
        [props(), props("activating", "auto-restart", pid=0, restarts=1, ExecMainStatus="1", ExecMainCode="1")]
    )
    result = ss.wait_ready(fake, "u", "http://127.0.0.1:9/health", timeout=30, settle=0, sleep=clock.sleep, clock=clock)
    assert not result["ready"] and clock.now < 1
    assert result["failure"] == "unit is restarting after its process exited"
    assert not result["checks"][0]["ok"] and "auto-restart" in result["checks"][0]["seen"]


def test_restart_since_baseline_is_unstable() -> None:
    fake = FakeSystemd([props(restarts=2)])
    result = ss.wait_ready(fake, "u", None, timeout=1, settle=0, baseline_restarts=1)
    assert not result["ready"]
    assert "restarted 1 time" in result["failure"]


def test_new_main_pid_is_unstable() -> None:
    fake = FakeSystemd([props(pid=77)])
    result = ss.wait_ready(fake, "u", None, timeout=1, settle=0, expect_pid=42)
    assert result["failure"] == "main process changed (pid 42 -> 77)"


def test_settle_without_health() -> None:
    clock = Clock()
    fake = FakeSystemd([props()])
    result = ss.wait_ready(fake, "u", None, timeout=10, settle=1.0, sleep=clock.sleep, clock=clock)
    assert result["ready"] and 1.0 <= clock.now < 2.0


def test_journal_errors_by_priority_and_pattern() -> None:
    journal = [
        {"MESSAGE": "12:00:00.000 INFO joined", "PRIORITY": "6"},
        {"MESSAGE": "12:00:01.000 ERROR login failed", "PRIORITY": "6"},
        {"MESSAGE": "segfault", "PRIORITY": "3"},
        {"MESSAGE": list(b"Traceback (most recent call last)"), "PRIORITY": "6"},
    ]
    fake = FakeSystemd([props()], journal)
    found, problem = ss.journal_errors(fake, "u", "abc", ss.DEFAULT_ERROR_PATTERN)
    assert problem == "" and found == [
        "12:00:01.000 ERROR login failed",
        "segfault",
        "Traceback (most recent call last)",
    ]
    assert "_SYSTEMD_INVOCATION_ID=abc" in fake.calls[-1]
    assert ss.journal_errors(fake, "u", "", ss.DEFAULT_ERROR_PATTERN)[0] is None


def test_every_host_check_has_the_outcome_check_shape(health_server: dict[str, Any]) -> None:
    schema = json.loads((Path(__file__).resolve().parents[4] / "meta" / "outcome.schema.json").read_text())
    validator_cls = jsonschema.validators.validator_for(schema)
    validator = validator_cls(dict(schema["$defs"]["check"], **{"$defs": schema["$defs"]}))
    clock = Clock()
    fake = FakeSystemd([props()], [{"MESSAGE": "ERROR login failed", "PRIORITY": "6"}])
    waited = ss.wait_ready(fake, "u", health_server["url"], timeout=1, settle=0, sleep=clock.sleep, clock=clock)
    failing = FakeSystemd([props("failed", "failed", pid=0, Result="exit-code")])
    crashed = ss.wait_ready(failing, "u", None, timeout=1, settle=0, sleep=clock.sleep, clock=clock)
    checks = [
        *waited["checks"],
        *crashed["checks"],
        ss.journal_check(fake, "u", "abc", ss.DEFAULT_ERROR_PATTERN)[0],
        ss.journal_check(fake, "u", "", ss.DEFAULT_ERROR_PATTERN)[0],
    ]
    assert [c["ok"] for c in checks] == [True, True, True, False, False, False, False]
    for item in checks:
        validator.validate(item)


def test_a_running_bot_that_is_reconnecting_gets_the_time_its_backoff_needs(health_server: dict[str, Any]) -> None:
    """Re-verifying a live release right after a CyTube outage: the bot's process is fine and its health endpoint
    says it is between connections (its reconnect backoff grew to ~16 s). A short bound (5 s, a release that was
    not restarted) must not judge it before it is back: it joins at 16 s and is ready."""
    health_server.update(status=503, body={"connected": False, "joined": False, "version": "2.0.0"})
    clock = Clock()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now >= 16:
            health_server.update(status=200, body={"connected": True, "joined": True, "version": "2.0.0"})

    result = ss.wait_ready(
        FakeSystemd([props()]), "u", health_server["url"], timeout=5, settle=0, sleep=sleep, clock=clock
    )
    assert result["ready"] and 16 <= clock.now < 17


def test_a_bot_still_reconnecting_after_the_wait_is_named_so(health_server: dict[str, Any]) -> None:
    health_server.update(status=503, body={"connected": False, "joined": False, "version": "2.0.0"})
    clock = Clock()
    result = ss.wait_ready(
        FakeSystemd([props()]), "u", health_server["url"], timeout=5, settle=0, sleep=clock.sleep, clock=clock
    )
    assert not result["ready"] and ss.RECONNECT_WAIT_S <= clock.now < ss.RECONNECT_WAIT_S + 1
    assert "still reconnecting" in result["checks"][2]["message"]


def test_a_bot_that_connected_but_never_joins_gets_no_extra_time(health_server: dict[str, Any]) -> None:
    """Connected without joining is not a reconnect backoff: the caller's bound holds."""
    health_server.update(status=503, body={"connected": True, "joined": False, "version": "2.0.0"})
    clock = Clock()
    result = ss.wait_ready(
        FakeSystemd([props()]), "u", health_server["url"], timeout=5, settle=0, sleep=clock.sleep, clock=clock
    )
    assert not result["ready"] and 5 <= clock.now < 6


def test_the_health_probe_uses_the_one_http_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """One HTTP client in the modules: the health probe asks shipit_http.http_get (no proxy: the endpoint is the
    host's loopback), and a refused connection is named as such."""
    seen: list[dict[str, Any]] = []
    real = ss.http_get

    def spy(url: str, timeout: float, **kwargs: Any) -> Any:
        seen.append(dict(kwargs, url=url))
        return real(url, timeout, **kwargs)

    monkeypatch.setattr(ss, "http_get", spy)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    status, data, error = ss.health_probe(f"http://127.0.0.1:{port}/health", timeout=1)
    assert (status, data) == (None, None) and "TCP connection refused on 127.0.0.1:" in error
    assert seen and seen[0]["use_proxy"] is False
