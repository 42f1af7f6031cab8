"""Template filters of the benefits console and public pages."""

from __future__ import annotations

from django import template

from gonghui.benefits.services import fen_yuan

register = template.Library()


@register.filter
def yuan(value: object) -> str:
    """Fen as yuan with two decimals, not grouped (123456 -> "1234.56"), as in tables."""
    return fen_yuan(value, grouped=False)


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
