"""`GET /health` on a loopback port, served from a daemon thread."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from typing import Any

from .config import HealthListen

Snapshot = Callable[[], dict[str, Any]]


def start_health_server(listen: HealthListen, snapshot: Snapshot) -> tuple[str, int]:
    """Bind, serve in a daemon thread and return the bound (host, port).

    A snapshot whose "joined" is true is served with 200, anything else 503.
    """
    # Imported here: http.server is a noticeable share of startup time and the
    # endpoint can be disabled.
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class HealthHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/health":
                self._send(404, {"error": "not found"})
                return
            state = snapshot()
            self._send(200 if state["joined"] else 503, state)

        def _send(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # health probes every few seconds would drown the journal

    class HealthServer(ThreadingHTTPServer):
        daemon_threads = True
        address_family = socket.AF_INET6 if ":" in listen.host else socket.AF_INET

    server = HealthServer((listen.host, listen.port), HealthHandler)
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    host, port = server.server_address[:2]
    return str(host), int(port)
