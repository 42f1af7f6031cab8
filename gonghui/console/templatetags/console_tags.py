"""Small presentation helpers for the console: an inline SVG bar chart and compact audit changes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import template

register = template.Library()

LABEL_WIDTH = 210
VALUE_WIDTH = 70
ROW_HEIGHT = 26
BAR_HEIGHT = 18
LABEL_CHARS = 15


def _short(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


@register.inclusion_tag("console/_bar_chart.html")
def bar_chart(
    pairs: Iterable[tuple[Any, Any]], title: str = "", unit: str = "", width: int = 640
) -> dict[str, Any]:
    """A horizontal bar chart drawn on the server: ``{% bar_chart pairs title=... unit="%" %}``.

    ``pairs`` is any iterable of (label, number); bars scale to the largest number. Labels are
    text nodes, so the template's autoescaping covers them.
    """
    rows = [(str(label), int(value or 0)) for label, value in pairs]
    top = max((value for _label, value in rows), default=0)
    area = max(width - LABEL_WIDTH - VALUE_WIDTH, 50)
    bars = []
    for index, (label, value) in enumerate(rows):
        bar = round(area * value / top) if top > 0 and value > 0 else 0
        y = index * ROW_HEIGHT
        bars.append(
            {
                "label": label,
                "short_label": _short(label, LABEL_CHARS),
                "value": value,
                "y": y,
                "text_y": y + BAR_HEIGHT - 4,
                "width": max(bar, 1 if value > 0 else 0),
                "value_x": LABEL_WIDTH + bar + 6,
            }
        )
    return {
        "title": title,
        "unit": unit,
        "bars": bars,
        "width": width,
        "height": max(len(rows) * ROW_HEIGHT, ROW_HEIGHT),
        "label_x": LABEL_WIDTH - 8,
        "bar_x": LABEL_WIDTH,
        "bar_height": BAR_HEIGHT,
    }


@register.filter
def compact_changes(changes: Any, limit: int = 40) -> str:
    """``{"name": ["a", "b"]}`` → ``name: a → b``; long values are cut, so a row stays one line."""
    if not isinstance(changes, dict) or not changes:
        return ""
    parts = []
    for key, value in changes.items():
        if isinstance(value, list | tuple) and len(value) == 2:
            old, new = (_short(str("" if v is None else v), limit) for v in value)
            parts.append(f"{key}: {old} → {new}")
        else:
            parts.append(f"{key}: {_short(str(value), limit)}")
    return "; ".join(parts)


@register.filter
def indent(depth: int, base_depth: int) -> str:
    """Left padding in em for an organisation ``depth`` levels down, relative to the user's org.

    A string, so that number localisation never writes a decimal comma into CSS."""
    return f"{max(int(depth or 0) - int(base_depth or 0), 0) * 1.5:.1f}"


@register.filter
def percent(rate: float) -> str:
    return f"{rate * 100:.1f}"
