"""Template filters of the benefits pages: money in yuan, voucher states."""

from __future__ import annotations

from django import template

from gonghui.benefits.services import voucher_code_display

register = template.Library()


@register.filter
def fen_yuan(value: object) -> str:
    """12345 -> "123.45". Integer arithmetic only: fen never pass through a float."""
    if value is None or value == "":
        return ""
    try:
        fen = int(str(value))
    except (TypeError, ValueError):
        return ""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}{yuan:,}.{cents:02d}"


@register.filter
def voucher_code(code: str) -> str:
    """A digit code in groups of five, easier to read out and type ("12345 67890 12345")."""
    return voucher_code_display(str(code or ""))
