# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cytube.shipit.bot_preflight: can this run verify the bot, before anything changes?"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Optional

from ansible.plugins.action import ActionBase

# Imported at load time on purpose: ansible-playbook loads this class in its main process, so python-socketio
# (0.2-0.5 s to import) is imported once per run there, and every later probe (this one's login, cytube_check's
# action plugin) finds it in the forked worker instead of importing it again.
from ansible_collections.cytube.shipit.plugins.module_utils.cytube_probe import ProbeConfig, check_login
from ansible_collections.cytube.shipit.plugins.module_utils.cytube_socketconfig import (
    CytubeError,
    ServerEntry,
    fetch_socketconfig,
    one_line,
    pick_server,
    socketconfig_url,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_http import HttpError, TLSSettings, http_get
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_ratelimit import (
    DEFAULT_CONNECTION_WAIT_S,
    ConnectionBudget,
    server_key,
)

ARGUMENT_SPEC: Dict[str, Dict[str, Any]] = {
    "server_url": {"type": "str", "required": True},
    "channel": {"type": "str", "required": True},
    "timeout": {"type": "float", "default": 5.0},
    "validate_certs": {"type": "bool", "default": True},
    "ca_path": {"type": "path"},
    "fail": {"type": "bool", "default": True},
    "probe_user": {"type": "str"},
    "probe_password": {"type": "str", "no_log": True},
    "probe_rank": {"type": "float", "default": 0.0},
    "channel_password": {"type": "str", "no_log": True},
    "connections_needed": {"type": "int", "default": 0},
    "wait_budget": {"type": "float", "default": DEFAULT_CONNECTION_WAIT_S},
    "rate_limit_dir": {"type": "path"},
    "forwarded_for": {"type": "str"},
}

LimiterFactory = Callable[[str, Dict[str, Any]], Any]


def validate(args: Dict[str, Any]) -> List[str]:
    """Problems with the options (each names the value and the fix); [] when fine."""
    errors: List[str] = []
    if args.get("timeout") is None or not args["timeout"] > 0:
        errors.append("timeout %r must be a positive number of seconds, e.g. 5" % args.get("timeout"))
    if args.get("connections_needed") is None or args["connections_needed"] < 0:
        errors.append(
            "connections_needed %r must be 0 or more (1 to verify a deploy, 2 when a rollback may be verified too)"
            % args.get("connections_needed")
        )
    if args.get("wait_budget") is None or args["wait_budget"] < 0:
        errors.append("wait_budget %r must be 0 or more seconds" % args.get("wait_budget"))
    user, password = args.get("probe_user"), args.get("probe_password")
    if user is not None and not password:
        errors.append(
            "probe_password is empty for probe_user %r: the probe must log in with its registered account "
            "(a guest login is limited to one per IP per 60 s, so a verification could not rely on it); "
            "set the probe account's password (e.g. shipit_probe_password from the vault)" % user
        )
    if password and not user:
        errors.append("probe_password is set but probe_user is not: give the probe account's name as probe_user")
    if user is not None and user == "":
        errors.append("probe_user is empty: give the probe account's CyTube name, or omit it")
    return errors


def _check(name: str, ok: bool, started: float, expected: str, seen: str, message: str = "") -> Dict[str, Any]:
    return {
        "name": name,
        "ok": ok,
        "latency_ms": int((time.monotonic() - started) * 1000),
        "expected": expected,
        "seen": seen,
        "message": message or "%s: %s" % (name, "ok" if ok else "expected %s, seen %s" % (expected, seen)),
    }


def read_server(args: Dict[str, Any], tls: TLSSettings, checks: List[Dict[str, Any]]) -> Optional[ServerEntry]:
    """The ``socketconfig`` check: the socket.io server CyTube lists for the channel."""
    started = time.monotonic()
    expected = "HTTP 200 with a server list from %s" % socketconfig_url(args["server_url"], args["channel"])
    try:
        server = pick_server(fetch_socketconfig(args["server_url"], args["channel"], args["timeout"], tls=tls))
    except CytubeError as exc:
        checks.append(_check("socketconfig", False, started, expected, str(exc)))
        return None
    checks.append(_check("socketconfig", True, started, expected, server.url))
    return server


def handshake(server: ServerEntry, args: Dict[str, Any], tls: TLSSettings, checks: List[Dict[str, Any]]) -> None:
    """An Engine.IO handshake without a socket.io CONNECT: it spends no connection token."""
    started = time.monotonic()
    url = server.url.rstrip("/").replace("wss://", "https://", 1).replace("ws://", "http://", 1)
    url += "/socket.io/?EIO=4&transport=polling"
    try:
        response = http_get(url, args["timeout"], tls=tls)
        ok = response.status == 200 and "sid" in response.text()
        seen = "HTTP %s %s" % (response.status, one_line(response.text(), 80))
    except HttpError as exc:
        ok, seen = False, str(exc)
    checks.append(_check("socketio_handshake", ok, started, "an Engine.IO handshake from %s" % url, seen))


def connections_available(budget: Any, needed: int, args: Dict[str, Any], checks: List[Dict[str, Any]]) -> float:
    """The ``rate_limit`` check: can ``needed`` connections be had within ``wait_budget``?"""
    started = time.monotonic()
    wait = budget.estimate(needed)
    expected = "%d connection(s) to CyTube within wait_budget %g s" % (needed, args["wait_budget"])
    if wait <= args["wait_budget"]:
        checks.append(_check("rate_limit", True, started, expected, "the last can start in %.1f s" % wait))
        return wait
    retry_in = int(wait - args["wait_budget"]) + 1
    message = (
        "rate limited, retry in %d s: this run needs %d connection(s) to CyTube and the last could only start "
        "in %.1f s (CyTube's per-IP limit: 5 connections, then 1 per 10 s, shared by every run on this controller)"
        % (retry_in, needed, wait)
    )
    checks.append(_check("rate_limit", False, started, expected, "the last could start in %.1f s" % wait, message))
    return wait


def probe_login(server: ServerEntry, args: Dict[str, Any], budget: Any, checks: List[Dict[str, Any]]) -> None:
    """``connect``, ``join`` and ``login`` of the probe account, on ONE connection."""
    cfg = ProbeConfig(
        server_url=args["server_url"],
        channel=args["channel"],
        bot_name="",
        probe_user=args["probe_user"],
        probe_password=args["probe_password"] or "",
        channel_password=args.get("channel_password") or None,
        connect_timeout=args["timeout"],
        validate_certs=args["validate_certs"],
        ca_path=args.get("ca_path"),
        forwarded_for=args.get("forwarded_for") or None,
        rate_limit_wait=args["wait_budget"],
        probe_rank=args["probe_rank"],
    )
    for result in check_login(cfg, server.url, limiter=budget):
        check = result.as_dict(cfg.secrets)
        check["message"] = _login_fix(check, args) if not check["ok"] else check["message"]
        checks.append(check)


def _login_fix(check: Dict[str, Any], args: Dict[str, Any]) -> str:
    """A failed probe step, said so that the operator knows which account and what to fix."""
    if check["name"] != "login":
        return check["message"]
    return (
        "the probe account %r cannot log in to CyTube at %s (%s: %s); fix the probe account: its password "
        "(probe_password, e.g. shipit_probe_password in the vault) or its registration on that server"
        % (args["probe_user"], args["server_url"], check["message"], check["seen"])
    )


def default_budget(socketio_url: str, args: Dict[str, Any]) -> ConnectionBudget:
    return ConnectionBudget(server_key(socketio_url, args.get("forwarded_for")), args.get("rate_limit_dir"))


def preflight(args: Dict[str, Any], budget_factory: LimiterFactory = default_budget) -> List[Dict[str, Any]]:
    """The pre-flight checks, in order; each runs only when the previous passed."""
    checks: List[Dict[str, Any]] = []
    tls = TLSSettings(args["validate_certs"], args.get("ca_path"))
    server = read_server(args, tls, checks)
    if server is None:
        return checks
    login = bool(args.get("probe_user"))
    needed = args["connections_needed"] + (1 if login else 0)
    budget = budget_factory(server.url, args) if needed else None
    if budget is not None:
        connections_available(budget, needed, args, checks)
        if not checks[-1]["ok"]:
            return checks
    if login:
        probe_login(server, args, budget, checks)
    else:
        handshake(server, args, tls, checks)
    return checks


def is_reachable(checks: List[Dict[str, Any]]) -> bool:
    """CyTube answered: socketconfig was read and no attempt to reach its socket.io server failed."""
    by_name = {c["name"]: c["ok"] for c in checks}
    return (
        by_name.get("socketconfig", False) and by_name.get("socketio_handshake", True) and by_name.get("connect", True)
    )


def summary(args: Dict[str, Any], checks: List[Dict[str, Any]]) -> str:
    """The one-line ``msg``: what was found, and for a refusal what to do."""
    failed = [c for c in checks if not c["ok"]]
    if not failed:
        if args.get("probe_user"):
            return "CyTube at %s is reachable and the probe account %r can log in" % (
                args["server_url"],
                args["probe_user"],
            )
        return "CyTube at %s is reachable" % args["server_url"]
    first = failed[0]
    if first["name"] == "rate_limit":
        return "%s; nothing was changed on the bot hosts" % first["message"]
    if "rate limit" in ("%s %s" % (first.get("message"), first.get("seen"))).lower():
        # CyTube refused the probe's connection for this controller's address: reachable, only busy.
        return (
            "rate limited: CyTube at %s refused the probe's %s (%s; it allows one address 5 connections, then 1 "
            "per 10 s); nothing was changed on the bot hosts: re-run in a few seconds"
            % (args["server_url"], first["name"], first.get("seen") or first["message"])
        )
    if first["name"] in ("join", "login"):
        return (
            "inconclusive: %s, so the bot could not be verified; nothing was changed on the bot hosts"
            % (first["message"])
        )
    return (
        "inconclusive: CyTube at %s is unreachable (%s), so the bot cannot be verified; "
        "nothing was changed on the bot hosts" % (args["server_url"], first["message"])
    )


class ActionModule(ActionBase):
    """Runs on the controller only: no module is sent to any host."""

    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp: Any = None, task_vars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        _spec, args = self.validate_argument_spec(argument_spec={k: dict(v) for k, v in ARGUMENT_SPEC.items()})
        errors = validate(args)
        if errors:
            return dict(result, failed=True, changed=False, errors=errors, msg="invalid options: " + "; ".join(errors))
        checks = preflight(args)
        failed = [c for c in checks if not c["ok"]]
        result.update(
            changed=False,
            reachable=is_reachable(checks),
            checks=checks,
            verdict="inconclusive" if failed else "reachable",
            failed_check=failed[0]["name"] if failed else None,
            probe_login=any(c["name"] == "login" and c["ok"] for c in checks) if args.get("probe_user") else None,
            msg=summary(args, checks),
        )
        if failed:
            result["failed"] = bool(args["fail"])
        return result
