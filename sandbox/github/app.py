"""The GitHub REST API stand-in: routes, Bearer auth, Link pagination, fault switches, admin API.

Every request is validated against GitHub's OpenAPI description before it is served (a
request GitHub would reject gets GitHub's 422 and is recorded), and every response is
validated before it is sent (a response that does not match is recorded as a stand-in bug).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from sandbox.fault_switch import Fault

from .store import DEFAULT_LOGIN, Store
from .validation import UPLOADS_PREFIX, SeenRequest, SentResponse, Validator

LOG = logging.getLogger("github-standin")
DOCS = "https://docs.github.com/rest"
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
FAULT_MODES = ("none", "error_500", "slow", "secondary_rate_limit")
# Where a release asset's bytes are served; GitHub redirects to a signed, token-free URL on another host.
DOWNLOADS_PREFIX = "/_downloads/"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class State:
    validator: Validator
    tokens: dict[str, str]  # token -> login
    store: Store = field(default_factory=Store)
    fault: Fault = field(default_factory=Fault)
    requests: list[dict[str, Any]] = field(default_factory=list)
    request_errors: list[dict[str, Any]] = field(default_factory=list)
    response_errors: list[dict[str, Any]] = field(default_factory=list)
    faults_served: list[dict[str, Any]] = field(default_factory=list)


STATE: web.AppKey[State] = web.AppKey("state", State)


def error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"message": message, "documentation_url": DOCS, "status": str(status)}
    return web.json_response(body, status=status, headers=headers)


def base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def login_of(request: web.Request) -> str:
    return request.get("login", DEFAULT_LOGIN)


def _seen(request: web.Request, body: bytes | None) -> SeenRequest:
    content_type = (request.headers.get("Content-Type") or "").lower()
    if request.path.startswith(UPLOADS_PREFIX + "/"):
        # The description lists only application/octet-stream, but GitHub takes the asset's own
        # media type (application/zip, ...) and keeps it as the asset's content_type.
        content_type = "application/octet-stream"
    return SeenRequest(
        method=request.method,
        path=request.path,
        query=list(request.query.items()),
        headers=dict(request.headers),
        body=body,
        content_type=content_type,
    )


@web.middleware
async def github_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    body = await request.read() if request.can_read_body else None
    record = {"method": request.method, "path": request.path, "query": dict(request.query)}
    state.requests.append(record)
    if request.path.startswith(DOWNLOADS_PREFIX):
        download = await handler(request)
        record["status"] = download.status
        return download
    refused = _authenticate(request, state)
    if refused is None:
        refused = await _apply_fault(request, state)
    if refused is None and request.match_info.route.handler is not_served:
        refused = error(404, "Not Found (the stand-in does not serve this endpoint)")
    if refused is not None:
        record["status"] = refused.status
        return refused
    seen = _seen(request, body)
    problems = state.validator.request_errors(seen)
    if problems:
        state.request_errors.append({**record, "errors": problems})
        LOG.warning("request %s %s does not match GitHub's description: %s", request.method, request.path, problems)
        response: web.StreamResponse = error(422, "Invalid request.\n\n" + "\n".join(problems))
    else:
        request["json"] = json.loads(body) if body and seen.content_type.startswith("application/json") else None
        request["raw"] = body or b""
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            response = error(exc.status, exc.reason)
    record["status"] = response.status
    _check_response(state, record, seen, response)
    return response


def _authenticate(request: web.Request, state: State) -> web.Response | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if not token:
        return error(401, "Requires authentication")
    if scheme.lower() not in ("bearer", "token") or token.strip() not in state.tokens:
        return error(401, "Bad credentials")
    request["login"] = state.tokens[token.strip()]
    return None


async def _apply_fault(request: web.Request, state: State) -> web.Response | None:
    mode = state.fault.take(request.path)
    if mode == "none":
        return None
    state.faults_served.append({"mode": mode, "method": request.method, "path": request.path})
    if mode == "slow":
        await asyncio.sleep(state.fault.delay_s)
        return None
    if mode == "error_500":
        return error(500, "Server Error")
    return error(
        403,
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        headers={"Retry-After": str(state.fault.retry_after), "X-RateLimit-Remaining": "4999"},
    )


def _check_response(state: State, record: dict[str, Any], seen: SeenRequest, response: web.StreamResponse) -> None:
    if not isinstance(response, web.Response):
        return
    sent = SentResponse(
        status_code=response.status,
        data=response.body if isinstance(response.body, bytes) else None,
        content_type=(response.content_type or "").lower(),
        headers=dict(response.headers),
    )
    problems = state.validator.response_errors(seen, sent)
    if problems:
        state.response_errors.append({**record, "errors": problems})
        LOG.error("response to %s %s does not match GitHub's description: %s", seen.method, seen.path, problems)


def paginated(request: web.Request, items: list[dict[str, Any]]) -> web.Response:
    """One page of `items` with GitHub's Link header (first/prev/next/last)."""
    per_page = min(int(request.query.get("per_page", DEFAULT_PER_PAGE)), MAX_PER_PAGE)
    page = max(int(request.query.get("page", 1)), 1)
    last = max((len(items) + per_page - 1) // per_page, 1)
    chunk = items[(page - 1) * per_page : page * per_page]
    links = []

    def link(number: int, rel: str) -> str:
        query = {**request.query, "per_page": str(per_page), "page": str(number)}
        return f'<{base_url(request)}{request.path}?{urlencode(query)}>; rel="{rel}"'

    if page > 1:
        links += [link(page - 1, "prev"), link(1, "first")]
    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    headers = {"Link": ", ".join(links)} if links else {}
    return web.json_response(chunk, headers=headers)


def _repo(request: web.Request) -> str:
    return f"{request.match_info['owner']}/{request.match_info['repo']}"


def _int(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise web.HTTPNotFound(reason="Not Found") from None


async def list_comments(request: web.Request) -> web.Response:
    store = request.app[STATE].store
    return paginated(request, store.issue_comments(_repo(request), _int(request, "issue_number")))


async def create_comment(request: web.Request) -> web.Response:
    store = request.app[STATE].store
    comment = store.add_comment(
        base_url(request), _repo(request), _int(request, "issue_number"), request["json"]["body"], login_of(request)
    )
    return web.json_response(comment, status=201)


def _comment(request: web.Request) -> dict[str, Any]:
    found = request.app[STATE].store.comments.get(_int(request, "comment_id"))
    if found is None or found["repo"] != _repo(request):
        raise web.HTTPNotFound(reason="Not Found")
    return found


async def get_comment(request: web.Request) -> web.Response:
    return web.json_response(_comment(request)["object"])


async def update_comment(request: web.Request) -> web.Response:
    found = _comment(request)
    found["object"]["body"] = request["json"]["body"]
    found["object"]["updated_at"] = _later(found["object"]["updated_at"])
    found["edits"] += 1
    return web.json_response(found["object"])


def _later(stamp: str) -> str:
    from .store import now_iso

    return max(now_iso(), stamp)


async def list_deployments(request: web.Request) -> web.Response:
    store = request.app[STATE].store
    wanted = {k: request.query[k] for k in ("sha", "ref", "task", "environment") if k in request.query}
    found = [
        d["object"]
        for d in reversed(store.deployments.values())
        if d["repo"] == _repo(request) and all(d["object"].get(k) == v for k, v in wanted.items())
    ]
    return paginated(request, found)


async def create_deployment(request: web.Request) -> web.Response:
    store = request.app[STATE].store
    deployment = store.add_deployment(base_url(request), _repo(request), request["json"], login_of(request))
    return web.json_response(deployment, status=201)


def _deployment(request: web.Request) -> dict[str, Any]:
    found = request.app[STATE].store.deployments.get(_int(request, "deployment_id"))
    if found is None or found["repo"] != _repo(request):
        raise web.HTTPNotFound(reason="Not Found")
    return found["object"]


async def get_deployment(request: web.Request) -> web.Response:
    return web.json_response(_deployment(request))


async def list_deployment_statuses(request: web.Request) -> web.Response:
    deployment = _deployment(request)
    return paginated(request, request.app[STATE].store.deployment_statuses[deployment["id"]])


async def create_deployment_status(request: web.Request) -> web.Response:
    deployment = _deployment(request)
    store = request.app[STATE].store
    status = store.add_deployment_status(
        base_url(request), _repo(request), deployment["id"], request["json"], login_of(request)
    )
    return web.json_response(status, status=201)


async def create_commit_status(request: web.Request) -> web.Response:
    store = request.app[STATE].store
    status = store.add_commit_status(
        base_url(request), _repo(request), request.match_info["sha"], request["json"], login_of(request)
    )
    return web.json_response(status, status=201)


async def list_commit_statuses(request: web.Request) -> web.Response:
    store = request.app[STATE].store
    ref = request.match_info["ref"]
    found = [s["object"] for s in store.commit_statuses if s["repo"] == _repo(request) and s["sha"] == ref]
    return paginated(request, found)


async def list_releases(request: web.Request) -> web.Response:
    store = request.app[STATE].store
    found = [r["object"] for r in reversed(store.releases.values()) if r["repo"] == _repo(request)]
    return paginated(request, found)


async def create_release(request: web.Request) -> web.Response:
    store = request.app[STATE].store
    repo = _repo(request)
    tag = request["json"]["tag_name"]
    if any(r["repo"] == repo and r["object"]["tag_name"] == tag for r in store.releases.values()):
        body = {
            "message": "Validation Failed",
            "errors": [{"resource": "Release", "code": "already_exists", "field": "tag_name"}],
            "documentation_url": DOCS,
        }
        return web.json_response(body, status=422)
    uploads = base_url(request) + "/uploads"
    release = store.add_release(base_url(request), uploads, repo, request["json"], login_of(request))
    return web.json_response(release, status=201)


def _release(request: web.Request) -> dict[str, Any]:
    found = request.app[STATE].store.releases.get(_int(request, "release_id"))
    if found is None or found["repo"] != _repo(request):
        raise web.HTTPNotFound(reason="Not Found")
    return found["object"]


async def get_release(request: web.Request) -> web.Response:
    return web.json_response(_release(request))


async def get_release_by_tag(request: web.Request) -> web.Response:
    store = request.app[STATE].store
    for found in store.releases.values():
        if found["repo"] == _repo(request) and found["object"]["tag_name"] == request.match_info["tag"]:
            return web.json_response(found["object"])
    return error(404, "Not Found")


async def list_assets(request: web.Request) -> web.Response:
    release = _release(request)
    return paginated(request, request.app[STATE].store.assets[release["id"]])


async def upload_asset(request: web.Request) -> web.Response:
    release = _release(request)
    store = request.app[STATE].store
    name = request.query["name"]
    if any(a["name"] == name for a in store.assets[release["id"]]):
        body = {
            "message": "Validation Failed",
            "errors": [{"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}],
            "documentation_url": DOCS,
        }
        return web.json_response(body, status=422)
    asset = store.add_asset(
        base_url(request),
        release["id"],
        name,
        request.query.get("label"),
        request.headers.get("Content-Type", "application/octet-stream"),
        request["raw"],
        login_of(request),
    )
    return web.json_response(asset, status=201)


async def get_asset(request: web.Request) -> web.Response:
    """The asset as JSON, or with `Accept: application/octet-stream` a 302 to its bytes, as GitHub does."""
    found = request.app[STATE].store.asset(_int(request, "asset_id"))
    if found is None or found[0] != _repo(request):
        raise web.HTTPNotFound(reason="Not Found")
    asset = found[1]
    if "application/octet-stream" in request.headers.get("Accept", ""):
        location = f"{base_url(request)}{DOWNLOADS_PREFIX}{asset['id']}/{asset['name']}"
        return web.Response(status=302, headers={"Location": location})
    return web.json_response(asset)


async def download_asset(request: web.Request) -> web.Response:
    store = request.app[STATE].store
    data = store.asset_data.get(_int(request, "asset_id"))
    if data is None:
        raise web.HTTPNotFound(reason="Not Found")
    return web.Response(body=data, content_type="application/octet-stream")


async def not_served(request: web.Request) -> web.Response:
    return error(404, "Not Found (the stand-in does not serve this endpoint)")


def build_api_app(state: State) -> web.Application:
    app = web.Application(middlewares=[github_middleware], client_max_size=64 * 1024 * 1024)
    app[STATE] = state
    repo = "/repos/{owner}/{repo}"
    routes = [
        ("GET", f"{repo}/issues/{{issue_number}}/comments", list_comments),
        ("POST", f"{repo}/issues/{{issue_number}}/comments", create_comment),
        ("GET", f"{repo}/issues/comments/{{comment_id}}", get_comment),
        ("PATCH", f"{repo}/issues/comments/{{comment_id}}", update_comment),
        ("GET", f"{repo}/deployments", list_deployments),
        ("POST", f"{repo}/deployments", create_deployment),
        ("GET", f"{repo}/deployments/{{deployment_id}}", get_deployment),
        ("GET", f"{repo}/deployments/{{deployment_id}}/statuses", list_deployment_statuses),
        ("POST", f"{repo}/deployments/{{deployment_id}}/statuses", create_deployment_status),
        ("POST", f"{repo}/statuses/{{sha}}", create_commit_status),
        ("GET", f"{repo}/commits/{{ref}}/statuses", list_commit_statuses),
        ("GET", f"{repo}/releases", list_releases),
        ("POST", f"{repo}/releases", create_release),
        ("GET", f"{repo}/releases/tags/{{tag}}", get_release_by_tag),
        ("GET", f"{repo}/releases/{{release_id}}", get_release),
        ("GET", f"{repo}/releases/{{release_id}}/assets", list_assets),
        ("GET", f"{repo}/releases/assets/{{asset_id}}", get_asset),
        ("GET", f"{DOWNLOADS_PREFIX}{{asset_id}}/{{name}}", download_asset),
        ("POST", f"/uploads{repo}/releases/{{release_id}}/assets", upload_asset),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
    app.router.add_route("*", "/{tail:.*}", not_served)
    return app


def build_admin_app(state: State, ports: dict[str, int]) -> web.Application:
    async def get_state(request: web.Request) -> web.Response:
        return web.json_response(
            {
                **state.store.summary(),
                "requests": state.requests,
                "request_errors": state.request_errors,
                "response_errors": state.response_errors,
                "faults_served": state.faults_served,
                "fault": state.fault.__dict__,
                "ports": ports,
            }
        )

    async def set_fault(request: web.Request) -> web.Response:
        body = await request.json()
        mode = body.get("mode", "none")
        if mode not in FAULT_MODES:
            return web.json_response({"error": f"mode {mode!r} is not one of {', '.join(FAULT_MODES)}"}, status=400)
        state.fault = Fault(
            mode=mode,
            remaining=body.get("count"),
            delay_s=float(body.get("delay_s", 3.0)),
            retry_after=int(body.get("retry_after", 1)),
            match=str(body.get("match", "")),
        )
        return web.json_response({"fault": state.fault.__dict__})

    async def reset(request: web.Request) -> web.Response:
        state.store = Store()
        state.fault = Fault()
        state.requests.clear()
        state.request_errors.clear()
        state.response_errors.clear()
        state.faults_served.clear()
        return web.json_response({"reset": True})

    async def seed_comments(request: web.Request) -> web.Response:
        """Add `count` comments to an issue without going through the API (pagination tests)."""
        body = await request.json()
        for number in range(int(body["count"])):
            state.store.add_comment(
                body.get("base_url", "https://api.github.com"),
                body["repo"],
                int(body["issue_number"]),
                body.get("body", "comment {n}").format(n=number),
                body.get("login", "someone"),
            )
        return web.json_response({"comments": len(state.store.comments)})

    app = web.Application()
    app.router.add_get("/admin/state", get_state)
    app.router.add_post("/admin/fault", set_fault)
    app.router.add_post("/admin/reset", reset)
    app.router.add_post("/admin/seed-comments", seed_comments)
    return app
