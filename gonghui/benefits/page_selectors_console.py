"""Reads behind the staff console and the public pages of voucher campaigns.

Built on the engine's selectors (``selectors.py``): every staff read starts from a campaign the
actor may see (``campaign_get`` / ``campaign_list``, scoped on ``campaign.org``), so the figures,
settlements and objections below never reach outside the actor's subtree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.utils.translation import gettext, pgettext

from gonghui.accounts.scoping import scoped
from gonghui.benefits import selectors
from gonghui.benefits.models import (
    Campaign,
    CampaignStatusChange,
    Merchant,
    Objection,
    PublicNotice,
    Redemption,
    Registration,
    Settlement,
    SettlementStatus,
    Store,
)
from gonghui.benefits.services import mask_name
from gonghui.benefits.settlement import settlement_compare
from gonghui.core.errors import NotFound
from gonghui.members.models import CardBin, WorkerCategory
from gonghui.orgs.models import Org

# ---------------------------------------------------------------------------------------------
# campaign list and form choices


def console_campaign_list(
    *,
    actor: Any,
    status: str = "",
    distribution: str = "",
    query: str = "",
    org: Org | None = None,
) -> QuerySet[Campaign]:
    """The console's list: the actor's campaigns, by status, hand-out, organising union (with its
    sub-unions) and a text found in the campaign's, its union's, merchant's or a store's name."""
    qs = selectors.campaign_list(actor=actor)
    if status:
        qs = qs.filter(status=status)
    if distribution:
        qs = qs.filter(distribution=distribution)
    if org is not None:
        # Within the actor's own campaigns (above): a union outside its subtree finds nothing.
        qs = qs.filter(org__path__startswith=org.path)
    if query:
        at_store = Campaign.stores.through.objects.filter(
            campaign_id=OuterRef("pk"), store__name__icontains=query
        )
        qs = qs.filter(
            Q(name__icontains=query)
            | Q(merchant__name__icontains=query)
            | Q(org__name__icontains=query)
            | Q(org__short_name__icontains=query)
            | Q(Exists(at_store))
        )
    return qs.order_by("-release_at", "-id")


def campaign_filter_orgs(*, actor: Any) -> list[Org]:
    """The unions the list can be narrowed to: those the actor may see whose subtree organises
    one of its campaigns (not every base union of the city, which would make a select of
    thousands), tree order."""
    campaign_paths = set(
        scoped(Campaign.objects.all(), actor=actor)
        .order_by()
        .values_list("org__path", flat=True)
        .distinct()
    )
    ancestors: set[str] = set()
    for path in campaign_paths:
        parts = [p for p in path.split("/") if p]
        ancestors.update("/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts)))
    return list(visible_orgs(actor=actor).filter(path__in=ancestors))


def campaign_has_redemptions(*, actor: Any, campaign: Campaign) -> bool:
    """Whether vouchers of the campaign have been used (and not reversed): it can then no longer
    be cancelled, only closed and settled."""
    campaign = selectors.campaign_get(actor=actor, pk=campaign.pk)
    return Redemption.objects.filter(voucher__campaign=campaign, reversed_at__isnull=True).exists()


def visible_orgs(*, actor: Any) -> QuerySet[Org]:
    return scoped(Org.objects.all(), actor=actor, org_field="").order_by("path")


def visible_merchants(*, actor: Any) -> QuerySet[Merchant]:
    return selectors.merchant_list(actor=actor).filter(is_active=True)


def visible_stores(*, actor: Any) -> QuerySet[Store]:
    return scoped(
        Store.objects.select_related("merchant").filter(is_active=True, merchant__is_active=True),
        actor=actor,
        org_field="merchant__org",
    ).order_by("merchant__name", "name")


def card_bank_names() -> list[str]:
    """The issuing banks of member cards, from the BIN table (configuration, not personal data)."""
    return list(
        CardBin.objects.filter(is_member_card=True)
        .order_by("bank_name")
        .values_list("bank_name", flat=True)
        .distinct()
    )


def campaign_category_labels(*, campaign: Campaign) -> list[str]:
    """The campaign's worker categories as the reader's language names them (stored as codes)."""
    return [
        str(WorkerCategory(c).label) if c in WorkerCategory.values else c
        for c in campaign.categories
    ]


# The clock and the settlement services record their moves with a reason code and the actor
# "system" (stored data, the same in every language); the page says them in the reader's.
SYSTEM_ACTOR = "system"


@dataclass
class HistoryRow:
    at: dt.datetime
    old: str
    new: str
    by: str
    reason: str


def _history_reason(change: CampaignStatusChange) -> str:
    """The code's label in the reader's language, then the words a person typed, as typed."""
    label = str(change.get_reason_code_display()) if change.reason_code else ""
    return " · ".join(part for part in (label, change.reason) if part)


def campaign_history(*, actor: Any, campaign: Campaign) -> list[HistoryRow]:
    campaign = selectors.campaign_get(actor=actor, pk=campaign.pk)
    return [
        HistoryRow(
            at=h.at,
            old=h.old,
            new=h.new,
            by=pgettext("who moved a campaign", "System")
            if h.actor_id is None and h.actor_label == SYSTEM_ACTOR
            else h.actor_label,
            reason=_history_reason(h),
        )
        for h in CampaignStatusChange.objects.filter(campaign=campaign).order_by("at", "id")
    ]


def uploader_label(settlement: Settlement) -> str:
    """Who handed in a register: the stored audit label (``staff:<username>`` for union staff
    on the store's behalf, ``clerk:<username>`` for the store's own clerk), in words."""
    kind, _sep, username = settlement.uploaded_by_label.partition(":")
    if kind == "staff" and username:
        return gettext("%(user)s (union staff, on the store's behalf)") % {"user": username}
    if kind == "clerk" and username:
        return gettext("%(user)s (store clerk)") % {"user": username}
    return settlement.uploaded_by_label


# ---------------------------------------------------------------------------------------------
# settlement


@dataclass
class StoreSettlementRow:
    store: Store
    settlement: Settlement | None
    redeemed: int
    subsidy_fen: int
    # The settlement's comparison as it stands now, by outcome (None: nothing uploaded).
    counts: dict[str, int] | None = None


def campaign_settlement_rows(*, actor: Any, campaign: Campaign) -> list[StoreSettlementRow]:
    """One row per store of the campaign: its live settlement (if any) with its comparison as it
    stands now (as the settlement's own page shows it), and our own figures."""
    campaign = selectors.campaign_get(actor=actor, pk=campaign.pk)
    live = {
        s.store_id: s
        for s in selectors.settlement_list(actor=actor, campaign=campaign).exclude(
            status=SettlementStatus.SUPERSEDED
        )
    }
    totals = selectors.campaign_store_totals(campaign=campaign)
    return [
        StoreSettlementRow(
            store=store,
            settlement=live.get(store.pk),
            redeemed=totals.get(store.pk, (0, 0))[0],
            subsidy_fen=int(totals.get(store.pk, (0, 0))[1]),
            counts=(
                settlement_compare(settlement=live[store.pk]).counts if store.pk in live else None
            ),
        )
        for store in campaign.stores.order_by("name")
    ]


def campaign_store_get(*, actor: Any, campaign: Campaign, store_pk: int | str) -> Store:
    campaign = selectors.campaign_get(actor=actor, pk=campaign.pk)
    try:
        return campaign.stores.get(pk=store_pk)
    except (Store.DoesNotExist, ValueError):
        raise NotFound() from None


def settlement_get(*, actor: Any, pk: int | str) -> Settlement:
    try:
        return (
            selectors.settlement_list(actor=actor)
            .select_related("campaign__org", "campaign__merchant")
            .get(pk=pk)
        )
    except (Settlement.DoesNotExist, ValueError):
        raise NotFound() from None


def notice_for_campaign(*, actor: Any, campaign: Campaign) -> PublicNotice | None:
    campaign = selectors.campaign_get(actor=actor, pk=campaign.pk)
    return PublicNotice.objects.filter(campaign=campaign).first()


def notice_objections(*, actor: Any, notice: PublicNotice) -> QuerySet[Objection]:
    """Objections to a notice, for staff who may see its campaign (name and phone included, so
    they can answer; only ever shown behind the staff gate)."""
    selectors.campaign_get(actor=actor, pk=notice.campaign_id)
    return Objection.objects.filter(notice=notice).order_by("status", "-created_at")


def objection_get(*, actor: Any, pk: int | str) -> Objection:
    try:
        return scoped(
            Objection.objects.select_related("notice", "notice__campaign__org"),
            actor=actor,
            org_field="notice__campaign__org",
        ).get(pk=pk)
    except (Objection.DoesNotExist, ValueError):
        raise NotFound() from None


# ---------------------------------------------------------------------------------------------
# public


@dataclass
class NoticeStoreRow:
    store: str
    vouchers: int
    subsidy_fen: int


def notice_public_stores(*, notice: PublicNotice) -> list[NoticeStoreRow]:
    return [
        NoticeStoreRow(store=name, vouchers=n, subsidy_fen=int(s or 0))
        for name, n, s in Redemption.objects.filter(
            voucher__campaign_id=notice.campaign_id, reversed_at__isnull=True
        )
        .order_by()
        .values_list("store__name")
        .annotate(n=Count("id"), s=Sum("subsidy_fen"))
        .order_by("store__name")
        .values_list("store__name", "n", "s")
    ]


def notice_public_for_campaign(*, campaign: Campaign) -> PublicNotice | None:
    return PublicNotice.objects.filter(campaign=campaign).first()


def lottery_public_registration_ids(*, campaign: Campaign) -> list[int]:
    """Registration numbers only: enough to re-run the draw, nothing about the people."""
    return list(
        Registration.objects.filter(campaign=campaign).order_by("pk").values_list("pk", flat=True)
    )


def lottery_public_winners(*, campaign: Campaign) -> QuerySet[Registration, tuple[int, str]]:
    """The winners by registration number: (number, member's name) for ``lottery_public_row``."""
    return (
        Registration.objects.filter(campaign=campaign, won=True)
        .order_by("pk")
        .values_list("pk", "member__name")
    )


def lottery_public_row(pk: int, name: str) -> dict[str, Any]:
    return {"registration": pk, "name": mask_name(name)}


def lottery_public_registrations(*, campaign: Campaign) -> int:
    return Registration.objects.filter(campaign=campaign).count()


def lottery_public_passed_over(*, campaign: Campaign) -> list[int]:
    """The registrations the draw passed over (their members were no longer eligible when it
    reached them): numbers only, not why, which is the member's own business."""
    return list(
        Registration.objects.filter(campaign=campaign)
        .exclude(passed_over="")
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def lottery_public_lookup(*, campaign: Campaign, number: int) -> str | None:
    """What became of registration ``number`` of the campaign: "won", "lost" or "passed_over";
    None when it is not one of its registrations (or the draw has not run). Nothing about the
    person."""
    if campaign.drawn_at is None:
        return None
    row = (
        Registration.objects.filter(campaign=campaign, pk=number)
        .values_list("won", "passed_over")
        .first()
    )
    if row is None:
        return None
    won, passed_over = row
    return "won" if won else "passed_over" if passed_over else "lost"
