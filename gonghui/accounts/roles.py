"""Staff roles and what each may do. Modules add their own roles to ROLE_CAPABILITIES."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    OFFICER = "officer", _("Officer")
    VIEWER = "viewer", _("Viewer")


class Capability(models.TextChoices):
    VIEW = "view", _("View records")
    EDIT_ORGS = "edit_orgs", _("Edit organisations")
    EDIT_MEMBERS = "edit_members", _("Edit members")
    IMPORT_MEMBERS = "import_members", _("Import members")
    EXPORT_MEMBERS = "export_members", _("Export members")
    APPROVE_JOINS = "approve_joins", _("Approve join applications")
    REVEAL_SENSITIVE = "reveal_sensitive", _("Reveal identity and card numbers")
    MANAGE_STAFF = "manage_staff", _("Manage staff accounts and roles")
    VIEW_AUDIT = "view_audit", _("View the audit log")


ROLE_CAPABILITIES: dict[str, set[str]] = {
    Role.ADMIN: {c.value for c in Capability},
    Role.OFFICER: {
        Capability.VIEW,
        Capability.EDIT_ORGS,
        Capability.EDIT_MEMBERS,
        Capability.IMPORT_MEMBERS,
        Capability.EXPORT_MEMBERS,
        Capability.APPROVE_JOINS,
    },
    Role.VIEWER: {Capability.VIEW},
}
