from __future__ import annotations

from typing import Any

from django.db import models

from gonghui.audit.context import current_origin
from gonghui.audit.models import AuditAction, AuditEvent


def actor_label_of(actor: Any) -> str:
    if actor is None:
        return "system"
    label = getattr(actor, "audit_label", None)
    if label:
        return str(label)
    return str(getattr(actor, "username", None) or actor)


def audit_record(
    *,
    actor: Any,
    action: AuditAction | str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    object_repr: str = "",
    org: Any = None,
    changes: dict[str, Any] | None = None,
    reason: str = "",
) -> AuditEvent:
    """Append one audit line. Call inside the service's transaction so it commits with the change."""
    origin = current_origin()
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        object_repr = object_repr or str(obj)[:200]
    user = (
        actor if getattr(actor, "is_authenticated", False) and hasattr(actor, "username") else None
    )
    return AuditEvent.objects.create(
        actor=user,
        actor_label=actor_label_of(actor)[:150],
        action=str(action),
        object_type=object_type,
        object_id=object_id,
        object_repr=object_repr[:200],
        org=org,
        changes=changes or {},
        reason=reason[:300],
        ip_address=origin.ip_address,
        user_agent=origin.user_agent,
        source=origin.source,
    )


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for the fields that changed, values made JSON-safe."""
    out: dict[str, list[Any]] = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old != new:
            out[key] = [_jsonable(old), _jsonable(new)]
    return out


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, models.Model):
        return str(value.pk)
    return str(value)
