"""Loopback-only admin API: state, fault switches, kicks, runtime accounts, reset."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .accounts import is_valid_username
from .server import CytubeServer

SERVER_KEY: web.AppKey[CytubeServer] = web.AppKey("cytube_server", CytubeServer)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, indent=None))


def _error(message: str, status: int = 400) -> web.Response:
    return _json({"error": message}, status=status)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"body is not JSON: {exc}"}), content_type="application/json"
        ) from exc
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "body must be a JSON object"}), content_type="application/json"
        )
    return data


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fault_changes(body: dict[str, Any]) -> dict[str, Any] | str:
    """Validated fault switches, or an error text."""
    changes: dict[str, Any] = {}
    for key, value in body.items():
        if key in ("down", "drop_chat"):
            if not isinstance(value, bool):
                return f"{key} must be true or false"
            changes[key] = value
        elif key == "slow_ms":
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                return "slow_ms must be a non-negative integer"
            changes[key] = value
        else:
            return f"unknown fault {key!r}; known: down, slow_ms, drop_chat"
    return changes


async def get_state(request: web.Request) -> web.Response:
    return _json(request.app[SERVER_KEY].state())


async def post_faults(request: web.Request) -> web.Response:
    changes = _fault_changes(await _body(request))
    if isinstance(changes, str):
        return _error(changes)
    server = request.app[SERVER_KEY]
    await server.set_faults(changes)
    return _json({"faults": server.faults_dict()})


async def post_kick(request: web.Request) -> web.Response:
    body = await _body(request)
    channel, name, reason = body.get("channel"), body.get("name"), body.get("reason", "")
    if not isinstance(channel, str) or not isinstance(name, str) or not isinstance(reason, str):
        return _error("channel and name (and optional reason) must be strings")
    kicked = await request.app[SERVER_KEY].admin_kick(channel, name, reason)
    if kicked == 0:
        return _error(f"no user {name!r} in channel {channel!r}", status=404)
    return _json({"kicked": kicked})


async def post_account(request: web.Request) -> web.Response:
    body = await _body(request)
    name, password, rank = body.get("name"), body.get("password"), body.get("rank", 1)
    if not isinstance(name, str) or not is_valid_username(name):
        return _error("name must match ^[\\w-]{1,20}$")
    if not isinstance(password, str) or not password:
        return _error("password must be a non-empty string")
    if not _is_number(rank):
        return _error("rank must be a number")
    accounts = request.app[SERVER_KEY].accounts
    created = accounts.find(name) is None
    account = await accounts.register(name, password, rank)
    return _json({"name": account.name, "rank": account.rank, "created": created}, status=201 if created else 200)


async def post_reset(request: web.Request) -> web.Response:
    server = request.app[SERVER_KEY]
    server.reset()
    return _json({"faults": server.faults_dict()})


def build_admin_app(server: CytubeServer) -> web.Application:
    app = web.Application()
    app[SERVER_KEY] = server
    app.router.add_get("/admin/state", get_state)
    app.router.add_post("/admin/faults", post_faults)
    app.router.add_post("/admin/kick", post_kick)
    app.router.add_post("/admin/accounts", post_account)
    app.router.add_post("/admin/reset", post_reset)
    return app
