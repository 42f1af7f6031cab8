"""Voucher campaigns: merchants and stores, campaigns, vouchers, redemptions, settlement.

Limits live in the database: the split adds up, stock never goes below zero or above the quota,
a member holds at most ``per_member_limit`` vouchers of a campaign (slot 1..limit, unique), a
voucher code is unique, a voucher has at most one redemption that is not reversed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

MANAGE_BENEFITS = "manage_benefits"


class Merchant(models.Model):
    """A partner business. ``org`` is the union that signed it up (staff scoping follows it)."""

    org = models.ForeignKey(
        "orgs.Org", on_delete=models.PROTECT, related_name="merchants", verbose_name=_("union")
    )
    name = models.CharField(_("name"), max_length=100)
    uscc = models.CharField(_("unified social credit code"), max_length=18, blank=True)
    settlement_account_name = models.CharField(_("settlement account name"), max_length=100)
    settlement_bank = models.CharField(_("settlement bank"), max_length=100)
    settlement_account_no = models.CharField(_("settlement account number"), max_length=40)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Store(models.Model):
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="stores", verbose_name=_("merchant")
    )
    name = models.CharField(_("name"), max_length=100)
    address = models.CharField(_("address"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ["merchant_id", "name"]

    def __str__(self) -> str:
        return self.name


class MerchantClerk(models.Model):
    """A sign-in account of a merchant. Clerks see only their merchant's vouchers and files."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="merchant_clerk",
        verbose_name=_("user"),
    )
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="clerks", verbose_name=_("merchant")
    )
    # A supervisor may reverse a redemption (within the reversal window) and upload settlements.
    is_supervisor = models.BooleanField(_("supervisor"), default=False)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("merchant clerk")
        verbose_name_plural = _("merchant clerks")

    def __str__(self) -> str:
        return f"{self.user} @ {self.merchant}"

    @property
    def audit_label(self) -> str:
        return f"clerk:{self.user.username}"


class Distribution(models.TextChoices):
    GRAB = "grab", _("First come, first served")
    LOTTERY = "lottery", _("Lottery draw")


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Scheduled")
    # "Open" alone is also an objection's status (waiting for an answer): a context each, so
    # that the two translate apart.
    OPEN = "open", pgettext_lazy("campaign status", "Open")
    CLOSED = "closed", _("Closed")
    SETTLING = "settling", _("Settling")
    SETTLED = "settled", _("Settled")
    CANCELLED = "cancelled", _("Cancelled")


CAMPAIGN_TRANSITIONS: dict[str, set[str]] = {
    CampaignStatus.DRAFT: {CampaignStatus.SCHEDULED, CampaignStatus.CANCELLED},
    CampaignStatus.SCHEDULED: {
        CampaignStatus.OPEN,
        CampaignStatus.DRAFT,
        CampaignStatus.CANCELLED,
    },
    CampaignStatus.OPEN: {CampaignStatus.CLOSED, CampaignStatus.CANCELLED},
    CampaignStatus.CLOSED: {CampaignStatus.SETTLING},
    CampaignStatus.SETTLING: {CampaignStatus.SETTLED},
    CampaignStatus.SETTLED: set(),
    CampaignStatus.CANCELLED: set(),
}


# Upper bounds of a campaign's terms, so that a slip of the keyboard (100000 for 100) is refused
# rather than promised to members. The split's parts are bounded by the face value (they are not
# negative and add up to it).
MAX_FACE_VALUE_FEN = 1_000_000  # 10,000 yuan a voucher
MAX_QUOTA = 1_000_000
MAX_PER_MEMBER = 20


class Campaign(models.Model):
    org = models.ForeignKey(
        "orgs.Org", on_delete=models.PROTECT, related_name="campaigns", verbose_name=_("union")
    )
    name = models.CharField(_("name"), max_length=100)
    merchant = models.ForeignKey(
        Merchant, on_delete=models.PROTECT, related_name="campaigns", verbose_name=_("merchant")
    )
    stores = models.ManyToManyField(Store, related_name="campaigns", verbose_name=_("stores"))
    distribution = models.CharField(
        _("hand-out"), max_length=8, choices=Distribution.choices, default=Distribution.GRAB
    )
    face_value_fen = models.BigIntegerField(_("face value (fen)"))
    subsidy_fen = models.BigIntegerField(_("union subsidy (fen)"))
    member_share_fen = models.BigIntegerField(_("member pays (fen)"))
    concession_fen = models.BigIntegerField(_("merchant concession (fen)"))
    # The smallest purchase a voucher may be used on (0: any); the till refuses a smaller one, so
    # a ¥100 voucher cannot be spent on a ¥10 sale with the union's subsidy paid in full.
    min_purchase_fen = models.BigIntegerField(_("minimum purchase (fen)"), default=0)
    quota = models.PositiveIntegerField(_("vouchers"))
    per_member_limit = models.PositiveSmallIntegerField(_("vouchers per member"), default=1)
    # Eligibility. eligible_org: members of this subtree (None: the campaign's own org subtree).
    eligible_org = models.ForeignKey(
        "orgs.Org",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("for members of"),
    )
    require_member_card = models.BooleanField(_("member card required"), default=True)
    card_banks = models.JSONField(_("issuing banks"), default=list, blank=True)
    categories = models.JSONField(_("worker categories"), default=list, blank=True)
    release_at = models.DateTimeField(_("release time"))
    registration_closes_at = models.DateTimeField(_("registration closes"), null=True, blank=True)
    redeem_from = models.DateTimeField(_("redeemable from"))
    redeem_until = models.DateTimeField(_("redeemable until"))
    excluded_goods = models.TextField(_("excluded goods"), blank=True)
    terms = models.TextField(_("terms"), blank=True)
    notice_days = models.PositiveSmallIntegerField(_("public notice days"), default=5)
    status = models.CharField(
        _("status"), max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    # Lottery: sha256 of the seed is published before registration closes; the seed after.
    seed_hash = models.CharField(_("seed hash"), max_length=64, blank=True)
    # When the hash was published: anyone can check it came before registration closed.
    seed_committed_at = models.DateTimeField(_("seed hash published at"), null=True, blank=True)
    seed_enc = models.TextField(blank=True, editable=False)
    seed = models.CharField(_("revealed seed"), max_length=128, blank=True)
    drawn_at = models.DateTimeField(_("drawn at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-release_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    face_value_fen=F("subsidy_fen") + F("member_share_fen") + F("concession_fen")
                ),
                name="campaign_split_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(subsidy_fen__gte=0)
                & Q(member_share_fen__gte=0)
                & Q(concession_fen__gte=0)
                & Q(face_value_fen__gt=0),
                name="campaign_amounts_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(per_member_limit__gte=1), name="campaign_limit_positive"
            ),
            models.CheckConstraint(
                condition=Q(face_value_fen__lte=MAX_FACE_VALUE_FEN), name="campaign_face_value_max"
            ),
            models.CheckConstraint(
                condition=Q(min_purchase_fen__gte=0) & Q(min_purchase_fen__lte=MAX_FACE_VALUE_FEN),
                name="campaign_min_purchase_range",
            ),
            models.CheckConstraint(
                condition=Q(quota__gte=1) & Q(quota__lte=MAX_QUOTA), name="campaign_quota_range"
            ),
            models.CheckConstraint(
                condition=Q(per_member_limit__lte=MAX_PER_MEMBER), name="campaign_limit_max"
            ),
            models.CheckConstraint(
                condition=Q(redeem_until__gt=F("redeem_from")), name="campaign_window_order"
            ),
            # A lottery's draw gives each winner one voucher.
            models.CheckConstraint(
                condition=~Q(distribution="lottery") | Q(per_member_limit=1),
                name="campaign_lottery_one_per_member",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in CampaignStatus]),
                name="campaign_status_valid",
            ),
            # A publication time belongs to a published hash, and comes before registration
            # closes (a draft's dates cannot be moved to before it).
            models.CheckConstraint(
                condition=Q(seed_committed_at__isnull=True) | ~Q(seed_hash=""),
                name="campaign_seed_time_has_hash",
            ),
            models.CheckConstraint(
                condition=Q(seed_committed_at__isnull=True)
                | Q(registration_closes_at__gt=F("seed_committed_at")),
                name="campaign_seed_before_close",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def remaining(self) -> int:
        """Vouchers not yet handed out: the sum of the stock shards (a fresh query each time)."""
        total = CampaignStock.objects.filter(campaign_id=self.pk).aggregate(s=Sum("remaining"))
        return int(total["s"] or 0)


class CampaignStock(models.Model):
    """One shard of a campaign's stock. The quota is split over a few rows so that concurrent
    grabs decrement different rows: a single hot row holds its lock through every commit's WAL
    flush, which caps a grab at one voucher per fsync. Shards' allotments add up to the quota
    (written once, with the campaign); each row is decremented only by a guarded UPDATE."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="stock")
    shard = models.PositiveSmallIntegerField()
    allotment = models.PositiveIntegerField()
    remaining = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "shard"], name="stock_one_row_per_shard"),
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=F("allotment")),
                name="stock_remaining_within_allotment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}#{self.shard}: {self.remaining}/{self.allotment}"


class CampaignChangeReason(models.TextChoices):
    """Why the platform itself moved a campaign. Stored as the code; a page shows the label in the
    reader's language. A move a person makes has no code, only the words they typed (if any)."""

    RELEASE_TIME = "release_time", _("The release time came.")
    WINDOW_ENDED = "window_ended", _("The redemption window ended.")
    SETTLEMENT_APPROVED = "settlement_approved", _("A store's settlement was approved.")
    NOTICE_CLOSED = "notice_closed", _("The public notice was closed and the payments posted.")


class CampaignStatusChange(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="status_changes")
    old = models.CharField(_("status before"), max_length=10, choices=CampaignStatus.choices)
    new = models.CharField(_("status after"), max_length=10, choices=CampaignStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(_("changed by"), max_length=150, blank=True)
    # Stable codes, not words: a page says them in its reader's language.
    reason_code = models.CharField(
        _("platform's reason"), max_length=32, blank=True, choices=CampaignChangeReason.choices
    )
    # The words of the person who made the move (a cancellation's reason), as typed.
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reason_code__in=["", *CampaignChangeReason.values]),
                name="campaign_change_reason_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_old_display()} → {self.get_new_display()}"


class VoucherStatus(models.TextChoices):
    OPEN = "open", _("Not yet used")
    USED = "used", _("Used")
    EXPIRED = "expired", _("Expired")
    CANCELLED = "cancelled", _("Cancelled")


VOUCHER_TRANSITIONS: dict[str, set[str]] = {
    VoucherStatus.OPEN: {VoucherStatus.USED, VoucherStatus.EXPIRED, VoucherStatus.CANCELLED},
    VoucherStatus.USED: {VoucherStatus.OPEN},  # a supervisor's reversal
    VoucherStatus.EXPIRED: set(),
    VoucherStatus.CANCELLED: set(),
}


class Voucher(models.Model):
    # No index of its own: the (campaign, member, slot) constraint's index leads with it.
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.PROTECT,
        related_name="vouchers",
        db_index=False,
        verbose_name=_("campaign"),
    )
    member = models.ForeignKey(
        "members.Member",
        on_delete=models.PROTECT,
        related_name="vouchers",
        verbose_name=_("member"),
    )
    # The member's n-th voucher of this campaign; unique with (campaign, member) and at most the
    # campaign's limit (copied here so the database can check it).
    slot = models.PositiveSmallIntegerField(_("member's voucher number"), default=1)
    per_member_limit = models.PositiveSmallIntegerField(default=1)
    # Unique by the constraint in Meta (one plain b-tree; ``unique=True`` would add a pattern-ops
    # twin on PostgreSQL that no query uses, and every grab would write both).
    code = models.CharField(_("code"), max_length=32)
    # The client's idempotency key: a retried request returns the voucher it already made.
    request_key = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=VoucherStatus.choices, default=VoucherStatus.OPEN
    )
    created_at = models.DateTimeField(_("received at"), auto_now_add=True)
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("voucher")
        verbose_name_plural = _("vouchers")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["code"], name="voucher_code_unique"),
            models.UniqueConstraint(
                fields=["campaign", "member", "slot"], name="voucher_one_per_member_slot"
            ),
            models.UniqueConstraint(
                fields=["campaign", "member", "request_key"],
                condition=~Q(request_key=""),
                name="voucher_unique_request_key",
            ),
            models.CheckConstraint(
                condition=Q(slot__gte=1) & Q(slot__lte=F("per_member_limit")),
                name="voucher_slot_within_limit",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in VoucherStatus]),
                name="voucher_status_valid",
            ),
            # Used exactly when it has a use time: "open and used" cannot be stored.
            models.CheckConstraint(
                condition=(Q(status="used") & Q(used_at__isnull=False))
                | (~Q(status="used") & Q(used_at__isnull=True)),
                name="voucher_used_iff_used_at",
            ),
        ]
        # No index on status: a redemption changes only status and times, and with no indexed
        # column changed PostgreSQL updates the row in place (HOT; the table keeps free space
        # per page, see migration 0002), writing no index entries. Per-campaign counts by status
        # read the campaign's rows through the campaign index.

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.code[-6:]}"


class VoucherChangeReason(models.TextChoices):
    """Why the platform itself moved a voucher. Stored as the code; a page shows the label in the
    reader's language. A move a person makes (a reversal) has no code, only the words they typed."""

    WINDOW_ENDED = "window_ended", _("The redemption window ended.")
    # The manager's own words for the cancellation stay in ``reason``, as typed.
    CAMPAIGN_CANCELLED = "campaign_cancelled", _("The campaign was cancelled.")


class VoucherStatusChange(models.Model):
    voucher = models.ForeignKey(Voucher, on_delete=models.CASCADE, related_name="status_changes")
    old = models.CharField(_("status before"), max_length=10, choices=VoucherStatus.choices)
    new = models.CharField(_("status after"), max_length=10, choices=VoucherStatus.choices)
    actor_label = models.CharField(_("changed by"), max_length=150, blank=True)
    # Stable codes, not words: a page says them in its reader's language.
    reason_code = models.CharField(
        _("platform's reason"), max_length=32, blank=True, choices=VoucherChangeReason.choices
    )
    # The words of the person who made the move (a reversal's or cancellation's reason), as typed.
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    # The moment of the change as the service saw it (a scan's redemption and its status row
    # carry the same instant); set once, never edited.
    at = models.DateTimeField(_("at"), default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(reason_code__in=["", *VoucherChangeReason.values]),
                name="voucher_change_reason_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_old_display()} → {self.get_new_display()}"


class Redemption(models.Model):
    voucher = models.ForeignKey(
        Voucher, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("voucher")
    )
    store = models.ForeignKey(
        Store, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("store")
    )
    clerk = models.ForeignKey(
        MerchantClerk,
        null=True,
        on_delete=models.SET_NULL,
        related_name="redemptions",
        verbose_name=_("clerk"),
    )
    receipt_no = models.CharField(_("receipt number"), max_length=40)
    amount_fen = models.BigIntegerField(_("purchase amount (fen)"))
    subsidy_fen = models.BigIntegerField(_("subsidy (fen)"))
    at = models.DateTimeField(_("redeemed at"), default=timezone.now, editable=False)
    reversed_at = models.DateTimeField(_("reversed at"), null=True, blank=True)
    reversed_by_label = models.CharField(_("reversed by"), max_length=150, blank=True)
    reverse_reason = models.CharField(_("reason for reversal"), max_length=300, blank=True)

    # Not stored: True on what ``voucher_redeem`` hands back for the same clerk's same sale sent
    # again (a first answer lost on a bad line), which is this redemption, not a new one.
    repeated = False

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["voucher"],
                condition=Q(reversed_at__isnull=True),
                name="redemption_one_live_per_voucher",
            ),
            models.CheckConstraint(
                condition=Q(amount_fen__gte=0) & Q(subsidy_fen__gte=0),
                name="redemption_amounts_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.voucher_id} @ {self.store_id}"


class Registration(models.Model):
    """A member's entry in a lottery campaign."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="registrations")
    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="lottery_registrations"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    won = models.BooleanField(null=True)
    # Why the draw passed this entry over (the eligibility code, e.g. "member_inactive"): its
    # member was no longer eligible when the draw reached it. Empty for every other entry.
    passed_over = models.CharField(max_length=30, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "member"], name="registration_one_per_member"
            ),
            models.CheckConstraint(
                condition=Q(passed_over="") | Q(won=False), name="registration_passed_over_lost"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.member_id}"


class SettlementStatus(models.TextChoices):
    UPLOADED = "uploaded", _("Uploaded")
    RECONCILED = "reconciled", _("Reconciled")
    APPROVED = "approved", _("Approved")
    PAID = "paid", _("Paid")
    SUPERSEDED = "superseded", _("Replaced by a later upload")


class Settlement(models.Model):
    """A store's register of redemptions and invoice for one campaign, and its reconciliation."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="settlements")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="settlements")
    register = models.FileField(_("register"), upload_to="settlements/%Y/%m/")
    invoice = models.FileField(_("invoice"), upload_to="settlements/%Y/%m/")
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=SettlementStatus.choices,
        default=SettlementStatus.UPLOADED,
    )
    rows = models.PositiveIntegerField(_("rows"), default=0)
    matched = models.PositiveIntegerField(_("matched"), default=0)
    missing_in_register = models.PositiveIntegerField(_("only in our records"), default=0)
    missing_in_platform = models.PositiveIntegerField(_("only in the register"), default=0)
    amount_differences = models.PositiveIntegerField(_("amount differences"), default=0)
    receipt_differences = models.PositiveIntegerField(_("receipt differences"), default=0)
    payable_fen = models.BigIntegerField(_("payable (fen)"), default=0)
    uploaded_by_label = models.CharField(max_length=150, blank=True)
    uploaded_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    ledger_transaction = models.ForeignKey(
        "ledger.Transaction", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("settlement")
        verbose_name_plural = _("settlements")
        ordering = ["-uploaded_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "store"],
                condition=~Q(status="superseded"),
                name="settlement_one_live_per_store",
            ),
            models.CheckConstraint(condition=Q(payable_fen__gte=0), name="settlement_payable_pos"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.store_id}"


class SettlementLine(models.Model):
    settlement = models.ForeignKey(Settlement, on_delete=models.CASCADE, related_name="lines")
    row_no = models.PositiveIntegerField()
    code = models.CharField(max_length=32)
    receipt_no = models.CharField(max_length=40, blank=True)
    amount_fen = models.BigIntegerField()

    class Meta:
        ordering = ["row_no"]
        constraints = [
            models.UniqueConstraint(fields=["settlement", "code"], name="settlementline_unique")
        ]

    def __str__(self) -> str:
        return f"{self.settlement_id}#{self.row_no}"


class PublicNotice(models.Model):
    campaign = models.OneToOneField(Campaign, on_delete=models.PROTECT, related_name="notice")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    total_vouchers = models.PositiveIntegerField(default=0)
    total_payable_fen = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("public notice")
        verbose_name_plural = _("public notices")
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="notice_order")
        ]

    def __str__(self) -> str:
        return f"notice {self.campaign_id}"


class ObjectionStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("objection status", "Open")
    RESOLVED = "resolved", _("Resolved")


class Objection(models.Model):
    notice = models.ForeignKey(PublicNotice, on_delete=models.PROTECT, related_name="objections")
    name = models.CharField(pgettext_lazy("person", "name"), max_length=50)
    phone = models.CharField(_("phone"), max_length=11)
    text = models.TextField(_("objection"))
    status = models.CharField(
        max_length=10, choices=ObjectionStatus.choices, default=ObjectionStatus.OPEN
    )
    resolution = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"objection {self.pk}"
