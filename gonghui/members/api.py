"""/api/v1/members, /join-applications, /stats: scoped reads, writes through the services.

Schemas carry masked numbers only; the plaintext comes out solely from ``reveal``, which the
service audits.
"""

import datetime as dt
from typing import Literal

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Path, Query, Router, Schema, Status
from ninja.pagination import paginate

from gonghui.core.api_auth import MAX_ID, api_actor, api_viewer
from gonghui.members.models import JoinApplication, Member
from gonghui.members.selectors import (
    MemberFilters,
    join_application_get,
    join_application_list,
    member_counts_by_category,
    member_get,
    member_list,
)
from gonghui.members.services import (
    join_application_transition,
    member_leave,
    member_register,
    member_rejoin,
    member_reveal,
    member_transfer,
    member_update,
)
from gonghui.orgs.selectors import org_get, org_list

members_router = Router()
join_router = Router()
stats_router = Router()

ID = Path(..., ge=1, le=MAX_ID)


# --- schemas ------------------------------------------------------------------------------------


class MemberOut(Schema):
    id: int
    name: str
    id_number_masked: str
    gender: str
    phone: str
    employer: str
    org_id: int
    org_name: str
    category: str
    new_form_kind: str
    education: str
    political_status: str
    status: str
    joined_on: dt.date

    @staticmethod
    def resolve_org_name(obj: Member) -> str:
        return obj.org.name


class MembershipOut(Schema):
    org_id: int
    org_name: str
    started_on: dt.date
    start_kind: str
    start_reason: str
    ended_on: dt.date | None
    end_kind: str
    end_reason: str

    @staticmethod
    def resolve_org_name(obj: object) -> str:
        return obj.org.name  # type: ignore[attr-defined, no-any-return]


class CardOut(Schema):
    number_masked: str
    bank_name: str
    is_member_card: bool
    luhn_ok: bool


class MemberDetailOut(MemberOut):
    birth_date: dt.date
    memberships: list[MembershipOut]
    card: CardOut | None

    @staticmethod
    def resolve_memberships(obj: Member) -> list[object]:
        return list(obj.memberships.select_related("org").order_by("-started_on", "-id"))

    @staticmethod
    def resolve_card(obj: Member) -> object | None:
        return obj.cards.filter(is_current=True).first()


class MemberFilterIn(Schema):
    q: str = Field("", max_length=50)
    org: int | None = Field(None, ge=1, le=MAX_ID)
    category: str = Field("", max_length=20)
    new_form_kind: str = Field("", max_length=24)
    status: str = Field("", max_length=8)
    join_year: int | None = Field(None, ge=1900, le=2200)


class MemberProfileIn(Schema):
    name: str = Field(..., max_length=100)
    phone: str = Field("", max_length=30)
    employer: str = Field("", max_length=200)
    category: str = Field("employee", max_length=20)
    new_form_kind: str = Field("", max_length=24)
    education: str = Field("", max_length=16)
    political_status: str = Field("", max_length=20)


class MemberCreateIn(MemberProfileIn):
    org_id: int = Field(..., ge=1, le=MAX_ID)
    id_number: str = Field(..., max_length=40)
    joined_on: dt.date | None = None
    card_number: str = Field("", max_length=40)
    reason: str = Field("", max_length=200)


class MemberPatchIn(Schema):
    name: str | None = Field(None, max_length=100)
    phone: str | None = Field(None, max_length=30)
    employer: str | None = Field(None, max_length=200)
    category: str | None = Field(None, max_length=20)
    new_form_kind: str | None = Field(None, max_length=24)
    education: str | None = Field(None, max_length=16)
    political_status: str | None = Field(None, max_length=20)


class TransferIn(Schema):
    to_org_id: int = Field(..., ge=1, le=MAX_ID)
    on: dt.date
    reason: str = Field(..., max_length=200)


class LeaveIn(Schema):
    on: dt.date
    reason: str = Field(..., max_length=200)


class RejoinIn(Schema):
    org_id: int = Field(..., ge=1, le=MAX_ID)
    on: dt.date
    reason: str = Field("", max_length=200)


class RevealIn(Schema):
    field: Literal["id_number", "card_number"]
    reason: str = Field(..., max_length=300)


class RevealOut(Schema):
    field: str
    value: str


class JoinApplicationOut(Schema):
    id: int
    org_id: int
    org_name: str
    name: str
    id_number_masked: str
    phone: str
    employer: str
    category: str
    new_form_kind: str
    status: str
    created_at: dt.datetime
    decided_at: dt.datetime | None
    decision_reason: str
    member_id: int | None

    @staticmethod
    def resolve_org_name(obj: JoinApplication) -> str:
        return obj.org.name


class JoinFilterIn(Schema):
    status: Literal["", "pending", "approved", "rejected", "withdrawn"] = "pending"


class DecideIn(Schema):
    decision: Literal["approved", "rejected"]
    reason: str = Field("", max_length=200)


class CategoryCount(Schema):
    category: str
    new_form_kind: str
    count: int


class StatsOut(Schema):
    orgs_active: int
    members_active: int
    members_new_this_year: int
    by_category: list[CategoryCount]


# --- members ------------------------------------------------------------------------------------


@members_router.get("", response=list[MemberOut])
@paginate
def members_list(request: HttpRequest, filters: Query[MemberFilterIn]) -> QuerySet[Member]:
    actor = api_viewer(request)
    org = org_get(actor=actor, pk=filters.org) if filters.org else None
    return member_list(
        actor=actor,
        filters=MemberFilters(
            query=filters.q,
            org=org,
            category=filters.category,
            new_form_kind=filters.new_form_kind,
            status=filters.status,
            join_year=filters.join_year,
        ),
    )


@members_router.get("/{member_id}", response=MemberDetailOut)
def members_get(request: HttpRequest, member_id: int = ID) -> Member:
    return member_get(actor=api_viewer(request), pk=member_id)


@members_router.post("", response={201: MemberDetailOut})
def members_register(request: HttpRequest, payload: MemberCreateIn) -> Status[Member]:
    actor = api_actor(request)
    org = org_get(actor=actor, pk=payload.org_id)
    data = payload.dict(exclude={"org_id", "card_number"})
    member = member_register(actor=actor, org=org, card_number=payload.card_number or None, **data)
    return Status(201, member)


@members_router.patch("/{member_id}", response=MemberDetailOut)
def members_update(request: HttpRequest, payload: MemberPatchIn, member_id: int = ID) -> Member:
    actor = api_actor(request)
    member = member_get(actor=actor, pk=member_id)
    fields = {k: ("" if v is None else v) for k, v in payload.dict(exclude_unset=True).items()}
    return member_update(actor=actor, member=member, **fields)


@members_router.post("/{member_id}/transfer", response=MemberDetailOut)
def members_transfer(request: HttpRequest, payload: TransferIn, member_id: int = ID) -> Member:
    actor = api_actor(request)
    member = member_get(actor=actor, pk=member_id)
    to_org = org_get(actor=actor, pk=payload.to_org_id)
    return member_transfer(
        actor=actor, member=member, to_org=to_org, on=payload.on, reason=payload.reason
    )


@members_router.post("/{member_id}/leave", response=MemberDetailOut)
def members_leave(request: HttpRequest, payload: LeaveIn, member_id: int = ID) -> Member:
    actor = api_actor(request)
    member = member_get(actor=actor, pk=member_id)
    return member_leave(actor=actor, member=member, on=payload.on, reason=payload.reason)


@members_router.post("/{member_id}/rejoin", response=MemberDetailOut)
def members_rejoin(request: HttpRequest, payload: RejoinIn, member_id: int = ID) -> Member:
    """A member who left joins again, in ``org_id`` (a base union the caller may edit), from
    ``on`` (not before the day they left, not in the future)."""
    actor = api_actor(request)
    member = member_get(actor=actor, pk=member_id)
    org = org_get(actor=actor, pk=payload.org_id)
    return member_rejoin(actor=actor, member=member, org=org, on=payload.on, reason=payload.reason)


@members_router.post("/{member_id}/reveal", response=RevealOut)
def members_reveal(request: HttpRequest, payload: RevealIn, member_id: int = ID) -> dict[str, str]:
    actor = api_actor(request)
    member = member_get(actor=actor, pk=member_id)
    value = member_reveal(actor=actor, member=member, field=payload.field, reason=payload.reason)
    return {"field": payload.field, "value": value}


# --- join applications --------------------------------------------------------------------------


@join_router.get("", response=list[JoinApplicationOut])
@paginate
def join_applications_list(
    request: HttpRequest, filters: Query[JoinFilterIn]
) -> QuerySet[JoinApplication]:
    return join_application_list(actor=api_viewer(request), status=filters.status)


@join_router.post("/{application_id}/decide", response=JoinApplicationOut)
def join_applications_decide(
    request: HttpRequest, payload: DecideIn, application_id: int = ID
) -> JoinApplication:
    actor = api_actor(request)
    application = join_application_get(actor=actor, pk=application_id)
    return join_application_transition(
        actor=actor, application=application, to=payload.decision, reason=payload.reason
    )


# --- statistics ---------------------------------------------------------------------------------


@stats_router.get("/summary", response=StatsOut)
def stats_summary(request: HttpRequest) -> dict[str, object]:
    actor = api_viewer(request)
    counts = member_counts_by_category(actor=actor)
    this_year = timezone.localdate().year
    return {
        "orgs_active": org_list(actor=actor, status="active").count(),
        "members_active": sum(row["n"] for row in counts),
        "members_new_this_year": member_list(
            actor=actor, filters=MemberFilters(status="active", join_year=this_year)
        ).count(),
        "by_category": [
            {"category": r["category"], "new_form_kind": r["new_form_kind"], "count": r["n"]}
            for r in counts
        ],
    }
