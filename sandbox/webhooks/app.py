"""The webhook receiver: records what Slack, Discord and generic webhook targets get.

Paths: POST /slack/<anything> (an incoming webhook URL), POST /discord/<anything>
(Execute Webhook), POST /webhook/<name> (generic, signed). Answers like the real ones:
Slack 200 "ok" or 400 with its error code as text, Discord 204 or 400 Invalid Form Body
(code 50035), generic 204 or 401 when the signature or timestamp does not verify.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from sandbox.fault_switch import Fault

from .limits import discord_errors, slack_problems

FAULT_MODES = ("none", "error_500", "timeout", "rate_limit")
SIGNATURE_HEADER = "X-Shipit-Signature"
TIMESTAMP_HEADER = "X-Shipit-Timestamp"
MAX_SKEW_S = 300
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class State:
    secrets: dict[str, str]  # generic webhook name -> shared secret ("*": any name)
    fault: Fault = field(default_factory=Fault)
    received: list[dict[str, Any]] = field(default_factory=list)


STATE: web.AppKey[State] = web.AppKey("state", State)


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return "sha256=" + digest


def _record(request: web.Request, kind: str, body: bytes) -> dict[str, Any]:
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        parsed = None
    entry = {
        "kind": kind,
        "path": request.path,
        "name": request.match_info.get("name", ""),
        "headers": {k: v for k, v in request.headers.items() if k.lower().startswith(("x-shipit", "content-type"))},
        "body": parsed,
        "size": len(body),
        "received_at": time.time(),
    }
    request.app[STATE].received.append(entry)
    return entry


async def _fault_response(request: web.Request, kind: str) -> web.Response | None:
    state = request.app[STATE]
    mode = state.fault.take(request.path)
    if mode == "none":
        return None
    if mode == "timeout":
        await asyncio.sleep(state.fault.delay_s)
        return web.Response(status=504, text="timeout fault")
    if mode == "error_500":
        return web.Response(status=500, text="internal_error")
    retry_after = state.fault.retry_after
    headers = {"Retry-After": f"{retry_after:g}"}
    if kind == "discord":
        body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
        return web.json_response(body, status=429, headers=headers)
    return web.Response(status=429, text="rate_limited", headers=headers)


async def slack(request: web.Request) -> web.Response:
    body = await request.read()
    entry = _record(request, "slack", body)
    refused = await _fault_response(request, "slack")
    if refused is None:
        code, details = slack_problems(entry["body"])
        refused = web.Response(status=400, text=code) if code else None
        entry["problems"] = details
    response = refused or web.Response(status=200, text="ok")
    entry["status"] = response.status
    return response


async def discord(request: web.Request) -> web.Response:
    body = await request.read()
    entry = _record(request, "discord", body)
    refused = await _fault_response(request, "discord")
    if refused is None:
        errors = discord_errors(entry["body"])
        if errors:
            entry["problems"] = errors
            refused = web.json_response({"message": "Invalid Form Body", "code": 50035, "errors": errors}, status=400)
    response = refused or web.Response(status=204)
    entry["status"] = response.status
    return response


async def generic(request: web.Request) -> web.Response:
    body = await request.read()
    entry = _record(request, "webhook", body)
    refused = await _fault_response(request, "webhook")
    if refused is None:
        problem = _signature_problem(request, body)
        entry["verified"] = problem == ""
        if problem:
            entry["problems"] = [problem]
            refused = web.json_response({"error": problem}, status=401)
    response = refused or web.Response(status=204)
    entry["status"] = response.status
    return response


def _signature_problem(request: web.Request, body: bytes) -> str:
    secrets = request.app[STATE].secrets
    secret = secrets.get(request.match_info["name"], secrets.get("*"))
    if secret is None:
        return "no secret is configured for this webhook name"
    timestamp = request.headers.get(TIMESTAMP_HEADER, "")
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not timestamp.isdigit():
        return f"{TIMESTAMP_HEADER} is missing or not unix seconds"
    if abs(time.time() - int(timestamp)) > MAX_SKEW_S:
        return f"{TIMESTAMP_HEADER} is more than {MAX_SKEW_S} s away (replay?)"
    if not hmac.compare_digest(signature, expected_signature(secret, timestamp, body)):
        return f"{SIGNATURE_HEADER} does not match the body"
    return ""


def build_app(state: State) -> web.Application:
    app = web.Application(client_max_size=8 * 1024 * 1024)
    app[STATE] = state
    app.router.add_post("/slack/{tail:.+}", slack)
    app.router.add_post("/discord/{tail:.+}", discord)
    app.router.add_post("/webhook/{name}", generic)
    return app


def build_admin_app(state: State, ports: dict[str, int]) -> web.Application:
    async def get_state(request: web.Request) -> web.Response:
        return web.json_response({"received": state.received, "fault": state.fault.__dict__, "ports": ports})

    async def set_fault(request: web.Request) -> web.Response:
        body = await request.json()
        mode = body.get("mode", "none")
        if mode not in FAULT_MODES:
            return web.json_response({"error": f"mode {mode!r} is not one of {', '.join(FAULT_MODES)}"}, status=400)
        state.fault = Fault(
            mode=mode,
            remaining=body.get("count"),
            delay_s=float(body.get("delay_s", 30.0)),
            retry_after=float(body.get("retry_after", 1.0)),
            match=str(body.get("match", "")),
        )
        return web.json_response({"fault": state.fault.__dict__})

    async def reset(request: web.Request) -> web.Response:
        state.received.clear()
        state.fault = Fault()
        return web.json_response({"reset": True})

    app = web.Application()
    app.router.add_get("/admin/state", get_state)
    app.router.add_post("/admin/fault", set_fault)
    app.router.add_post("/admin/reset", reset)
    return app
