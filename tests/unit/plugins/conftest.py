"""Fixtures shared by the unit tests of plugins/."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

#: What a stub JSON endpoint answers to each GET: (HTTP status, JSON body).
Respond = Callable[[], "tuple[int, Any]"]


@pytest.fixture()
def json_endpoint() -> Iterator[Callable[[Respond], str]]:
    """Start local HTTP servers that answer every GET with ``respond()``; returns each one's URL (``/health``)."""
    servers: list[HTTPServer] = []

    def start(respond: Respond) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = respond()
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/health"

    yield start
    for server in servers:
        server.shutdown()
