"""The FastAPI application: ingest, JSON API, HTML pages, metrics and badges."""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
from base64 import b64decode
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import __version__, pages
from .metrics import DashboardMetrics
from .migrations import LATEST_VERSION
from .outcome import MAX_BATCH, schema, validate_batch
from .params import HistoryQuery, Settings, history_query
from .stats import DAY_MS, channel_cards, dora, summary
from .store import FilterError, Store

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024 * 1024
_AUTH_CHALLENGE = {"WWW-Authenticate": 'Bearer, Basic realm="shipit-dashboard"'}


def _presented_token(request: Request) -> str | None:
    """The bearer token, or the password of HTTP basic auth (so a browser can log in)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return b64decode(value.strip()).decode("utf-8").partition(":")[2]
        except ValueError:
            return None
    return None


def _matches(presented: str | None, token: str | None) -> bool:
    return bool(presented and token) and hmac.compare_digest(presented.encode(), token.encode())


def create_app(store: Store, settings: Settings) -> FastAPI:
    metrics = DashboardMetrics(store, settings.dora_window_days)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        if settings.retention_days is not None:
            threading.Thread(target=_retention_loop, args=(store, settings.retention_days, stop), daemon=True).start()
        yield
        stop.set()

    app = FastAPI(
        title="cytube.shipit dashboard",
        version=__version__,
        description="Deployment record of cytube.shipit: run outcomes, channel status, DORA figures.",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )

    def require_read(request: Request) -> None:
        if settings.read_token is None:
            return
        presented = _presented_token(request)
        if not (_matches(presented, settings.read_token) or _matches(presented, settings.ingest_token)):
            raise HTTPException(401, "a read token is required: Authorization: Bearer <token>", _AUTH_CHALLENGE)

    def require_ingest(request: Request) -> None:
        if not _matches(_presented_token(request), settings.ingest_token):
            raise HTTPException(401, "the ingest token is required: Authorization: Bearer <token>", _AUTH_CHALLENGE)

    @app.exception_handler(FilterError)
    async def filter_error(request: Request, exc: FilterError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": [{"loc": ["query", exc.parameter], "msg": str(exc)}]}, status_code=422)
        return pages.html_page("error.html", 422, message=str(exc))

    public = APIRouter()
    reader = APIRouter(dependencies=[Depends(require_read)])
    writer = APIRouter(dependencies=[Depends(require_ingest)])

    @public.get("/healthz", tags=["service"])
    def healthz() -> JSONResponse:
        try:
            version = store.schema_version()
        except Exception as exc:  # any driver error means the same thing here: not serving
            log.warning("healthz: database unavailable: %s", type(exc).__name__)
            return JSONResponse({"status": "database unavailable", "schema_version": None}, 503)
        ready = version == LATEST_VERSION
        body = {"status": "ok" if ready else "migrating", "schema_version": version}
        return JSONResponse(body, 200 if ready else 503)

    @public.get("/badge/{channel}.svg", tags=["pages"], response_class=Response)
    def badge(
        channel: Annotated[str, Path(max_length=64)], environment: Annotated[str | None, Query()] = None
    ) -> Response:
        cards = [card for card in _cards() if card.channel == channel]
        if environment:
            cards = [card for card in cards if card.environment == environment]
        cards.sort(key=lambda card: card.age_s if card.age_s is not None else float("inf"))
        svg = pages.badge_svg(channel, cards[0] if cards else None)
        return Response(svg, 200 if cards else 404, media_type="image/svg+xml", headers={"Cache-Control": "no-cache"})

    @writer.post(
        "/api/events",
        tags=["api"],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Events"}}},
            }
        },
    )
    async def post_events(request: Request) -> JSONResponse:
        """Store one outcome or `{"outcomes": [...]}` (at most 500); idempotent on `id`."""
        outcomes = _parse_events(await request.body())
        errors = validate_batch(outcomes)
        if errors:
            metrics.ingested.labels("invalid").inc(len(outcomes))
            return JSONResponse({"detail": [error.as_dict() for error in errors]}, status_code=422)
        results = await run_in_threadpool(store.ingest, outcomes)
        for _, result in results:
            metrics.ingested.labels(result).inc()
        return JSONResponse({"results": [{"id": outcome_id, "status": result} for outcome_id, result in results]})

    def _cards() -> list[Any]:
        return channel_cards(store.channel_states(), int(time.time() * 1000), settings.stale_after_s)

    @reader.get("/api/status", tags=["api"])
    def api_status() -> JSONResponse:
        """One entry per channel and environment: live release, last outcome and verdict, health, staleness."""
        generated_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        channels = [card.as_dict() for card in _cards()]
        # JSONResponse directly: the content is plain JSON already, FastAPI's encoder would only add time
        stale_after_s = settings.stale_after_s
        return JSONResponse({"generated_at": generated_at, "stale_after_s": stale_after_s, "channels": channels})

    @reader.get("/api/deployments", tags=["api"])
    def api_deployments(
        query: Annotated[HistoryQuery, Depends(history_query)],
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> JSONResponse:
        """Outcomes newest first (by finished_at, then id), keyset-paged."""
        page = store.deployments(query.deployment_filter(), cursor or None, limit)
        return JSONResponse({"items": [summary(o) for o in page.outcomes], "next_cursor": page.next_cursor})

    @reader.get("/api/deployments/{outcome_id}", tags=["api"])
    def api_deployment(outcome_id: str) -> JSONResponse:
        """The whole outcome as it was received."""
        outcome = store.get(outcome_id)
        if outcome is None:
            raise HTTPException(404, f"no outcome with id {outcome_id!r}")
        return JSONResponse(outcome)

    @reader.get("/api/dora", tags=["api"])
    def api_dora(days: Annotated[int, Query(ge=1, le=365)] = settings.dora_window_days) -> dict[str, Any]:
        """DORA figures per environment (channel null) and per channel over the last `days` days."""
        since_ms = int(time.time() * 1000) - days * DAY_MS
        figures = dora(store.window(since_ms), store.first_seen_ms, days)
        return {"window_days": days, "figures": [figure.as_dict() for figure in figures]}

    @reader.get("/metrics", tags=["service"], response_class=Response)
    def metrics_endpoint() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @reader.get("/openapi.json", tags=["service"], include_in_schema=False)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    pages.add_routes(reader, store, settings, _cards)

    app.include_router(public)
    app.include_router(reader)
    app.include_router(writer)
    _document_events_body(app)
    return app


def _parse_events(body: bytes) -> list[Any]:
    if len(body) > MAX_BODY_BYTES:
        raise HTTPException(413, f"the body is larger than {MAX_BODY_BYTES} bytes: send batches of at most {MAX_BATCH}")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HTTPException(422, [{"index": None, "field": "(body)", "message": f"not JSON: {exc}"}]) from None
    if isinstance(payload, dict) and set(payload) == {"outcomes"}:
        outcomes = payload["outcomes"]
        if not isinstance(outcomes, list) or not outcomes:
            raise HTTPException(422, [{"index": None, "field": "outcomes", "message": "must be a non-empty list"}])
        if len(outcomes) > MAX_BATCH:
            raise HTTPException(
                422,
                [{"index": None, "field": "outcomes", "message": f"{len(outcomes)} outcomes; at most {MAX_BATCH}"}],
            )
        return outcomes
    return [payload]


def _document_events_body(app: FastAPI) -> None:
    """Publish the outcome schema in the OpenAPI description of POST /api/events."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = original()
        outcome = {key: value for key, value in schema().items() if key not in ("$schema", "$id")}
        outcome_ref = {"$ref": "#/components/schemas/Outcome"}
        defs = outcome.pop("$defs")
        text = json.dumps(outcome).replace("#/$defs/", "#/components/schemas/")
        components = document.setdefault("components", {}).setdefault("schemas", {})
        components.update(json.loads(json.dumps(defs).replace("#/$defs/", "#/components/schemas/")))
        components["Outcome"] = json.loads(text)
        components["Events"] = {
            "oneOf": [
                outcome_ref,
                {
                    "type": "object",
                    "required": ["outcomes"],
                    "properties": {"outcomes": {"type": "array", "items": outcome_ref, "maxItems": MAX_BATCH}},
                },
            ]
        }
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _retention_loop(store: Store, retention_days: float, stop: threading.Event) -> None:
    while True:
        try:
            removed = store.purge(int((time.time() - retention_days * 86_400) * 1000))
            if removed:
                log.info("retention: removed %d outcomes older than %s days", removed, retention_days)
        except Exception:
            log.exception("retention: purge failed; will retry in an hour")
        if stop.wait(3600):
            return
