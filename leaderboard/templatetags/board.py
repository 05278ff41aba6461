"""Number formats used on every page: percentages with one decimal, scores with three."""

from __future__ import annotations

import math

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

import scoring

register = template.Library()


def _missing(value) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


@register.filter
def pct(value) -> str:
    """0.3102 → "31.0%"."""
    if _missing(value):
        return "–"
    return f"{float(value) * 100:.1f}%"


@register.filter
def score(value) -> str:
    """-0.10316 → "−0.103" (a true minus sign, so columns of scores line up)."""
    if _missing(value):
        return "–"
    return f"{float(value):.3f}".replace("-", "−")


@register.filter
def number(value) -> str:
    """A penalty or target without float noise: 8.999999999999998 → "9", 0.75 → "0.75"."""
    if _missing(value):
        return "–"
    return f"{round(float(value), 4):g}"


@register.filter
def shift(value):
    """A rank shift against binary: ▲ moved up, ▼ moved down."""
    if _missing(value):
        return ""
    value = int(value)
    if value > 0:
        return format_html('<span class="up" title="up {} against binary">▲{}</span>', value, value)
    if value < 0:
        return format_html(
            '<span class="down" title="down {} against binary">▼{}</span>', -value, -value
        )
    return mark_safe('<span class="same" title="same rank as binary">=</span>')


@register.filter
def cell(row, key):
    """The rubric cell of a board row: {{ row|cell:rubric.key }}."""
    return row.cells.get(key)


@register.filter
def get(mapping, key):
    return mapping.get(key) if mapping else None


@register.filter
def json_figure(figure_json: str | None, element_id: str):
    """A figure's JSON in a script tag, escaped as json_script escapes (no "</script>")."""
    if not figure_json:
        return ""
    escaped = figure_json.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    return format_html(
        '<script id="{}" type="application/json">{}</script>', element_id, mark_safe(escaped)
    )


@register.filter
def category_score(row: dict, target: float) -> float:
    """A category's score at target t, from its counts (the formula of scoring.metrics)."""
    return scoring.score_at_target(row["correct"], row["incorrect"], row["n_items"], target)


@register.filter
def interval(bounds, form: str = "score"):
    """A 95% interval [low, high] as "0.210 to 0.250" (form "score") or "20.1% to 24.5%"."""
    if not bounds or any(_missing(bound) for bound in bounds):
        return ""
    shown = pct if form == "pct" else score
    return f"{shown(bounds[0])} to {shown(bounds[1])}"


@register.filter
def short_interval(bounds, form: str = "score"):
    """A 95% interval in a narrow column: "0.210–0.250" or "20.1–24.5%"."""
    if not bounds or any(_missing(bound) for bound in bounds):
        return ""
    if form == "pct":
        return f"{float(bounds[0]) * 100:.1f}–{pct(bounds[1])}"
    return f"{score(bounds[0])}\u2009–\u2009{score(bounds[1])}"
