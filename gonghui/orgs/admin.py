"""Organisations in the admin: scoped to the subtree, written through org_create / org_update.

No delete: an organisation is dissolved (a service with a reason), never removed.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from gonghui.accounts.roles import Capability
from gonghui.core.admin_base import ScopedModelAdmin, ScopedOrgListFilter, ServiceForm
from gonghui.orgs.models import Org
from gonghui.orgs.services import EDITABLE_FIELDS, org_create, org_update


class OrgForm(ServiceForm):
    class Meta:
        model = Org
        fields = ("parent", *EDITABLE_FIELDS, "uscc_override_reason")

    def run_service(self) -> Org:
        data = {k: v for k, v in self.cleaned_data.items() if k in EDITABLE_FIELDS}
        reason = self.cleaned_data.get("uscc_override_reason") or ""
        if self.instance.pk:
            return org_update(
                actor=self.request.user, org=self.instance, uscc_override_reason=reason, **data
            )
        return org_create(
            actor=self.request.user,
            parent=self.cleaned_data.get("parent"),
            uscc_override_reason=reason,
            **data,
        )


@admin.register(Org)
class OrgAdmin(ScopedModelAdmin):
    form = OrgForm
    org_field = ""
    add_capability = Capability.EDIT_ORGS
    change_capability = Capability.EDIT_ORGS
    delete_capability = None
    list_display = ("name", "kind", "division_code", "status", "parent")
    list_filter = ("kind", "status", ("parent", ScopedOrgListFilter))
    search_fields = ("name", "short_name", "division_code", "uscc")
    list_select_related = ("parent",)
    ordering = ("path",)
    fieldsets = (
        (None, {"fields": ("parent", "kind", "name", "short_name", "status", "dissolved_on")}),
        (
            _("Registration"),
            {
                "fields": (
                    "division_code",
                    "uscc",
                    "uscc_checksum_ok",
                    "uscc_override_reason",
                    "founded_on",
                )
            },
        ),
        (_("Contact"), {"fields": ("address", "chair_name", "contact_name", "contact_phone")}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # Moving an organisation rewrites its subtree: a separate service, not a field edit.
        readonly = ("status", "dissolved_on", "uscc_checksum_ok")
        return (*readonly, "parent") if obj is not None else readonly
