# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller modules' one HTTP client, and network failures named by their real cause.

:func:`http_get` is the one way controller-side code of cytube.shipit makes an HTTP
request (CyTube's socketconfig, the Engine.IO handshake of the pre-flight, a bot's
health endpoint): urllib with the caller's TLS settings, proxies from the
environment unless switched off, redirects followed, the whole exchange bounded.

Libraries wrap the operating system's answer in their own exceptions
(python-socketio says "Connection error" for everything, urllib wraps the
OS error in a URLError). An operator needs the cause: the name did not resolve,
nothing listens on the port, the peer did not answer in time, its TLS
certificate was not accepted. :func:`describe_failure` finds the cause in an
exception chain; :func:`diagnose_endpoint` finds it by trying DNS, TCP and TLS
itself when the chain does not tell.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, TypeVar
from urllib.error import HTTPError
from urllib.parse import urlsplit

T = TypeVar("T")

#: added to a library's own timeout before a call is given up
DEADLINE_SLACK_S = 0.5
#: the documents read here (socketconfig, handshakes, health) are a few hundred bytes
DEFAULT_MAX_BYTES = 65536
USER_AGENT = "cytube.shipit"

DNS = "dns"
REFUSED = "refused"
TIMEOUT = "timeout"
TLS_CERTIFICATE = "tls_certificate"
TLS = "tls"
RESET = "reset"
HANDSHAKE = "handshake"
NETWORK = "network"


@dataclass(frozen=True)
class NetworkFailure:
    """Why a connection to ``host:port`` failed; ``str()`` is the operator's line."""

    kind: str
    message: str

    def __str__(self) -> str:
        return self.message


def _one_line(value: Any, limit: int = 200) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def exception_chain(exc: Optional[BaseException]) -> Iterator[BaseException]:
    """``exc`` and every exception it was raised from or while handling (no cycles)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        reason = getattr(exc, "reason", None)  # urllib's URLError wraps the OS error here
        if isinstance(reason, BaseException):
            exc = reason
            continue
        exc = exc.__cause__ or exc.__context__


def endpoint(host: str, port: int) -> str:
    """``host:port``, with brackets for an IPv6 address."""
    return "[%s]:%s" % (host, port) if ":" in host else "%s:%s" % (host, port)


def _handshake_status(exc: BaseException) -> Optional[int]:
    """The HTTP status of a refused websocket upgrade (websocket-client), if any."""
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def classify(exc: BaseException, host: str, port: int, timeout: float) -> Optional[NetworkFailure]:
    """The failure ``exc`` itself stands for, or None when it is not a network error."""
    where = endpoint(host, port)
    if isinstance(exc, socket.gaierror):
        return NetworkFailure(DNS, "DNS lookup of %r failed (%s): check the host name" % (host, _strerror(exc)))
    if isinstance(exc, ConnectionRefusedError):
        return NetworkFailure(REFUSED, "TCP connection refused on %s (nothing listens on that port)" % where)
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = getattr(exc, "verify_message", None) or _strerror(exc)
        return NetworkFailure(
            TLS_CERTIFICATE,
            "TLS certificate of %s not accepted (%s): fix the certificate or give ca_path" % (where, detail),
        )
    if isinstance(exc, (TimeoutError, socket.timeout)) or type(exc).__name__ == "WebSocketTimeoutException":
        return NetworkFailure(TIMEOUT, "no answer from %s within %ss (timeout)" % (where, round(timeout, 3)))
    if isinstance(exc, ssl.SSLError):
        return NetworkFailure(TLS, "TLS handshake with %s failed (%s)" % (where, _strerror(exc)))
    if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return NetworkFailure(RESET, "connection to %s reset by the peer" % where)
    status = _handshake_status(exc)
    if status is not None:
        return NetworkFailure(
            HANDSHAKE,
            "%s answered the websocket handshake with HTTP %d (not a socket.io server at this address?)"
            % (where, status),
        )
    if isinstance(exc, OSError) and exc.errno is not None:
        return NetworkFailure(NETWORK, "cannot reach %s (%s)" % (where, _strerror(exc)))
    return None


def _strerror(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc) or type(exc).__name__
    return _one_line(text)


def describe_failure(exc: BaseException, host: str, port: int, timeout: float) -> Optional[NetworkFailure]:
    """The deepest network cause in ``exc``'s chain (the OS's answer, not a wrapper's)."""
    found: Optional[NetworkFailure] = None
    for link in exception_chain(exc):
        failure = classify(link, host, port, timeout)
        if failure is not None:
            found = failure
    return found


def diagnose_endpoint(
    host: str, port: int, timeout: float, tls_context: Optional[ssl.SSLContext] = None
) -> Optional[NetworkFailure]:
    """Try DNS, TCP and (with ``tls_context``) a TLS handshake to ``host:port``.

    None when all of them work: the failure is then above the transport.
    """
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        return classify(exc, host, port, timeout)
    family, kind, proto, _name, address = addresses[0]
    try:
        with socket.socket(family, kind, proto) as sock:
            sock.settimeout(timeout)
            sock.connect(address)
            if tls_context is not None:
                with tls_context.wrap_socket(sock, server_hostname=host):
                    pass
    except OSError as exc:
        return classify(exc, host, port, timeout) or NetworkFailure(
            NETWORK, "cannot reach %s (%s)" % (endpoint(host, port), _strerror(exc))
        )
    return None


# ------------------------------------------------------------------ the client


class HttpError(Exception):
    """No HTTP answer (DNS, TCP, timeout, TLS ...): ``failure`` names the cause when known."""

    def __init__(self, message: str, failure: Optional[NetworkFailure] = None) -> None:
        super().__init__(message)
        self.failure = failure


@dataclass(frozen=True)
class HttpResponse:
    """An HTTP answer, whatever its status."""

    url: str
    status: int
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class TLSSettings:
    """Certificate checking shared by every request and socket of one check.

    The SSL context (loading the CA bundle costs ~30 ms) is built once, on first
    use, so plain-http servers never pay for it.
    """

    def __init__(self, validate_certs: bool = True, ca_path: Optional[str] = None) -> None:
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self._context: Optional[ssl.SSLContext] = None

    def context(self) -> ssl.SSLContext:
        if self._context is None:
            if self.validate_certs:
                ctx = ssl.create_default_context(cafile=self.ca_path)
            else:
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            self._context = ctx
        return self._context


class _TLSHandler(urllib.request.HTTPSHandler):
    """HTTPS with the caller's TLS settings (also after a redirect to https)."""

    def __init__(self, tls: TLSSettings) -> None:
        super().__init__()
        self._tls = tls

    def https_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(http.client.HTTPSConnection, req, context=self._tls.context())


class DeadlineExceeded(Exception):
    """:func:`call_with_deadline` gave up waiting."""


def call_with_deadline(func: Callable[[], T], timeout: float, what: str) -> T:
    """``func()``, but never wait for it longer than ``timeout`` seconds.

    Socket timeouts bound each read, not a whole exchange (a server that trickles
    bytes could hold a request for ever); this bounds the whole call. On expiry
    :class:`DeadlineExceeded` is raised and the worker thread is left to die with
    the (short-lived) process.
    """
    outcome: Dict[str, Any] = {}

    def worker() -> None:
        try:
            outcome["value"] = func()
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc

    thread = threading.Thread(target=worker, name="shipit-deadline", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise DeadlineExceeded("%s: no answer within %ss" % (what, round(timeout, 3)))
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def http_get(
    url: str,
    timeout: float,
    tls: Optional[TLSSettings] = None,
    headers: Optional[Mapping[str, str]] = None,
    use_proxy: bool = True,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> HttpResponse:
    """GET ``url``: any HTTP status is a :class:`HttpResponse`; no answer is an :class:`HttpError`.

    Proxies come from the environment (``https_proxy``, ``no_proxy``) unless
    ``use_proxy`` is false; redirects are followed; the whole exchange takes at most
    ``timeout`` plus a little slack, however slowly the server sends.
    """
    handlers: list = [_TLSHandler(tls or TLSSettings())]
    if not use_proxy:
        handlers.append(urllib.request.ProxyHandler({}))
    opener = urllib.request.build_opener(*handlers)
    request_headers = {"User-Agent": USER_AGENT}
    request_headers.update(headers or {})

    def exchange() -> HttpResponse:
        try:
            with opener.open(urllib.request.Request(url, headers=request_headers), timeout=timeout) as response:
                return HttpResponse(response.geturl(), response.status, response.read(max_bytes))
        except HTTPError as exc:
            try:
                body = exc.read(max_bytes)
            except OSError:
                body = b""
            return HttpResponse(url, exc.code, body)

    try:
        return call_with_deadline(exchange, timeout + DEADLINE_SLACK_S, url)
    except DeadlineExceeded as exc:
        raise HttpError(str(exc), NetworkFailure(TIMEOUT, str(exc))) from None
    except Exception as exc:  # URLError, socket errors, TLS errors, bad URLs
        parts = urlsplit(url)
        secure = parts.scheme.lower() == "https"
        try:
            port = parts.port or (443 if secure else 80)
        except ValueError:
            port = 0
        failure = describe_failure(exc, parts.hostname or "", port, timeout)
        detail = str(failure) if failure else _one_line(getattr(exc, "reason", None) or exc) or type(exc).__name__
        raise HttpError("%s: %s" % (url, detail), failure) from None
