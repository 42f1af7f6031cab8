"""Template filters of the ledger pages: an entry's amount as a debit or a credit, in yuan."""

from __future__ import annotations

from django import template

from gonghui.core.money import fen_yuan

register = template.Library()


@register.filter
def debit(fen: int) -> str:
    """A debit-positive amount in the debit column: positive amounts only."""
    return fen_yuan(fen) if fen > 0 else ""


@register.filter
def credit(fen: int) -> str:
    """…and in the credit column, negative amounts shown without their sign."""
    return fen_yuan(-fen) if fen < 0 else ""


@register.filter
def yuan_grouped(fen: int) -> str:
    return fen_yuan(fen)
