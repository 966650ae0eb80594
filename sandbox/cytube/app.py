"""Listeners: HTTP (socketconfig), socket.io, and the loopback admin API."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from .accounts import AccountStore
from .admin import build_admin_app
from .config import ACCOUNT_HASH_ROUNDS, Config
from .server import CHANNEL_NAME_RE, CytubeServer

LOG = logging.getLogger("cytube-standin")
SHUTDOWN_TIMEOUT_S = 2.0

Middleware = Callable[
    [web.Request, Callable[[web.Request], Awaitable[web.StreamResponse]]], Awaitable[web.StreamResponse]
]


class BindError(RuntimeError):
    pass


def _compact_json(data: Any, status: int = 200) -> web.Response:
    # Express's res.json(): no spaces, non-ASCII kept as is.
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return web.Response(text=body, status=status, content_type="application/json", charset="utf-8")


def down_guard(server: CytubeServer, counter: str) -> Middleware:
    @web.middleware
    async def guard(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if server.faults.down:
            server.counters[counter] += 1
            return web.Response(status=503, text="Service Unavailable (down fault)\n", headers={"Connection": "close"})
        return await handler(request)

    return guard


def build_http_app(server: CytubeServer, advertised_url: Callable[[], str]) -> web.Application:
    async def socketconfig(request: web.Request) -> web.Response:
        channel = request.match_info["channel"]
        if CHANNEL_NAME_RE.fullmatch(channel) is None:
            return _compact_json({"error": f'Channel "{channel}" does not exist.'}, status=404)
        return _compact_json({"servers": [{"url": advertised_url(), "secure": False}]})

    app = web.Application(middlewares=[down_guard(server, "http_refused_down")])
    app.router.add_get("/socketconfig/{channel}.json", socketconfig)
    return app


STOPPING_KEY: web.AppKey[asyncio.Event] = web.AppKey("stopping", asyncio.Event)


async def never_answer(request: web.Request) -> web.StreamResponse:
    """CyTube's socket.io port leaves any non-socket.io request hanging; so does this."""
    await request.app[STOPPING_KEY].wait()
    raise web.HTTPServiceUnavailable()


def build_io_app(server: CytubeServer, stopping: asyncio.Event) -> web.Application:
    app = web.Application(middlewares=[down_guard(server, "io_refused_down")])
    app[STOPPING_KEY] = stopping

    async def engineio(request: web.Request) -> web.StreamResponse:
        # engine.io treats any EIO other than 4 (or none at all) as protocol 3.
        if request.query.get("EIO") == "4":
            return await server.sio.handle_request(request)
        return await server.legacy.handle(request)

    for method in ("GET", "POST", "OPTIONS"):  # what python-socketio's attach() registers
        app.router.add_route(method, "/socket.io/", engineio)
    app.router.add_route("*", "/{tail:.*}", never_answer)
    return app


@dataclass
class Listener:
    runner: web.AppRunner
    port: int


async def listen(app: web.Application, hosts: tuple[str, ...], port: int, label: str) -> Listener:
    """Bind every host on one port (the first bind picks it when ``port`` is 0)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    for host in hosts:
        site = web.TCPSite(runner, host, port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise BindError(f"cannot listen on {host}:{port} for {label}: {exc.strerror or exc}") from exc
        if port == 0:
            port = int(runner.addresses[-1][1])
    return Listener(runner=runner, port=port)


def write_ready_file(path: Path, info: dict[str, Any]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def _abort_all(listeners: list[Listener]) -> Callable[[], None]:
    def abort() -> None:
        for listener in listeners:
            server = listener.runner.server
            for connection in server.connections if server is not None else []:
                connection.force_close()

    return abort


async def run(config: Config, ready_file: Path | None) -> int:
    accounts = AccountStore(config.accounts_file, ACCOUNT_HASH_ROUNDS)
    accounts.load_initial()
    server = CytubeServer(config, accounts)
    ports: dict[str, int] = {}

    def advertised_url() -> str:
        return config.advertised_io_url or f"http://{config.binds[0]}:{ports['io']}"

    listeners: list[Listener] = []
    stopping = asyncio.Event()
    try:
        io = await listen(build_io_app(server, stopping), config.binds, config.io_port, "socket.io")
        listeners.append(io)
        ports["io"] = io.port
        http = await listen(build_http_app(server, advertised_url), config.binds, config.http_port, "http")
        listeners.append(http)
        admin = await listen(build_admin_app(server), (config.admin_bind,), config.admin_port, "admin")
        listeners.append(admin)
    except BindError as exc:
        LOG.error("%s", exc)
        for listener in listeners:
            await listener.runner.cleanup()
        return 2
    server.abort_connections = _abort_all([io, http])
    info = {
        "pid": os.getpid(),
        "binds": list(config.binds),
        "http_port": http.port,
        "io_port": io.port,
        "admin_bind": config.admin_bind,
        "admin_port": admin.port,
        "advertised_io_url": advertised_url(),
    }
    LOG.info(
        "listening: http %s:%d, socket.io %s:%d, admin %s:%d, advertising %s",
        ",".join(config.binds),
        http.port,
        ",".join(config.binds),
        io.port,
        config.admin_bind,
        admin.port,
        advertised_url(),
    )
    if ready_file is not None:
        write_ready_file(ready_file, info)
    await _wait_for_signal()
    LOG.info("shutting down")
    stopping.set()
    await server.drop_everything()  # like a process exit: connections just go away
    await server.sio.shutdown()
    for listener in reversed(listeners):
        await listener.runner.cleanup()
    if ready_file is not None:
        ready_file.unlink(missing_ok=True)
    return 0


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
