# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bounded HTTP for notifications: a per-request timeout, a total budget per target, retries.

Retried: connection errors and timeouts, 5xx, 429 and GitHub's rate limits (403 with
``Retry-After`` or an exhausted ``X-RateLimit-Remaining``). The wait honours
``Retry-After`` (seconds or an HTTP date), Discord's ``retry_after`` and
``X-RateLimit-Reset``, else backs off exponentially; a wait longer than what is left of
the budget ends the attempts at once. Error texts never contain the URL (it may be a
secret): only the method, the status and what the server said.
"""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any, Callable, Dict, List, Mapping, Optional

try:
    import requests

    HAS_REQUESTS = True
except ImportError:  # the action plugin reports it; module_utils must import without it
    HAS_REQUESTS = False

DEFAULT_TIMEOUT_S = 5.0
DEFAULT_BUDGET_S = 10.0
MAX_ATTEMPTS = 5
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 4.0
GITHUB_SECONDARY_WAIT_S = 60.0  # GitHub: wait at least a minute when no header says how long
MIN_REQUEST_S = 0.05
MESSAGE_EXCERPT = 200


class TransportError(Exception):
    """The request got no HTTP answer: `kind` is timeout, connection or request."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class Reply(object):
    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = dict((k.lower(), v) for k, v in headers.items())
        self.body = body

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError:
            return None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


Transport = Callable[[str, str, Mapping[str, str], Optional[bytes], float], Reply]


class Budget(object):
    """What is left of a target's total time; every request and wait of the target draws from it."""

    def __init__(
        self, total_s: float, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.total_s = total_s
        self.clock = clock
        self.sleep = sleep
        self.started = clock()
        self.attempts = 0
        self.last_status = None  # type: Optional[int]

    def remaining(self) -> float:
        return self.total_s - (self.clock() - self.started)

    def elapsed(self) -> float:
        return self.clock() - self.started


class NotifyFailed(Exception):
    """A request did not succeed within the budget; the message is safe to show."""

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.status = status


def request(
    transport: Transport,
    budget: Budget,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: Optional[bytes] = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    what: str = "",
) -> Reply:
    """One logical request with retries inside `budget`; raises NotifyFailed (no URL in it)."""
    what = what or method
    problem = ""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        left = budget.remaining()
        if left < MIN_REQUEST_S:
            break
        budget.attempts += 1
        reply = None  # type: Optional[Reply]
        try:
            reply = transport(method, url, headers, body, min(timeout_s, left))
        except TransportError as exc:
            problem = _transport_problem(exc.kind, min(timeout_s, left))
        if reply is not None:
            budget.last_status = reply.status
            if reply.ok:
                return reply
            problem = describe_reply(reply)
        wait = retry_wait(reply, attempt, budget.clock)
        if wait is None:
            raise NotifyFailed("%s: %s" % (what, problem), budget.last_status)
        if wait >= budget.remaining():
            raise NotifyFailed(
                "%s: %s; gave up after %d attempt(s): the next retry (in %.1f s) would exceed the %.0f s budget"
                % (what, problem, attempt, wait, budget.total_s),
                budget.last_status,
            )
        budget.sleep(wait)
    raise NotifyFailed(
        "%s: %s; gave up after %d attempt(s) within the %.0f s budget"
        % (what, problem or "no time left", budget.attempts, budget.total_s),
        budget.last_status,
    )


def _transport_problem(kind: str, timeout_s: float) -> str:
    if kind == "timeout":
        return "no answer within %.1f s (timeout)" % timeout_s
    if kind == "connection":
        return "connection failed (refused, reset or unreachable)"
    return "request failed before an HTTP answer"


def describe_reply(reply: Reply) -> str:
    """HTTP status and what the server said, briefly."""
    said = ""
    data = reply.json()
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        said = data["message"]
    elif reply.body and not reply.headers.get("content-type", "").startswith("text/html"):
        said = reply.body[:MESSAGE_EXCERPT].decode("utf-8", "replace")
    said = " ".join(said.split())[:MESSAGE_EXCERPT]
    return "HTTP %d%s" % (reply.status, " (%s)" % said if said else "")


def retry_wait(reply: Optional[Reply], attempt: int, clock: Callable[[], float] = time.monotonic) -> Optional[float]:
    """Seconds to wait before the next attempt, or None when retrying cannot help."""
    backoff = min(BACKOFF_FIRST_S * (2 ** (attempt - 1)), BACKOFF_MAX_S)
    if reply is None:
        return backoff
    told = _told_wait(reply)
    if reply.status == 429:
        return told if told is not None else backoff
    if reply.status == 403 and _github_rate_limited(reply):
        return told if told is not None else GITHUB_SECONDARY_WAIT_S
    if reply.status >= 500:
        return told if told is not None else backoff
    return None


def _told_wait(reply: Reply) -> Optional[float]:
    header = reply.headers.get("retry-after")
    if header:
        try:
            return max(float(header), 0.0)
        except ValueError:
            parsed = email.utils.parsedate_tz(header)
            if parsed is not None:
                return max(email.utils.mktime_tz(parsed) - time.time(), 0.0)
    data = reply.json()
    if isinstance(data, dict) and isinstance(data.get("retry_after"), (int, float)):
        return max(float(data["retry_after"]), 0.0)
    if reply.headers.get("x-ratelimit-remaining") == "0" and reply.headers.get("x-ratelimit-reset", "").isdigit():
        return max(float(reply.headers["x-ratelimit-reset"]) - time.time(), 0.0)
    return None


def _github_rate_limited(reply: Reply) -> bool:
    if "retry-after" in reply.headers or reply.headers.get("x-ratelimit-remaining") == "0":
        return True
    data = reply.json()
    message = data.get("message", "") if isinstance(data, dict) else ""
    return "rate limit" in str(message).lower()


class RequestsTransport(object):
    """The real transport: one requests session, no redirects followed (a token must not travel)."""

    def __init__(self, user_agent: str) -> None:
        if not HAS_REQUESTS:
            raise RuntimeError("the Python library 'requests' is missing on the controller: pip install requests")
        self.session = requests.Session()
        self.session.headers["User-Agent"] = user_agent

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: Optional[bytes], timeout_s: float
    ) -> Reply:
        try:
            response = self.session.request(
                method, url, headers=dict(headers), data=body, timeout=timeout_s, allow_redirects=False
            )
        except requests.Timeout:
            raise TransportError("timeout") from None
        except requests.ConnectionError:
            raise TransportError("connection") from None
        except requests.RequestException:
            raise TransportError("request") from None
        return Reply(response.status_code, response.headers, response.content)


def json_body(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")


def link_next(reply: Reply) -> Optional[str]:
    """The rel="next" URL of a GitHub Link header."""
    for part in reply.headers.get("link", "").split(","):
        section = part.split(";")
        if len(section) < 2:
            continue
        url = section[0].strip()
        if any(p.strip() == 'rel="next"' for p in section[1:]) and url.startswith("<") and url.endswith(">"):
            return url[1:-1]
    return None


def merged(*headers: Mapping[str, str]) -> Dict[str, str]:
    out = {}  # type: Dict[str, str]
    for item in headers:
        out.update(item)
    return out


__all__: List[str] = [
    "Budget",
    "NotifyFailed",
    "Reply",
    "RequestsTransport",
    "TransportError",
    "json_body",
    "link_next",
    "request",
    "retry_wait",
]
