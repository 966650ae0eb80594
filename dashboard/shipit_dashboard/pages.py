"""Server-rendered HTML pages (Jinja2, autoescaped) and the SVG badge."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from functools import cache
from html import escape
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from . import __version__, svg
from .outcome import KINDS, STATUSES
from .params import HistoryQuery, Settings, history_query
from .stats import DAY_MS, ChannelCard, daily_series, dora, summary

if TYPE_CHECKING:
    from .store import Store

_HEX_SHA = re.compile(r"^[0-9a-f]{7,40}$")
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def safe_url(url: Any) -> str | None:
    """Only http(s) links are rendered: a javascript: URL in an outcome must not become a link."""
    return url if isinstance(url, str) and re.match(r"^https?://[^\s\"'<>]+$", url) else None


def links(outcome: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, href) of the commit, PR, CI run and channel an outcome names."""
    trigger = outcome.get("trigger") or {}
    repository = trigger.get("repository") or ""
    found: list[tuple[str, str]] = []
    sha = trigger.get("sha") or (outcome.get("release") or {}).get("git_sha")
    if sha and _HEX_SHA.match(sha) and _REPOSITORY.match(repository):
        found.append((f"commit {sha[:10]}", f"https://github.com/{repository}/commit/{sha}"))
    if trigger.get("pr_number") and _REPOSITORY.match(repository):
        found.append((f"PR #{trigger['pr_number']}", f"https://github.com/{repository}/pull/{trigger['pr_number']}"))
    if run_url := safe_url(trigger.get("run_url")):
        found.append(("CI run", run_url))
    if channel_url := safe_url(outcome.get("channel_url")):
        found.append(("channel", channel_url))
    return found


def age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= 3_600:
        return f"{seconds / 3_600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def run_href(outcome_id: str) -> str:
    return "/runs/" + quote(outcome_id, safe="")


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("shipit_dashboard", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals.update(
        links=links, age=age, duration=duration, run_href=run_href, version=__version__, kinds=KINDS, statuses=STATUSES
    )
    environment.filters["short_time"] = lambda text: str(text)[:19].replace("T", " ")
    environment.filters["pretty_json"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)
    return environment


# No page needs JavaScript, so none may run: a defence in depth behind the HTML escaping.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def render(template: str, **context: Any) -> str:
    return _environment().get_template(template).render(**context)


def html_page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(render(template, **context), status_code, headers=SECURITY_HEADERS)


def badge_svg(channel: str, card: ChannelCard | None) -> str:
    if card is None:
        value, color = "no data", "#9f9f9f"
    else:
        version = card.live.version or card.live.release_id if card.live else None
        value = f"{version or 'unknown'} {card.health}"
        color = {"healthy": "#2e7d32", "degraded": "#e69b00", "down": "#c62828"}.get(card.health, "#9f9f9f")
    label = f"shipit {channel}"
    left, right = 8 + 7 * len(label), 8 + 7 * len(value)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + right}" height="20" role="img" '
        f'aria-label="{escape(label)}: {escape(value)}"><title>{escape(label)}: {escape(value)}</title>'
        f'<rect width="{left}" height="20" fill="#555"/><rect x="{left}" width="{right}" height="20" fill="{color}"/>'
        '<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="5" y="14">{escape(label)}</text><text x="{left + 5}" y="14">{escape(value)}</text></g></svg>'
    )


def add_routes(router: APIRouter, store: Store, settings: Settings, cards: Callable[[], list[ChannelCard]]) -> None:

    @router.get("/", response_class=HTMLResponse, tags=["pages"])
    def overview() -> HTMLResponse:
        all_cards = cards()
        return html_page("overview.html", cards=all_cards, stale_after=settings.stale_after_s, page="overview")

    @router.get("/history", response_class=HTMLResponse, tags=["pages"])
    def history(
        query: Annotated[HistoryQuery, Depends(history_query)],
        cursor: Annotated[str | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> HTMLResponse:
        page = store.deployments(query.deployment_filter(), cursor or None, limit)
        params = query.params()
        next_href = None
        if page.next_cursor:
            next_href = "/history?" + urlencode({**params, "cursor": page.next_cursor, "limit": limit})
        return html_page(
            "history.html",
            rows=[summary(outcome) for outcome in page.outcomes],
            filters=params,
            next_href=next_href,
            first_href="/history?" + urlencode(params) if cursor else None,
            page="history",
        )

    @router.get("/runs/{outcome_id}", response_class=HTMLResponse, tags=["pages"])
    def run_detail(outcome_id: str) -> HTMLResponse:
        outcome = store.get(outcome_id)
        if outcome is None:
            raise HTTPException(404, f"no outcome with id {outcome_id!r}")
        return html_page("run.html", o=outcome, page="history")

    @router.get("/charts", response_class=HTMLResponse, tags=["pages"])
    def charts(
        channel: Annotated[str | None, Query(max_length=64)] = None,
        environment: Annotated[str | None, Query(max_length=64)] = None,
        days: Annotated[int, Query(ge=1, le=365)] = 30,
    ) -> HTMLResponse:
        now_ms = int(time.time() * 1000)
        channel, environment = channel or None, environment or None
        rows = store.window(now_ms - days * DAY_MS, channel, environment)
        series = daily_series(rows, now_ms, days)
        scope = " · ".join(filter(None, [channel or "all channels", environment]))
        figures = [
            svg.bar_chart(
                f"Deploys per day ({scope})",
                series.days,
                [
                    svg.Series("succeeded", series.deploys_ok, "ok"),
                    svg.Series("not succeeded", series.deploys_failed, "bad"),
                ],
            ),
            svg.line_chart(
                f"Deploy duration p50/p95 ({scope})",
                series.days,
                [svg.Series("p50", series.duration_p50, "p50"), svg.Series("p95", series.duration_p95, "p95")],
                " s",
            ),
            svg.line_chart(
                f"Change failure rate ({scope})",
                series.days,
                [svg.Series("failed changes", [_percent(v) for v in series.failure_rate], "bad")],
                "%",
            ),
            svg.line_chart(
                f"Verify latency p50/p95 ({scope})",
                series.days,
                [svg.Series("p50", series.verify_p50, "p50"), svg.Series("p95", series.verify_p95, "p95")],
                " ms",
            ),
        ]
        channels = sorted({(card.channel) for card in cards()})
        return html_page(
            "charts.html",
            figures=figures,
            channels=channels,
            channel=channel,
            environment=environment,
            days=days,
            page="charts",
        )

    @router.get("/dora", response_class=HTMLResponse, tags=["pages"])
    def dora_page(days: Annotated[int, Query(ge=1, le=365)] = settings.dora_window_days) -> HTMLResponse:
        since_ms = int(time.time() * 1000) - days * DAY_MS
        figures = dora(store.window(since_ms), store.first_seen_ms, days)
        return html_page("dora.html", figures=figures, days=days, page="dora")


def _percent(value: float | None) -> float | None:
    return None if value is None else value * 100
