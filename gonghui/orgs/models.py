from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class OrgKind(models.TextChoices):
    PROVINCE_FEDERATION = "province_federation", _("Provincial federation")
    CITY_FEDERATION = "city_federation", _("City federation")
    COUNTY_FEDERATION = "county_federation", _("County federation")
    INDUSTRIAL_UNION = "industrial_union", _("Industrial union")
    PARK_FEDERATION = "park_federation", _("Industrial-park union federation")
    TOWNSHIP_UNION = "township_union", _("Township union")
    SECTOR_FEDERATION = "sector_federation", _("Sector union federation")
    BASE_UNION = "base_union", _("Base union")
    JOINT_BASE_UNION = "joint_base_union", _("Joint base union")


# Kinds whose members belong directly to them (they hold memberships and print join QR codes).
MEMBER_HOLDING_KINDS = {OrgKind.BASE_UNION, OrgKind.JOINT_BASE_UNION}
# Kinds counted for the coverage figure: a township (or park) is covered if a union is under it.
COVERAGE_KINDS = {OrgKind.TOWNSHIP_UNION, OrgKind.PARK_FEDERATION}

# Which kinds may sit under which parent kind.
ALLOWED_CHILDREN: dict[str, set[str]] = {
    OrgKind.PROVINCE_FEDERATION: {OrgKind.CITY_FEDERATION, OrgKind.INDUSTRIAL_UNION},
    OrgKind.CITY_FEDERATION: {
        OrgKind.COUNTY_FEDERATION,
        OrgKind.INDUSTRIAL_UNION,
        OrgKind.PARK_FEDERATION,
        OrgKind.SECTOR_FEDERATION,
        OrgKind.BASE_UNION,
        OrgKind.JOINT_BASE_UNION,
    },
    OrgKind.COUNTY_FEDERATION: {
        OrgKind.TOWNSHIP_UNION,
        OrgKind.PARK_FEDERATION,
        OrgKind.SECTOR_FEDERATION,
        OrgKind.INDUSTRIAL_UNION,
        OrgKind.BASE_UNION,
        OrgKind.JOINT_BASE_UNION,
    },
    OrgKind.INDUSTRIAL_UNION: {OrgKind.BASE_UNION, OrgKind.JOINT_BASE_UNION},
    OrgKind.PARK_FEDERATION: {OrgKind.BASE_UNION, OrgKind.JOINT_BASE_UNION},
    OrgKind.TOWNSHIP_UNION: {
        OrgKind.BASE_UNION,
        OrgKind.JOINT_BASE_UNION,
        OrgKind.SECTOR_FEDERATION,
    },
    OrgKind.SECTOR_FEDERATION: {OrgKind.BASE_UNION, OrgKind.JOINT_BASE_UNION},
    OrgKind.BASE_UNION: set(),
    OrgKind.JOINT_BASE_UNION: set(),
}


class OrgStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    DISSOLVED = "dissolved", _("Dissolved")


class Org(models.Model):
    """One union organisation in the tree. ``path`` is the materialised path of ids: ``/1/5/23/``."""

    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("parent organisation"),
    )
    path = models.CharField(_("tree path"), max_length=255, db_index=False, editable=False)
    depth = models.PositiveSmallIntegerField(_("depth"), default=0, editable=False)
    kind = models.CharField(_("kind"), max_length=32, choices=OrgKind.choices)
    name = models.CharField(_("name"), max_length=100)
    short_name = models.CharField(_("short name"), max_length=40, blank=True)
    division_code = models.CharField(_("administrative division code"), max_length=12, blank=True)
    uscc = models.CharField(_("unified social credit code"), max_length=18, blank=True)
    uscc_checksum_ok = models.BooleanField(_("credit code checksum valid"), default=True)
    uscc_override_reason = models.CharField(
        _("reason for accepting a failed checksum"), max_length=200, blank=True
    )
    address = models.CharField(_("address"), max_length=200, blank=True)
    founded_on = models.DateField(_("founded on"), null=True, blank=True)
    chair_name = models.CharField(_("chair"), max_length=50, blank=True)
    contact_name = models.CharField(_("contact person"), max_length=50, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=20, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=OrgStatus.choices, default=OrgStatus.ACTIVE
    )
    dissolved_on = models.DateField(_("dissolved on"), null=True, blank=True)
    join_token = models.CharField(_("join QR token"), max_length=32, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["path"]
        indexes = [
            models.Index(fields=["path"], name="org_path_idx", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["kind", "status"], name="org_kind_status_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="org_unique_name_in_parent"),
            models.UniqueConstraint(
                fields=["join_token"], condition=~Q(join_token=""), name="org_unique_join_token"
            ),
            models.CheckConstraint(
                condition=Q(parent__isnull=True) | Q(depth__gt=0), name="org_depth_matches_parent"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in OrgKind]), name="org_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in OrgStatus]), name="org_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        return self.short_name or self.name

    @property
    def holds_members(self) -> bool:
        return self.kind in MEMBER_HOLDING_KINDS

    def is_within(self, other: Org) -> bool:
        return self.path.startswith(other.path)
