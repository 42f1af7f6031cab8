"""Template filters of the benefits pages: money in yuan, voucher states."""

from __future__ import annotations

from django import template

from gonghui.benefits.services import fen_yuan, voucher_code_display

register = template.Library()


register.filter("fen_yuan", fen_yuan)


@register.filter
def voucher_code(code: str) -> str:
    """A digit code in groups of five, easier to read out and type ("12345 67890 12345")."""
    return voucher_code_display(str(code or ""))
