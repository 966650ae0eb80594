"""Unit tests for plugins/module_utils/cytube_client.py (protocol helpers)."""

from __future__ import annotations

import http.server
import json
import re
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from ansible_collections.cytube.shipit.plugins.module_utils import cytube_client as cc
from ansible_collections.cytube.shipit.plugins.module_utils import cytube_socketconfig as sc

pytestmark = pytest.mark.timeout(30)


# ------------------------------------------------------------------ names, tokens


@pytest.mark.parametrize(
    "name,ok",
    [
        ("testchan", True),
        ("Test-Chan_9", True),
        ("a" * 30, True),
        ("a" * 31, False),
        ("bad name!", False),
        ("", False),
        ("caf\u00e9", False),
        ("chan/x", False),
    ],
)
def test_channel_names(name: str, ok: bool) -> None:
    assert cc.valid_channel_name(name) is ok


@pytest.mark.parametrize(
    "name,ok",
    [
        ("shipbot", True),
        ("ship-bot_2", True),
        ("a" * 20, True),
        ("a" * 21, False),
        ("bad name!", False),
        ("", False),
        ("\u00fcser", False),
    ],
)
def test_user_names(name: str, ok: bool) -> None:
    assert cc.valid_user_name(name) is ok


def test_same_name_is_case_insensitive() -> None:
    assert cc.same_name("ShipBot", "shipbot")
    assert not cc.same_name("shipbot", "shipbot2")
    assert not cc.same_name(None, "x")


def test_tokens_are_lowercase_hex_without_markup_characters() -> None:
    seen = set()
    for _ in range(200):
        token = cc.make_token()
        assert re.fullmatch(r"[0-9a-f]{8,12}", token), token
        assert not set(token) & cc.MARKUP_CHARS
        assert cc.is_valid_token(token)
        seen.add(token)
    assert len(seen) == 200  # random, not a counter


@pytest.mark.parametrize("nbytes,length", [(4, 8), (5, 10), (6, 12)])
def test_token_lengths(nbytes: int, length: int) -> None:
    assert len(cc.make_token(nbytes)) == length


@pytest.mark.parametrize("nbytes", [3, 7])
def test_token_length_outside_8_to_12_is_refused(nbytes: int) -> None:
    with pytest.raises(ValueError):
        cc.make_token(nbytes)


# ----------------------------------------------------------------- chat decoding


@pytest.mark.parametrize(
    "raw,text",
    [
        ("pong 1.2.3 abcdef0123", "pong 1.2.3 abcdef0123"),
        # seen on CyTube 3.86: health_check_token_42 -> health<em>check</em>token_42
        ("health<em>check</em>token_42", "health_check_token_42"),
        ("pong 1.0<strong>rc</strong>1 ab12", "pong 1.0*rc*1 ab12"),
        ("<code>x</code> and <s>y</s>", "`x` and ~~y~~"),
        ('<span class="spoiler">hidden</span>', "[sp]hidden[/sp]"),
        (
            'see <a href="https://x.example/a" target="_blank" rel="noopener noreferrer">https://x.example/a</a>',
            "see https://x.example/a",
        ),
        ("&lt;b&gt;bold&lt;/b&gt; &amp; &quot;q&quot; &#39;s&#39;", "<b>bold</b> & \"q\" 's'"),
        ("&gt;greentext", ">greentext"),
        ("<em>a<strong>b</strong></em>", "_a*b*_"),
        ('<span class="other">x</span>', "x"),
    ],
)
def test_decode_chat_html(raw: str, text: str) -> None:
    assert cc.decode_chat_html(raw) == text


def test_escaped_tags_are_text_not_markup() -> None:
    # a bot that literally says "<em>x</em>" arrives escaped and must stay literal
    assert cc.decode_chat_html("&lt;em&gt;x&lt;/em&gt;") == "<em>x</em>"


# ------------------------------------------------------------------- scrubbing


def test_scrub_replaces_every_form_of_a_secret() -> None:
    secret = 'p@ss w"rd'
    text = f"login {secret} failed; url pw=p%40ss%20w%22rd; json {json.dumps(secret)}"
    out = cc.scrub(text, [secret, None, ""])
    assert "p@ss" not in out and "p%40ss" not in out and 'w\\"rd' not in out
    assert out.count("********") == 3


def test_scrub_stringifies() -> None:
    assert cc.scrub(ValueError("bad hunter2"), ["hunter2"]) == "bad ********"


def test_one_line() -> None:
    assert cc.one_line("a\n b\tc") == "a b c"
    assert len(cc.one_line("x" * 1000, 50)) == 50


# ---------------------------------------------------------------- socketconfig


@pytest.mark.parametrize(
    "url,problem",
    [
        ("https://cytu.be", None),
        ("http://127.0.0.1:8080/", None),
        ("http://example.org/cytube", None),
        ("ftp://cytu.be", "must start with http:// or https://"),
        ("cytu.be", "must start with http:// or https://"),
        ("http://", "has no host name"),
        ("http://host:99999", "invalid port"),
        ("https://cytu.be/?x=1", "query string"),
    ],
)
def test_check_server_url(url: str, problem: str) -> None:
    found = cc.check_server_url(url)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_socketconfig_url() -> None:
    assert sc.socketconfig_url("https://cytu.be/", "Test-Chan") == "https://cytu.be/socketconfig/Test-Chan.json"
    assert sc.socketconfig_url("HTTP://h:8080/sub/", "c") == "http://h:8080/sub/socketconfig/c.json"


def test_parse_socketconfig_and_pick_secure_first() -> None:
    entries = sc.parse_socketconfig(
        {
            "servers": [
                {"url": "http://127.0.0.1:1337", "secure": False},
                {"url": "https://[::1]:8443", "secure": True, "ipv6": True},
                {"url": "https://cytube.example:8443", "secure": True},
                {"nourl": True},
            ]
        }
    )
    assert len(entries) == 3
    assert sc.pick_server(entries).url == "https://cytube.example:8443"
    only_plain = [e for e in entries if not e.secure]
    assert sc.pick_server(only_plain).url == "http://127.0.0.1:1337"


@pytest.mark.parametrize(
    "body,needle",
    [
        ([], "not a JSON object"),
        ({"error": 'Channel "x" does not exist.'}, "does not exist"),
        ({"servers": []}, "no 'servers'"),
        ({"servers": [{"url": "ftp://x"}]}, "no server"),
    ],
)
def test_parse_socketconfig_errors(body: object, needle: str) -> None:
    with pytest.raises(sc.CytubeHTTPError, match=re.escape(needle)):
        sc.parse_socketconfig(body)


def test_forwarded_headers() -> None:
    assert cc.forwarded_headers(None) == {}
    assert cc.forwarded_headers("10.1.2.3") == {"X-Forwarded-For": "10.1.2.3"}
    with pytest.raises(ValueError):
        cc.forwarded_headers("not-an-ip")


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict = {}
    seen_headers: list = []

    def do_GET(self) -> None:
        type(self).seen_headers.append(dict(self.headers))
        status, body, delay = self.routes.get(self.path, (404, b'{"error":"nope"}', 0))
        if delay:
            time.sleep(delay)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def http_server() -> Iterator[tuple[str, type]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    _Handler.routes = {}
    _Handler.seen_headers = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _Handler
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_socketconfig_ok_and_sends_forwarded_for(http_server: tuple[str, type]) -> None:
    base, handler = http_server
    handler.routes["/socketconfig/testchan.json"] = (
        200,
        b'{"servers":[{"url":"http://127.0.0.1:1337","secure":false}]}',
        0,
    )
    entries = sc.fetch_socketconfig(base, "testchan", timeout=2, headers={"X-Forwarded-For": "10.9.9.9"})
    assert entries == [sc.ServerEntry("http://127.0.0.1:1337", False, False)]
    assert handler.seen_headers[-1].get("X-Forwarded-For") == "10.9.9.9"


@pytest.mark.parametrize(
    "status,body,needle",
    [
        (404, b'{"error":"Channel \\"x\\" does not exist."}', "HTTP 404"),
        (503, b"down for maintenance", "HTTP 503"),
        (200, b"<html>not json</html>", "is not JSON"),
    ],
)
def test_fetch_socketconfig_errors(http_server: tuple[str, type], status: int, body: bytes, needle: str) -> None:
    base, handler = http_server
    handler.routes["/socketconfig/c.json"] = (status, body, 0)
    with pytest.raises(sc.CytubeHTTPError) as info:
        sc.fetch_socketconfig(base, "c", timeout=2)
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_fetch_socketconfig_timeout_is_bounded(http_server: tuple[str, type]) -> None:
    base, handler = http_server
    handler.routes["/socketconfig/slow.json"] = (200, b'{"servers":[{"url":"http://x:1"}]}', 2.0)
    start = time.monotonic()
    with pytest.raises(sc.CytubeHTTPError):
        sc.fetch_socketconfig(base, "slow", timeout=0.3)
    assert time.monotonic() - start < 1.5


def test_fetch_socketconfig_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(sc.CytubeHTTPError, match=f"TCP connection refused on 127.0.0.1:{port}"):
        sc.fetch_socketconfig(f"http://127.0.0.1:{port}", "c", timeout=2)


# ------------------------------------------------------------- events, users


def _ev(name: str, data: object = None, mono: float = 1.0) -> cc.Event:
    return cc.Event(name, (data,) if data is not None else (), mono, 1000.0 + mono)


def test_userlist_tracking_add_leave_and_duplicate_login_sequence() -> None:
    users = cc.UserList()
    assert users.apply(_ev("userlist", [{"name": "ShipBot", "rank": 1}, {"name": "", "rank": -1}]))
    assert users.received and users.get("shipbot")["rank"] == 1
    assert users.names() == ["ShipBot"]
    # a duplicate login of the bot: userLeave then addUser with the same name
    users.apply(_ev("userLeave", {"name": "shipbot"}))
    assert users.get("SHIPBOT") is None
    users.apply(_ev("addUser", {"name": "shipbot", "rank": 1}))
    assert users.get("ShipBot") is not None
    users.apply(_ev("setUserRank", {"name": "shipbot", "rank": 2}))
    assert users.get("shipbot")["rank"] == 2
    assert not users.apply(_ev("chatMsg", {"msg": "x"}))


def test_chat_message_from_event() -> None:
    msg = cc.ChatMessage.from_event(_ev("chatMsg", {"username": "bot", "msg": "a<em>b</em>c", "time": 5}), False)
    assert msg is not None and msg.text == "a_b_c" and msg.time_ms == 5.0 and not msg.replay
    assert cc.ChatMessage.from_event(_ev("chatMsg", "nonsense"), False) is None
    assert cc.ChatMessage.from_event(_ev("chatMsg", {"username": "x", "msg": 3}), False) is None
    no_time = cc.ChatMessage.from_event(_ev("chatMsg", {"username": "x", "msg": "m", "time": True}), True)
    assert no_time is not None and no_time.time_ms is None and no_time.replay


def test_session_connect_refused_is_a_connect_error() -> None:
    if not (cc.HAS_SOCKETIO and cc.HAS_WEBSOCKET_CLIENT):
        pytest.skip("python-socketio not installed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    session = cc.CytubeSession(timeout=1.0)
    start = time.monotonic()
    with pytest.raises(cc.CytubeConnectError) as caught:
        session.connect(f"http://127.0.0.1:{port}")
    session.close()
    assert time.monotonic() - start < 3
    # the OS refused the TCP connection: not a refusal by CyTube
    assert caught.value.refused_reason is None and not caught.value.rate_limited
    assert caught.value.failure is not None and caught.value.failure.kind == "refused"
    assert f"TCP connection refused on 127.0.0.1:{port}" in str(caught.value)
    assert "refused by CyTube" not in str(caught.value)


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_session_connect_to_a_silent_server_is_a_named_timeout(scheme: str) -> None:
    if not (cc.HAS_SOCKETIO and cc.HAS_WEBSOCKET_CLIENT):
        pytest.skip("python-socketio not installed")
    with socket.socket() as listener:  # accepts TCP (backlog), never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        session = cc.CytubeSession(timeout=0.5)
        with pytest.raises(cc.CytubeConnectError) as caught:
            session.connect(f"{scheme}://127.0.0.1:{port}")
        session.close()
    assert caught.value.failure is not None and caught.value.failure.kind == "timeout", str(caught.value)
    assert f"no answer from 127.0.0.1:{port} within 0.5s" in str(caught.value)


def test_session_connect_dns_failure_is_named() -> None:
    if not (cc.HAS_SOCKETIO and cc.HAS_WEBSOCKET_CLIENT):
        pytest.skip("python-socketio not installed")
    session = cc.CytubeSession(timeout=1.0)
    with pytest.raises(cc.CytubeConnectError) as caught:
        session.connect("http://no-such-cytube.invalid:1337")
    session.close()
    assert caught.value.failure is not None and caught.value.failure.kind == "dns"
    assert "DNS lookup of 'no-such-cytube.invalid' failed" in str(caught.value)


def test_connect_error_payloads_only_from_the_server_are_refusals() -> None:
    if not (cc.HAS_SOCKETIO and cc.HAS_WEBSOCKET_CLIENT):
        pytest.skip("python-socketio not installed")
    session = cc.CytubeSession(timeout=1.0)
    session._on_connect_error("Connection error")  # what python-socketio passes for a transport failure
    assert session.connect_error is None
    session._on_connect_error({"message": "Rate limit exceeded"})  # CyTube's CONNECT_ERROR packet
    assert session.connect_error == "Rate limit exceeded"
    error = session._connect_failure("http://h:1", RuntimeError("One or more namespaces failed to connect"))
    assert error.rate_limited and str(error) == "refused by CyTube: Rate limit exceeded"


# ------------------------------------------------------------------ deadlines


def test_call_with_deadline_returns_raises_and_times_out() -> None:
    assert cc.call_with_deadline(lambda: 42, 1.0, "x") == 42
    with pytest.raises(KeyError):
        cc.call_with_deadline(lambda: {}["missing"], 1.0, "x")
    start = time.monotonic()
    with pytest.raises(cc.CytubeError, match=re.escape("slow thing: no answer within 0.2s")):
        cc.call_with_deadline(lambda: time.sleep(3), 0.2, "slow thing")
    assert time.monotonic() - start < 1.0


def test_fetch_socketconfig_trickling_server_is_cut_off() -> None:
    """A server that sends a byte every 0.2 s never trips a 0.5 s socket timeout;
    the whole request is still bounded."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def trickle() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(4096)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b" " * 100:
                if stop.is_set():
                    return
                conn.sendall(bytes([byte]))
                time.sleep(0.2)

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    start = time.monotonic()
    try:
        with pytest.raises(sc.CytubeHTTPError, match="no answer within"):
            sc.fetch_socketconfig(f"http://127.0.0.1:{port}", "c", timeout=0.5)
        assert time.monotonic() - start < 2.0
    finally:
        stop.set()
        listener.close()


# ------------------------------------------------------------------------ TLS


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """An HTTPS socketconfig server with a self-signed certificate for 127.0.0.1."""
    import datetime
    import ipaddress
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cytube.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    tmp = tmp_path_factory.mktemp("tls")
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    _Handler.routes = {"/socketconfig/c.json": (200, b'{"servers":[{"url":"https://127.0.0.1:1","secure":true}]}', 0)}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", str(cert_path)
    finally:
        server.shutdown()
        server.server_close()


def test_tls_is_verified_by_default(tls_server: tuple[str, str]) -> None:
    url, _ = tls_server
    with pytest.raises(
        sc.CytubeHTTPError, match=r"TLS certificate of 127.0.0.1:\d+ not accepted \(self-signed certificate\)"
    ):
        sc.fetch_socketconfig(url, "c", timeout=2)


def test_tls_with_ca_path_or_without_validation(tls_server: tuple[str, str]) -> None:
    url, ca = tls_server
    assert sc.fetch_socketconfig(url, "c", timeout=2, ca_path=ca)[0].secure is True
    assert sc.fetch_socketconfig(url, "c", timeout=2, validate_certs=False)[0].url == "https://127.0.0.1:1"


def test_tls_context_is_built_once_and_lazily() -> None:
    tls = cc.TLSSettings(validate_certs=False)
    assert tls._context is None
    first = tls.context()
    assert first is tls.context()
    assert first.verify_mode.name == "CERT_NONE" and first.check_hostname is False
