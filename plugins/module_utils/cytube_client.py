# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Client side of CyTube's protocol, as a user (or a health probe) sees it.

Small, typed pieces that modules of cytube.shipit share:

* name rules (channel and user names), probe tokens, chat text decoding;
* the ``/socketconfig/<channel>.json`` lookup and the choice of a server entry;
* :class:`CytubeSession`, one python-socketio connection whose events are queued,
  in arrival order and time-stamped, for a caller that waits with deadlines.

Protocol facts used here are in ``CYTUBE_PROTOCOL.md`` (shared design notes).
python-socketio is optional at import time so that modules can report a missing
library with ``missing_required_lib`` instead of a traceback.
"""

from __future__ import annotations

import html
import ipaddress
import json
import queue
import re
import secrets
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, TypeVar
from urllib.parse import quote, urlsplit

from ansible_collections.cytube.shipit.plugins.module_utils.cytube_socketconfig import CytubeError, one_line
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_http import (
    DEADLINE_SLACK_S,
    DeadlineExceeded,
    NetworkFailure,
    TLSSettings,
    describe_failure,
    diagnose_endpoint,
    exception_chain,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_http import (
    call_with_deadline as _call_with_deadline,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_layout import CHANNEL_RE, USER_RE

try:
    import engineio
    import socketio

    HAS_SOCKETIO = True
    SOCKETIO_IMPORT_ERROR: Optional[str] = None
except ImportError:  # pragma: no cover - exercised by ansible-test sanity import
    engineio = None
    socketio = None
    HAS_SOCKETIO = False
    SOCKETIO_IMPORT_ERROR = traceback.format_exc()

try:
    import websocket  # websocket-client: the websocket transport of engineio

    WEBSOCKET_CLIENT_VERSION: Optional[str] = getattr(websocket, "__version__", None)
    HAS_WEBSOCKET_CLIENT = True
    WEBSOCKET_IMPORT_ERROR: Optional[str] = None
except ImportError:  # pragma: no cover - exercised by ansible-test sanity import
    websocket = None
    WEBSOCKET_CLIENT_VERSION = None
    HAS_WEBSOCKET_CLIENT = False
    WEBSOCKET_IMPORT_ERROR = traceback.format_exc()

T = TypeVar("T")

# --------------------------------------------------------------------------- names

#: ``max-chat-message-length`` default; longer messages are cut.
MAX_CHAT_LENGTH = 320
#: CyTube's chat markup filters turn these characters into HTML, so a token
#: must avoid them to come back verbatim.
MARKUP_CHARS = frozenset("_*~`")


def valid_channel_name(name: str) -> bool:
    """True when CyTube accepts ``name`` as a channel name."""
    return bool(CHANNEL_RE.match(name or ""))


def valid_user_name(name: str) -> bool:
    """True when CyTube accepts ``name`` as a user (or guest) name."""
    return bool(USER_RE.match(name or ""))


def same_name(left: Optional[str], right: Optional[str]) -> bool:
    """CyTube compares user names case-insensitively."""
    if left is None or right is None:
        return False
    return left.lower() == right.lower()


# -------------------------------------------------------------------------- tokens


def make_token(nbytes: int = 5) -> str:
    """A fresh probe token: lowercase hex, ``2 * nbytes`` characters (8-12 allowed).

    Hex digits contain none of CyTube's markup characters, so the token survives
    the server's HTML transformation unchanged.
    """
    if not 4 <= nbytes <= 6:
        raise ValueError("token length must be 8-12 hex characters")
    return secrets.token_hex(nbytes)


def is_valid_token(token: str) -> bool:
    """Lowercase hex, 8-12 characters."""
    return bool(re.match(r"^[0-9a-f]{8,12}$", token or ""))


# ---------------------------------------------------------------- chat decoding

# CyTube escapes the text (so any real '<' arrives as '&lt;'), then its default
# channel filters and sanitize-html add markup. Every tag in a chat message was
# therefore produced by the server; reversing the default filters gives back what
# the sender typed, as closely as the transformation allows.
_FILTER_REVERSALS = (
    (re.compile(r"<em>(.*?)</em>", re.S), r"_\1_"),
    (re.compile(r"<strong>(.*?)</strong>", re.S), r"*\1*"),
    (re.compile(r"<code>(.*?)</code>", re.S), r"`\1`"),
    (re.compile(r"<s>(.*?)</s>", re.S), r"~~\1~~"),
    (re.compile(r"<span class=\"spoiler\">(.*?)</span>", re.S), r"[sp]\1[/sp]"),
    (re.compile(r"<a\s[^>]*>(.*?)</a>", re.S), r"\1"),
)
_ANY_TAG = re.compile(r"<[^>]*>")


def decode_chat_html(msg: str) -> str:
    """Turn a ``chatMsg.msg`` (HTML) back into the plain text the sender typed.

    Default markup filters are reversed (``<em>x</em>`` -> ``_x_``, ``<strong>``
    -> ``*``, ``<code>`` -> backquote, ``<s>`` -> ``~~``, spoiler -> ``[sp]``,
    links -> their text), any other tag is dropped, entities are unescaped.
    """
    text = msg if isinstance(msg, str) else str(msg)
    for _pass in range(8):  # nested markup, e.g. <em>a<strong>b</strong></em>
        before = text
        for pattern, replacement in _FILTER_REVERSALS:
            text = pattern.sub(replacement, text)
        if text == before:
            break
    text = _ANY_TAG.sub("", text)
    return html.unescape(text)


# ------------------------------------------------------------------ secrets


def scrub(text: Any, secret_values: Iterable[Optional[str]]) -> str:
    """``text`` as a string with every non-empty secret replaced by ``********``."""
    out = text if isinstance(text, str) else str(text)
    for value in secret_values:
        if value:
            out = out.replace(value, "********")
            quoted = quote(value, safe="")
            if quoted != value:
                out = out.replace(quoted, "********")
            dumped = json.dumps(value)[1:-1]
            if dumped != value:
                out = out.replace(dumped, "********")
    return out


# ------------------------------------------------------------------ errors


class CytubeConnectError(CytubeError):
    """The socket.io connection failed (``failure``) or CyTube refused it (``refused_reason``)."""

    def __init__(
        self, message: str, refused_reason: Optional[str] = None, failure: Optional[NetworkFailure] = None
    ) -> None:
        super().__init__(message)
        #: the server's own reason (e.g. ``Rate limit exceeded``): only CyTube refused us
        self.refused_reason = refused_reason
        #: the network's cause (DNS, TCP refused, timeout, TLS) when no connection opened
        self.failure = failure

    @property
    def rate_limited(self) -> bool:
        """CyTube's per-IP connection rate limit refused us (a refused attempt costs no token)."""
        return bool(self.refused_reason) and "rate limit" in str(self.refused_reason).lower()


# ------------------------------------------------------------ socketconfig


def check_server_url(server_url: str) -> Optional[str]:
    """None when ``server_url`` is a usable http(s) base URL, else why not."""
    try:
        parts = urlsplit((server_url or "").strip())
    except ValueError as exc:
        return "cannot be parsed (%s)" % exc
    if parts.scheme.lower() not in ("http", "https"):
        return "must start with http:// or https:// (CyTube's web address, e.g. https://cytu.be)"
    if not parts.hostname:
        return "has no host name"
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return "has an invalid port"
    if parts.query or parts.fragment:
        return "must not carry a query string or fragment"
    return None


def forwarded_headers(forwarded_for: Optional[str]) -> Dict[str, str]:
    """``X-Forwarded-For`` header (local testing only: CyTube trusts it from loopback)."""
    if not forwarded_for:
        return {}
    return {"X-Forwarded-For": str(ipaddress.ip_address(forwarded_for))}


def call_with_deadline(func: Callable[[], T], timeout: float, what: str) -> T:
    """``func()``, never waiting longer than ``timeout`` seconds (a :class:`CytubeError` then)."""
    try:
        return _call_with_deadline(func, timeout, what)
    except DeadlineExceeded as exc:
        raise CytubeError(str(exc)) from None


# --------------------------------------------------------------- the session


@dataclass(frozen=True)
class Event:
    """A server event as the probe received it."""

    name: str
    args: Tuple[Any, ...]
    mono: float  # time.monotonic() at receipt
    wall: float  # time.time() at receipt (seconds)

    @property
    def data(self) -> Any:
        """The first argument (CyTube sends one), or None."""
        return self.args[0] if self.args else None


#: pseudo events queued by the session itself
EVENT_DISCONNECT = "$disconnect"


def _engineio_base() -> Any:
    return engineio.Client if engineio is not None else object


def _socketio_base() -> Any:
    return socketio.Client if socketio is not None else object


class _OrderedEngineIOClient(_engineio_base()):  # type: ignore[misc]
    """engineio client that hands socket.io EVENT packets over in arrival order.

    engine.io 4.x runs each message handler in a thread of its own, so two events
    sent back to back (a replayed chat message, then ``userlist``) may reach the
    application in either order. The probe needs that order (replay detection,
    "received after the command was sent"), so EVENT packets (``2...``) are
    dispatched on the reader thread, which only queues them. Other packets
    (CONNECT, DISCONNECT, errors) keep the library's default.

    No public API of python-engineio/python-socketio does this, so two private
    methods are overridden (this one and ``socketio.Client._engineio_client_class``).
    Tested range (requirements.txt): python-socketio 5.8.0-5.18.1, python-engineio
    4.4.1-4.15.1, by tests/unit/plugins/module_utils/test_cytube_client_order.py.
    Where a release drops either method, :data:`ORDER_HOOKS` is False and the plain
    client is used (events may then arrive out of order under load).
    """

    def _trigger_event(self, event: str, *args: Any, **kwargs: Any) -> Any:
        if event == "message" and args and isinstance(args[0], str) and args[0][:1] == "2":
            kwargs["run_async"] = False
        return super()._trigger_event(event, *args, **kwargs)


class _OrderedClient(_socketio_base()):  # type: ignore[misc]
    def _engineio_client_class(self) -> Any:
        return _OrderedEngineIOClient


#: the private hooks of _OrderedClient exist in the installed libraries
ORDER_HOOKS = (
    HAS_SOCKETIO
    and callable(getattr(_socketio_base(), "_engineio_client_class", None))
    and callable(getattr(_engineio_base(), "_trigger_event", None))
)


def _client_class() -> Any:
    return _OrderedClient if ORDER_HOOKS else _socketio_base()


def _is_engineio_connection_error(exc: BaseException) -> bool:
    """engineio raises its ConnectionError when no Engine.IO connection could be opened."""
    return engineio is not None and isinstance(exc, engineio.exceptions.ConnectionError)


def url_endpoint(url: str) -> Tuple[str, int, bool]:
    """(host, port, secure) of an http(s)/ws(s) URL, with the scheme's default port."""
    parts = urlsplit(url)
    secure = parts.scheme.lower() in ("https", "wss")
    return parts.hostname or "", parts.port or (443 if secure else 80), secure


class CytubeSession:
    """One socket.io connection to CyTube; events are queued for the caller.

    Nothing here reconnects: CyTube's per-IP rate limit (5 connections, then one
    per 10 s) makes a reconnecting probe part of the problem.
    """

    def __init__(
        self,
        timeout: float,
        validate_certs: bool = True,
        ca_path: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        tls: Optional[TLSSettings] = None,
    ) -> None:
        if not HAS_SOCKETIO or not HAS_WEBSOCKET_CLIENT:
            raise CytubeError("python-socketio and websocket-client are required")
        self.timeout = timeout
        self.headers = dict(headers or {})
        self.events: "queue.Queue[Event]" = queue.Queue()
        self.connect_error: Optional[str] = None
        self.connected_at: Optional[float] = None
        self.tls = tls or TLSSettings(validate_certs, ca_path)
        self._client: Any = None

    def _make_client(self, url: str) -> Any:
        options: Dict[str, Any] = {}
        if urlsplit(url).scheme.lower() in ("https", "wss"):
            # one SSL context for the socketconfig request and the socket
            options["websocket_extra_options"] = {"sslopt": {"context": self.tls.context()}}
        client = _client_class()(
            reconnection=False,
            logger=False,
            engineio_logger=False,
            handle_sigint=False,
            request_timeout=self.timeout,
            ssl_verify=self.tls.validate_certs,
            **options,
        )
        client.on("*", self._on_any)
        client.on("connect_error", self._on_connect_error)
        client.on("disconnect", self._on_disconnect)
        return client

    # handlers run on socketio's threads: they only record and queue
    def _on_any(self, event: str, *args: Any) -> None:
        self.events.put(Event(event, tuple(args), time.monotonic(), time.time()))

    def _on_connect_error(self, data: Any = None) -> None:
        # python-socketio passes a plain string ("Connection error") when the transport
        # failed, and the server's CONNECT_ERROR payload (an object) when CyTube refused us.
        if isinstance(data, Mapping):
            self.connect_error = one_line(data.get("message", data))

    def _on_disconnect(self, *args: Any) -> None:
        self.events.put(Event(EVENT_DISCONNECT, tuple(str(a) for a in args), time.monotonic(), time.time()))

    def connect(self, url: str) -> None:
        """Open the connection (websocket transport), bounded by ``timeout``."""
        if self._client is not None:
            raise CytubeConnectError("one connection per session: never reconnect")
        try:
            self._client = self._make_client(url)
            client = self._client
            call_with_deadline(
                lambda: client.connect(
                    url,
                    headers=self.headers,
                    transports=["websocket"],
                    socketio_path="socket.io",
                    wait=True,
                    wait_timeout=self.timeout,
                ),
                2 * self.timeout + DEADLINE_SLACK_S,
                "socket.io connect to %s" % url,
            )
        except Exception as exc:
            raise self._connect_failure(url, exc) from None
        self.connected_at = time.monotonic()

    def _connect_failure(self, url: str, exc: Exception) -> CytubeConnectError:
        """Name why ``connect(url)`` failed: CyTube's refusal, or the network's real cause."""
        if self.connect_error:
            reason = self.connect_error
            return CytubeConnectError("refused by CyTube: %s" % reason, refused_reason=reason)
        transport_failed = any(_is_engineio_connection_error(link) for link in exception_chain(exc))
        if isinstance(exc, CytubeError) or transport_failed:
            host, port, secure = url_endpoint(url)
            failure = describe_failure(exc, host, port, self.timeout) or diagnose_endpoint(
                host, port, self.timeout, self.tls.context() if secure else None
            )
            if failure is not None:
                return CytubeConnectError("cannot connect to %s: %s" % (url, failure), failure=failure)
            if not transport_failed:
                return CytubeConnectError(one_line(exc))
            detail = [one_line(link) for link in exception_chain(exc)][-1]
            return CytubeConnectError("socket.io handshake with %s failed: %s" % (url, detail))
        return CytubeConnectError(
            "CyTube at %s opened the connection but did not accept the socket.io namespace within %ss (%s)"
            % (url, self.timeout, one_line(exc) or type(exc).__name__)
        )

    @property
    def connected(self) -> bool:
        return self._client is not None and bool(getattr(self._client, "connected", False))

    def emit(self, event: str, data: Any) -> None:
        """Send one event; a closed connection is a :class:`CytubeError`."""
        if self._client is None:
            raise CytubeError("not connected")
        try:
            self._client.emit(event, data)
        except Exception as exc:
            raise CytubeError(one_line(exc) or type(exc).__name__) from None

    def next_event(self, deadline: float) -> Optional[Event]:
        """The next queued event, or None once ``deadline`` (monotonic) has passed."""
        remaining = deadline - time.monotonic()
        try:
            if remaining <= 0:
                return self.events.get_nowait()
            return self.events.get(timeout=remaining)
        except queue.Empty:
            return None

    def close(self, timeout: float = 2.0) -> None:
        """Disconnect, never waiting longer than ``timeout`` seconds."""
        client = self._client
        if client is None:
            return

        def _disconnect() -> None:
            try:
                if client.connected:
                    client.disconnect()
                elif getattr(client.eio, "state", "disconnected") != "disconnected":
                    client.eio.disconnect(abort=True)
            except Exception:
                pass

        worker = threading.Thread(target=_disconnect, name="cytube-close", daemon=True)
        worker.start()
        worker.join(timeout)
        if worker.is_alive():
            try:
                client.eio.disconnect(abort=True)
            except Exception:
                pass


@dataclass
class UserList:
    """Who is in the channel, tracked from ``userlist``, ``addUser`` and ``userLeave``."""

    users: Dict[str, Dict[str, Any]] = field(default_factory=dict)  # lower name -> user
    received: bool = False

    def apply(self, event: Event) -> bool:
        """Update from ``event``; True when the event was a user-list event."""
        if event.name == "userlist" and isinstance(event.data, list):
            self.users = {}
            for user in event.data:
                self._add(user)
            self.received = True
            return True
        if event.name == "addUser":
            self._add(event.data)
            return True
        if event.name == "userLeave" and isinstance(event.data, Mapping):
            name = event.data.get("name")
            if isinstance(name, str):
                self.users.pop(name.lower(), None)
            return True
        if event.name == "setUserRank" and isinstance(event.data, Mapping):
            user = self.users.get(str(event.data.get("name", "")).lower())
            if user is not None:
                user["rank"] = event.data.get("rank")
            return False
        return False

    def _add(self, user: Any) -> None:
        if isinstance(user, Mapping) and isinstance(user.get("name"), str) and user["name"]:
            self.users[user["name"].lower()] = dict(user)

    def get(self, name: str) -> Optional[Dict[str, Any]]:
        return self.users.get(name.lower())

    def names(self) -> List[str]:
        return sorted(str(u.get("name")) for u in self.users.values())


@dataclass(frozen=True)
class ChatMessage:
    """A ``chatMsg`` as received: sender, raw HTML, decoded text, times."""

    username: str
    raw: str
    text: str
    time_ms: Optional[float]
    received_mono: float
    received_wall: float
    replay: bool

    @classmethod
    def from_event(cls, event: Event, replay: bool) -> Optional["ChatMessage"]:
        data = event.data
        if not isinstance(data, Mapping):
            return None
        raw = data.get("msg")
        if not isinstance(raw, str):
            return None
        stamp = data.get("time")
        time_ms = float(stamp) if isinstance(stamp, (int, float)) and not isinstance(stamp, bool) else None
        return cls(
            username=str(data.get("username", "")),
            raw=raw,
            text=decode_chat_html(raw),
            time_ms=time_ms,
            received_mono=event.mono,
            received_wall=event.wall,
            replay=replay,
        )
