from __future__ import annotations

from functools import cached_property

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from gonghui.accounts.roles import ROLE_CAPABILITIES, Role


class User(AbstractUser):
    """A staff user. Belongs to one organisation; sees that organisation's subtree only."""

    org = models.ForeignKey(
        "orgs.Org",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="staff",
        verbose_name=_("organisation"),
    )
    full_name = models.CharField(_("full name"), max_length=50, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    require_two_factor = models.BooleanField(
        _("two-factor sign-in required"),
        default=False,
        help_text=_("When on, this user must confirm each sign-in with an authenticator app code."),
    )

    class Meta:
        verbose_name = _("staff user")
        verbose_name_plural = _("staff users")

    def __str__(self) -> str:
        return self.full_name or self.username

    @property
    def audit_label(self) -> str:
        return self.username

    @cached_property
    def role_codes(self) -> frozenset[str]:
        return frozenset(self.role_grants.values_list("role", flat=True))

    def capabilities(self) -> set[str]:
        caps: set[str] = set()
        for role in self.role_codes:
            caps |= ROLE_CAPABILITIES.get(role, set())
        return caps

    def can(self, capability: str) -> bool:
        if not self.is_active:
            return False
        if self.is_superuser:
            return True
        return self.org_id is not None and capability in self.capabilities()


class RoleGrant(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="role_grants")
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    granted_at = models.DateTimeField(_("granted at"), auto_now_add=True)
    granted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("role grant")
        verbose_name_plural = _("role grants")
        constraints = [
            models.UniqueConstraint(fields=["user", "role"], name="rolegrant_unique_user_role")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()}"


class SignInCode(models.Model):
    """A one-time code sent to a member's phone. Only its hash is stored."""

    phone = models.CharField(_("phone"), max_length=20, db_index=True)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        verbose_name = _("sign-in code")
        verbose_name_plural = _("sign-in codes")
        constraints = [
            models.CheckConstraint(condition=Q(attempts__lte=20), name="signincode_attempts_cap")
        ]

    def __str__(self) -> str:
        return f"{self.phone[:3]}****{self.phone[-4:]} {self.created_at:%Y-%m-%d %H:%M}"


API_TOKEN_NAME_MAX = 60


class ApiToken(models.Model):
    """A token for programs. The secret is shown once; only its SHA-256 is kept.

    A revoked token stays as a row (when it was made, last used and revoked is history an
    administrator asks about); it is never made active again.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=API_TOKEN_NAME_MAX)
    prefix = models.CharField(max_length=8, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        constraints = [
            # The name is how a user tells their tokens apart on the page and picks the one to
            # revoke; two active "OA sync" tokens could not be told apart. Case is ignored
            # ("OA" and "oa" read as the same program); a revoked token frees its name, so a
            # token is replaced by a new one of the same name.
            models.UniqueConstraint(
                F("user"),
                Lower("name"),
                condition=Q(revoked_at__isnull=True),
                name="apitoken_unique_active_name",
            ),
            models.CheckConstraint(condition=~Q(name=""), name="apitoken_name_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


ROLE_DEFAULT = Role.VIEWER
