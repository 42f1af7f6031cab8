from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.utils.html import escape
from django.utils.translation import gettext

from gonghui.audit.models import AuditEvent
from gonghui.orgs.models import Org


def text(response: HttpResponse) -> str:
    return response.content.decode()


def shows(response: HttpResponse, message: str, **params: Any) -> bool:
    """The (translated, escaped) user message appears on the page."""
    msg = gettext(message)
    if params:
        msg = msg % params
    return escape(msg) in text(response)


def org_state() -> list[dict[str, Any]]:
    return list(Org.objects.order_by("pk").values())


def snapshot() -> tuple[list[dict[str, Any]], int]:
    """Everything a console write could touch: every org row and the length of the audit log."""
    return org_state(), AuditEvent.objects.count()
