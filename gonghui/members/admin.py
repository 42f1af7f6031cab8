"""Members and their registries in the admin. Masked numbers only; plain fields through
member_update; no delete (a member leaves, through a service)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from gonghui.accounts.roles import Capability, Role
from gonghui.core.admin_base import (
    ReadOnlyInline,
    ScopedModelAdmin,
    ScopedOrgListFilter,
    ServiceForm,
    staff_can,
)
from gonghui.members.models import (
    CardBin,
    ImportJob,
    JoinApplication,
    Member,
    MemberCard,
    Membership,
)
from gonghui.members.services import card_bin_delete, card_bin_save, member_update

MEMBER_EDITABLE = (
    "name",
    "phone",
    "employer",
    "category",
    "new_form_kind",
    "education",
    "political_status",
)


class MemberForm(ServiceForm):
    class Meta:
        model = Member
        fields = MEMBER_EDITABLE

    def run_service(self) -> Member:
        changed = {k: self.cleaned_data[k] for k in self.changed_data if k in MEMBER_EDITABLE}
        if not changed:
            return self.instance
        return member_update(actor=self.request.user, member=self.instance, **changed)


class MembershipInline(ReadOnlyInline):
    model = Membership
    fields = (
        "org",
        "started_on",
        "start_kind",
        "start_reason",
        "ended_on",
        "end_kind",
        "end_reason",
    )
    readonly_fields = fields
    verbose_name_plural = _("membership history")


class MemberCardInline(ReadOnlyInline):
    model = MemberCard
    fields = ("number_masked", "bank_name", "is_member_card", "luhn_ok", "is_current", "added_at")
    readonly_fields = fields


@admin.register(Member)
class MemberAdmin(ScopedModelAdmin):
    form = MemberForm
    change_capability = Capability.EDIT_MEMBERS
    list_display = (
        "name",
        "id_number_masked",
        "gender",
        "phone",
        "org",
        "category",
        "status",
        "joined_on",
    )
    list_filter = ("status", "category", "new_form_kind", ("org", ScopedOrgListFilter))
    search_fields = ("name", "phone", "^name_initials")
    list_select_related = ("org",)
    inlines = (MembershipInline, MemberCardInline)
    readonly_fields = ("id_number_masked", "gender", "birth_date", "org", "status", "joined_on")
    fieldsets = (
        (None, {"fields": ("name", "id_number_masked", "gender", "birth_date", "phone")}),
        (_("Union"), {"fields": ("org", "status", "joined_on")}),
        (
            _("Work"),
            {"fields": ("employer", "category", "new_form_kind", "education", "political_status")},
        ),
    )


class CardBinForm(ServiceForm):
    class Meta:
        model = CardBin
        fields = ("prefix", "bank_name", "card_length", "is_member_card")

    def run_service(self) -> CardBin:
        return card_bin_save(
            actor=self.request.user,
            card_bin=self.instance if self.instance.pk else None,
            **self.cleaned_data,
        )


@admin.register(CardBin)
class CardBinAdmin(ScopedModelAdmin):
    """The global BIN table: only administrators of a top-level federation (or superusers)."""

    form = CardBinForm
    org_field = None
    list_display = ("prefix", "bank_name", "card_length", "is_member_card")
    search_fields = ("prefix", "bank_name")
    list_filter = ("is_member_card",)

    def _may(self, request: HttpRequest) -> bool:
        user: Any = request.user
        if not staff_can(request, Capability.VIEW):
            return False
        if user.is_superuser:
            return True
        return Role.ADMIN in user.role_codes and user.org is not None and user.org.parent_id is None

    def get_queryset(self, request: HttpRequest) -> Any:
        qs = CardBin.objects.all()
        return qs if self._may(request) else qs.none()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._may(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._may(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request)

    def delete_model(self, request: HttpRequest, obj: CardBin) -> None:
        card_bin_delete(actor=request.user, card_bin=obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for card_bin in queryset:
            card_bin_delete(actor=request.user, card_bin=card_bin)


@admin.register(JoinApplication)
class JoinApplicationAdmin(ScopedModelAdmin):
    """Read-only: deciding is a workflow in the console (and the API)."""

    list_display = ("name", "id_number_masked", "phone", "org", "category", "status", "created_at")
    list_filter = ("status", "category", ("org", ScopedOrgListFilter))
    search_fields = ("name", "phone")
    list_select_related = ("org",)
    fields = (
        "org",
        "name",
        "id_number_masked",
        "phone",
        "employer",
        "category",
        "new_form_kind",
        "status",
        "decided_by",
        "decided_at",
        "decision_reason",
        "member",
        "created_at",
    )
    readonly_fields = fields


@admin.register(ImportJob)
class ImportJobAdmin(ScopedModelAdmin):
    """Read-only. The uploaded file holds plaintext identity numbers: no link to it here."""

    list_display = (
        "original_name",
        "org",
        "status",
        "rows_total",
        "rows_created",
        "rows_failed",
        "created_at",
    )
    list_filter = ("status", ("org", ScopedOrgListFilter))
    search_fields = ("original_name",)
    list_select_related = ("org",)
    fields = (
        "original_name",
        "org",
        "created_by",
        "status",
        "skip_bad_rows",
        "rows_total",
        "rows_created",
        "rows_updated",
        "rows_rejoined",
        "rows_failed",
        "message",
        "created_at",
        "finished_at",
    )
    readonly_fields = fields
