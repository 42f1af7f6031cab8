"""Staff users in the admin. An administrator manages the users whose organisation lies in its
subtree; roles are granted and revoked through the services; passwords through Django's forms."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from unfold.forms import AdminPasswordChangeForm
from unfold.widgets import UnfoldAdminCheckboxSelectMultipleWidget, UnfoldAdminPasswordWidget

from gonghui.accounts.models import ApiToken, User
from gonghui.accounts.roles import Capability, Role
from gonghui.accounts.services import role_grant, role_revoke, staff_create, staff_update
from gonghui.audit.models import AuditAction
from gonghui.audit.services import audit_record
from gonghui.core.admin_base import (
    ReadOnlyInline,
    ScopedModelAdmin,
    ScopedOrgListFilter,
    ServiceForm,
)


def _roles_field() -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label=_("roles"),
        choices=Role.choices,
        required=False,
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
    )


class StaffAddForm(ServiceForm):
    password1 = forms.CharField(
        label=_("Password"), strip=False, widget=UnfoldAdminPasswordWidget(render_value=False)
    )
    password2 = forms.CharField(
        label=_("Password again"), strip=False, widget=UnfoldAdminPasswordWidget(render_value=False)
    )
    roles = _roles_field()

    class Meta:
        model = User
        fields = ("username", "org", "full_name", "phone")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "org" in self.fields:
            self.fields["org"].required = True

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return data

    def run_service(self) -> User:
        data = self.cleaned_data
        return staff_create(
            actor=self.request.user,
            username=data["username"],
            password=data["password1"],
            org=data["org"],
            roles=list(data.get("roles") or []),
            full_name=data.get("full_name") or "",
            phone=data.get("phone") or "",
        )


class StaffChangeForm(ServiceForm):
    roles = _roles_field()

    class Meta:
        model = User
        fields = ("full_name", "phone", "is_active", "require_two_factor")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["roles"].initial = sorted(self.instance.role_codes)

    def run_service(self) -> User:
        actor, user = self.request.user, self.instance
        fields = {k: self.cleaned_data[k] for k in self.changed_data if k in self.Meta.fields}
        if fields:
            user = staff_update(actor=actor, user=user, **fields)
        if "roles" in self.changed_data:
            wanted = set(self.cleaned_data.get("roles") or [])
            held = set(user.role_codes)
            for role in sorted(wanted - held):
                role_grant(actor=actor, user=user, role=role)
            for role in sorted(held - wanted):
                role_revoke(actor=actor, user=user, role=role)
        return user


class ApiTokenInline(ReadOnlyInline):
    model = ApiToken
    fields = ("name", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields


@admin.register(User)
class UserAdmin(ScopedModelAdmin, DjangoUserAdmin):
    form = StaffChangeForm
    add_form = StaffAddForm
    change_password_form = AdminPasswordChangeForm
    view_capability = Capability.MANAGE_STAFF
    add_capability = Capability.MANAGE_STAFF
    change_capability = Capability.MANAGE_STAFF
    delete_capability = None
    list_display = ("username", "full_name", "org", "is_active", "require_two_factor", "last_login")
    list_filter = ("is_active", "require_two_factor", ("org", ScopedOrgListFilter))
    search_fields = ("username", "full_name", "phone")
    list_select_related = ("org",)
    ordering = ("username",)
    filter_horizontal = ()
    inlines = (ApiTokenInline,)
    readonly_fields = ("username", "org", "last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("username", "org", "full_name", "phone")}),
        (_("Access"), {"fields": ("is_active", "require_two_factor", "roles")}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"fields": ("username", "org", "full_name", "phone", "roles")}),
        (_("Password"), {"fields": ("password1", "password2")}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else ()

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.inlines if obj is not None else ()

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        entry = super().log_change(request, obj, message)
        if request.path.rstrip("/").endswith("/password"):
            audit_record(
                actor=request.user,
                action=AuditAction.UPDATE,
                obj=obj,
                org=obj.org,
                changes={"password": ["*", "*"]},
            )
        return entry
