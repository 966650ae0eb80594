"""deliver(): skips, pagination on one origin, never raising, with a scripted transport."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ansible_collections.cytube.shipit.plugins.module_utils.shipit_notify_http import Reply, TransportError
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_notify_send import Settings, deliver, signature

OUTCOME = json.loads(
    (Path(__file__).resolve().parents[3] / "fixtures" / "outcomes" / "deploy_success.json").read_text()
)
API = "https://api.example"
TOKEN = "ghp_unitTestToken123"


class Recorder:
    def __init__(self, answers: list) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, str, dict[str, str], bytes | None]] = []

    def __call__(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float) -> Reply:
        self.calls.append((method, url, dict(headers), body))
        answer = self.answers.pop(0)
        if isinstance(answer, str):
            raise TransportError(answer)
        return answer


def page(items: list[dict[str, Any]], next_url: str | None = None) -> Reply:
    headers = {"Link": f'<{next_url}>; rel="next"'} if next_url else {}
    return Reply(200, headers, json.dumps(items).encode())


def settings() -> Settings:
    return Settings(github_api_url=API, github_repository="example/bot", github_token=TOKEN)


def no_sleep(seconds: float) -> None:
    pass


def test_comment_found_on_a_later_page_is_edited() -> None:
    ours = {"id": 7, "body": "<!-- cytube-shipit:sandbox/shipit-sandbox -->\nold"}
    transport = Recorder(
        [page([{"id": 1, "body": "hi"}], f"{API}/repos/example/bot/issues/42/comments?page=2"), page([ours]), page([])]
    )
    entry = deliver({"type": "github_pr_comment"}, OUTCOME, settings(), transport, sleep=no_sleep)
    assert entry["ok"] and not entry["skipped"] and entry["attempts"] == 3
    method, url, headers, _body = transport.calls[-1]
    assert (method, url) == ("PATCH", f"{API}/repos/example/bot/issues/comments/7")
    assert headers["Authorization"] == f"Bearer {TOKEN}" and headers["X-GitHub-Api-Version"] == "2022-11-28"


def test_next_page_on_another_origin_is_not_followed() -> None:
    transport = Recorder([page([], "https://evil.example/steal?page=2")])
    entry = deliver({"type": "github_pr_comment"}, OUTCOME, settings(), transport, sleep=no_sleep)
    assert not entry["ok"] and "another origin" in entry["error"] and len(transport.calls) == 1


def test_no_pull_request_is_a_skip_not_a_failure() -> None:
    outcome = dict(OUTCOME, trigger=dict(OUTCOME["trigger"], pr_number=None))
    entry = deliver({"type": "github_pr_comment"}, outcome, settings(), Recorder([]), sleep=no_sleep)
    assert entry == {**entry, "ok": True, "skipped": True, "attempts": 0}
    assert "no pull request" in entry["error"]


def test_unexpected_errors_become_entries() -> None:
    class Broken:
        def __call__(self, *args: Any) -> Reply:
            raise ValueError(f"boom {TOKEN}")

    entry = deliver({"type": "slack", "url": "https://hooks.example/x"}, OUTCOME, settings(), Broken(), sleep=no_sleep)
    assert not entry["ok"] and entry["error"] == "unexpected ValueError while notifying"


def test_webhook_is_signed_over_timestamp_and_body() -> None:
    transport = Recorder([Reply(204, {}, b"")])
    target = {"type": "webhook", "url": "https://r.example/h", "secret": "s" * 20}
    deliver(target, OUTCOME, settings(), transport, sleep=no_sleep, wall_clock=lambda: 1_800_000_000.5)
    _method, _url, headers, body = transport.calls[0]
    assert headers["X-Shipit-Timestamp"] == "1800000000"
    assert headers["X-Shipit-Signature"] == signature("s" * 20, "1800000000", body or b"")
    assert json.loads(body or b"") == OUTCOME


def test_deployment_without_a_commit_is_skipped() -> None:
    outcome = dict(OUTCOME, release=dict(OUTCOME["release"], git_sha=None), trigger=dict(OUTCOME["trigger"], sha=None))
    entry = deliver({"type": "github_deployment"}, outcome, settings(), Recorder([page([])]), sleep=no_sleep)
    assert entry["ok"] and entry["skipped"] and "no commit is known" in entry["error"]
