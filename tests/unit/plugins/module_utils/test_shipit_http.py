"""Unit tests for plugins/module_utils/shipit_http.py: network failures named by their cause."""

from __future__ import annotations

import http.server
import socket
import ssl
import threading
import urllib.error
from collections.abc import Iterator

import pytest
from ansible_collections.cytube.shipit.plugins.module_utils import shipit_http as sh

pytestmark = pytest.mark.timeout(30)


def _wrapped(inner: BaseException) -> Exception:
    """``inner`` hidden the way python-socketio hides it: two wrappers, chained implicitly."""
    try:
        try:
            try:
                raise inner
            except Exception:
                raise ConnectionError("Connection error")  # noqa: B904 - the implicit chain is the point
        except Exception as middle:
            raise RuntimeError("Connection error") from middle
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize(
    ("inner", "kind", "needle"),
    [
        (socket.gaierror(-2, "Name or service not known"), sh.DNS, "DNS lookup of 'cytube.example' failed"),
        (
            ConnectionRefusedError(111, "Connection refused"),
            sh.REFUSED,
            "TCP connection refused on cytube.example:1337",
        ),
        (TimeoutError("timed out"), sh.TIMEOUT, "no answer from cytube.example:1337 within 2.5s (timeout)"),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), sh.TLS_CERTIFICATE, "give ca_path"),
        (ssl.SSLError(1, "wrong version number"), sh.TLS, "TLS handshake with cytube.example:1337 failed"),
        (ConnectionResetError(104, "reset"), sh.RESET, "reset by the peer"),
    ],
)
def test_the_deepest_cause_is_named(inner: BaseException, kind: str, needle: str) -> None:
    failure = sh.describe_failure(_wrapped(inner), "cytube.example", 1337, 2.5)
    assert failure is not None and failure.kind == kind
    assert needle in str(failure)


def test_urllib_reason_is_followed() -> None:
    error = urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
    failure = sh.describe_failure(error, "h", 80, 1)
    assert failure is not None and failure.kind == sh.REFUSED


def test_a_websocket_handshake_status_is_named() -> None:
    class BadStatus(Exception):
        status_code = 404

    failure = sh.describe_failure(BadStatus("Handshake status 404"), "h", 80, 1)
    assert failure is not None and failure.kind == sh.HANDSHAKE and "HTTP 404" in str(failure)


def test_no_network_cause_is_none() -> None:
    assert sh.describe_failure(ValueError("nope"), "h", 1, 1) is None


def test_ipv6_endpoint_has_brackets() -> None:
    assert sh.endpoint("::1", 80) == "[::1]:80"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_diagnose_refused_port() -> None:
    port = _free_port()
    failure = sh.diagnose_endpoint("127.0.0.1", port, 1.0)
    assert failure is not None and failure.kind == sh.REFUSED
    assert f"127.0.0.1:{port}" in str(failure)


def test_diagnose_dns_failure() -> None:
    failure = sh.diagnose_endpoint("no-such-host.invalid", 80, 1.0)
    assert failure is not None and failure.kind == sh.DNS


def test_diagnose_tls_against_a_plain_listener_times_out_or_fails() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        assert sh.diagnose_endpoint("127.0.0.1", port, 1.0) is None  # TCP alone works
        failure = sh.diagnose_endpoint("127.0.0.1", port, 0.3, ssl.create_default_context())
    assert failure is not None and failure.kind == sh.TIMEOUT and "within 0.3s" in str(failure)


# ------------------------------------------------------------------ http_get


class _Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 503 if self.path == "/down" else 200
        body = b'{"ok": true}'
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def echo_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_http_get_returns_any_status_as_a_response(echo_server: str) -> None:
    ok = sh.http_get(echo_server + "/", 2)
    assert ok.status == 200 and ok.body == b'{"ok": true}'
    down = sh.http_get(echo_server + "/down", 2)
    assert down.status == 503 and down.text() == '{"ok": true}'


def test_http_get_proxy_from_the_environment_unless_switched_off(
    echo_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{_free_port()}")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert sh.http_get(echo_server + "/", 2, use_proxy=False).status == 200
    with pytest.raises(sh.HttpError) as caught:
        sh.http_get(echo_server + "/", 2)  # through the (dead) proxy
    assert caught.value.failure is not None and caught.value.failure.kind == sh.REFUSED


def test_http_get_names_a_refused_port() -> None:
    port = _free_port()
    with pytest.raises(sh.HttpError, match=f"TCP connection refused on 127.0.0.1:{port}"):
        sh.http_get(f"http://127.0.0.1:{port}/x", 1)
