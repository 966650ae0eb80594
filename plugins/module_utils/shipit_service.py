# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host-side checks of one bot instance: its systemd unit, health endpoint and journal.

Every check is a :func:`shipit_verdict.check_record`, the shape ``cytube_check`` and
the outcome use too, so that a verdict can quote any of them the same way::

    {"name": "unit_active", "ok": False, "latency_ms": 812,
     "expected": "active (running)", "seen": "activating (auto-restart), exit status 3",
     "message": "..."}

Nothing here sleeps a fixed time: :func:`wait_ready` polls the unit and the health
endpoint until they say "ready", until the unit visibly fails, or until a bound.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ansible_collections.cytube.shipit.plugins.module_utils.shipit_http import HttpError, http_get
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_verdict import check_record

#: ``run(argv) -> (rc, stdout, stderr)``, e.g. ``AnsibleModule.run_command``.
Runner = Callable[[Sequence[str]], Tuple[int, str, str]]

UNIT_PROPERTIES = (
    "LoadState",
    "ActiveState",
    "SubState",
    "MainPID",
    "NRestarts",
    "Result",
    "ExecMainStatus",
    "ExecMainCode",
    "InvocationID",
    "ExecMainStartTimestamp",
    "ActiveEnterTimestamp",
    "FragmentPath",
    "UnitFileState",
)
#: What a log line of a failing bot looks like, when it does not set a priority.
DEFAULT_ERROR_PATTERN = r"\b(ERROR|CRITICAL|FATAL)\b|^Traceback \(most recent call last\)"
#: The journal check options (documented in doc_fragments/journal_check.py).
JOURNAL_ARGUMENT_SPEC = {
    "journal": {"type": "bool", "default": True},
    "journal_pattern": {"type": "str", "default": DEFAULT_ERROR_PATTERN},
}
POLL_S = 0.05
#: How long a running bot that says it is between connections (its own reconnect backoff) is waited for at least,
#: even where the caller's bound is shorter (a live release that was not restarted): judged sooner, a release is
#: blamed for a CyTube outage that has just ended. A bot that restarts, crashes or never answers gets no extra time.
RECONNECT_WAIT_S = 30.0


def unit_props(run: Runner, unit: str) -> Dict[str, str]:
    argv = ["systemctl", "show", "--timestamp=us+utc", unit]
    for prop in UNIT_PROPERTIES:
        argv.extend(["-p", prop])
    rc, out, err = run(argv)
    if rc != 0:
        return {"LoadState": "error", "error": (err or out).strip()}
    props: Dict[str, str] = {}
    for line in out.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            props[key] = value
    return props


def int_prop(props: Dict[str, str], key: str) -> int:
    try:
        return int(props.get(key) or 0)
    except ValueError:
        return 0


def describe_state(props: Dict[str, str]) -> str:
    text = "%s (%s)" % (props.get("ActiveState", "?"), props.get("SubState", "?"))
    result = props.get("Result")
    if result and result != "success":
        text += ", result %s" % result
    code = props.get("ExecMainCode")
    status = props.get("ExecMainStatus")
    if status and status != "0" and code not in (None, "", "0"):
        text += ", last exit status %s" % status
    restarts = props.get("NRestarts")
    if restarts and restarts != "0":
        text += ", %s automatic restarts" % restarts
    return text


def failing(props: Dict[str, str], baseline_restarts: int, first_pid: int) -> Optional[str]:
    """Why the unit counts as failing (crash, restart loop), or None."""
    active = props.get("ActiveState")
    sub = props.get("SubState")
    if props.get("LoadState") not in ("loaded", None):
        return "unit not loaded (%s)" % props.get("LoadState")
    if active == "failed":
        return "unit failed"
    if sub == "auto-restart":
        return "unit is restarting after its process exited"
    if int_prop(props, "NRestarts") > baseline_restarts:
        return "unit restarted %d time(s) since it was started" % (int_prop(props, "NRestarts") - baseline_restarts)
    pid = int_prop(props, "MainPID")
    if first_pid and pid and pid != first_pid:
        return "main process changed (pid %d -> %d)" % (first_pid, pid)
    if active in ("inactive", "deactivating"):
        return "unit is %s" % active
    return None


def health_probe(url: str, timeout: float) -> Tuple[Optional[int], Optional[Dict[str, Any]], str]:
    """GET ``url`` (the host's loopback: never through a proxy): (HTTP status or None, JSON body or None, error)."""
    try:
        response = http_get(url, timeout, headers={"Accept": "application/json"}, use_proxy=False, max_bytes=65536)
    except HttpError as exc:
        return None, None, str(exc.failure) if exc.failure else str(exc)
    try:
        data = json.loads(response.text())
    except ValueError:
        data = None
    return response.status, data if isinstance(data, dict) else None, ""


def describe_health(status: Optional[int], data: Optional[Dict[str, Any]], error: str) -> str:
    if status is None:
        return "no answer (%s)" % error
    if data is None:
        return "HTTP %s, no JSON body" % status
    keys = ("connected", "joined", "channel", "name", "version")
    return "HTTP %s %s" % (status, json.dumps({k: data.get(k) for k in keys if k in data}, sort_keys=True))


def reconnecting(status: Optional[int], data: Optional[Dict[str, Any]]) -> bool:
    """The health endpoint answered that the bot is between two connections (not connected, not joined)."""
    return status is not None and data is not None and data.get("connected") is False and data.get("joined") is False


def other_channel(data: Optional[Dict[str, Any]], channel: Optional[str]) -> Optional[str]:
    """The channel the health endpoint reports when it is not ``channel`` (another instance on the same port)."""
    reported = (data or {}).get("channel")
    if not channel or reported is None or str(reported).lower() == channel.lower():
        return None
    return str(reported)


def health_ok(
    status: Optional[int], data: Optional[Dict[str, Any]], version: Optional[str], channel: Optional[str] = None
) -> bool:
    if status != 200 or data is None or data.get("joined") is False or other_channel(data, channel):
        return False
    return not version or data.get("version") in (None, version)


def journal_errors(
    run: Runner, unit: str, invocation: str, pattern: str, limit: int = 10
) -> Tuple[Optional[List[str]], str]:
    """Error lines logged by ``unit`` since its current start (its invocation id)."""
    if not invocation:
        return None, "the unit has no invocation id (not started)"
    argv = ["journalctl", "--no-pager", "-o", "json", "-u", unit, "_SYSTEMD_INVOCATION_ID=%s" % invocation]
    rc, out, err = run(argv)
    if rc != 0:
        return None, (err or out).strip() or "journalctl exited %d" % rc
    regex = re.compile(pattern) if pattern else None
    found: List[str] = []
    for line in out.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        message = entry.get("MESSAGE")
        if isinstance(message, list):  # binary messages come as byte arrays
            try:
                message = bytes(message).decode("utf-8", "replace")
            except (TypeError, ValueError):
                message = ""
        message = str(message or "")
        try:
            priority = int(entry.get("PRIORITY", 6))
        except ValueError:
            priority = 6
        if priority <= 3 or (regex is not None and regex.search(message)):
            found.append(message[:300])
    return found[-limit:] if len(found) > limit else found, ""


def journal_check(run: Runner, unit: str, invocation: str, pattern: str) -> Tuple[Dict[str, Any], List[str]]:
    """The ``journal`` check (no error lines since the unit's current start) and the lines found."""
    expected = "no error lines since the unit started"
    found, problem = journal_errors(run, unit, invocation, pattern)
    if found is None:
        return check_record(
            "journal", False, expected, problem, message="journal of %s: cannot read it (%s)" % (unit, problem)
        ), []
    if not found:
        return check_record(
            "journal", True, expected, "none", message="journal of %s since its start: no errors" % unit
        ), []
    seen = "%d error line(s): %s" % (len(found), " | ".join(found[-3:]))
    return check_record(
        "journal",
        False,
        expected,
        seen,
        message="journal of %s since its start: %d error line(s), last: %s" % (unit, len(found), found[-1]),
    ), found


def journal_tail(run: Runner, unit: str, lines: int = 8) -> List[str]:
    rc, out, _err = run(["journalctl", "--no-pager", "-o", "cat", "-n", str(lines), "-u", unit])
    return [line[:300] for line in out.splitlines()] if rc == 0 else []


class _Readiness:
    """What one :func:`wait_ready` call has seen so far of the unit and its health endpoint."""

    def __init__(self, props: Dict[str, str], baseline_restarts: int, first_pid: int, channel: Optional[str]) -> None:
        self.props = props
        self.channel = channel
        self.baseline_restarts = baseline_restarts
        self.first_pid = first_pid
        self.active_since: Optional[float] = None
        self.ready = False
        self.failure: Optional[str] = None
        self.status: Optional[int] = None
        self.health: Optional[Dict[str, Any]] = None
        self.error = "not asked yet"

    @property
    def reconnecting(self) -> bool:
        return not self.failure and reconnecting(self.status, self.health)

    def running_pid(self) -> int:
        """The main PID when the unit is active with a process, else 0."""
        pid = int_prop(self.props, "MainPID")
        return pid if self.props.get("ActiveState") == "active" else 0


def _ready_now(
    seen: _Readiness,
    health_url: Optional[str],
    version: Optional[str],
    settle: float,
    deadline: float,
    clock: Callable[[], float],
) -> bool:
    """One look at an active unit: its health endpoint says joined, or (without one) it has settled."""
    if health_url:
        seen.status, seen.health, seen.error = health_probe(health_url, timeout=min(2.0, max(0.2, deadline - clock())))
        return health_ok(seen.status, seen.health, version, seen.channel)
    return clock() - (seen.active_since or 0.0) >= settle


def _poll(
    run: Runner,
    unit: str,
    seen: _Readiness,
    health_url: Optional[str],
    version: Optional[str],
    settle: float,
    deadline: float,
    reconnect_deadline: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    stop_if_reconnecting: bool = False,
) -> None:
    """Poll until ``seen`` is ready, the unit fails (waiting longer cannot help) or ``deadline`` (``reconnect_deadline``
    while the bot says it is reconnecting; at once with ``stop_if_reconnecting``)."""
    while True:
        seen.failure = failing(seen.props, seen.baseline_restarts, seen.first_pid)
        if seen.failure:
            return
        pid = seen.running_pid()
        if pid:
            seen.first_pid = seen.first_pid or pid
            if seen.active_since is None:
                seen.active_since = clock()
            if _ready_now(seen, health_url, version, settle, max(deadline, reconnect_deadline), clock):
                seen.ready = True
                return
            if stop_if_reconnecting and seen.reconnecting:
                return
        if clock() >= (reconnect_deadline if seen.reconnecting else deadline):
            return
        sleep(POLL_S)
        seen.props = unit_props(run, unit)


def _unit_checks(unit: str, seen: _Readiness, elapsed_ms: int) -> List[Dict[str, Any]]:
    """``unit_active`` and ``unit_stable`` from what the polling saw last."""
    reason = seen.failure
    state_text = describe_state(seen.props)
    active_ok = seen.props.get("ActiveState") == "active" and not reason
    if active_ok:
        active_text = "active"
    else:
        active_text = "expected active (running), seen %s%s" % (state_text, " (%s)" % reason if reason else "")
    return [
        check_record(
            "unit_active",
            active_ok,
            "active (running)",
            state_text,
            latency_ms=elapsed_ms,
            message="unit %s: %s" % (unit, active_text),
        ),
        check_record(
            "unit_stable",
            not reason,
            "no restart since start",
            reason or "no restart",
            message="unit %s: %s" % (unit, "stable" if not reason else reason),
        ),
    ]


def _health_check(health_url: str, version: Optional[str], seen: _Readiness, elapsed_ms: int) -> Dict[str, Any]:
    """``health``: what the endpoint answered last, and how long it was waited for when it never joined."""
    text = describe_health(seen.status, seen.health, seen.error)
    if version and seen.health and seen.health.get("version") not in (None, version):
        text += " (expected version %s)" % version
    intruder = other_channel(seen.health, seen.channel)
    if intruder:
        text += " (that is the bot of channel %s, not of %s: do two channels share this health port?)" % (
            intruder,
            seen.channel,
        )
    waited = "" if seen.ready or seen.failure else " after waiting %.1f s" % (elapsed_ms / 1000.0)
    if not seen.ready and seen.reconnecting:
        waited += "; the bot is running but still reconnecting (its own backoff)"
    verdict = "joined" if seen.ready else "expected HTTP 200 with joined=true, seen %s%s" % (text, waited)
    return check_record(
        "health",
        seen.ready,
        "HTTP 200 with joined=true at %s" % health_url,
        text + waited,
        latency_ms=elapsed_ms,
        message="health endpoint %s: %s" % (health_url, verdict),
    )


def wait_ready(
    run: Runner,
    unit: str,
    health_url: Optional[str],
    timeout: float,
    settle: float,
    version: Optional[str] = None,
    baseline_restarts: Optional[int] = None,
    expect_pid: int = 0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    reconnect_timeout: Optional[float] = None,
    channel: Optional[str] = None,
    stop_if_reconnecting: bool = False,
) -> Dict[str, Any]:
    """Poll until the unit is active and (when configured) its health endpoint says joined.

    With ``channel``, a health endpoint that reports another channel is not this bot (another instance answers
    on the port) and never counts as ready.

    A running bot whose health endpoint says it is reconnecting is waited for up to ``reconnect_timeout``
    (default :data:`RECONNECT_WAIT_S`) when that is longer than ``timeout``; with ``stop_if_reconnecting`` the wait
    ends as soon as it says so (the caller restarts it instead), and ``reconnecting`` is True in the result.

    Returns ``{ready, checks, props, main_pid, health}``: ``checks`` holds
    ``unit_active`` and ``unit_stable`` and, with a health URL, ``health``.
    Stops early when the unit fails or restarts: waiting longer cannot help.
    """
    start = clock()
    props = unit_props(run, unit)
    if baseline_restarts is None:
        baseline_restarts = int_prop(props, "NRestarts")
    seen = _Readiness(props, baseline_restarts, expect_pid, channel)
    bound = max(0.0, timeout)
    reconnect_bound = max(bound, RECONNECT_WAIT_S if reconnect_timeout is None else reconnect_timeout)
    _poll(
        run,
        unit,
        seen,
        health_url,
        version,
        settle,
        start + bound,
        start + reconnect_bound,
        sleep,
        clock,
        stop_if_reconnecting,
    )
    elapsed = int((clock() - start) * 1000)
    checks = _unit_checks(unit, seen, elapsed)
    if health_url:
        checks.append(_health_check(health_url, version, seen, elapsed))
    return {
        "ready": seen.ready and not seen.failure,
        "checks": checks,
        "props": seen.props,
        "main_pid": int_prop(seen.props, "MainPID"),
        "restarts": int_prop(seen.props, "NRestarts"),
        "baseline_restarts": baseline_restarts,
        "health": seen.health,
        "failure": seen.failure,
        "reconnecting": not seen.ready and seen.reconnecting,
        "elapsed_ms": elapsed,
    }
