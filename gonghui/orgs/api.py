"""/api/v1/orgs: organisations, scoped to the caller's subtree. Thin: parse, call one service."""

import datetime as dt

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Path, Query, Router, Schema, Status
from ninja.pagination import paginate

from gonghui.core.api_auth import MAX_ID, api_actor, api_viewer
from gonghui.orgs.models import Org
from gonghui.orgs.selectors import org_get, org_list
from gonghui.orgs.services import org_create, org_move, org_update

router = Router()


class OrgOut(Schema):
    id: int
    parent_id: int | None
    depth: int
    kind: str
    kind_label: str
    name: str
    short_name: str
    division_code: str
    uscc: str
    uscc_checksum_ok: bool
    address: str
    founded_on: dt.date | None
    chair_name: str
    contact_name: str
    contact_phone: str
    status: str
    dissolved_on: dt.date | None

    @staticmethod
    def resolve_kind_label(obj: Org) -> str:
        return str(obj.get_kind_display())


class OrgFilters(Schema):
    q: str = Field("", max_length=100)
    kind: str = Field("", max_length=32)
    status: str = Field("", max_length=16)
    within: int | None = Field(None, ge=1, le=MAX_ID)


class OrgFieldsIn(Schema):
    """Editable fields; the service validates content and gives the user-facing message."""

    kind: str = Field(..., max_length=32)
    name: str = Field(..., max_length=200)
    short_name: str = Field("", max_length=40)
    division_code: str = Field("", max_length=40)
    uscc: str = Field("", max_length=40)
    uscc_override_reason: str = Field("", max_length=200)
    address: str = Field("", max_length=200)
    founded_on: dt.date | None = None
    chair_name: str = Field("", max_length=50)
    contact_name: str = Field("", max_length=50)
    contact_phone: str = Field("", max_length=20)


class OrgCreateIn(OrgFieldsIn):
    parent_id: int = Field(..., ge=1, le=MAX_ID)


class OrgPatchIn(Schema):
    kind: str | None = Field(None, max_length=32)
    name: str | None = Field(None, max_length=200)
    short_name: str | None = Field(None, max_length=40)
    division_code: str | None = Field(None, max_length=40)
    uscc: str | None = Field(None, max_length=40)
    uscc_override_reason: str | None = Field(None, max_length=200)
    address: str | None = Field(None, max_length=200)
    founded_on: dt.date | None = None
    chair_name: str | None = Field(None, max_length=50)
    contact_name: str | None = Field(None, max_length=50)
    contact_phone: str | None = Field(None, max_length=20)


class OrgMoveIn(Schema):
    new_parent_id: int = Field(..., ge=1, le=MAX_ID)
    reason: str = Field("", max_length=300)


@router.get("", response=list[OrgOut])
@paginate
def orgs_list(request: HttpRequest, filters: Query[OrgFilters]) -> QuerySet[Org]:
    actor = api_viewer(request)
    within = org_get(actor=actor, pk=filters.within) if filters.within else None
    return org_list(
        actor=actor, query=filters.q, kind=filters.kind, status=filters.status, within=within
    )


@router.get("/{org_id}", response=OrgOut)
def orgs_get(request: HttpRequest, org_id: int = Path(..., ge=1, le=MAX_ID)) -> Org:
    return org_get(actor=api_viewer(request), pk=org_id)


@router.post("", response={201: OrgOut})
def orgs_create(request: HttpRequest, payload: OrgCreateIn) -> Status[Org]:
    actor = api_actor(request)
    parent = org_get(actor=actor, pk=payload.parent_id)
    data = payload.dict(exclude={"parent_id"})
    return Status(201, org_create(actor=actor, parent=parent, **data))


@router.patch("/{org_id}", response=OrgOut)
def orgs_update(
    request: HttpRequest, payload: OrgPatchIn, org_id: int = Path(..., ge=1, le=MAX_ID)
) -> Org:
    actor = api_actor(request)
    org = org_get(actor=actor, pk=org_id)
    data = {
        k: ("" if v is None and k != "founded_on" else v)
        for k, v in payload.dict(exclude_unset=True).items()
    }
    reason = data.pop("uscc_override_reason", "") or ""
    return org_update(actor=actor, org=org, uscc_override_reason=reason, **data)


@router.post("/{org_id}/move", response=OrgOut)
def orgs_move(
    request: HttpRequest, payload: OrgMoveIn, org_id: int = Path(..., ge=1, le=MAX_ID)
) -> Org:
    actor = api_actor(request)
    org = org_get(actor=actor, pk=org_id)
    new_parent = org_get(actor=actor, pk=payload.new_parent_id)
    return org_move(actor=actor, org=org, new_parent=new_parent, reason=payload.reason)
