"""Reads for the import pages, scoped through accounts.scoping.scoped."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from gonghui.accounts.scoping import scoped
from gonghui.core.errors import NotFound
from gonghui.members.models import ImportJob
from gonghui.orgs.models import MEMBER_HOLDING_KINDS, Org, OrgStatus


def import_target_orgs(*, actor: Any) -> QuerySet[Org]:
    """The active base unions (and joint base unions) the actor may import into."""
    return scoped(
        Org.objects.filter(status=OrgStatus.ACTIVE, kind__in=list(MEMBER_HOLDING_KINDS)),
        actor=actor,
        org_field="",
    ).order_by("path")


def import_job_list(*, actor: Any) -> QuerySet[ImportJob]:
    return scoped(ImportJob.objects.select_related("org", "created_by"), actor=actor).order_by(
        "-created_at"
    )


def import_job_get(*, actor: Any, pk: int | str) -> ImportJob:
    try:
        return import_job_list(actor=actor).get(pk=pk)
    except (ImportJob.DoesNotExist, ValueError):
        raise NotFound() from None
