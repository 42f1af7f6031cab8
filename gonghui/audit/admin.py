"""The audit log in the admin: read-only, scoped by organisation, never edited or deleted."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.filters import DateFieldListFilter
from django.http import HttpRequest

from gonghui.accounts.roles import Capability
from gonghui.audit.models import AuditEvent
from gonghui.core.admin_base import ScopedModelAdmin, ScopedOrgListFilter


@admin.register(AuditEvent)
class AuditEventAdmin(ScopedModelAdmin):
    view_capability = Capability.VIEW_AUDIT
    add_capability = None
    change_capability = None
    delete_capability = None
    actions = None
    list_display = ("at", "actor_label", "action", "object_type", "object_repr", "org", "source")
    # object_type is a plain field: its choices come from the scoped queryset, not the whole log.
    list_filter = (
        "action",
        "object_type",
        ("at", DateFieldListFilter),
        ("org", ScopedOrgListFilter),
    )
    search_fields = ("actor_label", "object_repr", "object_id", "reason")
    list_select_related = ("org",)
    date_hierarchy = "at"
    fields = (
        "at",
        "actor_label",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "org",
        "changes",
        "reason",
        "ip_address",
        "user_agent",
        "source",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
