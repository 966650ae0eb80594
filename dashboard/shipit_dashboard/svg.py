"""Small server-rendered SVG charts (no JavaScript): stacked bars and lines over days."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 760, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 28, 36


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    css_class: str


def _scale_max(series: Sequence[Series], stacked: bool) -> float:
    if stacked:
        totals = [sum(value or 0 for value in column) for column in zip(*(s.values for s in series), strict=True)]
        top = max(totals, default=0)
    else:
        top = max((value for s in series for value in s.values if value is not None), default=0)
    return _nice_ceiling(float(top)) if top > 0 else 1.0


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 4, 5, 8 x 10^n at or above value, so the four grid steps are round numbers."""
    magnitude = 10 ** math.floor(math.log10(value))
    return next(step * magnitude for step in (1, 2, 4, 5, 8, 10) if step * magnitude >= value)


def _frame(title: str, labels: Sequence[str], top: float, unit: str, body: list[str], series: Sequence[Series]) -> str:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text class="chart-title" x="{LEFT}" y="16">{escape(title)}</text>',
    ]
    for step in range(5):
        value = top * step / 4
        y = TOP + plot_h - plot_h * step / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(value)}{unit}</text>')
    every = max(1, len(labels) // 6)
    slot = plot_w / max(1, len(labels))
    for index in range(0, len(labels), every):
        x = LEFT + slot * (index + 0.5)
        parts.append(
            f'<text class="axis" x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
            f"{escape(labels[index][5:])}</text>"
        )
    parts += body
    legend_x = WIDTH - RIGHT
    for item in reversed(series):
        legend_x -= 14 + 7 * len(item.name) + 12
        parts.append(f'<rect class="{item.css_class}" x="{legend_x}" y="6" width="10" height="10"/>')
        parts.append(f'<text class="legend" x="{legend_x + 14}" y="15">{escape(item.name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _fmt(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.2g}" if value < 1 else f"{value:.1f}"


def bar_chart(title: str, labels: Sequence[str], series: Sequence[Series], unit: str = "") -> str:
    """Stacked bars, one per label."""
    top = _scale_max(series, stacked=True)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(labels))
    body = []
    for index, label in enumerate(labels):
        base = 0.0
        for item in series:
            value = item.values[index] or 0
            if value <= 0:
                continue
            height = plot_h * value / top
            y = TOP + plot_h - plot_h * base / top - height
            body.append(
                f'<rect class="bar {item.css_class}" x="{LEFT + slot * index + slot * 0.15:.1f}" y="{y:.1f}" '
                f'width="{slot * 0.7:.1f}" height="{height:.1f}"><title>{escape(label)}: {_fmt(value)}{unit} '
                f"{escape(item.name)}</title></rect>"
            )
            base += value
    return _frame(title, labels, top, unit, body, series)


def line_chart(title: str, labels: Sequence[str], series: Sequence[Series], unit: str = "") -> str:
    """Lines with a point per value; a missing value breaks the line."""
    top = _scale_max(series, stacked=False)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(labels))
    body = []
    for item in series:
        segment: list[str] = []
        segments = [segment]
        for index, value in enumerate(item.values):
            if value is None:
                segment = []
                segments.append(segment)
                continue
            x, y = LEFT + slot * (index + 0.5), TOP + plot_h - plot_h * value / top
            segment.append(f"{x:.1f},{y:.1f}")
            body.append(
                f'<circle class="point {item.css_class}" cx="{x:.1f}" cy="{y:.1f}" r="2.5">'
                f"<title>{escape(labels[index])}: {_fmt(value)}{unit} {escape(item.name)}</title></circle>"
            )
        for points in segments:
            if len(points) > 1:
                body.append(f'<polyline class="line {item.css_class}" points="{" ".join(points)}"/>')
    return _frame(title, labels, top, unit, body, series)
