"""The figures a federation reports, computed from records and scoped to the acting user.

Every function takes the acting user and reads through ``scoped``; breakdowns are one grouped query
each (never a count per organisation in a loop).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, Func, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, StrIndex, Substr
from django.utils import timezone
from django.utils.translation import gettext as _

from gonghui.accounts.scoping import scope_for, scoped
from gonghui.members.models import (
    JoinStatus,
    Member,
    Membership,
    MembershipEvent,
    MemberStatus,
    NewFormKind,
    WorkerCategory,
)
from gonghui.members.selectors import join_application_list, member_counts_by_category
from gonghui.orgs.models import MEMBER_HOLDING_KINDS, Org, OrgStatus
from gonghui.orgs.selectors import Coverage, coverage, org_children, org_list

# The first year a figure may be asked for; earlier years are certainly typing mistakes.
FIRST_YEAR = 1949


@dataclass(frozen=True)
class Row:
    """One line of a breakdown: a label, a number and (for organisations) the row's org."""

    label: str
    value: int
    org: Org | None = None
    key: str = ""


@dataclass(frozen=True)
class Dashboard:
    year: int
    root: Org | None
    total_members: int
    new_form_members: int
    new_members_in_year: int
    new_unions_in_year: int
    pending_join_applications: int
    by_org: list[Row] = field(default_factory=list)
    by_category: list[Row] = field(default_factory=list)
    by_new_form_kind: list[Row] = field(default_factory=list)
    coverage: list[Coverage] = field(default_factory=list)


def _active_members(*, actor: Any) -> QuerySet[Member]:
    return scoped(Member.objects.filter(status=MemberStatus.ACTIVE), actor=actor)


def dashboard_years(*, today_year: int | None = None, span: int = 10) -> list[int]:
    """The years offered in the year picker, newest first."""
    current = today_year or timezone.localdate().year
    return list(range(current, max(FIRST_YEAR, current - span) - 1, -1))


def members_by_category(*, actor: Any) -> tuple[list[Row], list[Row]]:
    """Active members per worker category, and new-form workers per kind (one grouped query)."""
    counts: dict[str, int] = {}
    kinds: dict[str, int] = {}
    for row in member_counts_by_category(actor=actor):
        counts[row["category"]] = counts.get(row["category"], 0) + row["n"]
        if row["category"] == WorkerCategory.NEW_FORM_WORKER:
            kinds[row["new_form_kind"]] = kinds.get(row["new_form_kind"], 0) + row["n"]
    by_category = [
        Row(label=str(c.label), value=counts.get(c.value, 0), key=c.value) for c in WorkerCategory
    ]
    by_kind = [
        Row(label=str(k.label), value=kinds.get(k.value, 0), key=k.value) for k in NewFormKind
    ]
    if kinds.get(""):
        by_kind.append(Row(label=_("Kind not recorded"), value=kinds[""], key=""))
    return by_category, by_kind


def members_by_child_org(*, actor: Any) -> list[Row]:
    """Active members under each direct child of the actor's organisation, whole subtrees counted.

    One query groups the members by the prefix of their union's path that names the child
    (``/1/5/23/`` under root ``/1/`` → ``/1/5/``); members held by the root itself form one row.
    """
    scope = scope_for(actor)
    if scope.nothing or scope.member_id is not None:
        return []
    root: Org | None = getattr(actor, "org", None)
    if root is not None:
        root_path = root.path
        children = list(org_children(actor=actor, org=root))
    else:  # a superuser without an organisation looks down from the top
        root_path = "/"
        children = list(org_list(actor=actor).filter(parent__isnull=True))
    length = len(root_path)
    prefix = Substr(
        "org__path",
        1,
        Value(length, output_field=IntegerField())
        + StrIndex(Substr("org__path", length + 1), Value("/")),
    )
    grouped = (
        _active_members(actor=actor)
        .filter(org__path__startswith=root_path)
        .annotate(prefix=prefix)
        .values("prefix")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = {row["prefix"]: row["n"] for row in grouped}
    rows = []
    if root is not None and counts.get(root_path):
        rows.append(
            Row(
                label=_("%(org)s (own members)") % {"org": root.display_name},
                value=counts[root_path],
                org=root,
            )
        )
    for child in children:
        n = counts.get(child.path, 0)
        if child.status == OrgStatus.ACTIVE or n:
            rows.append(Row(label=child.display_name, value=n, org=child))
    return rows


def new_members_in_year(*, actor: Any, year: int) -> int:
    """People who joined a union in the subtree during ``year`` (first joins and re-joins)."""
    return (
        scoped(
            Membership.objects.filter(
                start_kind__in=[MembershipEvent.JOIN, MembershipEvent.REJOIN],
                started_on__year=year,
            ),
            actor=actor,
        )
        .values("member_id")
        .distinct()
        .count()
    )


def new_unions_in_year(*, actor: Any, year: int) -> int:
    """Base and joint base unions founded in ``year`` (or, lacking a founding date, entered then)."""
    return (
        scoped(Org.objects.filter(kind__in=list(MEMBER_HOLDING_KINDS)), actor=actor, org_field="")
        .filter(Q(founded_on__year=year) | Q(founded_on__isnull=True, created_at__year=year))
        .count()
    )


def pending_join_applications(*, actor: Any) -> int:
    return join_application_list(actor=actor, status=JoinStatus.PENDING).count()


def dashboard(*, actor: Any, year: int) -> Dashboard:
    by_category, by_kind = members_by_category(actor=actor)
    total = sum(row.value for row in by_category)
    new_form = next(
        (row.value for row in by_category if row.key == WorkerCategory.NEW_FORM_WORKER), 0
    )
    return Dashboard(
        year=year,
        root=getattr(actor, "org", None),
        total_members=total,
        new_form_members=new_form,
        new_members_in_year=new_members_in_year(actor=actor, year=year),
        new_unions_in_year=new_unions_in_year(actor=actor, year=year),
        pending_join_applications=pending_join_applications(actor=actor),
        by_org=members_by_child_org(actor=actor),
        by_category=by_category,
        by_new_form_kind=by_kind,
        coverage=coverage(actor=actor),
    )


def org_list_with_member_counts(
    *, actor: Any, query: str = "", kind: str = "", status: str = ""
) -> QuerySet[Org]:
    """``org_list`` with each row's active members (whole subtree) as ``member_count``.

    The count is a correlated subquery, so only the rows of the page being shown pay for it.
    """
    members = (
        _active_members(actor=actor)
        .filter(org__path__startswith=OuterRef("path"))
        .order_by()
        .annotate(c=Func(F("id"), function="COUNT"))
        .values("c")
    )
    return org_list(actor=actor, query=query, kind=kind, status=status).annotate(
        member_count=Coalesce(Subquery(members, output_field=IntegerField()), 0)
    )


def org_member_count(*, actor: Any, org: Org) -> int:
    """Active members in ``org``'s whole subtree that the actor may see."""
    return _active_members(actor=actor).filter(org__path__startswith=org.path).count()
