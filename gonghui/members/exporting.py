"""Member export to xlsx: masked by default; unmasked only with the capability and a reason."""

from __future__ import annotations

from typing import IO, Any

from django.db import transaction
from django.db.models import Prefetch
from django.utils.translation import gettext as _
from openpyxl import Workbook

from gonghui.accounts.roles import Capability
from gonghui.audit.models import AuditAction
from gonghui.audit.services import audit_record
from gonghui.core import crypto
from gonghui.core.errors import ApplicationError, PermissionDenied
from gonghui.members.importing.columns import _CHINESE_LABELS, COLUMNS
from gonghui.members.importing.report import text_cell
from gonghui.members.models import MemberCard
from gonghui.members.selectors import MemberFilters, member_list

CHUNK = 2000
# code -> the Chinese label the import accepts, so an export can be imported again
LABELS = {
    key: {value: text for text, value in reversed(list(table.items()))}
    for key, table in _CHINESE_LABELS.items()
}
STATUS_LABELS = {"active": "在会", "left": "已退会"}


def _reveal_allowed(actor: Any, reason: str) -> str:
    if not getattr(actor, "can", lambda _c: False)(Capability.REVEAL_SENSITIVE):
        raise PermissionDenied(_("You do not have permission to see unmasked numbers."))
    reason = " ".join(reason.split())
    if len(reason) < 2:
        raise ApplicationError(
            _("Say why you need the full numbers (for example: bank card issuance)."),
            code="reason_empty",
            field="reason",
        )
    return reason[:300]


@transaction.atomic
def member_export(
    *, actor: Any, filters: MemberFilters, out: IO[bytes], unmasked_reason: str | None = None
) -> int:
    """Write the members the actor sees (with the list's filters) as xlsx to ``out``.

    Returns the number of members written. Every export is audited; an unmasked one records the
    reason.
    """
    if not getattr(actor, "can", lambda _c: False)(Capability.EXPORT_MEMBERS):
        raise PermissionDenied()
    unmasked = unmasked_reason is not None
    reason = _reveal_allowed(actor, unmasked_reason or "") if unmasked else ""
    qs = member_list(actor=actor, filters=filters).prefetch_related(
        Prefetch("cards", queryset=MemberCard.objects.filter(is_current=True), to_attr="current")
    )
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("会员")
    sheet.append([c.header for c in COLUMNS] + ["所属工会", "状态"])
    count = 0
    for member in qs.iterator(chunk_size=CHUNK):
        card = member.current[0] if member.current else None  # type: ignore[attr-defined]
        if unmasked:
            id_number = crypto.decrypt(member.id_number_enc)
            card_number = crypto.decrypt(card.number_enc) if card else ""
        else:
            id_number = member.id_number_masked
            card_number = card.number_masked if card else ""
        values = [
            member.name,
            id_number,
            member.phone,
            member.employer,
            LABELS["category"].get(member.category, member.category),
            LABELS["new_form_kind"].get(member.new_form_kind, member.new_form_kind),
            LABELS["education"].get(member.education, member.education),
            LABELS["political_status"].get(member.political_status, member.political_status),
            member.joined_on,
            card_number,
            member.org.name,
            STATUS_LABELS.get(member.status, member.status),
        ]
        sheet.append([text_cell(sheet, v) if isinstance(v, str) else v for v in values])
        count += 1
    workbook.save(out)
    audit_record(
        actor=actor,
        action=AuditAction.EXPORT,
        object_type="members.member",
        object_repr=_("Member export"),
        org=filters.org or getattr(actor, "org", None),
        changes={
            "count": count,
            "unmasked": unmasked,
            "filters": {
                "q": filters.query[:50],
                "org": filters.org.pk if filters.org else None,
                "category": filters.category,
                "status": filters.status,
                "year": filters.join_year,
            },
        },
        reason=reason,
    )
    return count
