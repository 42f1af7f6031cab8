from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from gonghui.audit.models import AuditEvent
from gonghui.benefits.models import Campaign, CampaignStatus, CampaignStatusChange, CampaignStock
from gonghui.benefits.services import (
    campaign_cancel,
    campaign_create,
    campaign_transition,
    campaign_update,
    campaigns_advance,
    merchant_create,
    store_create,
    voucher_grab,
)
from gonghui.benefits.tests.conftest import campaign_fields
from gonghui.core.errors import ApplicationError, PermissionDenied


def _create(world, shop, actor=None, **overrides):
    return campaign_create(
        actor=actor or world.jiefang_officer,
        org=world.jiefang,
        merchant=shop.merchant,
        stores=[shop.store],
        **campaign_fields(**overrides),
    )


def test_create_draft_with_full_stock(world, shop):
    c = _create(world, shop)
    assert c.status == CampaignStatus.DRAFT
    assert c.remaining == c.quota == 5
    assert list(c.stores.all()) == [shop.store]
    assert AuditEvent.objects.filter(object_type="benefits.campaign", object_id=str(c.pk)).exists()


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"subsidy_fen": 6900}, "split_mismatch"),
        (
            {"subsidy_fen": -100, "member_share_fen": 1100, "concession_fen": 9000},
            "subsidy_fen_range",
        ),
        (
            {"face_value_fen": 0, "subsidy_fen": 0, "member_share_fen": 0, "concession_fen": 0},
            "face_value_fen_range",
        ),
        ({"face_value_fen": "100.00"}, "face_value_fen_type"),
        ({"face_value_fen": 100.0}, "face_value_fen_type"),
        ({"quota": 0}, "quota_range"),
        ({"quota": -5}, "quota_range"),
        ({"quota": 10**9}, "quota_range"),
        ({"quota": "2000"}, "quota_range"),
        ({"per_member_limit": 0}, "limit_range"),
        ({"per_member_limit": 99}, "limit_range"),
        ({"name": ""}, "name_empty"),
        ({"name": "   "}, "name_empty"),
        ({"name": "券" * 101}, "name_long"),
        ({"name": "<script>alert(1)</script>"}, "name_chars"),
        ({"name": "x'; DROP TABLE benefits_campaign;--"}, "name_chars"),
        ({"categories": ["astronaut"]}, "categories_invalid"),
        ({"distribution": "raffle"}, "distribution_invalid"),
        ({"release_at": "2023-04-23 10:00"}, "release_at_invalid"),
        ({"release_at": dt.datetime(2023, 4, 23, 10)}, "release_at_invalid"),  # noqa: DTZ001 - naive on purpose
        ({"notice_days": 0}, "notice_days_range"),
        ({"terms": "条" * 5001}, "terms_long"),
        ({"bogus": 1}, "unknown_field"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_created(world, shop, overrides, code):
    with pytest.raises(ApplicationError) as exc:
        _create(world, shop, **overrides)
    assert exc.value.code == code
    assert str(exc.value.message)
    assert Campaign.objects.count() == 0


def test_window_order_and_lottery_fields(world, shop):
    base = campaign_fields()
    with pytest.raises(ApplicationError) as exc:
        _create(world, shop, redeem_until=base["redeem_from"])
    assert exc.value.code == "window_order"
    with pytest.raises(ApplicationError) as exc:
        _create(world, shop, distribution="lottery")
    assert exc.value.code == "registration_closes_at_invalid"
    with pytest.raises(ApplicationError) as exc:
        _create(world, shop, distribution="lottery", registration_closes_at=base["release_at"])
    assert exc.value.code == "registration_order"


def test_full_width_name_is_normalised(world, shop):
    c = _create(world, shop, name="四月芳菲　购书券２０２３")
    assert c.name == "四月芳菲 购书券2023"


def test_eligible_org_must_be_inside_the_campaign_org(world, shop):
    with pytest.raises(ApplicationError) as exc:
        _create(world, shop, eligible_org=world.zhongzhan)
    assert exc.value.code == "eligible_org_outside"


def test_stores_must_belong_to_the_merchant(world, shop):
    with pytest.raises(ApplicationError) as exc:
        campaign_create(
            actor=world.jiefang_officer,
            org=world.jiefang,
            merchant=shop.merchant,
            stores=[shop.rival_store],
            **campaign_fields(),
        )
    assert exc.value.code == "store_merchant"
    with pytest.raises(ApplicationError) as exc:
        campaign_create(
            actor=world.jiefang_officer,
            org=world.jiefang,
            merchant=shop.merchant,
            stores=[],
            **campaign_fields(),
        )
    assert exc.value.code == "stores_empty"


@pytest.mark.parametrize("who", ["zhongzhan_officer", "jiefang_viewer"])
def test_permission(world, shop, who):
    with pytest.raises(PermissionDenied):
        _create(world, shop, actor=getattr(world, who))
    assert Campaign.objects.count() == 0


def test_database_checks_the_split_and_stock(world, shop):
    c = _create(world, shop)
    with pytest.raises(IntegrityError), transaction.atomic():
        Campaign.objects.filter(pk=c.pk).update(subsidy_fen=1)
    shard = CampaignStock.objects.filter(campaign=c).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        CampaignStock.objects.filter(pk=shard.pk).update(remaining=-1)
    with pytest.raises(IntegrityError), transaction.atomic():
        CampaignStock.objects.filter(pk=shard.pk).update(remaining=shard.allotment + 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        CampaignStock.objects.create(campaign=c, shard=shard.shard, allotment=1, remaining=1)
    c.refresh_from_db()
    assert (c.subsidy_fen, c.remaining) == (6800, 5)
    assert sum(CampaignStock.objects.filter(campaign=c).values_list("allotment", flat=True)) == 5


def test_transitions_are_recorded_and_illegal_moves_refused(world, shop):
    c = _create(world, shop)
    with pytest.raises(ApplicationError) as exc:
        campaign_transition(campaign=c, new=CampaignStatus.SETTLED, actor=world.jiefang_officer)
    assert exc.value.code == "campaign_transition"
    campaign_transition(
        campaign=c, new=CampaignStatus.SCHEDULED, actor=world.jiefang_officer, reason="ok"
    )
    change = CampaignStatusChange.objects.get(campaign=c)
    assert (change.old, change.new, change.actor, change.reason) == (
        "draft",
        "scheduled",
        world.jiefang_officer,
        "ok",
    )
    # a stale copy cannot move it again (compare-and-set)
    stale = Campaign.objects.get(pk=c.pk)
    stale.status = CampaignStatus.DRAFT
    with pytest.raises(ApplicationError) as exc:
        campaign_transition(campaign=stale, new=CampaignStatus.SCHEDULED, actor=None)
    assert exc.value.code == "campaign_conflict"
    assert CampaignStatusChange.objects.filter(campaign=c).count() == 1


def test_update_only_in_draft(world, shop):
    c = _create(world, shop)
    c = campaign_update(actor=world.jiefang_officer, campaign=c, quota=2000, name="新名字")
    assert (c.quota, c.remaining, c.name) == (2000, 2000, "新名字")
    with pytest.raises(ApplicationError) as exc:
        campaign_update(actor=world.jiefang_officer, campaign=c, subsidy_fen=1)
    assert exc.value.code == "split_mismatch"
    campaign_transition(campaign=c, new=CampaignStatus.SCHEDULED, actor=None)
    with pytest.raises(ApplicationError) as exc:
        campaign_update(actor=world.jiefang_officer, campaign=c, quota=3)
    assert exc.value.code == "campaign_not_draft"
    c.refresh_from_db()
    assert c.quota == 2000


def test_clock_opens_and_closes(world, shop):
    c = _create(world, shop)
    campaign_transition(campaign=c, new=CampaignStatus.SCHEDULED, actor=None)
    result = campaigns_advance(now=c.release_at + dt.timedelta(seconds=1))
    c.refresh_from_db()
    assert result["opened"] == 1 and c.status == CampaignStatus.OPEN
    result = campaigns_advance(now=c.redeem_until)
    c.refresh_from_db()
    assert result["closed"] == 1 and c.status == CampaignStatus.CLOSED
    assert list(c.status_changes.values_list("new", flat=True)) == ["scheduled", "open", "closed"]


def test_cancel_cancels_open_vouchers(world, shop, make_campaign, carded):
    c = make_campaign()
    member = carded()
    v = voucher_grab(campaign=c, member=member).voucher
    with pytest.raises(ApplicationError) as exc:
        campaign_cancel(campaign=c, actor=world.jiefang_officer, reason="")
    assert exc.value.code == "reason_empty"
    campaign_cancel(campaign=c, actor=world.jiefang_officer, reason="书店装修")
    v.refresh_from_db()
    assert v.status == "cancelled" and v.status_changes.get().new == "cancelled"


def test_merchant_input(world):
    with pytest.raises(ApplicationError) as exc:
        merchant_create(
            actor=None,
            org=world.jiefang,
            name="书店",
            settlement_account_name="书店",
            settlement_bank="中原银行",
            settlement_account_no="abc",
        )
    assert exc.value.code == "account_no_format"
    m = merchant_create(
        actor=None,
        org=world.jiefang,
        name="书店",
        settlement_account_name="书店",
        settlement_bank="中原银行",
        settlement_account_no="４１００ ００１２ ３４５６",
    )
    assert m.settlement_account_no == "410000123456"
    with pytest.raises(ApplicationError) as exc:
        store_create(actor=None, merchant=m, name="<b>x</b>")
    assert exc.value.code == "name_chars"
    with pytest.raises(PermissionDenied):
        store_create(actor=world.zhongzhan_officer, merchant=m, name="门店")


def test_clean_text_keeps_chinese_punctuation_and_folds_full_width_alphanumerics():
    from gonghui.benefits.services import clean_text

    assert (
        clean_text("特价书；教材（含教辅）", field="x", max_length=50) == "特价书；教材（含教辅）"
    )
    assert clean_text("ＡＢＣ　１２３", field="x", max_length=50) == "ABC 123"
