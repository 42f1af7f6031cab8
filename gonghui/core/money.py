"""Money is integer fen everywhere; this turns it into yuan text for pages and files."""

from __future__ import annotations


def fen_yuan(value: object, *, grouped: bool = True) -> str:
    """123456 -> "1,234.56" (``grouped``) or "1234.56"; "" for no number. Integer arithmetic
    only: fen never pass through a float."""
    if value is None or value == "":
        return ""
    try:
        fen = int(str(value))
    except (TypeError, ValueError):
        return ""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}{yuan:,}.{cents:02d}" if grouped else f"{sign}{yuan}.{cents:02d}"
