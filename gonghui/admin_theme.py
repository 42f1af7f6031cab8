"""Django Unfold settings for the staff admin (a modern theme, zh-hans, assets served locally).

Unfold ships its fonts (Inter, Material Symbols) as static files and loads them from STATIC_URL;
nothing here may point at an external host (union intranets are often offline).
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _


def _can(capability: str) -> Any:
    def check(request: Any) -> bool:
        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        return bool(user.is_superuser or user.can(capability))

    return check


def can_view(request: Any) -> bool:
    return bool(_can("view")(request))


def can_manage_staff(request: Any) -> bool:
    return bool(_can("manage_staff")(request))


def can_view_audit(request: Any) -> bool:
    return bool(_can("view_audit")(request))


def can_edit_card_bins(request: Any) -> bool:
    from django.contrib import admin

    from gonghui.members.admin import CardBinAdmin
    from gonghui.members.models import CardBin

    model_admin = admin.site._registry.get(CardBin)
    return bool(
        isinstance(model_admin, CardBinAdmin) and model_admin.has_module_permission(request)
    )


UNFOLD = {
    "SITE_TITLE": _("gonghui union platform"),
    "SITE_HEADER": _("gonghui"),
    "SITE_SUBHEADER": _("Registries"),
    "SITE_SYMBOL": "groups",
    "SHOW_HISTORY": True,
    "SHOW_VIEW_ON_SITE": False,
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": False,
        "navigation": [
            {
                "title": _("Workspace"),
                "items": [
                    {
                        "title": _("Console"),
                        "icon": "dashboard",
                        "link": reverse_lazy("console:home"),
                    },
                    {
                        "title": _("Member import"),
                        "icon": "upload_file",
                        "link": reverse_lazy("members:import"),
                        "permission": "gonghui.admin_theme.can_view",
                    },
                ],
            },
            {
                "title": _("Organisations and members"),
                "items": [
                    {
                        "title": _("Organisations"),
                        "icon": "account_tree",
                        "link": reverse_lazy("admin:orgs_org_changelist"),
                        "permission": "gonghui.admin_theme.can_view",
                    },
                    {
                        "title": _("Members"),
                        "icon": "badge",
                        "link": reverse_lazy("admin:members_member_changelist"),
                        "permission": "gonghui.admin_theme.can_view",
                    },
                    {
                        "title": _("Join applications"),
                        "icon": "how_to_reg",
                        "link": reverse_lazy("admin:members_joinapplication_changelist"),
                        "permission": "gonghui.admin_theme.can_view",
                    },
                    {
                        "title": _("Member imports"),
                        "icon": "history",
                        "link": reverse_lazy("admin:members_importjob_changelist"),
                        "permission": "gonghui.admin_theme.can_view",
                    },
                    {
                        "title": _("Card BINs"),
                        "icon": "credit_card",
                        "link": reverse_lazy("admin:members_cardbin_changelist"),
                        "permission": "gonghui.admin_theme.can_edit_card_bins",
                    },
                ],
            },
            {
                "title": _("Administration"),
                "items": [
                    {
                        "title": _("Staff users"),
                        "icon": "manage_accounts",
                        "link": reverse_lazy("admin:accounts_user_changelist"),
                        "permission": "gonghui.admin_theme.can_manage_staff",
                    },
                    {
                        "title": _("Audit log"),
                        "icon": "policy",
                        "link": reverse_lazy("admin:audit_auditevent_changelist"),
                        "permission": "gonghui.admin_theme.can_view_audit",
                    },
                ],
            },
        ],
    },
}
