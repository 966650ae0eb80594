"""The webhook receiver: Slack's and Discord's documented limits and errors, HMAC verification, faults."""

from __future__ import annotations

import hashlib
import hmac
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from sandbox.github.harness import Running, start_webhooks  # noqa: E402

SECRET = "receiver-test-secret-0123456789"


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    server = start_webhooks(tmp_path_factory.mktemp("webhooks"), {"audit": SECRET})
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _clean(receiver: Running) -> None:
    receiver.reset()


def post(receiver: Running, path: str, body: Any, **kwargs: Any) -> requests.Response:
    return requests.post(receiver.url + path, json=body, timeout=kwargs.pop("timeout", 10), **kwargs)


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


def test_slack_accepts_block_kit_and_refuses_like_slack(receiver: Running) -> None:
    ok = post(receiver, "/slack/T/B/x", {"text": "hi", "blocks": [header("Deployed")]})
    assert (ok.status_code, ok.text) == (200, "ok")
    assert post(receiver, "/slack/T/B/x", {}).text == "no_text"
    too_long = post(receiver, "/slack/T/B/x", {"text": "x", "blocks": [header("h" * 151)]})
    assert (too_long.status_code, too_long.text) == (400, "invalid_blocks")
    many = post(receiver, "/slack/T/B/x", {"text": "x", "blocks": [{"type": "divider"}] * 51})
    assert many.status_code == 400
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3001}}
    assert post(receiver, "/slack/T/B/x", {"text": "x", "blocks": [section]}).status_code == 400
    fields = {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}
    assert post(receiver, "/slack/T/B/x", {"text": "x", "blocks": [fields]}).status_code == 400
    assert [r["status"] for r in receiver.state()["received"]] == [200, 400, 400, 400, 400, 400]


def embed(**overrides: Any) -> dict[str, Any]:
    return {"embeds": [{"title": "t", "description": "d", "fields": [{"name": "n", "value": "v"}], **overrides}]}


def test_discord_accepts_an_embed_with_204(receiver: Running) -> None:
    response = post(receiver, "/discord/1/token", embed())
    assert response.status_code == 204


@pytest.mark.parametrize(
    ("payload", "path", "code"),
    [
        (embed(title="t" * 257), ("embeds", "0", "title"), "BASE_TYPE_MAX_LENGTH"),
        (embed(description="d" * 4097), ("embeds", "0", "description"), "BASE_TYPE_MAX_LENGTH"),
        (embed(fields=[{"name": "n", "value": "v"}] * 26), ("embeds", "0", "fields"), "BASE_TYPE_MAX_LENGTH"),
        (
            embed(fields=[{"name": "n", "value": "v" * 1025}]),
            ("embeds", "0", "fields", "0", "value"),
            "BASE_TYPE_MAX_LENGTH",
        ),
        (embed(fields=[{"name": "n", "value": ""}]), ("embeds", "0", "fields", "0", "value"), "BASE_TYPE_REQUIRED"),
        (
            embed(description="d" * 4000, fields=[{"name": "n", "value": "v" * 1000}] * 3),
            ("embeds",),
            "MAX_EMBED_SIZE_EXCEEDED",
        ),
        ({}, ("content",), "BASE_TYPE_REQUIRED"),
    ],
)
def test_discord_refuses_with_invalid_form_body(
    receiver: Running, payload: dict, path: tuple[str, ...], code: str
) -> None:
    response = post(receiver, "/discord/1/token", payload)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 50035 and body["message"] == "Invalid Form Body"
    node = body["errors"]
    for key in path:
        node = node[key]
    assert node["_errors"][0]["code"] == code


def signed(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Shipit-Timestamp": stamp, "X-Shipit-Signature": "sha256=" + digest, "Content-Type": "application/json"}


def test_generic_webhook_verifies_signature_and_timestamp(receiver: Running) -> None:
    body = b'{"status":"success"}'
    url = receiver.url + "/webhook/audit"
    assert requests.post(url, data=body, headers=signed(SECRET, body), timeout=10).status_code == 204
    wrong = requests.post(url, data=body, headers=signed("another-secret-value", body), timeout=10)
    assert wrong.status_code == 401 and "does not match" in wrong.json()["error"]
    tampered = requests.post(url, data=body + b" ", headers=signed(SECRET, body), timeout=10)
    assert tampered.status_code == 401
    old = requests.post(url, data=body, headers=signed(SECRET, body, int(time.time()) - 3600), timeout=10)
    assert old.status_code == 401 and "replay" in old.json()["error"]
    unknown = requests.post(receiver.url + "/webhook/other", data=body, headers=signed(SECRET, body), timeout=10)
    assert unknown.status_code == 401
    assert [r.get("verified") for r in receiver.state()["received"]] == [True, False, False, False, False]


def test_fault_switches(receiver: Running) -> None:
    receiver.fault("error_500", count=1)
    assert post(receiver, "/slack/T/B/x", {"text": "x"}).status_code == 500
    assert post(receiver, "/slack/T/B/x", {"text": "x"}).status_code == 200
    receiver.fault("rate_limit", retry_after=0.5, count=1)
    limited = post(receiver, "/discord/1/token", embed())
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "0.5"
    assert limited.json() == {"message": "You are being rate limited.", "retry_after": 0.5, "global": False}
    receiver.fault("rate_limit", retry_after=2, count=1, match="/slack/")
    assert post(receiver, "/discord/1/token", embed()).status_code == 204
    assert post(receiver, "/slack/T/B/x", {"text": "x"}).headers["Retry-After"] == "2"
    receiver.fault("timeout", delay_s=1.5, count=1)
    with pytest.raises(requests.Timeout):
        post(receiver, "/slack/T/B/x", {"text": "x"}, timeout=0.3)
