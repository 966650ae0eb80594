"""Retries, waits and the budget of deploy_notify's HTTP, on a fake clock (no real sleeping)."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_notify_http import (
    Budget,
    NotifyFailed,
    Reply,
    TransportError,
    link_next,
    request,
    retry_wait,
)

URL = "https://hooks.example/services/SECRETPATH"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Script:
    """A transport answering from a list: a Reply, or "timeout"/"connection" (which use up the timeout)."""

    def __init__(self, clock: Clock, answers: list) -> None:
        self.clock = clock
        self.answers = list(answers)
        self.timeouts: list[float] = []

    def __call__(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float) -> Reply:
        self.timeouts.append(timeout)
        answer = self.answers.pop(0)
        if isinstance(answer, str):
            self.clock.now += timeout if answer == "timeout" else 0.01
            raise TransportError(answer)
        self.clock.now += 0.01
        return answer


def reply(status: int, headers: dict | None = None, body: object = None) -> Reply:
    return Reply(status, headers or {}, json.dumps(body).encode() if body is not None else b"")


def run(answers: list, budget_s: float = 10.0, timeout_s: float = 5.0) -> tuple[Clock, Script, Budget]:
    clock = Clock()
    script = Script(clock, answers)
    budget = Budget(budget_s, clock, clock.sleep)
    return clock, script, budget


def test_success_needs_one_attempt() -> None:
    clock, script, budget = run([reply(204)])
    assert request(script, budget, "POST", URL, {}, b"{}").status == 204
    assert budget.attempts == 1 and clock.sleeps == []


def test_5xx_and_connection_errors_back_off_then_succeed() -> None:
    clock, script, budget = run([reply(502), "connection", reply(200)])
    request(script, budget, "POST", URL, {}, b"{}")
    assert budget.attempts == 3 and clock.sleeps == [0.5, 1.0]


def test_429_honours_retry_after_header_and_discord_body() -> None:
    clock, script, budget = run([reply(429, {"Retry-After": "2"}), reply(429, body={"retry_after": 0.25}), reply(204)])
    request(script, budget, "POST", URL, {}, b"{}")
    assert clock.sleeps == [2.0, 0.25]


def test_github_secondary_rate_limit_waits_retry_after() -> None:
    limited = reply(403, {"Retry-After": "3"}, {"message": "You have exceeded a secondary rate limit."})
    clock, script, budget = run([limited, reply(201)])
    request(script, budget, "POST", URL, {}, b"{}")
    assert clock.sleeps == [3.0]


def test_github_403_without_rate_limit_is_not_retried() -> None:
    _clock, script, budget = run([reply(403, body={"message": "Resource not accessible by integration"})])
    with pytest.raises(NotifyFailed, match=r"HTTP 403 \(Resource not accessible by integration\)") as failed:
        request(script, budget, "POST", URL, {}, b"{}", what="POST /issues/{id}/comments")
    assert failed.value.status == 403 and budget.attempts == 1


def test_a_wait_longer_than_the_budget_gives_up_at_once() -> None:
    clock, script, budget = run([reply(403, {"Retry-After": "60"}, {"message": "secondary rate limit"})], budget_s=10)
    with pytest.raises(NotifyFailed, match=r"next retry \(in 60.0 s\) would exceed the 10 s budget"):
        request(script, budget, "POST", URL, {}, b"{}")
    assert clock.sleeps == [] and clock.now < 1


def test_timeouts_are_bounded_by_the_budget() -> None:
    clock, script, budget = run(["timeout"] * 5, budget_s=4.0, timeout_s=3.0)
    with pytest.raises(NotifyFailed, match="timeout") as failed:
        request(script, budget, "POST", URL, {}, b"{}", timeout_s=3.0)
    assert clock.now <= 4.0 + 0.01
    assert script.timeouts[0] == 3.0 and all(t <= 4.0 for t in script.timeouts)
    assert URL not in str(failed.value) and "SECRETPATH" not in str(failed.value)


def test_4xx_other_than_429_is_final() -> None:
    body = {"message": "Invalid Form Body", "code": 50035}
    _clock, script, budget = run([reply(400, body=body)])
    with pytest.raises(NotifyFailed, match=r"HTTP 400 \(Invalid Form Body\)"):
        request(script, budget, "POST", URL, {}, b"{}")


def test_retry_wait_rules() -> None:
    assert retry_wait(None, 1) == 0.5 and retry_wait(None, 10) == 4.0
    assert retry_wait(reply(404), 1) is None
    assert retry_wait(reply(503, {"Retry-After": "1.5"}), 1) == 1.5
    assert retry_wait(reply(403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "0"}), 1) == 0.0


def test_link_next() -> None:
    link = '<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=5>; rel="last"'
    assert link_next(Reply(200, {"Link": link}, b"[]")) == "https://api.github.com/x?page=2"
    assert link_next(Reply(200, {}, b"[]")) is None
