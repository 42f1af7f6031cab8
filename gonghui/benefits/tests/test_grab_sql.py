"""The winning grab as one statement on PostgreSQL writes what the ORM path writes."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from gonghui.audit.models import AuditEvent
from gonghui.benefits import grab_sql
from gonghui.benefits.models import Campaign, CampaignStock, Voucher
from gonghui.benefits.services import (
    MAX_STOCK_SHARDS,
    GrabOutcome,
    grab_in_database,
    voucher_grab,
)

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the grab statement exists on PostgreSQL only"
)


def _rows(voucher_id: int) -> dict[str, Any]:
    v = Voucher.objects.get(pk=voucher_id)
    line = AuditEvent.objects.get(object_type="benefits.voucher", object_id=str(v.pk))
    return {
        "voucher": (v.campaign_id, v.slot, v.per_member_limit, v.status, v.used_at, len(v.code)),
        "audit": (
            line.actor_id,
            line.actor_label.split(":")[0],
            line.action,
            line.object_repr.rsplit("/", 1)[1],
            line.org_id,
            line.changes,
        ),
    }


def test_statement_and_orm_winners_write_the_same_rows(make_campaign, carded, monkeypatch):
    campaign = make_campaign(quota=4)
    first, second = carded(), carded()
    # The ORM path: with the statement switched off for this one call.
    monkeypatch.setattr(grab_sql, "run", lambda **kw: None)
    orm = grab_in_database(campaign=campaign, member=first, request_key="a")
    monkeypatch.undo()
    fast = grab_in_database(campaign=campaign, member=second, request_key="b")
    assert orm.outcome == fast.outcome == GrabOutcome.WON
    assert orm.voucher is not None and fast.voucher is not None
    assert _rows(orm.voucher.pk) == _rows(fast.voucher.pk)
    assert Voucher.objects.get(pk=fast.voucher.pk).code == fast.voucher.code
    assert Voucher.objects.get(pk=fast.voucher.pk).member_id == second.pk
    campaign.refresh_from_db()
    assert campaign.remaining == 2


def test_statement_takes_nothing_when_closed_or_empty(make_campaign, carded):
    campaign = make_campaign(quota=1)
    args = {
        "org_id": campaign.org_id,
        "code": "C" * 22,
        "request_key": "",
        "spread": 0,
        "shards": MAX_STOCK_SHARDS,
        "ip_address": None,
        "user_agent": "",
        "source": "system",
    }
    Campaign.objects.filter(pk=campaign.pk).update(status="closed")
    assert grab_sql.run(campaign_id=campaign.pk, member_id=carded().pk, **args) is None
    Campaign.objects.filter(pk=campaign.pk).update(status="open")
    CampaignStock.objects.filter(campaign=campaign).update(remaining=0)
    assert grab_sql.run(campaign_id=campaign.pk, member_id=carded().pk, **args) is None
    assert not Voucher.objects.filter(campaign=campaign).exists()


def test_a_double_tap_through_the_statement_gets_the_same_voucher(make_campaign, carded):
    campaign = make_campaign(quota=3)
    member = carded()
    first = voucher_grab(campaign=campaign, member=member, request_key="tap")
    again = voucher_grab(campaign=campaign, member=member, request_key="tap")
    assert first.outcome == GrabOutcome.WON and again.outcome == GrabOutcome.ALREADY
    assert first.voucher is not None and again.voucher is not None
    assert again.voucher.pk == first.voucher.pk
    campaign.refresh_from_db()
    assert campaign.remaining == 2  # the refused second insert gave its unit back
    assert Voucher.objects.filter(campaign=campaign).count() == 1


def test_large_numbers_after_small_ones_share_the_prepared_statement(make_campaign, carded):
    """Prepared with small numbers first, then called with a member id near 2**15 and beyond:
    every integer goes as int8, so ``shard + spread`` cannot overflow a smallint."""
    campaign = make_campaign(quota=3)
    args = {
        "campaign_id": campaign.pk,
        "org_id": campaign.org_id,
        "request_key": "",
        "shards": MAX_STOCK_SHARDS,
        "ip_address": None,
        "user_agent": "",
        "source": "system",
    }
    for spread, code in ((1, "A" * 22), (32_767, "B" * 22), (2**40, "C" * 22)):
        won = grab_sql.run(member_id=carded().pk, code=code, spread=spread, **args)
        assert won is not None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%INSERT INTO benefits_voucher%"],
        )
        assert cursor.fetchone()[0] == 1
