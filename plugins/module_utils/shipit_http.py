# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Network failures, named by their real cause.

Libraries wrap the operating system's answer in their own exceptions
(python-socketio says "Connection error" for everything, urllib says
``<urlopen error ...>``). An operator needs the cause: the name did not resolve,
nothing listens on the port, the peer did not answer in time, its TLS
certificate was not accepted. :func:`describe_failure` finds the cause in an
exception chain; :func:`diagnose_endpoint` finds it by trying DNS, TCP and TLS
itself when the chain does not tell.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from typing import Any, Iterator, Optional

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
