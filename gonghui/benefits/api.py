"""/api/v1/benefits: voucher campaigns and their figures, scoped to the caller's subtree. Read-only
here; campaigns are set up and moved on in the console, where each step is explained."""

import datetime as dt

from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Path, Query, Router, Schema
from ninja.pagination import paginate

from gonghui.benefits.figures import campaign_breakdown, campaign_figures
from gonghui.benefits.models import Campaign, CampaignStatus
from gonghui.benefits.selectors import campaign_get, campaign_list
from gonghui.core.api_auth import MAX_ID, api_viewer
from gonghui.core.errors import ApplicationError

router = Router()


class CampaignOut(Schema):
    id: int
    name: str
    org_id: int
    org_name: str
    merchant_id: int
    merchant_name: str
    status: str
    distribution: str
    face_value_fen: int
    subsidy_fen: int
    member_share_fen: int
    concession_fen: int
    min_purchase_fen: int
    quota: int
    per_member_limit: int
    release_at: dt.datetime
    redeem_from: dt.datetime
    redeem_until: dt.datetime

    @staticmethod
    def resolve_org_name(obj: Campaign) -> str:
        return obj.org.name

    @staticmethod
    def resolve_merchant_name(obj: Campaign) -> str:
        return obj.merchant.name


class CampaignFilters(Schema):
    q: str = Field("", max_length=100)
    status: str = Field(
        "", max_length=16, description="One of: " + ", ".join(CampaignStatus.values)
    )


class CountOut(Schema):
    label: str
    count: int


class StoreCountOut(CountOut):
    subsidy_fen: int  # the union's subsidy of the store's live redemptions, as the dashboard shows


class FiguresOut(Schema):
    campaign_id: int
    quota: int
    handed_out: int
    open: int
    redeemed: int
    expired: int
    cancelled: int
    reversed: int
    registrations: int
    redemption_rate: float
    subsidy_accrued_fen: int
    subsidy_paid_fen: int
    subsidy_payable_fen: int
    by_store: list[StoreCountOut]
    by_day: list[CountOut]
    by_org: list[CountOut]


@router.get("/campaigns", response=list[CampaignOut])
@paginate
def campaigns_list(request: HttpRequest, filters: Query[CampaignFilters]) -> QuerySet[Campaign]:
    actor = api_viewer(request)
    rows = campaign_list(actor=actor).order_by("-release_at", "-id")
    if filters.status:
        if filters.status not in CampaignStatus.values:
            raise ApplicationError(
                _("Choose one of the allowed values."), code="status_invalid", field="status"
            )
        rows = rows.filter(status=filters.status)
    q = filters.q.strip()
    if q:
        rows = rows.filter(Q(name__icontains=q) | Q(merchant__name__icontains=q))
    return rows


@router.get("/campaigns/{campaign_id}", response=CampaignOut)
def campaigns_get(request: HttpRequest, campaign_id: int = Path(..., ge=1, le=MAX_ID)) -> Campaign:
    return campaign_get(actor=api_viewer(request), pk=campaign_id)


@router.get("/campaigns/{campaign_id}/figures", response=FiguresOut)
def campaigns_figures(
    request: HttpRequest, campaign_id: int = Path(..., ge=1, le=MAX_ID)
) -> dict[str, object]:
    actor = api_viewer(request)
    campaign = campaign_get(actor=actor, pk=campaign_id)
    f = campaign_figures(actor=actor, campaign=campaign)
    b = campaign_breakdown(actor=actor, campaign=campaign)

    def counts(pairs: list[tuple[str, int]]) -> list[dict[str, object]]:
        return [{"label": label, "count": n} for label, n in pairs]

    return {
        "campaign_id": campaign.pk,
        "quota": f.quota,
        "handed_out": f.handed_out,
        "open": f.open,
        "redeemed": f.redeemed,
        "expired": f.expired,
        "cancelled": f.cancelled,
        "reversed": f.reversed,
        "registrations": f.registrations,
        "redemption_rate": round(f.redemption_rate, 4),
        "subsidy_accrued_fen": f.subsidy_accrued_fen,
        "subsidy_paid_fen": f.subsidy_paid_fen,
        "subsidy_payable_fen": f.subsidy_payable_fen,
        "by_store": [
            {"label": r.name, "count": r.redeemed, "subsidy_fen": r.subsidy_fen} for r in b.by_store
        ],
        "by_day": counts(b.day_pairs),
        "by_org": counts(b.org_pairs),
    }
