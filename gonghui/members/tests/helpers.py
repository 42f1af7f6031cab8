"""Small helpers shared by the member test modules."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils import translation
from django.utils.html import escape


def t(message: str) -> str:
    """The message as a user of the default locale sees it (translated once .po files exist)."""
    with translation.override("zh-hans"):
        return translation.gettext(message)


def shows(response: HttpResponse, message: str) -> bool:
    """True if the page shows ``message`` (translated, HTML-escaped as templates do)."""
    content = response.content.decode()
    text = t(message)
    return escape(text) in content or text in content


def luhn_complete(prefix: str, length: int = 19) -> str:
    """``prefix`` padded with zeros and a check digit that passes the Luhn test."""
    body = prefix.ljust(length - 1, "0")
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return body + str((10 - total % 10) % 10)


def luhn_broken(prefix: str, length: int = 19) -> str:
    good = luhn_complete(prefix, length)
    return good[:-1] + str((int(good[-1]) + 1) % 10)
