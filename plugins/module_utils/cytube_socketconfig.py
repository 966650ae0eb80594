# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""CyTube's ``/socketconfig/<channel>.json``: the one parser of the controller modules.

It tells a client which socket.io server to use for a channel (served on CyTube's
HTTP port; see CYTUBE_PROTOCOL.md section 1). This module needs no socket.io
library, so the pre-flight can read socketconfig without importing one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional
from urllib.parse import quote, urlsplit

from ansible_collections.cytube.shipit.plugins.module_utils.shipit_http import (
    HttpError,
    TLSSettings,
    http_get,
)

#: a socketconfig document is a few hundred bytes
MAX_SOCKETCONFIG_BYTES = 65536


def one_line(value: Any, limit: int = 300) -> str:
    """A message squeezed onto one line and cut to ``limit`` characters."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class CytubeError(Exception):
    """CyTube could not be reached, or refused us. ``str()`` is one line."""


class CytubeHTTPError(CytubeError):
    """The socketconfig request failed (HTTP status, network, TLS, bad JSON)."""

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ServerEntry:
    """One entry of ``socketconfig.servers``."""

    url: str
    secure: bool = False
    ipv6: bool = False


def normalize_base_url(server_url: str) -> str:
    """``server_url`` without a trailing slash, query or fragment."""
    parts = urlsplit(server_url.strip())
    path = parts.path.rstrip("/")
    return "%s://%s%s" % (parts.scheme.lower(), parts.netloc, path)


def socketconfig_url(server_url: str, channel: str) -> str:
    """The socketconfig address for ``channel`` (served on CyTube's HTTP port)."""
    return "%s/socketconfig/%s.json" % (normalize_base_url(server_url), quote(channel, safe=""))


def parse_socketconfig(body: Any) -> List[ServerEntry]:
    """Server entries from a decoded socketconfig document.

    Raises :class:`CytubeHTTPError` when the document has no usable entry.
    """
    if not isinstance(body, Mapping):
        raise CytubeHTTPError("socketconfig is not a JSON object")
    if "error" in body and "servers" not in body:
        raise CytubeHTTPError("socketconfig error: %s" % body.get("error"))
    servers = body.get("servers")
    if not isinstance(servers, list) or not servers:
        raise CytubeHTTPError("socketconfig has no 'servers' list")
    entries: List[ServerEntry] = []
    for item in servers:
        if not isinstance(item, Mapping) or not isinstance(item.get("url"), str):
            continue
        scheme = urlsplit(item["url"]).scheme.lower()
        if scheme not in ("http", "https", "ws", "wss"):
            continue
        entries.append(ServerEntry(url=item["url"], secure=bool(item.get("secure")), ipv6=bool(item.get("ipv6"))))
    if not entries:
        raise CytubeHTTPError("socketconfig lists no server with an http(s) URL")
    return entries


def pick_server(entries: List[ServerEntry]) -> ServerEntry:
    """The entry a browser would use: secure first (as CyTube's own client), then IPv4."""
    if not entries:
        raise CytubeHTTPError("socketconfig lists no server")
    ranked = sorted(entries, key=lambda e: (not e.secure, e.ipv6))
    return ranked[0]


def fetch_socketconfig(
    server_url: str,
    channel: str,
    timeout: float,
    validate_certs: bool = True,
    ca_path: Optional[str] = None,
    headers: Optional[Mapping[str, str]] = None,
    tls: Optional[TLSSettings] = None,
) -> List[ServerEntry]:
    """GET ``/socketconfig/<channel>.json`` and return its server entries.

    Every failure (HTTP status, refused connection, timeout, TLS, bad JSON) is a
    :class:`CytubeHTTPError` with a one-line message naming the cause.
    """
    url = socketconfig_url(server_url, channel)
    request_headers = {"Accept": "application/json"}
    request_headers.update(headers or {})
    try:
        response = http_get(
            url,
            timeout,
            tls=tls or TLSSettings(validate_certs, ca_path),
            headers=request_headers,
            max_bytes=MAX_SOCKETCONFIG_BYTES,
        )
    except HttpError as exc:
        raise CytubeHTTPError(str(exc)) from None
    if response.status != 200:
        detail = one_line(response.body[:200].decode("utf-8", "replace"))
        raise CytubeHTTPError(
            "HTTP %s from %s%s" % (response.status, url, (": " + detail) if detail else ""), status=response.status
        )
    try:
        body = json.loads(response.body.decode("utf-8"))
    except ValueError as exc:
        raise CytubeHTTPError("HTTP %s from %s is not JSON (%s)" % (response.status, url, exc), status=200) from None
    return parse_socketconfig(body)
