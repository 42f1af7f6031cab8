"""THE scoping function. Every read of people or money goes through ``scoped``.

An actor is a staff ``User`` (sees its organisation's subtree), a signed-in ``Member`` (sees only
rows that are its own), or anyone else (sees nothing). Pages, admin, API, exports and counts all call
``scoped``; no view builds its own filter on an organisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import Model, Q, QuerySet

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Scope:
    everything: bool = False
    org_path: str | None = None
    member_id: int | None = None

    @property
    def nothing(self) -> bool:
        return not self.everything and self.org_path is None and self.member_id is None


def scope_for(actor: Any) -> Scope:
    if actor is None:
        return Scope()
    if getattr(actor, "is_member_actor", False):
        return Scope(member_id=actor.pk)
    if not getattr(actor, "is_authenticated", False) or not getattr(actor, "is_active", False):
        return Scope()
    if getattr(actor, "is_superuser", False):
        return Scope(everything=True)
    org = getattr(actor, "org", None)
    if org is None or not getattr(actor, "is_staff", False):
        return Scope()
    return Scope(org_path=org.path)


def scoped(
    qs: QuerySet[M],
    *,
    actor: Any,
    org_field: str | None = "org",
    member_field: str | None = None,
) -> QuerySet[M]:
    """Restrict ``qs`` to what ``actor`` may see.

    ``org_field`` is the lookup path from the row to its organisation (``"org"``, ``"member__org"``,
    or ``""`` when the row *is* an organisation); ``member_field`` the path to the member who owns
    the row (``"pk"`` for members themselves), used when the actor is a member.
    """
    scope = scope_for(actor)
    if scope.everything:
        return qs
    if scope.member_id is not None:
        if member_field is None:
            return qs.none()
        return qs.filter(**{member_field: scope.member_id})
    if scope.org_path is None or org_field is None:
        return qs.none()
    path_lookup = f"{org_field}__path__startswith" if org_field else "path__startswith"
    return qs.filter(Q(**{path_lookup: scope.org_path}))


def can_see_org(actor: Any, org: Any) -> bool:
    scope = scope_for(actor)
    if scope.everything:
        return True
    return scope.org_path is not None and org is not None and org.path.startswith(scope.org_path)


def require_capability(actor: Any, capability: str, org: Any = None) -> None:
    """Services' write check: ``actor`` holds ``capability`` and may see ``org``.

    ``actor=None`` is the system itself (demo loader, commands) and passes. Raises
    PermissionDenied otherwise.
    """
    if actor is None:
        return
    from gonghui.core.errors import PermissionDenied

    if not getattr(actor, "can", lambda _c: False)(capability):
        raise PermissionDenied()
    if org is not None and not can_see_org(actor, org):
        raise PermissionDenied()
