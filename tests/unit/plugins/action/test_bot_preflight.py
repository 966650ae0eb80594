"""Unit tests for the bot_preflight action plugin (plugins/action/bot_preflight.py).

The checks run against small local HTTP servers; the probe login against the real
CyTube stand-in is in tests/integration/test_cytube_check_live.py.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.cytube.shipit.plugins.action import bot_preflight as bp
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_ratelimit import ConnectionBudget
from ansible_collections.cytube.shipit.plugins.modules import bot_preflight as doc

pytestmark = pytest.mark.timeout(30)


class _CyTube(http.server.BaseHTTPRequestHandler):
    io_port = 0
    handshake_status = 200

    def do_GET(self) -> None:
        if self.path.startswith("/socketconfig/"):
            status, body = 200, {"servers": [{"url": f"http://127.0.0.1:{self.io_port}", "secure": False}]}
            payload = json.dumps(body).encode()
        elif self.path.startswith("/socket.io/"):
            status, payload = self.handshake_status, b'0{"sid":"abc","upgrades":["websocket"]}'
        else:
            status, payload = 404, b""
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def cytube() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CyTube)
    _CyTube.io_port = server.server_address[1]  # socketconfig points at the same server
    _CyTube.handshake_status = 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def args(url: str, **over: Any) -> dict[str, Any]:
    base = {name: spec.get("default") for name, spec in bp.ARGUMENT_SPEC.items()}
    base.update(server_url=url, channel="testchan", timeout=2.0)
    base.update(over)
    return base


def test_reachable_without_probe_uses_the_handshake_only(cytube: str) -> None:
    checks = bp.preflight(args(cytube))
    assert [c["name"] for c in checks] == ["socketconfig", "socketio_handshake"]
    assert all(c["ok"] for c in checks) and bp.is_reachable(checks)
    assert bp.summary(args(cytube), checks) == f"CyTube at {cytube} is reachable"


def test_a_failed_handshake_is_inconclusive(cytube: str) -> None:
    _CyTube.handshake_status = 503
    checks = bp.preflight(args(cytube))
    assert not checks[-1]["ok"] and not bp.is_reachable(checks)
    assert bp.summary(args(cytube), checks).startswith(f"inconclusive: CyTube at {cytube} is unreachable")


def test_unreachable_socketconfig_names_the_cause() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    checks = bp.preflight(args(f"http://127.0.0.1:{port}"))
    assert [c["name"] for c in checks] == ["socketconfig"]
    assert f"TCP connection refused on 127.0.0.1:{port}" in checks[0]["seen"]


def _empty_budget(tmp_path: Path) -> Any:
    now = [1000.0]
    budget = ConnectionBudget("k", str(tmp_path), clock=lambda: now[0], sleep=lambda s: None)
    budget.reserve(5, 0)  # five recent connections from this controller

    def factory(url: str, options: dict[str, Any]) -> ConnectionBudget:
        return budget

    return factory


def test_connections_that_cannot_be_had_in_time_refuse_with_retry_in(cytube: str, tmp_path: Path) -> None:
    options = args(cytube, connections_needed=2, wait_budget=15)
    checks = bp.preflight(options, budget_factory=_empty_budget(tmp_path))
    assert [c["name"] for c in checks] == ["socketconfig", "rate_limit"]
    # the second connection could start in 20.5 s: 5.5 s over the budget
    assert checks[-1]["message"].startswith("rate limited, retry in 6 s: this run needs 2 connection(s)")
    assert bp.summary(options, checks).endswith("nothing was changed on the bot hosts")
    assert bp.is_reachable(checks)


def test_connections_within_the_budget_pass(cytube: str, tmp_path: Path) -> None:
    checks = bp.preflight(args(cytube, connections_needed=1, wait_budget=15), budget_factory=_empty_budget(tmp_path))
    assert [c["name"] for c in checks] == ["socketconfig", "rate_limit", "socketio_handshake"]
    assert all(c["ok"] for c in checks)
    assert checks[1]["seen"] == "the last can start in 10.2 s"


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"probe_user": "shipprobe", "probe_password": ""}, "probe_password is empty for probe_user 'shipprobe'"),
        ({"probe_user": "shipprobe", "probe_password": None}, "set the probe account's password"),
        ({"probe_password": "x"}, "probe_user is not"),
        ({"connections_needed": -1}, "connections_needed -1 must be 0 or more"),
        ({"wait_budget": -2.0}, "wait_budget -2.0 must be 0 or more"),
        ({"timeout": 0.0}, "timeout 0.0 must be a positive number"),
    ],
)
def test_bad_options_name_the_value_and_the_fix(over: dict[str, Any], needle: str) -> None:
    errors = bp.validate(args("http://x", **over))
    assert any(needle in e for e in errors), errors


def test_a_failed_login_names_the_account_and_the_fix() -> None:
    check = {"name": "login", "ok": False, "message": "CyTube refused the probe's account login", "seen": "error: x"}
    text = bp._login_fix(check, args("http://cytube.test", probe_user="shipprobe"))
    assert text.startswith("the probe account 'shipprobe' cannot log in to CyTube at http://cytube.test")
    assert "shipit_probe_password" in text


def test_a_probe_refused_by_the_rate_limit_is_not_called_unreachable() -> None:
    refused = {"name": "connect", "ok": False, "message": "Rate limit exceeded", "seen": "rate limited, retry in 9.8 s"}
    text = bp.summary({"server_url": "https://cytube.example"}, [refused])
    assert text.startswith("rate limited: CyTube at https://cytube.example refused the probe's connect")
    assert "retry in 9.8 s" in text and "unreachable" not in text


def test_documentation_matches_the_argument_spec() -> None:
    options = yaml.safe_load(doc.DOCUMENTATION)["options"]
    assert set(options) == set(bp.ARGUMENT_SPEC)
    for name, spec in bp.ARGUMENT_SPEC.items():
        assert options[name]["type"] == spec["type"], name
        assert options[name].get("default") == spec.get("default"), name
    assert bp.ARGUMENT_SPEC["probe_password"]["no_log"] and bp.ARGUMENT_SPEC["channel_password"]["no_log"]
