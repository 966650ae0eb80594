# -*- coding: utf-8 -*-
# Copyright: cytube.shipit contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deliver one event to one target and say what happened, never raising.

The result is one entry of the outcome's ``notifications`` list (outcome.schema.json):
``target`` (type[:name]), ``ok``, ``skipped``, ``attempts``, ``status_code``, ``error``,
``duration_s``. A skipped entry carries why in ``error`` with ``ok: true``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple
from urllib.parse import urlencode, urlsplit

from ansible_collections.cytube.shipit.plugins.module_utils.shipit_notify import (
    filter_reason,
    target_label,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_notify_http import (
    DEFAULT_BUDGET_S,
    DEFAULT_TIMEOUT_S,
    Budget,
    NotifyFailed,
    Reply,
    Transport,
    json_body,
    link_next,
    request,
)
from ansible_collections.cytube.shipit.plugins.module_utils.shipit_notify_render import (
    DEFAULT_TROUBLESHOOTING_URL,
    commit_of,
    discord_message,
    marker,
    pr_comment,
    slack_message,
)

SIGNATURE_HEADER = "X-Shipit-Signature"
TIMESTAMP_HEADER = "X-Shipit-Timestamp"
EVENT_HEADER = "X-Shipit-Event"
GITHUB_API_VERSION = "2022-11-28"
PER_PAGE = 100
MAX_PAGES = 50
DESCRIPTION_MAX = 140  # GitHub refuses longer deployment status descriptions
DEPLOYMENT_STATES = {
    "started": "in_progress",
    "success": "success",
    "rolled_back": "failure",
    "rollback_failed": "failure",
    "failed": "failure",
    "inconclusive": "error",
    "refused": "error",
    "invalid": "error",
}


class Settings(object):
    def __init__(
        self,
        github_api_url: str = "https://api.github.com",
        github_repository: Optional[str] = None,
        github_token: Optional[str] = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        budget_s: float = DEFAULT_BUDGET_S,
        troubleshooting_url: str = DEFAULT_TROUBLESHOOTING_URL,
        production_environments: Tuple[str, ...] = ("prod", "production"),
    ) -> None:
        self.github_api_url = github_api_url.rstrip("/")
        self.github_repository = github_repository
        self.github_token = github_token
        self.timeout_s = timeout_s
        self.budget_s = budget_s
        self.troubleshooting_url = troubleshooting_url
        self.production_environments = production_environments


class Skip(Exception):
    """Nothing to send for a reason that is not a failure (no PR, no commit)."""


class Delivery(object):
    """One target's delivery of one event: the target, the event, the budget, the transport."""

    def __init__(
        self,
        target: Mapping[str, Any],
        event: Mapping[str, Any],
        settings: Settings,
        transport: Transport,
        budget: Budget,
        wall_clock: Callable[[], float],
    ) -> None:
        self.target = target
        self.event = event
        self.settings = settings
        self.transport = transport
        self.budget = budget
        self.wall_clock = wall_clock
        self.timeout_s = float(target.get("timeout_s") or settings.timeout_s)

    def post_json(self, url: str, payload: Any, headers: Optional[Mapping[str, str]] = None, what: str = "") -> Reply:
        all_headers = {"Content-Type": "application/json"}
        all_headers.update(headers or {})
        return request(
            self.transport, self.budget, "POST", url, all_headers, json_body(payload), self.timeout_s, what or "POST"
        )


def deliver(
    target: Mapping[str, Any],
    event: Mapping[str, Any],
    settings: Settings,
    transport: Transport,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    wall_clock: Callable[[], float] = time.time,
) -> Dict[str, Any]:
    """Send `event` to `target` within its budget; the notification entry, whatever happened."""
    label = target_label(target)
    reason = filter_reason(
        target, event.get("status", ""), event.get("environment") or "", event.get("kind") or "deploy"
    )
    if reason is not None:
        return entry(label, ok=True, skipped=True, error="not sent: %s" % reason)
    budget = Budget(float(target.get("budget_s") or settings.budget_s), clock, sleep)
    delivery = Delivery(target, event, settings, transport, budget, wall_clock)
    try:
        SENDERS[target["type"]](delivery)
    except Skip as exc:
        return entry(label, ok=True, skipped=True, attempts=budget.attempts, error="not sent: %s" % exc)
    except NotifyFailed as exc:
        return entry(label, False, False, budget.attempts, exc.status, str(exc), budget.elapsed())
    except Exception as exc:  # a notification must never break the run: report, do not raise
        message = "unexpected %s while notifying" % type(exc).__name__
        return entry(label, False, False, budget.attempts, budget.last_status, message, budget.elapsed())
    return entry(label, True, False, budget.attempts, budget.last_status, None, budget.elapsed())


def entry(
    label: str,
    ok: bool,
    skipped: bool = False,
    attempts: int = 0,
    status_code: Optional[int] = None,
    error: Optional[str] = None,
    duration_s: float = 0.0,
) -> Dict[str, Any]:
    return {
        "target": label,
        "ok": ok,
        "skipped": skipped,
        "attempts": attempts,
        "status_code": status_code,
        "error": error,
        "duration_s": round(max(duration_s, 0.0), 3),
    }


# Chat and generic webhooks


def send_slack(delivery: Delivery) -> None:
    delivery.post_json(
        delivery.target["url"],
        slack_message(delivery.event, delivery.settings.troubleshooting_url),
        what="Slack webhook",
    )


def send_discord(delivery: Delivery) -> None:
    payload = discord_message(delivery.event, delivery.settings.troubleshooting_url, delivery.target.get("username"))
    delivery.post_json(delivery.target["url"], payload, what="Discord webhook")


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """sha256=<hex HMAC-SHA256 of "<timestamp>.<body>"> (see docs/notifications.md)."""
    return (
        "sha256="
        + hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    )


def send_webhook(delivery: Delivery) -> None:
    body = json_body(delivery.event)
    timestamp = str(int(delivery.wall_clock()))
    headers = {
        "Content-Type": "application/json",
        EVENT_HEADER: "started" if delivery.event.get("status") == "started" else "outcome",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(delivery.target["secret"], timestamp, body),
    }
    request(
        delivery.transport,
        delivery.budget,
        "POST",
        delivery.target["url"],
        headers,
        body,
        delivery.timeout_s,
        "webhook",
    )


# GitHub


class GitHub(object):
    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery
        target, settings, event = delivery.target, delivery.settings, delivery.event
        self.api_url = str(target.get("api_url") or settings.github_api_url).rstrip("/")
        self.repository = (
            target.get("repository") or settings.github_repository or (event.get("trigger") or {}).get("repository")
        )
        if not self.repository:
            raise NotifyFailed("no repository: set GITHUB_REPOSITORY, github_repository or the target's repository")
        token = target.get("token") or settings.github_token
        self.headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": "Bearer %s" % token,
            "X-GitHub-Api-Version": GITHUB_API_VERSION,
        }

    def url(self, path: str, query: Optional[Mapping[str, Any]] = None) -> str:
        url = "%s/repos/%s%s" % (self.api_url, self.repository, path)
        return url + ("?" + urlencode(query) if query else "")

    def call(self, method: str, path: str, payload: Any = None, query: Optional[Mapping[str, Any]] = None) -> Any:
        return self.call_url(method, self.url(path, query), payload, "%s %s" % (method, _shape(path))).json()

    def call_url(self, method: str, url: str, payload: Any, what: str) -> Reply:
        headers = dict(self.headers)
        body = None
        if payload is not None:
            headers["Content-Type"] = "application/json"
            body = json_body(payload)
        delivery = self.delivery
        return request(delivery.transport, delivery.budget, method, url, headers, body, delivery.timeout_s, what)

    def pages(self, path: str, query: Mapping[str, Any]) -> Iterator[Dict[str, Any]]:
        """Every item of a paginated list, following Link rel="next" on the same origin only."""
        url = self.url(path, dict(query, per_page=PER_PAGE))  # type: Optional[str]
        origin = _origin(self.api_url)
        for _page_number in range(MAX_PAGES):
            if url is None:
                return
            if _origin(url) != origin:
                raise NotifyFailed(
                    "GET %s: the next page is on another origin; the token is not sent there" % _shape(path)
                )
            reply = self.call_url("GET", url, None, "GET %s" % _shape(path))
            yield from reply.json() or []
            url = link_next(reply)


def _origin(url: str) -> Tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def _shape(path: str) -> str:
    """The path with numbers replaced: what was asked, without ids (short, stable in messages)."""
    return "/".join("{id}" if part.isdigit() else part for part in path.split("/"))


def send_pr_comment(delivery: Delivery) -> None:
    trigger = delivery.event.get("trigger") or {}
    number = delivery.target.get("pr_number") or trigger.get("pr_number")
    if not number:
        raise Skip("no pull request (the run was not triggered by a pull_request event)")
    github = GitHub(delivery)
    body = pr_comment(delivery.event, delivery.settings.troubleshooting_url)
    wanted = marker(delivery.event)
    for comment in github.pages("/issues/%d/comments" % number, {}):
        if wanted in (comment.get("body") or ""):
            github.call("PATCH", "/issues/comments/%d" % comment["id"], {"body": body})
            return
    github.call("POST", "/issues/%d/comments" % number, {"body": body})


def deployment_environment(event: Mapping[str, Any]) -> str:
    return "%s/%s" % (event.get("environment") or "-", event.get("channel") or "-")


def send_deployment(delivery: Delivery) -> None:
    event = delivery.event
    state = DEPLOYMENT_STATES.get(event.get("status", ""))
    if state is None or event.get("kind") == "verify":
        raise Skip("a %s %s run does not change a deployment" % (event.get("kind"), event.get("status")))
    github = GitHub(delivery)
    environment = deployment_environment(event)
    deployment = _find_deployment(github, event, environment) or _create_deployment(github, event, environment)
    _post_status(github, deployment["id"], state, event)
    if state == "success":
        _deactivate_replaced(github, environment, deployment["id"])


def _release_id(event: Mapping[str, Any]) -> Optional[str]:
    return (event.get("release") or {}).get("id")


def _find_deployment(github: GitHub, event: Mapping[str, Any], environment: str) -> Optional[Dict[str, Any]]:
    """This run's deployment (deploy) or the deployment of the release brought back (rollback)."""
    rollback = event.get("kind") == "rollback"
    for deployment in github.pages("/deployments", {"environment": environment}):
        payload = deployment.get("payload") or {}
        if not isinstance(payload, dict):
            continue
        if rollback and payload.get("release_id") == _release_id(event):
            return deployment
        if not rollback and payload.get("run_id") == event.get("run_id"):
            return deployment
    return None


def _create_deployment(github: GitHub, event: Mapping[str, Any], environment: str) -> Dict[str, Any]:
    sha = commit_of(event)
    if not sha:
        raise Skip("no commit is known for release %s (release.git_sha, trigger.sha)" % (_release_id(event) or "?"))
    production = (
        github.delivery.target.get("production_environments") or github.delivery.settings.production_environments
    )
    body = {
        "ref": sha,
        "task": "deploy",
        "environment": environment,
        "description": _description("cytube.shipit %s %s" % (event.get("kind") or "deploy", _release_id(event) or "")),
        "auto_merge": False,
        "required_contexts": [],
        "payload": {
            "run_id": event.get("run_id"),
            "release_id": _release_id(event),
            "channel": event.get("channel"),
            "host": event.get("host"),
        },
        "transient_environment": False,
        "production_environment": (event.get("environment") or "") in production,
    }
    return github.call("POST", "/deployments", body)


def _post_status(github: GitHub, deployment_id: int, state: str, event: Mapping[str, Any]) -> None:
    body = {"state": state, "auto_inactive": False}  # type: Dict[str, Any]
    description = event.get("reason") or ("deploying %s" % (_release_id(event) or "") if state == "in_progress" else "")
    if description:
        body["description"] = _description(description)
    run_url = (event.get("trigger") or {}).get("run_url")
    if run_url:
        body["log_url"] = run_url
    if event.get("channel_url"):
        body["environment_url"] = event["channel_url"]
    github.call("POST", "/deployments/%d/statuses" % deployment_id, body)


def _deactivate_replaced(github: GitHub, environment: str, current_id: int) -> None:
    """The deployment that was live before (latest status success) becomes inactive."""
    for deployment in github.pages("/deployments", {"environment": environment}):
        if deployment["id"] == current_id:
            continue
        statuses = github.call("GET", "/deployments/%d/statuses" % deployment["id"], query={"per_page": 1})
        if statuses and statuses[0].get("state") == "success":
            body = {"state": "inactive", "description": "replaced", "auto_inactive": False}
            github.call("POST", "/deployments/%d/statuses" % deployment["id"], body)
            return


def _description(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= DESCRIPTION_MAX else text[: DESCRIPTION_MAX - 1] + "…"


SENDERS = {
    "github_pr_comment": send_pr_comment,
    "github_deployment": send_deployment,
    "slack": send_slack,
    "discord": send_discord,
    "webhook": send_webhook,
}  # type: Dict[str, Callable[[Delivery], None]]


__all__: List[str] = ["SENDERS", "Settings", "deliver", "deployment_environment", "entry", "signature"]
