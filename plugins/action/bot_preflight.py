# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""cytube.shipit.bot_preflight: is CyTube reachable before a deploy or rollback changes anything?"""

from __future__ import annotations

import json
import time
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import quote, urlsplit

from ansible.module_utils.urls import open_url
from ansible.plugins.action import ActionBase

# Deliberately not cytube_client: it imports python-socketio (about 0.2 s per task), and this
# check needs two plain HTTP requests.


def one_line(value: Any, limit: int = 200) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _get(url: str, timeout: float, validate_certs: bool, ca_path: Optional[str]) -> Tuple[int, bytes]:
    try:
        response = open_url(
            url,
            method="GET",
            timeout=timeout,
            validate_certs=validate_certs,
            ca_path=ca_path,
            http_agent="cytube.shipit-preflight",
            use_proxy=True,
            follow_redirects="safe",
        )
        return response.getcode(), response.read(65536)
    except Exception as exc:  # HTTPError, URLError, timeouts, TLS errors
        code = getattr(exc, "code", None)
        if isinstance(code, int):
            return code, b""
        raise RuntimeError(one_line(getattr(exc, "reason", None) or exc)) from None


def socketio_server(server_url: str, channel: str, timeout: float, validate_certs: bool, ca_path: Optional[str]) -> str:
    """The socket.io URL CyTube lists for the channel (a secure entry first, as its web client)."""
    base = server_url.strip().rstrip("/")
    url = "%s/socketconfig/%s.json" % (base, quote(channel, safe=""))
    status, body = _get(url, timeout, validate_certs, ca_path)
    if status != 200:
        raise RuntimeError("HTTP %d from %s" % (status, url))
    try:
        servers = json.loads(body.decode("utf-8")).get("servers")
        entries = [
            e
            for e in servers
            if isinstance(e, dict)
            and isinstance(e.get("url"), str)
            and urlsplit(e["url"]).scheme in ("http", "https", "ws", "wss")
        ]
    except (ValueError, AttributeError, TypeError):
        raise RuntimeError("%s did not answer a socketconfig document" % url) from None
    if not entries:
        raise RuntimeError("%s lists no socket.io server" % url)
    entries.sort(key=lambda e: (not e.get("secure"), bool(e.get("ipv6"))))
    return entries[0]["url"]


def _check(name: str, ok: bool, started: float, expected: str, seen: str) -> Dict[str, Any]:
    return {
        "name": name,
        "ok": ok,
        "latency_ms": int((time.monotonic() - started) * 1000),
        "expected": expected,
        "seen": seen,
        "message": "%s: %s" % (name, "ok" if ok else "expected %s, seen %s" % (expected, seen)),
    }


def preflight(
    server_url: str, channel: str, timeout: float, validate_certs: bool, ca_path: Optional[str]
) -> List[Dict[str, Any]]:
    checks = []
    started = time.monotonic()
    try:
        server = socketio_server(server_url, channel, timeout, validate_certs, ca_path)
    except RuntimeError as exc:
        checks.append(_check("socketconfig", False, started, "HTTP 200 with a server list", str(exc)))
        return checks
    checks.append(_check("socketconfig", True, started, "HTTP 200 with a server list", server))
    started = time.monotonic()
    url = server.rstrip("/").replace("wss://", "https://", 1).replace("ws://", "http://", 1)
    url += "/socket.io/?EIO=4&transport=polling"
    try:
        # An Engine.IO handshake without a socket.io CONNECT: it uses no token of CyTube's
        # per-IP connection rate limit.
        status, body = _get(url, timeout, validate_certs, ca_path)
        text = body.decode("utf-8", "replace")
        ok = status == 200 and "sid" in text
        seen = "HTTP %s %s" % (status, one_line(text, 80))
    except RuntimeError as exc:
        ok, seen = False, str(exc)
    checks.append(_check("socketio_handshake", ok, started, "an Engine.IO handshake from %s" % url, seen))
    return checks


class ActionModule(ActionBase):
    """Runs on the controller only: no module is sent to any host."""

    _VALID_ARGS = frozenset(("server_url", "channel", "timeout", "validate_certs", "ca_path", "fail"))

    def run(self, tmp: Any = None, task_vars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        _spec, args = self.validate_argument_spec(
            argument_spec=dict(
                server_url=dict(type="str", required=True),
                channel=dict(type="str", required=True),
                timeout=dict(type="float", default=5.0),
                validate_certs=dict(type="bool", default=True),
                ca_path=dict(type="path"),
                fail=dict(type="bool", default=True),
            )
        )
        checks = preflight(
            args["server_url"], args["channel"], args["timeout"], args["validate_certs"], args["ca_path"]
        )
        failed = [c for c in checks if not c["ok"]]
        result.update(
            changed=False,
            reachable=not failed,
            checks=checks,
            verdict="inconclusive" if failed else "reachable",
            failed_check=failed[0]["name"] if failed else None,
        )
        if failed:
            result["msg"] = (
                "inconclusive: CyTube at %s is unreachable (%s), so the bot cannot be verified; "
                "nothing was changed on the bot hosts" % (args["server_url"], failed[0]["message"])
            )
            result["failed"] = bool(args["fail"])
        else:
            result["msg"] = "CyTube at %s is reachable" % args["server_url"]
        return result
