"""Every read of member benefits.

Staff see campaigns (and their vouchers, redemptions, settlements) of their subtree through
``scoped`` on ``campaign.org``; a member sees only its own vouchers and the campaigns open to it;
a merchant clerk sees only its merchant's campaigns, redemptions and settlements — clerks are not
staff, so ``scoped`` gives them nothing and these selectors filter by ``clerk.merchant`` instead.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from gonghui.accounts.scoping import scoped
from gonghui.benefits.models import (
    Campaign,
    CampaignStatus,
    CampaignStatusChange,
    Distribution,
    Merchant,
    MerchantClerk,
    PublicNotice,
    Redemption,
    Registration,
    Settlement,
    Store,
    Voucher,
)
from gonghui.benefits.services import mask_name
from gonghui.core.errors import NotFound, PermissionDenied
from gonghui.members.models import Member

PUBLIC_STATUSES = [
    CampaignStatus.SCHEDULED,
    CampaignStatus.OPEN,
    CampaignStatus.CLOSED,
    CampaignStatus.SETTLING,
    CampaignStatus.SETTLED,
]


# staff


def campaign_list(*, actor: Any) -> QuerySet[Campaign]:
    """The actor's campaigns, each with ``vouchers_issued``: a count per campaign row, made only
    for the rows fetched (a page of 50) through the voucher index, so neither the list nor the
    paginator's count joins and groups every voucher of the city."""
    issued = (
        Voucher.objects.filter(campaign=OuterRef("pk"))
        .order_by()
        .values("campaign")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return scoped(
        Campaign.objects.select_related("org", "merchant").annotate(
            vouchers_issued=Coalesce(Subquery(issued), 0)
        ),
        actor=actor,
    )


def campaign_get(*, actor: Any, pk: int | str) -> Campaign:
    try:
        return scoped(Campaign.objects.select_related("org", "merchant"), actor=actor).get(pk=pk)
    except (Campaign.DoesNotExist, ValueError):
        raise NotFound() from None


def campaign_voucher_list(*, actor: Any, campaign: Campaign) -> QuerySet[Voucher]:
    return scoped(
        Voucher.objects.filter(campaign=campaign).select_related("member"),
        actor=actor,
        org_field="campaign__org",
        member_field="member",
    )


def merchant_list(*, actor: Any) -> QuerySet[Merchant]:
    return scoped(Merchant.objects.select_related("org"), actor=actor)


def settlement_list(*, actor: Any, campaign: Campaign | None = None) -> QuerySet[Settlement]:
    qs = scoped(
        Settlement.objects.select_related("campaign", "store"),
        actor=actor,
        org_field="campaign__org",
    )
    return qs.filter(campaign=campaign) if campaign is not None else qs


def campaign_store_totals(*, campaign: Campaign) -> dict[int, tuple[int, int]]:
    """Live redemptions of ``campaign`` per store: {store id: (count, subsidy in fen)}, reversals
    left out (what settlement compares and pays). The caller has the campaign in scope."""
    return {
        store_id: (n, s or 0)
        for store_id, n, s in Redemption.objects.filter(
            voucher__campaign=campaign, reversed_at__isnull=True
        )
        .order_by()
        .values_list("store_id")
        .annotate(n=Count("id"), s=Sum("subsidy_fen"))
        .values_list("store_id", "n", "s")
    }


# members


def member_campaign_list(*, member: Member) -> QuerySet[Campaign]:
    """Campaigns a member may see: published, for a subtree the member's union lies in."""
    parts = [p for p in member.org.path.strip("/").split("/") if p]
    ancestors = ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]
    return (
        Campaign.objects.select_related("merchant", "org")
        .filter(status__in=PUBLIC_STATUSES)
        .filter(
            Q(eligible_org__path__in=ancestors)
            | Q(eligible_org__isnull=True, org__path__in=ancestors)
        )
    )


def member_cancelled_entries(*, member: Member) -> QuerySet[Campaign]:
    """Cancelled lotteries the member had entered. Cancelled campaigns are gone for everyone
    else; a member who registered is told what became of the entry (and why)."""
    return Campaign.objects.select_related("merchant", "org").filter(
        Exists(Registration.objects.filter(campaign_id=OuterRef("pk"), member_id=member.pk)),
        status=CampaignStatus.CANCELLED,
        distribution=Distribution.LOTTERY,
    )


def campaign_cancel_reason(*, campaign: Campaign) -> str:
    """What the manager typed when cancelling the campaign."""
    return (
        CampaignStatusChange.objects.filter(campaign=campaign, new=CampaignStatus.CANCELLED)
        .order_by("-pk")
        .values_list("reason", flat=True)
        .first()
        or ""
    )


def member_voucher_list(*, actor: Any) -> QuerySet[Voucher]:
    """The acting member's own vouchers (anyone else: nothing)."""
    if not getattr(actor, "is_member_actor", False):
        return Voucher.objects.none()
    return scoped(
        Voucher.objects.select_related("campaign", "campaign__merchant"),
        actor=actor,
        org_field="campaign__org",
        member_field="member",
    )


def member_voucher_get(*, actor: Any, pk: int | str) -> Voucher:
    try:
        return member_voucher_list(actor=actor).get(pk=pk)
    except (Voucher.DoesNotExist, ValueError):
        raise NotFound() from None


# merchant clerks


def clerk_for_user(user: Any) -> MerchantClerk:
    """The merchant clerk behind a signed-in user, or one boring 'not found'; a clerk (or the
    clerk's merchant) switched off is told so (403), not 'not found' as if the till had gone."""
    user_id = getattr(user, "pk", None)
    if user_id is None:
        raise NotFound()
    clerk = (
        MerchantClerk.objects.select_related("merchant", "user")
        .filter(user_id=user_id, is_active=True, merchant__is_active=True)
        .first()
    )
    if clerk is None:
        if MerchantClerk.objects.filter(user_id=user_id).exists():
            raise PermissionDenied(
                _(
                    "Your clerk sign-in or your merchant has been switched off. Ask your "
                    "supervisor or the union."
                )
            )
        raise NotFound()
    return clerk


def clerk_campaign_list(*, clerk: MerchantClerk) -> QuerySet[Campaign]:
    """The merchant's published campaigns, newest release first."""
    return Campaign.objects.filter(
        merchant_id=clerk.merchant_id, status__in=PUBLIC_STATUSES
    ).order_by("-release_at", "-pk")


def clerk_voucher_lookup(*, clerk: MerchantClerk, code: str) -> Voucher:
    """What the scan page shows before redeeming: only this merchant's vouchers."""
    voucher = (
        Voucher.objects.select_related("campaign", "member")
        .filter(code=code, campaign__merchant_id=clerk.merchant_id)
        .first()
    )
    if voucher is None:
        raise NotFound()
    return voucher


def clerk_redemption_list(
    *,
    clerk: MerchantClerk,
    query: str = "",
    store_id: int | None = None,
    day: dt.date | None = None,
    campaign_id: int | None = None,
) -> QuerySet[Redemption]:
    """The merchant's redemptions, newest first. ``query``: a receipt number (or its start) or
    the last characters of a voucher code (at least 4), as a clerk reads them off a receipt or
    a member's phone. ``day``: made on that calendar day, in the platform's time zone.
    ``campaign_id``: of that campaign only (a store that runs two campaigns settles each
    apart)."""
    rows = Redemption.objects.select_related("voucher", "voucher__campaign", "store").filter(
        store__merchant_id=clerk.merchant_id
    )
    if campaign_id is not None:
        rows = rows.filter(voucher__campaign_id=campaign_id)
    if store_id is not None:
        rows = rows.filter(store_id=store_id)
    if day is not None:
        rows = rows.filter(at__date=day)
    q = unicodedata.normalize("NFKC", query or "").strip()[:40]
    if any(unicodedata.category(c) == "Cc" for c in q):
        # No receipt number or code holds a control character, so nothing matches; and
        # PostgreSQL cannot even compare text that holds a NUL (it was a server error).
        return rows.none()
    if q:
        match = Q(receipt_no__istartswith=q)
        # A code's tail as the member's phone groups it ("13303 20920"): the groups' spaces and
        # dashes are not part of the code.
        tail = "".join(q.split()).replace("-", "")
        if len(tail) >= 4 and tail.isascii() and tail.isdigit():
            match |= Q(voucher__code__endswith=tail)
        elif len(q) >= 4:
            match |= Q(voucher__code__endswith=q)
        rows = rows.filter(match)
    return rows.order_by("-at", "-id")


@dataclass(frozen=True)
class RedemptionTotals:
    vouchers: int  # redemptions not reversed
    subsidy_fen: int  # what the union pays the store for them
    member_share_fen: int  # what the members paid with their union cards


def redemption_totals(rows: QuerySet[Redemption]) -> RedemptionTotals:
    """What a clerk counts at the end of a shift: the vouchers taken among ``rows`` (reversed
    ones left out) and the money behind them."""
    live = rows.filter(reversed_at__isnull=True).order_by()
    got = live.aggregate(
        n=Count("id"),
        subsidy=Sum("subsidy_fen"),
        share=Sum("voucher__campaign__member_share_fen"),
    )
    return RedemptionTotals(got["n"], got["subsidy"] or 0, got["share"] or 0)


def clerk_settlement_list(*, clerk: MerchantClerk) -> QuerySet[Settlement]:
    return Settlement.objects.select_related("campaign", "store").filter(
        store__merchant_id=clerk.merchant_id
    )


# public


def campaign_public_get(*, pk: int | str) -> Campaign:
    try:
        return Campaign.objects.select_related("merchant").get(pk=pk, status__in=PUBLIC_STATUSES)
    except (Campaign.DoesNotExist, ValueError):
        raise NotFound() from None


def campaign_public_proof_get(*, pk: int | str) -> Campaign:
    """A campaign's public page: a published campaign, or a lottery cancelled after its draw.
    Once winners are drawn and the seed revealed, cancelling does not take back the proof: the
    winners named and the numbers drawn stay checkable."""
    try:
        return Campaign.objects.select_related("merchant").get(
            Q(status__in=PUBLIC_STATUSES)
            | Q(
                status=CampaignStatus.CANCELLED,
                distribution=Distribution.LOTTERY,
                drawn_at__isnull=False,
            ),
            pk=pk,
        )
    except (Campaign.DoesNotExist, ValueError):
        raise NotFound() from None


def campaign_public_list(*, query: str = "", kind: str = "", now: Any = None) -> QuerySet[Campaign]:
    """The campaigns anyone may see (``PUBLIC_STATUSES``), newest release first, each with its
    settlement notice (``campaign.notice``) when it has one. ``kind``: ``notice`` keeps those
    whose notice runs now, ``lottery`` the lottery campaigns (their proof pages)."""
    from django.utils import timezone

    qs = Campaign.objects.filter(status__in=PUBLIC_STATUSES).select_related(
        "org", "merchant", "notice"
    )
    if kind == "notice":
        now = now or timezone.now()
        qs = qs.filter(
            notice__closed_at__isnull=True, notice__starts_at__lte=now, notice__ends_at__gt=now
        )
    elif kind == "lottery":
        qs = qs.filter(distribution=Distribution.LOTTERY)
    if query:
        qs = qs.filter(
            Q(name__icontains=query)
            | Q(merchant__name__icontains=query)
            | Q(org__name__icontains=query)
        )
    return qs.order_by("-release_at", "-id")


def lottery_public_entries(*, campaign: Campaign) -> list[dict[str, Any]]:
    """Registration numbers with masked names: what anyone needs to re-run the draw."""
    return [
        {"registration": pk, "name": mask_name(name), "won": won}
        for pk, name, won in Registration.objects.filter(campaign=campaign)
        .order_by("pk")
        .values_list("pk", "member__name", "won")
    ]


def notice_public_get(*, pk: int | str) -> PublicNotice:
    try:
        return PublicNotice.objects.select_related("campaign").get(pk=pk)
    except (PublicNotice.DoesNotExist, ValueError):
        raise NotFound() from None


def notice_public_redemptions(
    *, notice: PublicNotice, store_id: int | None = None, day: dt.date | None = None
) -> QuerySet[Redemption, tuple[str, str, dt.datetime]]:
    """The redemptions a notice lists, oldest first, optionally of one store or one local day:
    (member's name, store, when) for ``notice_public_row`` to mask; nothing else personal."""
    qs = Redemption.objects.filter(
        voucher__campaign_id=notice.campaign_id, reversed_at__isnull=True
    )
    if store_id is not None:
        qs = qs.filter(store_id=store_id)
    if day is not None:
        qs = qs.filter(at__date=day)
    return qs.order_by("at", "pk").values_list("voucher__member__name", "store__name", "at")


def notice_public_row(name: str, store: str, at: dt.datetime) -> dict[str, Any]:
    return {"name": mask_name(name), "store": store, "date": timezone.localdate(at).isoformat()}


def notice_public_days(*, notice: PublicNotice) -> list[dt.date]:
    """The local days on which the notice's vouchers were used (the list's day filter)."""
    return list(
        Redemption.objects.filter(voucher__campaign_id=notice.campaign_id, reversed_at__isnull=True)
        .annotate(day=TruncDate("at"))
        .order_by("day")
        .values_list("day", flat=True)
        .distinct()
    )


def notice_public_store_choices(*, notice: PublicNotice) -> list[tuple[int, str]]:
    """The stores where the notice's vouchers were used, by name (the list's store filter)."""
    return list(
        Store.objects.filter(
            pk__in=Redemption.objects.filter(
                voucher__campaign_id=notice.campaign_id, reversed_at__isnull=True
            ).values("store_id")
        )
        .order_by("name", "pk")
        .values_list("pk", "name")
    )


def notice_public_rows(*, notice: PublicNotice) -> list[dict[str, Any]]:
    """The notice's whole list: masked names, store, date."""
    return [notice_public_row(*row) for row in notice_public_redemptions(notice=notice)]
