"""Every read of organisations, scoped to the acting user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from gonghui.accounts.scoping import scoped
from gonghui.core.errors import NotFound
from gonghui.orgs.models import COVERAGE_KINDS, MEMBER_HOLDING_KINDS, Org, OrgKind, OrgStatus


def org_list(
    *,
    actor: Any,
    query: str = "",
    kind: str = "",
    status: str = "",
    within: Org | None = None,
) -> QuerySet[Org]:
    qs = scoped(Org.objects.all(), actor=actor, org_field="")
    if within is not None:
        qs = qs.filter(path__startswith=within.path)
    if query:
        qs = qs.filter(
            Q(name__icontains=query) | Q(short_name__icontains=query) | Q(division_code=query)
        )
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("path")


def org_get(*, actor: Any, pk: int | str) -> Org:
    """The organisation if the actor may see it, else one boring NotFound."""
    try:
        return scoped(Org.objects.all(), actor=actor, org_field="").get(pk=pk)
    except (Org.DoesNotExist, ValueError):
        raise NotFound() from None


def org_subtree(*, org: Org) -> QuerySet[Org]:
    return Org.objects.filter(path__startswith=org.path)


def org_by_join_token(*, token: str) -> Org:
    """Public: the QR code's union. Only active member-holding unions answer."""
    if not token or len(token) > 32:
        raise NotFound()
    try:
        return Org.objects.get(
            join_token=token, status=OrgStatus.ACTIVE, kind__in=list(MEMBER_HOLDING_KINDS)
        )
    except Org.DoesNotExist:
        raise NotFound() from None


def org_member_holding(*, actor: Any) -> QuerySet[Org]:
    return org_list(actor=actor, status=OrgStatus.ACTIVE).filter(
        kind__in=list(MEMBER_HOLDING_KINDS)
    )


@dataclass(frozen=True)
class Coverage:
    kind: str
    label: str
    total: int
    covered: int

    @property
    def rate(self) -> float:
        return (self.covered / self.total) if self.total else 0.0


def coverage(*, actor: Any) -> list[Coverage]:
    """Townships (and parks) in the actor's subtree that have at least one active union under them."""
    base = scoped(Org.objects.filter(status=OrgStatus.ACTIVE), actor=actor, org_field="")
    has_union = Exists(
        Org.objects.filter(
            path__startswith=OuterRef("path"),
            kind__in=list(MEMBER_HOLDING_KINDS),
            status=OrgStatus.ACTIVE,
        )
    )
    out = []
    for kind in (OrgKind.TOWNSHIP_UNION, OrgKind.PARK_FEDERATION):
        assert kind in COVERAGE_KINDS
        qs = base.filter(kind=kind)
        total = qs.count()
        covered = qs.filter(has_union).count()
        out.append(Coverage(kind=kind.value, label=str(kind.label), total=total, covered=covered))
    return out


def org_ancestors(*, actor: Any, org: Org) -> list[Org]:
    """The parent chain of ``org`` (root first), limited to what the actor may see."""
    ids = [int(part) for part in org.path.strip("/").split("/") if part][:-1]
    if not ids:
        return []
    return list(scoped(Org.objects.filter(pk__in=ids), actor=actor, org_field="").order_by("depth"))


def org_children(*, actor: Any, org: Org) -> QuerySet[Org]:
    return scoped(Org.objects.filter(parent=org), actor=actor, org_field="").order_by("path")


def org_move_targets(*, actor: Any, org: Org) -> QuerySet[Org]:
    """Active organisations the actor sees that may take ``org`` as a child (not inside it)."""
    from gonghui.orgs.models import ALLOWED_CHILDREN

    kinds = [parent for parent, allowed in ALLOWED_CHILDREN.items() if org.kind in allowed]
    return (
        org_list(actor=actor, status=OrgStatus.ACTIVE)
        .filter(kind__in=kinds)
        .exclude(path__startswith=org.path)
        .exclude(pk=org.parent_id or 0)
    )
