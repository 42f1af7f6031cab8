"""Every read of members, scoped through accounts.scoping.scoped."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import ExtractYear

from gonghui.accounts.scoping import scoped
from gonghui.core.errors import NotFound
from gonghui.core.idnumbers import normalise
from gonghui.members.models import (
    JoinApplication,
    JoinStatus,
    Member,
    MemberCard,
    Membership,
    MemberStatus,
)
from gonghui.orgs.models import Org


@dataclass(frozen=True)
class MemberFilters:
    query: str = ""
    org: Org | None = None
    category: str = ""
    new_form_kind: str = ""
    status: str = ""
    join_year: int | None = None


def _search_q(query: str) -> Q:
    """Name (substring), pinyin initials (prefix), phone tail, ID tail (last 4, X allowed)."""
    text = normalise(query)
    q = Q(name__icontains=query.strip())
    if re.fullmatch(r"[A-Za-z]{1,10}", text):
        q |= Q(name_initials__startswith=text.lower())
    if re.fullmatch(r"\d{4,11}", text):
        q |= Q(phone__endswith=text)
    if re.fullmatch(r"\d{3}[\dX]", text):
        q |= Q(id_tail=text)
    return q


def member_list(*, actor: Any, filters: MemberFilters | None = None) -> QuerySet[Member]:
    f = filters or MemberFilters()
    qs = scoped(Member.objects.select_related("org"), actor=actor, member_field="pk")
    if f.query.strip():
        qs = qs.filter(_search_q(f.query))
    if f.org is not None:
        qs = qs.filter(org__path__startswith=f.org.path)
    if f.category:
        qs = qs.filter(category=f.category)
    if f.new_form_kind:
        qs = qs.filter(new_form_kind=f.new_form_kind)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.join_year:
        qs = qs.filter(joined_on__year=f.join_year)
    return qs.order_by("-id")


def member_get(*, actor: Any, pk: int | str) -> Member:
    try:
        return scoped(Member.objects.select_related("org"), actor=actor, member_field="pk").get(
            pk=pk
        )
    except (Member.DoesNotExist, ValueError):
        raise NotFound() from None


def member_join_years(*, actor: Any) -> list[int]:
    qs = scoped(Member.objects.all(), actor=actor, member_field="pk")
    years = qs.annotate(y=ExtractYear("joined_on")).values_list("y", flat=True).distinct()
    return sorted({y for y in years if y}, reverse=True)


def join_application_list(
    *, actor: Any, status: str = JoinStatus.PENDING
) -> QuerySet[JoinApplication]:
    qs = scoped(JoinApplication.objects.select_related("org"), actor=actor)
    if status:
        qs = qs.filter(status=status)
    return qs


def join_application_get(*, actor: Any, pk: int | str) -> JoinApplication:
    try:
        return join_application_list(actor=actor, status="").get(pk=pk)
    except (JoinApplication.DoesNotExist, ValueError):
        raise NotFound() from None


def member_counts_by_category(*, actor: Any) -> list[dict[str, Any]]:
    qs = scoped(Member.objects.filter(status=MemberStatus.ACTIVE), actor=actor)
    return list(
        qs.values("category", "new_form_kind")
        .annotate(n=Count("id"))
        .order_by("category", "new_form_kind")
    )


@dataclass(frozen=True)
class MemberProfile:
    """One member with what their detail page (staff) or home page (the member) shows."""

    member: Member
    memberships: list[Membership]
    card: MemberCard | None
    applications: list[JoinApplication]


def member_profile(*, actor: Any, pk: int | str) -> MemberProfile:
    """The member (scoped like ``member_get``) with history, current card and join applications."""
    member = member_get(actor=actor, pk=pk)
    memberships = list(
        member.memberships.select_related("org", "started_by", "ended_by").order_by(
            "-started_on", "-id"
        )
    )
    card = member.cards.filter(is_current=True).first()
    applications = list(
        scoped(
            JoinApplication.objects.select_related("org", "decided_by"),
            actor=actor,
            member_field="member",
        )
        .filter(id_number_hash=member.id_number_hash)
        .order_by("-created_at")
    )
    return MemberProfile(
        member=member, memberships=memberships, card=card, applications=applications
    )
