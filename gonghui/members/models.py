from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class WorkerCategory(models.TextChoices):
    EMPLOYEE = "employee", _("Employee")
    MIGRANT_WORKER = "migrant_worker", _("Migrant worker")
    FLEXIBLE_WORKER = "flexible_worker", _("Flexible worker")
    NEW_FORM_WORKER = "new_form_worker", _("New-form worker")


class NewFormKind(models.TextChoices):
    TRUCK_DRIVER = "truck_driver", _("Truck driver")
    RIDE_HAILING_DRIVER = "ride_hailing_driver", _("Ride-hailing driver")
    COURIER = "courier", _("Courier")
    FOOD_DELIVERY_RIDER = "food_delivery_rider", _("Food-delivery rider")


class Education(models.TextChoices):
    PRIMARY = "primary", _("Primary school or below")
    JUNIOR = "junior", _("Junior secondary")
    SENIOR = "senior", _("Senior secondary / vocational")
    COLLEGE = "college", _("Junior college")
    BACHELOR = "bachelor", _("Bachelor")
    POSTGRADUATE = "postgraduate", _("Postgraduate")


class PoliticalStatus(models.TextChoices):
    CPC_MEMBER = "cpc_member", _("CPC member")
    CPC_PROBATIONARY = "cpc_probationary", _("CPC probationary member")
    CYL_MEMBER = "cyl_member", _("Communist Youth League member")
    DEMOCRATIC_PARTY = "democratic_party", _("Democratic party member")
    MASSES = "masses", _("Masses")


class Gender(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")


class MemberStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    LEFT = "left", _("Left")


class Member(models.Model):
    """A person who is (or was) a union member. Sensitive numbers are stored encrypted."""

    name = models.CharField(pgettext_lazy("person", "name"), max_length=50)
    name_initials = models.CharField(_("pinyin initials"), max_length=50, db_index=True)
    id_number_enc = models.TextField(_("identity number (encrypted)"), editable=False)
    id_number_hash = models.CharField(max_length=64, editable=False)
    id_number_masked = models.CharField(_("identity number"), max_length=18, editable=False)
    id_tail = models.CharField(max_length=4, editable=False, db_index=True)
    id_kind = models.CharField(max_length=10, default="resident", editable=False)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, editable=False)
    birth_date = models.DateField(_("birth date"), editable=False)
    phone = models.CharField(_("phone"), max_length=11, blank=True)
    employer = models.CharField(_("employer"), max_length=100, blank=True)
    category = models.CharField(
        _("worker category"),
        max_length=20,
        choices=WorkerCategory.choices,
        default=WorkerCategory.EMPLOYEE,
    )
    new_form_kind = models.CharField(
        _("new-form worker kind"), max_length=24, choices=NewFormKind.choices, blank=True
    )
    education = models.CharField(
        _("education"), max_length=16, choices=Education.choices, blank=True
    )
    political_status = models.CharField(
        _("political status"), max_length=20, choices=PoliticalStatus.choices, blank=True
    )
    status = models.CharField(
        _("status"), max_length=8, choices=MemberStatus.choices, default=MemberStatus.ACTIVE
    )
    # The current union (or, after leaving, the last one): what scoping follows.
    org = models.ForeignKey(
        "orgs.Org", on_delete=models.PROTECT, related_name="members", verbose_name=_("union")
    )
    joined_on = models.DateField(_("joined on"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["org", "status"], name="member_org_status_idx"),
            models.Index(fields=["phone"], name="member_phone_idx"),
            models.Index(fields=["joined_on"], name="member_joined_idx"),
            models.Index(fields=["category", "new_form_kind"], name="member_category_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["id_number_hash"], name="member_unique_id_number"),
            models.CheckConstraint(
                condition=Q(category="new_form_worker") | Q(new_form_kind=""),
                name="member_new_form_kind_only_for_new_form",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "left"]), name="member_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.id_number_masked})"

    @property
    def is_member_actor(self) -> bool:
        """Set on the instance bound to a member's own session; never on a staff view of a row."""
        return getattr(self, "_acting", False)

    @property
    def audit_label(self) -> str:
        return f"member:{self.pk}"


class MembershipEvent(models.TextChoices):
    JOIN = "join", _("Join")
    REJOIN = "rejoin", _("Rejoin")  # back after leaving (this union or another)
    TRANSFER = "transfer", _("Transfer")


class Membership(models.Model):
    """One stretch of a member's tie to one union. The open one (no ``left_on``) is current."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="memberships")
    org = models.ForeignKey("orgs.Org", on_delete=models.PROTECT, related_name="memberships")
    started_on = models.DateField(_("from"))
    start_kind = models.CharField(_("how it began"), max_length=10, choices=MembershipEvent.choices)
    start_reason = models.CharField(_("reason"), max_length=200, blank=True)
    ended_on = models.DateField(_("until"), null=True, blank=True)
    end_kind = models.CharField(_("how it ended"), max_length=10, blank=True)
    end_reason = models.CharField(_("reason for ending"), max_length=200, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        ordering = ["-started_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["member"],
                condition=Q(ended_on__isnull=True),
                name="membership_one_current_per_member",
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=models.F("started_on")),
                name="membership_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} @ {self.org_id} {self.started_on}–{self.ended_on or ''}"


class CardBin(models.Model):
    """Issuer identification numbers: which bank issued a member card (configurable)."""

    prefix = models.CharField(_("BIN prefix"), max_length=10, unique=True)
    bank_name = models.CharField(_("bank"), max_length=50)
    card_length = models.PositiveSmallIntegerField(_("card number length"), default=19)
    is_member_card = models.BooleanField(
        _("union member card"),
        default=True,
        help_text=_("Cards with this prefix are accepted as union member cards."),
    )

    class Meta:
        verbose_name = _("card BIN")
        verbose_name_plural = _("card BINs")
        ordering = ["bank_name", "prefix"]
        constraints = [
            models.CheckConstraint(
                condition=Q(card_length__gte=12) & Q(card_length__lte=19), name="cardbin_length"
            )
        ]

    def __str__(self) -> str:
        return f"{self.bank_name} {self.prefix}"


class MemberCard(models.Model):
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="cards")
    number_enc = models.TextField(editable=False)
    number_hash = models.CharField(max_length=64, editable=False)
    number_masked = models.CharField(_("card number"), max_length=19, editable=False)
    bank_name = models.CharField(_("bank"), max_length=50, blank=True)
    is_member_card = models.BooleanField(_("union member card"), default=False)
    luhn_ok = models.BooleanField(_("Luhn check passed"), default=True)
    is_current = models.BooleanField(_("current"), default=True)
    added_at = models.DateTimeField(_("added at"), auto_now_add=True)

    class Meta:
        verbose_name = _("member card")
        verbose_name_plural = _("member cards")
        constraints = [
            models.UniqueConstraint(fields=["number_hash"], name="membercard_unique_number"),
            models.UniqueConstraint(
                fields=["member"], condition=Q(is_current=True), name="membercard_one_current"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bank_name} {self.number_masked}"


class JoinStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")


JOIN_TRANSITIONS: dict[str, set[str]] = {
    JoinStatus.PENDING: {JoinStatus.APPROVED, JoinStatus.REJECTED, JoinStatus.WITHDRAWN},
    JoinStatus.APPROVED: set(),
    JoinStatus.REJECTED: set(),
    JoinStatus.WITHDRAWN: set(),
}


class JoinApplication(models.Model):
    """A worker's application to join a base union, made by scanning its QR code."""

    org = models.ForeignKey(
        "orgs.Org",
        on_delete=models.PROTECT,
        related_name="join_applications",
        verbose_name=_("union"),
    )
    name = models.CharField(pgettext_lazy("person", "name"), max_length=50)
    id_number_enc = models.TextField(editable=False)
    id_number_hash = models.CharField(max_length=64, editable=False)
    id_number_masked = models.CharField(_("identity number"), max_length=18, editable=False)
    phone = models.CharField(_("phone"), max_length=11)
    employer = models.CharField(_("employer"), max_length=100, blank=True)
    category = models.CharField(_("worker category"), max_length=20, choices=WorkerCategory.choices)
    new_form_kind = models.CharField(
        _("new-form worker kind"), max_length=24, choices=NewFormKind.choices, blank=True
    )
    status = models.CharField(
        _("status"), max_length=10, choices=JoinStatus.choices, default=JoinStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(_("reason"), max_length=200, blank=True)
    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="join_applications"
    )
    created_at = models.DateTimeField(_("submitted at"), auto_now_add=True)

    class Meta:
        verbose_name = _("join application")
        verbose_name_plural = _("join applications")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["id_number_hash"],
                condition=Q(status="pending"),
                name="joinapp_one_pending_per_person",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} → {self.org}"


class JoinApplicationStatusChange(models.Model):
    application = models.ForeignKey(
        JoinApplication, on_delete=models.CASCADE, related_name="status_changes"
    )
    old = models.CharField(max_length=10)
    new = models.CharField(max_length=10)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.application_id}: {self.old} → {self.new}"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed (nothing imported)")
    PARTIAL = "partial", _("Done, bad rows skipped")


class ImportJob(models.Model):
    org = models.ForeignKey(
        "orgs.Org",
        on_delete=models.PROTECT,
        related_name="import_jobs",
        verbose_name=_("into union"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=200)
    skip_bad_rows = models.BooleanField(_("skip bad rows"), default=False)
    status = models.CharField(
        _("status"), max_length=10, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    rows_total = models.PositiveIntegerField(_("rows read"), default=0)
    rows_created = models.PositiveIntegerField(_("members created"), default=0)
    rows_updated = models.PositiveIntegerField(_("members updated"), default=0)
    rows_rejoined = models.PositiveIntegerField(_("members rejoined"), default=0)
    rows_failed = models.PositiveIntegerField(_("bad rows"), default=0)
    error_file = models.FileField(_("error report"), upload_to="imports/errors/", blank=True)
    message = models.CharField(_("message"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("member import")
        verbose_name_plural = _("member imports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.original_name
