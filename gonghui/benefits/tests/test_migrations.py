"""Data migrations run against rows made the way the platform makes them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from gonghui.benefits.models import Campaign
from gonghui.benefits.services import lottery_commit_seed


def _migrate(target: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


@pytest.mark.django_db(transaction=True)
def test_0014_dates_published_hashes_from_their_audit_line(world: Any, make_campaign: Any) -> None:
    """A hash committed before the column existed gets its time from the commit's audit line;
    one whose draft dates were since moved to before that time is left without one (the page
    then shows no time, rather than a wrong one), and the constraints hold for both."""
    now = timezone.now()

    def lottery(name: str) -> Campaign:
        c = make_campaign(
            name=name,
            status="draft",
            distribution="lottery",
            release_at=now - dt.timedelta(hours=1),
            registration_closes_at=now + dt.timedelta(hours=1),
        )
        lottery_commit_seed(campaign=c, actor=world.jiefang_officer)
        c.refresh_from_db()
        return c

    kept, moved, plain = lottery("有审计"), lottery("日期已改"), make_campaign(name="抢券")
    stamped = kept.seed_committed_at
    try:
        _migrate(("benefits", "0013_lottery_one_per_member"))
        with connection.cursor() as cursor:  # the old schema: no stamp, dates free to move
            cursor.execute(
                "UPDATE benefits_campaign SET registration_closes_at = %s WHERE id = %s",
                [now - dt.timedelta(minutes=30), moved.pk],
            )
    finally:
        _migrate(("benefits", "0014_campaign_seed_committed_at"))
    rows = dict(
        Campaign.objects.filter(pk__in=[kept.pk, moved.pk, plain.pk]).values_list(
            "pk", "seed_committed_at"
        )
    )
    assert (rows[moved.pk], rows[plain.pk]) == (None, None)
    # the audit line is written just after the hash, in the same transaction: a moment later
    # at most, never earlier than the truth
    assert (
        stamped and rows[kept.pk] and stamped <= rows[kept.pk] < stamped + dt.timedelta(seconds=5)
    )
