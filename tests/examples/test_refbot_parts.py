"""The bot's smaller parts: reply outbox, health endpoint, socketconfig choice."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from cytube_refbot.bot import SocketConfigError, socketio_url_from
from cytube_refbot.config import HealthListen
from cytube_refbot.health import start_health_server
from cytube_refbot.outbox import Outbox
from refbot_harness import Inbox


@pytest.fixture
def outbox() -> Iterator[tuple[Outbox, Inbox]]:
    sent = Inbox()
    box = Outbox()
    box.attach(lambda text: sent.add((text, time.monotonic())))
    yield box, sent
    box.close()


def test_outbox_sends_at_the_due_time(outbox: tuple[Outbox, Inbox]) -> None:
    box, sent = outbox
    start = time.monotonic()
    box.submit("later", start + 0.3)
    box.submit("now", start)
    assert sent.wait_for(lambda item: item[0] == "later", 2)
    assert [text for text, _ in sent.items] == ["now", "later"]
    assert sent.items[0][1] - start < 0.2
    assert sent.items[1][1] - start >= 0.3


def test_outbox_reports_when_sent(outbox: tuple[Outbox, Inbox]) -> None:
    box, _ = outbox
    reported = threading.Event()
    box.submit("x", time.monotonic(), lambda sent_at: reported.set())
    assert reported.wait(2)


def test_outbox_respects_the_flood_limit(outbox: tuple[Outbox, Inbox]) -> None:
    box, sent = outbox
    box.set_flood_limit(burst=2, per_s=5)
    start = time.monotonic()
    for n in range(4):
        box.submit(str(n), start)
    assert sent.wait_for(lambda item: item[0] == "3", 3)
    offsets = [at - start for _, at in sent.items]
    assert offsets[1] < 0.1  # the burst
    assert offsets[2] >= 0.19 and offsets[3] >= 0.39  # then one per 0.2 s


def test_outbox_pauses_after_cooldown(outbox: tuple[Outbox, Inbox]) -> None:
    box, sent = outbox
    box.pause(0.3)
    start = time.monotonic()
    box.submit("after", start)
    assert sent.wait_for(lambda item: item[0] == "after", 2)
    assert sent.items[0][1] - start >= 0.29


def test_outbox_drops_replies_of_a_closed_connection() -> None:
    sent = Inbox()
    box = Outbox()
    try:
        box.submit("stale", time.monotonic())
        box.detach()
        box.attach(lambda text: sent.add(text))
        box.submit("fresh", time.monotonic())
        assert sent.wait_for(lambda text: text == "fresh", 2)
        assert sent.items == ["fresh"]
    finally:
        box.close()


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_health_endpoint(host: str) -> None:
    state = {"joined": False, "connected": True}
    bound_host, port = start_health_server(HealthListen(host, 0), lambda: dict(state))
    base = f"http://[{bound_host}]:{port}" if ":" in bound_host else f"http://{bound_host}:{port}"
    assert get(f"{base}/health") == (503, state)
    state["joined"] = True
    assert get(f"{base}/health") == (200, state)
    assert get(f"{base}/other")[0] == 404


def test_socketconfig_prefers_secure_then_ipv4() -> None:
    document = {
        "servers": [
            {"url": "http://plain:1337", "secure": False},
            {"url": "https://v6:8443", "secure": True, "ipv6": True},
            {"url": "https://v4:8443", "secure": True},
        ]
    }
    assert socketio_url_from(document) == "https://v4:8443"
    assert socketio_url_from({"servers": [{"url": "http://127.0.0.1:1337", "secure": False}]}) == (
        "http://127.0.0.1:1337"
    )


@pytest.mark.parametrize("document", [{}, {"servers": []}, {"servers": [{"secure": True}]}, [], "x"])
def test_socketconfig_without_servers(document: Any) -> None:
    with pytest.raises(SocketConfigError):
        socketio_url_from(document)
