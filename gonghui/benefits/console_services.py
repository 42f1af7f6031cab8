"""Writes the staff console needs beyond the engine's services.

``settlement_upload`` (in ``settlement.py``) is written for a merchant clerk. Union staff also
take a store's register and invoice over the counter or by mail and upload them for the store;
this wraps the engine's upload so the same parsing, checks, replacement and reconciliation apply,
and records who on the union side did it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from gonghui.audit.models import AuditAction
from gonghui.audit.services import audit_record
from gonghui.benefits.models import Campaign, Settlement, Store
from gonghui.benefits.services import require_manager
from gonghui.benefits.settlement import settlement_upload
from gonghui.core.errors import PermissionDenied


@dataclass(frozen=True)
class _StaffForStore:
    """Stands in for the store's clerk inside ``settlement_upload``: active, of the store's
    merchant, labelled with the staff member's name. Not a user, so the engine's own audit line
    carries the label only; the line written here carries the user."""

    merchant_id: int
    audit_label: str
    is_active: bool = True


def settlement_upload_for_store(
    *,
    actor: Any,
    campaign: Campaign,
    store: Store,
    register: UploadedFile | ContentFile,
    invoice: UploadedFile | ContentFile,
) -> Settlement:
    require_manager(actor, campaign.org)
    if actor is None or not campaign.stores.filter(pk=store.pk).exists():
        raise PermissionDenied()
    stand_in: Any = _StaffForStore(
        merchant_id=store.merchant_id,
        audit_label=f"staff:{getattr(actor, 'username', '')} for store {store.pk}"[:150],
    )
    with transaction.atomic():
        settlement, _errors = settlement_upload(
            campaign=campaign, store=store, clerk=stand_in, register=register, invoice=invoice
        )
        audit_record(
            actor=actor,
            action=AuditAction.IMPORT,
            obj=settlement,
            org=campaign.org,
            changes={"rows": settlement.rows, "on_behalf_of_store": store.pk},
        )
    return settlement
