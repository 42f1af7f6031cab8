"""Every read of the audit log, scoped to the acting user's subtree."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from gonghui.accounts.roles import Capability
from gonghui.accounts.scoping import scoped
from gonghui.audit.models import AuditEvent
from gonghui.core.errors import PermissionDenied


@dataclass(frozen=True)
class AuditFilters:
    actor: str = ""
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    text: str = ""


def audit_list(*, actor: Any, filters: AuditFilters | None = None) -> QuerySet[AuditEvent]:
    """Audit events of the actor's subtree, newest first. Needs ``Capability.VIEW_AUDIT``."""
    if not getattr(actor, "can", lambda _c: False)(Capability.VIEW_AUDIT):
        raise PermissionDenied()
    f = filters or AuditFilters()
    qs = scoped(AuditEvent.objects.all(), actor=actor, org_field="org")
    if f.actor:
        qs = qs.filter(actor_label__icontains=f.actor)
    if f.action:
        qs = qs.filter(action=f.action)
    if f.object_type:
        qs = qs.filter(object_type=f.object_type)
    if f.object_id:
        qs = qs.filter(object_id=f.object_id)
    if f.date_from:
        qs = qs.filter(at__date__gte=f.date_from)
    if f.date_to:
        qs = qs.filter(at__date__lte=f.date_to)
    if f.text:
        qs = qs.filter(Q(object_repr__icontains=f.text) | Q(reason__icontains=f.text))
    return qs.order_by("-at", "-id")
