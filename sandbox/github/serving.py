"""Run aiohttp apps on several listeners until SIGTERM; shared by the GitHub and webhook stand-ins."""

from __future__ import annotations

import asyncio
import json
import signal
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web


@dataclass(frozen=True)
class Listener:
    app: web.Application
    hosts: tuple[str, ...]
    port: int
    name: str


async def serve(listeners: list[Listener], ready_file: Path | None, ports: dict[str, int] | None = None) -> None:
    """Listen on every listener (port 0: one ephemeral port shared by its hosts), write the ports, wait."""
    runners: list[web.AppRunner] = []
    ports = {} if ports is None else ports
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    try:
        for listener in listeners:
            runner = web.AppRunner(listener.app, access_log=None)
            await runner.setup()
            runners.append(runner)
            port = listener.port
            for host in listener.hosts:
                site = web.TCPSite(runner, host, port, reuse_address=True)
                await site.start()
                if port == 0:
                    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ports[listener.name] = port
        if ready_file is not None:
            temporary = ready_file.with_suffix(".tmp")
            temporary.write_text(json.dumps(ports) + "\n")
            temporary.replace(ready_file)
        print(json.dumps({"listening": ports}), flush=True)
        await stopping.wait()
    finally:
        for runner in runners:
            await runner.cleanup()
