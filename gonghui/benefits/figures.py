"""The figures of a voucher campaign, for its page, its dashboard, the API and the export.

Two reads, so that a page pays only for what it shows: ``campaign_figures`` (vouchers by status,
reversals, registrations, the subsidy as the ledger has it: a handful of counts, shown on the
campaign's page too) and ``campaign_breakdown`` (redemptions by store, by local day and by union,
shown on the dashboard). Both start from a campaign the actor may see (``campaign_get``).

By union, the dashboard reads the union tree one level at a time: the unions directly under the
campaign's organising union (a city's campaign: its counties; a county's: its townships), each
with its whole subtree rolled up; a row opens the level below it, down to the base unions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import CharField, Count, QuerySet, Sum, Value
from django.db.models.functions import Cast, Concat, TruncDate
from django.utils import timezone
from django.utils.translation import gettext

from gonghui.benefits import selectors
from gonghui.benefits.models import (
    Campaign,
    Redemption,
    Registration,
    Settlement,
    Voucher,
    VoucherStatus,
)
from gonghui.core.errors import NotFound
from gonghui.ledger.models import Account, Entry
from gonghui.orgs.models import Org
from gonghui.orgs.selectors import org_ancestors, org_get

# ---------------------------------------------------------------------------------------------
# the headline figures


@dataclass
class CampaignFigures:
    quota: int
    handed_out: int  # every voucher made: open + redeemed + expired + cancelled
    open: int  # handed out, not yet used (a reversed redemption's voucher is open again)
    redeemed: int  # used, reversals left out
    expired: int
    cancelled: int
    reversed: int  # redemptions a supervisor undid (not counted as redeemed)
    registrations: int
    subsidy_accrued_fen: int
    subsidy_paid_fen: int

    @property
    def redemption_rate(self) -> float:
        """Redeemed ÷ handed out (the page says so, with both numbers)."""
        return self.redeemed / self.handed_out if self.handed_out else 0.0

    @property
    def subsidy_payable_fen(self) -> int:
        """Accrued on redemption, not yet paid: what the union still owes the merchant."""
        return self.subsidy_accrued_fen - self.subsidy_paid_fen


def campaign_figures(*, actor: Any, campaign: Campaign) -> CampaignFigures:
    """Vouchers by status and the subsidy as the ledger has it (accrued on each redemption,
    reversed with it, paid when the notice closed). A fixed number of counts, whatever the
    campaign's size."""
    campaign = selectors.campaign_get(actor=actor, pk=campaign.pk)
    counts = dict(
        Voucher.objects.filter(campaign=campaign)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    accrued, paid = _subsidy_from_ledger(campaign)
    return CampaignFigures(
        quota=campaign.quota,
        handed_out=sum(counts.values()),
        open=counts.get(VoucherStatus.OPEN, 0),
        redeemed=counts.get(VoucherStatus.USED, 0),
        expired=counts.get(VoucherStatus.EXPIRED, 0),
        cancelled=counts.get(VoucherStatus.CANCELLED, 0),
        reversed=Redemption.objects.filter(
            voucher__campaign=campaign, reversed_at__isnull=False
        ).count(),
        registrations=Registration.objects.filter(campaign=campaign).count(),
        subsidy_accrued_fen=accrued,
        subsidy_paid_fen=paid,
    )


def _subsidy_from_ledger(campaign: Campaign) -> tuple[int, int]:
    """(accrued, paid) on the merchant's payable account, for this campaign's references only
    (the account is shared by every campaign of the merchant). Liabilities are credit-negative."""
    # Looked up, not created: a read never opens accounts (the services do, on first posting).
    payable = Account.objects.filter(
        org_id=campaign.org_id, code=f"2202.M{campaign.merchant_id}"
    ).first()
    if payable is None:
        return 0, 0

    # The references are made in the database (a subquery each), never fetched: a campaign of
    # 100,000 redemptions would otherwise send 100,000 parameters (over SQLite's limit).
    def refs(prefix: str, qs: QuerySet[Any]) -> QuerySet[Any]:
        return qs.order_by().values(ref=Concat(Value(prefix), Cast("pk", output_field=CharField())))

    redemption_refs = refs(
        "benefits.redemption:", Redemption.objects.filter(voucher__campaign=campaign)
    )
    settlement_refs = refs("benefits.settlement:", Settlement.objects.filter(campaign=campaign))
    entries = Entry.objects.filter(account=payable)
    accrued = -int(
        entries.filter(transaction__reference__in=redemption_refs).aggregate(s=Sum("amount_fen"))[
            "s"
        ]
        or 0
    )
    paid = int(
        entries.filter(transaction__reference__in=settlement_refs).aggregate(s=Sum("amount_fen"))[
            "s"
        ]
        or 0
    )
    return accrued, paid


# ---------------------------------------------------------------------------------------------
# the breakdowns


@dataclass(frozen=True)
class StoreRow:
    name: str
    redeemed: int
    subsidy_fen: int


@dataclass(frozen=True)
class DayRow:
    day: dt.date  # a calendar day in the platform's time zone
    redeemed: int


@dataclass(frozen=True)
class OrgRow:
    """One union of the level shown, its subtree rolled up. ``org`` is None for the members now
    in unions outside the campaign's (they transferred after redeeming): counted, not named."""

    org: Org | None
    name: str
    redeemed: int
    has_level_below: bool = False


@dataclass
class CampaignBreakdown:
    by_store: list[StoreRow] = field(default_factory=list)
    by_day: list[DayRow] = field(default_factory=list)
    level: Org | None = None  # the union whose next level ``by_org`` lists
    trail: list[Org] = field(default_factory=list)  # campaign's union … ``level``, for links up
    by_org: list[OrgRow] = field(default_factory=list)

    @property
    def store_pairs(self) -> list[tuple[str, int]]:
        return [(r.name, r.redeemed) for r in self.by_store]

    @property
    def day_pairs(self) -> list[tuple[str, int]]:
        return [(r.day.isoformat(), r.redeemed) for r in self.by_day]

    @property
    def org_pairs(self) -> list[tuple[str, int]]:
        return [(r.name, r.redeemed) for r in self.by_org]


def campaign_breakdown(
    *, actor: Any, campaign: Campaign, org: int | str | None = None
) -> CampaignBreakdown:
    """Live redemptions (reversals left out) by store, by local day and by union one level below
    ``org`` (a union in the campaign's subtree the actor may see; default the campaign's own).
    Each is one grouped query whose rows are stores, days or unions, never redemptions."""
    campaign = selectors.campaign_get(actor=actor, pk=campaign.pk)
    root = campaign.org
    level = root
    if org not in (None, ""):
        assert org is not None
        level = org_get(actor=actor, pk=org)
        if not level.path.startswith(root.path):
            raise NotFound()
    live = Redemption.objects.filter(
        voucher__campaign=campaign, reversed_at__isnull=True
    ).order_by()
    trail = [a for a in org_ancestors(actor=actor, org=level) if a.path.startswith(root.path)]
    return CampaignBreakdown(
        by_store=_by_store(live),
        by_day=_by_day(live),
        level=level,
        trail=[*trail, level],
        by_org=_by_org(live, root=root, level=level),
    )


def _by_store(live: QuerySet[Redemption]) -> list[StoreRow]:
    rows = (
        live.values_list("store_id")
        .annotate(n=Count("id"), s=Sum("subsidy_fen"))
        .values_list("store__name", "n", "s")
    )
    return sorted(
        (StoreRow(name=name, redeemed=n, subsidy_fen=int(s or 0)) for name, n, s in rows),
        key=lambda r: (-r.redeemed, r.name),
    )


def _by_day(live: QuerySet[Redemption]) -> list[DayRow]:
    """Calendar days in the platform's time zone (a scan at 07:30 in Jiaozuo is 23:30 UTC the day
    before, and counts on the day the store saw it), from the first day with a redemption to the
    last, a day without one included as 0 so that a chart's bars stay one a day."""
    counts: dict[dt.date, int] = {}
    for day, n in (
        live.annotate(day=TruncDate("at", tzinfo=timezone.get_current_timezone()))
        .values_list("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    ):
        day = day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day))
        counts[day] = counts.get(day, 0) + n
    if not counts:
        return []
    first, last = min(counts), max(counts)
    return [
        DayRow(
            day=first + dt.timedelta(days=i), redeemed=counts.get(first + dt.timedelta(days=i), 0)
        )
        for i in range((last - first).days + 1)
    ]


def _child_path(path: str, level: Org) -> str:
    """The path of the union directly under ``level`` on the way down to ``path``."""
    below = path[len(level.path) :].split("/", 1)[0]
    return f"{level.path}{below}/"


def _by_org(live: QuerySet[Redemption], *, root: Org, level: Org) -> list[OrgRow]:
    """Redemptions by the member's union, rolled up to the unions directly under ``level``. One
    grouped query (a row per union with redemptions, never a row per redemption) and one for the
    names of the unions listed. Grouped by the union's path, not its name: two unions may share
    a name under different parents."""
    per_union = live.values_list("voucher__member__org__path").annotate(n=Count("id"))
    own = 0
    elsewhere = 0
    totals: dict[str, int] = {}
    deeper: set[str] = set()
    for path, n in per_union.values_list("voucher__member__org__path", "n"):
        if path == level.path:
            own += n
        elif path.startswith(level.path):
            child = _child_path(path, level)
            totals[child] = totals.get(child, 0) + n
            if path != child:
                deeper.add(child)
        elif level == root:
            # Outside the campaign's union: a member who transferred after redeeming. Another
            # subtree's union is not the reader's to see; the redemption still counts.
            elsewhere += n
    unions = {o.path: o for o in Org.objects.filter(path__in=list(totals))}
    rows = [
        OrgRow(org=unions[p], name=unions[p].name, redeemed=n, has_level_below=p in deeper)
        for p, n in totals.items()
        if p in unions
    ]
    if own:
        rows.append(
            OrgRow(
                org=level,
                name=gettext("%(union)s (its own members)") % {"union": level.name},
                redeemed=own,
            )
        )
    rows.sort(key=lambda r: (-r.redeemed, r.org.path if r.org else ""))
    if elsewhere:
        rows.append(
            OrgRow(org=None, name=gettext("Members now in other unions"), redeemed=elsewhere)
        )
    return rows
