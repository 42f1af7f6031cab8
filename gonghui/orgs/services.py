"""Every write to organisations. Keyword-only, one transaction, audited."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Length, Substr
from django.utils import timezone
from django.utils.translation import gettext as _

from gonghui.accounts.roles import Capability
from gonghui.accounts.scoping import require_capability
from gonghui.audit.models import AuditAction
from gonghui.audit.services import audit_record, diff
from gonghui.core.errors import ApplicationError, PermissionDenied
from gonghui.core.idnumbers import validate_division_code, validate_uscc
from gonghui.orgs.models import ALLOWED_CHILDREN, Org, OrgKind, OrgStatus

EDITABLE_FIELDS = (
    "name",
    "short_name",
    "kind",
    "division_code",
    "uscc",
    "address",
    "founded_on",
    "chair_name",
    "contact_name",
    "contact_phone",
)


def _clean(fields: dict[str, Any], *, uscc_override_reason: str = "") -> dict[str, Any]:
    out = dict(fields)
    name = str(out.get("name", "")).strip()
    if not name:
        raise ApplicationError(_("Enter the organisation's name."), code="name_empty", field="name")
    if len(name) > 100:
        raise ApplicationError(
            _("The name may have at most 100 characters."), code="name_long", field="name"
        )
    out["name"] = name
    if "short_name" in out:
        out["short_name"] = str(out["short_name"] or "").strip()[:40]
    if out.get("kind") not in OrgKind.values:
        raise ApplicationError(
            _("Choose a kind of organisation."), code="kind_invalid", field="kind"
        )
    if out.get("division_code"):
        out["division_code"] = validate_division_code(out["division_code"])
    out["uscc_checksum_ok"] = True
    out["uscc_override_reason"] = ""
    if out.get("uscc"):
        result = validate_uscc(out["uscc"])
        out["uscc"] = result.code
        if not result.code.startswith("8"):
            # Union codes are registered by the union's own registry (management code 8).
            raise ApplicationError(
                _("A trade union's unified social credit code starts with 8."),
                code="uscc_not_union",
                field="uscc",
            )
        if not result.checksum_ok:
            reason = uscc_override_reason.strip()
            if not reason:
                raise ApplicationError(
                    _(
                        "The unified social credit code fails its checksum. Check it against the "
                        "certificate; if it is printed so, give a reason to accept it anyway."
                    ),
                    code="uscc_checksum",
                    field="uscc",
                )
            out["uscc_checksum_ok"] = False
            out["uscc_override_reason"] = reason[:200]
    founded = out.get("founded_on")
    if founded and founded > timezone.localdate():
        raise ApplicationError(
            _("The founding date cannot be in the future."),
            code="founded_future",
            field="founded_on",
        )
    return out


def _check_kind_under(parent: Org | None, kind: str) -> None:
    if parent is None:
        return
    if kind not in ALLOWED_CHILDREN.get(parent.kind, set()):
        raise ApplicationError(
            _("A %(child)s cannot be placed under a %(parent)s.")
            % {"child": OrgKind(kind).label, "parent": OrgKind(parent.kind).label},
            code="kind_not_allowed",
            field="parent",
        )
    if parent.status != OrgStatus.ACTIVE:
        raise ApplicationError(
            _("The parent organisation is dissolved."), code="parent_dissolved", field="parent"
        )


def _snapshot(org: Org) -> dict[str, Any]:
    return {f: getattr(org, f) for f in (*EDITABLE_FIELDS, "parent_id", "status", "path")}


@transaction.atomic
def org_create(
    *,
    actor: Any,
    parent: Org | None,
    uscc_override_reason: str = "",
    **fields: Any,
) -> Org:
    require_capability(actor, Capability.EDIT_ORGS, parent)
    if parent is None and actor is not None and not getattr(actor, "is_superuser", False):
        raise PermissionDenied()
    data = _clean(fields, uscc_override_reason=uscc_override_reason)
    _check_kind_under(parent, data["kind"])
    if Org.objects.filter(parent=parent, name=data["name"]).exists():
        raise ApplicationError(
            _("An organisation with this name already exists under the same parent."),
            code="name_taken",
            field="name",
        )
    org = Org(parent=parent, depth=(parent.depth + 1) if parent else 0, path="", **data)
    if org.kind in (OrgKind.BASE_UNION, OrgKind.JOINT_BASE_UNION):
        org.join_token = secrets.token_urlsafe(12)
    org.save()
    org.path = f"{parent.path if parent else '/'}{org.pk}/"
    Org.objects.filter(pk=org.pk).update(path=org.path)
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=org,
        org=org,
        changes=diff({}, _snapshot(org)),
    )
    return org


@transaction.atomic
def org_update(*, actor: Any, org: Org, uscc_override_reason: str = "", **fields: Any) -> Org:
    org = Org.objects.select_for_update().get(pk=org.pk)
    require_capability(actor, Capability.EDIT_ORGS, org)
    before = _snapshot(org)
    merged = {f: getattr(org, f) for f in EDITABLE_FIELDS}
    merged.update({k: v for k, v in fields.items() if k in EDITABLE_FIELDS})
    if (
        not fields.get("uscc_override_reason")
        and not uscc_override_reason
        and not org.uscc_checksum_ok
    ):
        uscc_override_reason = org.uscc_override_reason if merged["uscc"] == org.uscc else ""
    data = _clean(merged, uscc_override_reason=uscc_override_reason)
    if data["kind"] != org.kind:
        _check_kind_under(org.parent, data["kind"])
    if (
        data["name"] != org.name
        and Org.objects.filter(parent_id=org.parent_id, name=data["name"])
        .exclude(pk=org.pk)
        .exists()
    ):
        raise ApplicationError(
            _("An organisation with this name already exists under the same parent."),
            code="name_taken",
            field="name",
        )
    for key, value in data.items():
        setattr(org, key, value)
    org.save()
    changes = diff(before, _snapshot(org))
    if changes:
        audit_record(actor=actor, action=AuditAction.UPDATE, obj=org, org=org, changes=changes)
    return org


@transaction.atomic
def org_move(*, actor: Any, org: Org, new_parent: Org, reason: str = "") -> Org:
    """Move ``org`` and its whole subtree under ``new_parent``, rewriting every path in one UPDATE."""
    org = Org.objects.select_for_update().get(pk=org.pk)
    new_parent = Org.objects.select_for_update().get(pk=new_parent.pk)
    require_capability(actor, Capability.EDIT_ORGS, org)
    require_capability(actor, Capability.EDIT_ORGS, new_parent)
    if new_parent.path.startswith(org.path):
        raise ApplicationError(
            _("An organisation cannot be moved under itself or its own sub-organisations."),
            code="move_cycle",
            field="parent",
        )
    _check_kind_under(new_parent, org.kind)
    if Org.objects.filter(parent=new_parent, name=org.name).exists():
        raise ApplicationError(
            _("An organisation with this name already exists under the same parent."),
            code="name_taken",
            field="parent",
        )
    old_path, old_parent_id = org.path, org.parent_id
    new_path = f"{new_parent.path}{org.pk}/"
    depth_delta = new_parent.depth + 1 - org.depth
    Org.objects.filter(path__startswith=old_path).update(
        path=Concat(Value(new_path), Substr(F("path"), len(old_path) + 1, Length(F("path")))),
        depth=F("depth") + depth_delta,
    )
    Org.objects.filter(pk=org.pk).update(parent=new_parent)
    org.refresh_from_db()
    audit_record(
        actor=actor,
        action=AuditAction.MOVE,
        obj=org,
        org=org,
        changes={
            "parent_id": [str(old_parent_id), str(new_parent.pk)],
            "path": [old_path, new_path],
        },
        reason=reason,
    )
    return org


@transaction.atomic
def org_dissolve(*, actor: Any, org: Org, on: dt.date, reason: str) -> Org:
    org = Org.objects.select_for_update().get(pk=org.pk)
    require_capability(actor, Capability.EDIT_ORGS, org)
    if not reason.strip():
        raise ApplicationError(
            _("Give a reason for dissolving."), code="reason_empty", field="reason"
        )
    if org.status == OrgStatus.DISSOLVED:
        raise ApplicationError(
            _("This organisation is already dissolved."), code="already_dissolved"
        )
    if Org.objects.filter(parent=org, status=OrgStatus.ACTIVE).exists():
        raise ApplicationError(
            _("Dissolve or move its active sub-organisations first."), code="has_children"
        )
    from gonghui.members.models import Member, MemberStatus

    if Member.objects.filter(org=org, status=MemberStatus.ACTIVE).exists():
        raise ApplicationError(
            _("Transfer its active members to another union first."), code="has_members"
        )
    Org.objects.filter(pk=org.pk).update(status=OrgStatus.DISSOLVED, dissolved_on=on)
    org.refresh_from_db()
    audit_record(
        actor=actor,
        action=AuditAction.TRANSITION,
        obj=org,
        org=org,
        changes={"status": [OrgStatus.ACTIVE, OrgStatus.DISSOLVED]},
        reason=reason,
    )
    return org


@transaction.atomic
def org_rotate_join_token(*, actor: Any, org: Org) -> Org:
    """Invalidate printed QR codes (e.g. a poster was photographed and misused)."""
    require_capability(actor, Capability.EDIT_ORGS, org)
    if not org.holds_members:
        raise ApplicationError(_("Only base unions have a join QR code."), code="no_join_code")
    org.join_token = secrets.token_urlsafe(12)
    Org.objects.filter(pk=org.pk).update(join_token=org.join_token)
    audit_record(
        actor=actor, action=AuditAction.UPDATE, obj=org, org=org, changes={"join_token": ["*", "*"]}
    )
    return org
