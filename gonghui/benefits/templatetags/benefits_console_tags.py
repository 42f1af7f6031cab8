"""Template filters of the benefits console and public pages."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def yuan(value: object) -> str:
    """Fen as yuan with two decimals (12345 -> "123.45"); integer arithmetic only."""
    if value is None or value == "":
        return ""
    try:
        fen = int(str(value))
    except (TypeError, ValueError):
        return ""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


@register.filter
def rate_percent(rate: float) -> str:
    return f"{float(rate or 0) * 100:.1f}"


@register.filter
def campaign_status(value: str) -> str:
    from gonghui.benefits.models import CampaignStatus

    try:
        return str(CampaignStatus(value).label)
    except ValueError:
        return value
