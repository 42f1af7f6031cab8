"""Reads of the member and merchant pages that the engine's selectors do not offer.

Members: a published campaign with what the member already has of it. Clerks: the stores they
may redeem at, one redemption of their own merchant, and their merchant's settlements. Everything outside the actor's reach is
one boring ``NotFound``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from gonghui.benefits import hot, selectors
from gonghui.benefits.models import (
    Campaign,
    CampaignStatus,
    CampaignStock,
    Distribution,
    MerchantClerk,
    Redemption,
    Registration,
    Settlement,
    SettlementStatus,
    Store,
    Voucher,
    VoucherChangeReason,
    VoucherStatus,
    VoucherStatusChange,
)
from gonghui.benefits.selectors import (
    campaign_public_get,
    clerk_redemption_list,
    member_campaign_list,
    member_voucher_list,
)
from gonghui.benefits.services import CardFacts, Eligibility, member_eligibility
from gonghui.benefits.settlement import (
    ReconcileLine,
    ReconcileResult,
    settlement_compare,
    settlement_uploads_open,
)
from gonghui.core.errors import NotFound
from gonghui.members.models import Member, MemberCard

# members ---------------------------------------------------------------------------------------


# How long an ended campaign stays on the list (greyed, at the end): long enough for a member
# to see what happened to a campaign they waited for, short enough to keep the list short.
ENDED_SHOWN_FOR = dt.timedelta(days=30)
# Over for members: closed, then settled with the stores (a campaign's members took part in it
# all the same; settling is the union's and the store's business, not a reason to vanish).
ENDED_STATUSES = {CampaignStatus.CLOSED, CampaignStatus.SETTLING, CampaignStatus.SETTLED}


# The list gives the reason a member cannot take part in one line. The campaign page's message
# is kept where it is short; where it lists banks or worker categories the list says it briefly
# (the campaign page, one tap away, gives the whole list).
SHORT_REASONS: dict[str, Promise] = {
    "card_bank": _("Your card is not an accepted member card."),
    "category": _("Not open to your worker category."),
}

# The states in which the member could still act (grab, register, or wait to grab): only there
# does "not eligible" say something the state does not already say.
ACTIONABLE_STATES = frozenset({"open", "registering", "upcoming"})


@dataclass(frozen=True)
class CampaignListItem:
    """One campaign of the list and where the member stands in it."""

    campaign: Campaign
    # upcoming, open, sold_out; lottery: registering, awaiting_draw, drawn, cancelled; ended
    state: str
    held: int = 0  # the member's vouchers of it
    registered: bool = False  # lottery: the member's entry
    eligibility: Eligibility = Eligibility(True)

    @property
    def has_all(self) -> bool:
        return self.held >= self.campaign.per_member_limit

    @property
    def not_eligible(self) -> bool:
        """The member could act on the campaign but for who they are: say so on the list, not
        only after the tap. What they already hold or entered keeps its own badge (a voucher is
        theirs; an entry is asked again by the draw, and the campaign page says so)."""
        return (
            not self.eligibility.ok
            and not self.held
            and not self.registered
            and self.state in ACTIONABLE_STATES
        )

    @property
    def entry_at_risk(self) -> bool:
        """Registered, but not eligible now: the draw will pass the entry over unless it is put
        right before then (the list says so, not only the campaign page)."""
        return (
            not self.eligibility.ok
            and self.registered
            and self.state in {"registering", "awaiting_draw"}
        )

    @property
    def shows_state(self) -> bool:
        """Whether the campaign's state badge is worth showing beside the member's own: not when
        they hold all they may have, nor when they hold some and may not get more."""
        return not self.has_all and not (self.held and not self.eligibility.ok)

    @property
    def reason(self) -> str:
        """Why not, in one short line."""
        if self.eligibility.ok:
            return ""
        short = SHORT_REASONS.get(self.eligibility.code)
        return str(short) if short is not None else self.eligibility.message

    @property
    def rank(self) -> int:
        """What the member can do now first: grab or register, then show a voucher at the till,
        then wait for a draw, then what they may not take part in, then what is over for them
        (sold out, drawn)."""
        if self.not_eligible:
            return 3
        if self.eligibility.ok and (
            (self.state == "open" and not self.has_all)
            or (self.state == "registering" and not self.registered)
        ):
            return 0
        if self.held:
            return 1
        if self.registered and self.state in {"registering", "awaiting_draw"}:
            return 2
        return 4


def member_campaigns(*, member: Member) -> dict[str, list[CampaignListItem]]:
    """The list page: campaigns open now, still to come, and ended in the last days, for this
    member's union, each with its state, the member's vouchers and entry, and whether the
    member may take part (the check of the campaign page and the grab, ``member_eligibility``).
    One query however many campaigns there are: the member's standing, their current card and
    the stock come as subqueries."""
    now = timezone.now()
    card = MemberCard.objects.filter(member_id=member.pk, is_current=True).order_by()
    qs = (
        (
            member_campaign_list(member=member).filter(
                status__in=[CampaignStatus.SCHEDULED, CampaignStatus.OPEN, *ENDED_STATUSES]
            )
            # and a cancelled lottery the member had entered, to say what became of the entry
            | selectors.member_cancelled_entries(member=member)
        )
        .select_related("eligible_org")  # eligibility names the subtree a campaign is for
        .filter(redeem_until__gt=now - ENDED_SHOWN_FOR)
        .annotate(
            member_held=Coalesce(
                Subquery(
                    Voucher.objects.filter(campaign_id=OuterRef("pk"), member_id=member.pk)
                    .order_by()
                    .values("campaign_id")
                    .annotate(n=Count("pk"))
                    .values("n")[:1]
                ),
                0,
            ),
            member_registered=Exists(
                Registration.objects.filter(campaign_id=OuterRef("pk"), member_id=member.pk)
            ),
            stock_left=Exists(
                CampaignStock.objects.filter(campaign_id=OuterRef("pk"), remaining__gt=0)
            ),
            # The same for every row (not correlated): the database works it out once.
            member_card_ok=Subquery(card.values("is_member_card")[:1]),
            member_card_bank=Subquery(card.values("bank_name")[:1]),
        )
        .order_by("release_at", "pk")
    )
    open_now: list[CampaignListItem] = []
    upcoming: list[CampaignListItem] = []
    ended: list[CampaignListItem] = []
    for campaign in qs:
        state = campaign_phase(campaign, now=now)
        if state == "open" and not campaign.stock_left:  # type: ignore[attr-defined]
            state = "sold_out"
        item = CampaignListItem(
            campaign=campaign,
            state=state,
            held=campaign.member_held,  # type: ignore[attr-defined]
            registered=campaign.member_registered,  # type: ignore[attr-defined]
            eligibility=member_eligibility(
                member=member,
                campaign=campaign,
                # The member's current card, loaded with the list (the same in every row).
                card=CardFacts.of(campaign.member_card_ok, campaign.member_card_bank),  # type: ignore[attr-defined]
            ),
        )
        if state == "upcoming":
            upcoming.append(item)
        elif (
            campaign.status in {*ENDED_STATUSES, CampaignStatus.CANCELLED}
            or now >= campaign.redeem_until
        ):
            ended.append(item)
        else:
            open_now.append(item)
    open_now.sort(key=lambda item: item.rank)  # stable: in release order within a rank
    upcoming.sort(key=lambda item: item.not_eligible)  # what the member may wait for first
    ended.sort(key=lambda item: (not item.held, -item.campaign.redeem_until.timestamp()))
    return {"open": open_now, "upcoming": upcoming, "ended": ended}


@dataclass
class CampaignForMember:
    campaign: Campaign
    stores: list[Store]
    eligibility: Eligibility
    vouchers: list[Voucher] = field(default_factory=list)
    registration: Registration | None = None
    # upcoming, open, ended; lottery: registering, awaiting_draw, drawn, cancelled
    phase: str = ""
    # First come, first served while open: vouchers left (None: not counted) and sold out.
    remaining: int | None = None
    sold_out: bool = False
    cancel_reason: str = ""  # a cancelled lottery the member had entered: why

    @property
    def has_all(self) -> bool:
        return len(self.vouchers) >= self.campaign.per_member_limit


def member_campaign_get(*, member: Member, pk: int | str) -> CampaignForMember:
    """A published campaign (any union's: the page explains who it is for) and the member's
    standing in it. Drafts and cancelled campaigns do not exist for members, but for a cancelled
    lottery the member had entered (the page says it was cancelled, and why)."""
    try:
        campaign = campaign_public_get(pk=pk)
    except NotFound:
        try:
            campaign = selectors.member_cancelled_entries(member=member).get(pk=pk)
        except (Campaign.DoesNotExist, ValueError):
            raise NotFound() from None
    if campaign.status not in {
        CampaignStatus.CANCELLED,
        CampaignStatus.SCHEDULED,
        CampaignStatus.OPEN,
        *ENDED_STATUSES,
    }:
        raise NotFound()
    now = timezone.now()
    stores = list(campaign.stores.filter(is_active=True).order_by("name"))
    vouchers = list(
        member_voucher_list(actor=member).filter(campaign=campaign).order_by("slot", "pk")
    )
    registration = None
    if campaign.distribution == Distribution.LOTTERY:
        registration = Registration.objects.filter(campaign=campaign, member=member).first()
    phase = campaign_phase(campaign, now=now)
    remaining: int | None = None
    sold_out = False
    if phase == "open":
        # Say "sold out" before the tap, not after it. Sold out is monotonic: once this process
        # has seen it the answer comes from memory, as the grab's does.
        sold_out = hot.sold_out(hot.campaign_key(campaign))
        if not sold_out:
            remaining = campaign.remaining
            sold_out = remaining == 0
    return CampaignForMember(
        campaign=campaign,
        stores=stores,
        eligibility=member_eligibility(member=member, campaign=campaign),
        vouchers=vouchers,
        registration=registration,
        phase=phase,
        remaining=remaining,
        sold_out=sold_out,
        cancel_reason=selectors.campaign_cancel_reason(campaign=campaign)
        if phase == "cancelled"
        else "",
    )


def campaign_phase(campaign: Campaign, *, now: dt.datetime) -> str:
    if campaign.status == CampaignStatus.CANCELLED:
        return "cancelled"
    if campaign.status in ENDED_STATUSES or now >= campaign.redeem_until:
        return "drawn" if campaign.drawn_at else "ended"
    if now < campaign.release_at:
        return "upcoming"
    if campaign.distribution == Distribution.LOTTERY:
        if campaign.drawn_at is not None:
            return "drawn"
        closes = campaign.registration_closes_at
        if closes is not None and now >= closes:
            return "awaiting_draw"
        return "registering"
    return "open"


def voucher_state(voucher: Voucher, *, now: dt.datetime | None = None) -> str:
    """What the member sees: an open voucher past its window is expired even before the nightly
    job marks it so."""
    now = now or timezone.now()
    if voucher.status == VoucherStatus.OPEN and now >= voucher.campaign.redeem_until:
        return VoucherStatus.EXPIRED
    return voucher.status


# The tabs of "my vouchers": the states a member filters by (cancelled ones show under "all").
VOUCHER_TABS = ("", VoucherStatus.OPEN, VoucherStatus.USED, VoucherStatus.EXPIRED)


@dataclass
class MemberVouchers:
    vouchers: list[tuple[Voucher, str]]  # (voucher, the state the member sees)
    state: str  # the tab shown: "" for all
    counts: dict[str, int]  # per tab


def member_vouchers(*, member: Member, state: object = "") -> MemberVouchers:
    """The member's vouchers in one tab: usable ones first (the one wanted at the till), then
    newest first. An unknown ``state`` (a hand-edited link) shows them all."""
    now = timezone.now()
    tab = str(state) if state in VOUCHER_TABS else ""
    every = [
        (v, voucher_state(v, now=now))
        for v in member_voucher_list(actor=member).order_by("-created_at", "-pk")
    ]
    every.sort(key=lambda pair: pair[1] != VoucherStatus.OPEN)  # stable: newest first within
    counts = {t: sum(1 for _v, s in every if not t or s == t) for t in VOUCHER_TABS}
    return MemberVouchers(
        vouchers=[(v, s) for v, s in every if not tab or s == tab], state=tab, counts=counts
    )


def voucher_stores(voucher: Voucher) -> list[Store]:
    return list(voucher.campaign.stores.filter(is_active=True).order_by("name"))


@dataclass(frozen=True)
class VoucherEnd:
    """Why a voucher can no longer be used, as its member is told."""

    why: str  # the platform's reason, in the reader's language ("" if it gave none)
    words: str  # what the union's manager wrote when cancelling, as typed ("" if nothing)


def voucher_end(voucher: Voucher, *, state: str) -> VoucherEnd | None:
    """For an expired or cancelled voucher (``state`` as ``voucher_state`` says it), why: the
    reason of the move that put it there, or, for a window that ended before the nightly job
    ran, that the window ended. None for any other state, or a move with no reason recorded."""
    if state == VoucherStatus.EXPIRED and voucher.status == VoucherStatus.OPEN:
        return VoucherEnd(why=str(VoucherChangeReason.WINDOW_ENDED.label), words="")
    if state not in (VoucherStatus.EXPIRED, VoucherStatus.CANCELLED):
        return None
    change = (
        VoucherStatusChange.objects.filter(voucher=voucher, new=voucher.status)
        .order_by("-at", "-pk")
        .only("reason_code", "reason")
        .first()
    )
    if change is None or not (change.reason_code or change.reason):
        return None
    why = dict(VoucherChangeReason.choices).get(change.reason_code, "")
    return VoucherEnd(why=str(why), words=change.reason)


def voucher_redemption(voucher: Voucher) -> Redemption | None:
    """Where and when a used voucher was used (the live redemption; a reversed one does not count)."""
    if voucher.status != VoucherStatus.USED:
        return None
    return (
        Redemption.objects.select_related("store")
        .filter(voucher=voucher, reversed_at__isnull=True)
        .order_by("-at", "-pk")
        .first()
    )


# merchant clerks --------------------------------------------------------------------------------


def clerk_stores(*, clerk: MerchantClerk) -> QuerySet[Store]:
    return Store.objects.filter(merchant_id=clerk.merchant_id, is_active=True).order_by("name")


def clerk_last_store_id(*, clerk: MerchantClerk) -> int | None:
    """The store of the clerk's latest redemption: the redeem page preselects it, so a clerk of
    a merchant with several stores does not book a sale on the wrong one by default."""
    return (
        Redemption.objects.filter(clerk=clerk, store__in=clerk_stores(clerk=clerk))
        .order_by("-at", "-id")
        .values_list("store_id", flat=True)
        .first()
    )


def clerk_store_get(*, clerk: MerchantClerk, pk: object) -> Store:
    try:
        return clerk_stores(clerk=clerk).get(pk=int(str(pk)))
    except (Store.DoesNotExist, TypeError, ValueError):
        raise NotFound() from None


def clerk_redemption_get(*, clerk: MerchantClerk, pk: int | str) -> Redemption:
    try:
        return (
            clerk_redemption_list(clerk=clerk)
            .select_related("voucher__member", "clerk__user")
            .get(pk=pk)
        )
    except (Redemption.DoesNotExist, ValueError):
        raise NotFound() from None


# A clerk's settlement page: the campaigns of the merchant that have reached the till, newest
# window first; older ones are settled and only of historical interest.
CLERK_SETTLEMENT_CAMPAIGNS = 10


@dataclass
class ClerkSettlementRow:
    store: Store
    settlement: Settlement | None
    redeemed: int  # our live redemptions at the store
    subsidy_fen: int
    # The comparison with our records as it stands now (None: nothing handed in yet).
    result: ReconcileResult | None = None

    @property
    def differing(self) -> list[ReconcileLine]:
        return (
            [line for line in self.result.lines if line.status != "matched"] if self.result else []
        )


@dataclass
class ClerkSettlementCampaign:
    campaign: Campaign
    uploads_open: bool
    rows: list[ClerkSettlementRow] = field(default_factory=list)


def clerk_settlement_campaigns(*, clerk: MerchantClerk) -> list[ClerkSettlementCampaign]:
    """The merchant's campaigns that have been open, each with the merchant's stores in it: what
    the union recorded there, the register handed in and how it compares."""
    campaigns = Campaign.objects.filter(
        merchant_id=clerk.merchant_id,
        status__in=[
            CampaignStatus.OPEN,
            CampaignStatus.CLOSED,
            CampaignStatus.SETTLING,
            CampaignStatus.SETTLED,
        ],
    ).order_by("-redeem_until", "-pk")[:CLERK_SETTLEMENT_CAMPAIGNS]
    out = []
    for campaign in campaigns:
        live = {
            s.store_id: s
            for s in Settlement.objects.filter(campaign=campaign).exclude(
                status=SettlementStatus.SUPERSEDED
            )
        }
        totals = selectors.campaign_store_totals(campaign=campaign)
        rows = []
        for store in campaign.stores.filter(merchant_id=clerk.merchant_id).order_by("name"):
            settlement = live.get(store.pk)
            n, subsidy = totals.get(store.pk, (0, 0))
            rows.append(
                ClerkSettlementRow(
                    store=store,
                    settlement=settlement,
                    redeemed=n,
                    subsidy_fen=int(subsidy),
                    result=settlement_compare(settlement=settlement) if settlement else None,
                )
            )
        out.append(
            ClerkSettlementCampaign(
                campaign=campaign, uploads_open=settlement_uploads_open(campaign), rows=rows
            )
        )
    return out


def clerk_campaign_store_get(
    *, clerk: MerchantClerk, campaign_pk: int | str, store_pk: int | str
) -> tuple[Campaign, Store]:
    """A campaign of the clerk's merchant and one of the merchant's stores in it; anything else
    is not found."""
    try:
        campaign = Campaign.objects.select_related("org").get(
            pk=campaign_pk, merchant_id=clerk.merchant_id
        )
        store = campaign.stores.get(pk=store_pk, merchant_id=clerk.merchant_id)
    except (Campaign.DoesNotExist, Store.DoesNotExist, ValueError):
        raise NotFound() from None
    return campaign, store
