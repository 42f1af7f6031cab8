from __future__ import annotations

import datetime as dt
import importlib
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import trans_real

from gonghui.audit.models import AuditEvent
from gonghui.benefits.models import (
    MAX_FACE_VALUE_FEN,
    MAX_PER_MEMBER,
    MAX_QUOTA,
    Campaign,
    CampaignChangeReason,
    CampaignStatus,
    CampaignStatusChange,
    CampaignStock,
    ObjectionStatus,
)
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
        ({"quota": MAX_QUOTA + 1}, "quota_range"),
        (
            {
                "face_value_fen": MAX_FACE_VALUE_FEN + 1,
                "subsidy_fen": MAX_FACE_VALUE_FEN + 1,
                "member_share_fen": 0,
                "concession_fen": 0,
            },
            "face_value_fen_range",
        ),
        ({"face_value_fen": 10**11}, "face_value_fen_range"),
        ({"face_value_fen": -1}, "face_value_fen_range"),
        ({"subsidy_fen": MAX_FACE_VALUE_FEN + 1}, "subsidy_fen_range"),
        ({"member_share_fen": 10**10}, "member_share_fen_range"),
        ({"concession_fen": MAX_FACE_VALUE_FEN * 2}, "concession_fen_range"),
        ({"per_member_limit": MAX_PER_MEMBER + 1}, "limit_range"),
        ({"min_purchase_fen": -1}, "min_purchase_fen_range"),
        ({"min_purchase_fen": MAX_FACE_VALUE_FEN + 1}, "min_purchase_fen_range"),
        ({"min_purchase_fen": 10**11}, "min_purchase_fen_range"),
        ({"min_purchase_fen": "100"}, "min_purchase_fen_type"),
        ({"min_purchase_fen": True}, "min_purchase_fen_type"),
        ({"min_purchase_fen": None}, "min_purchase_fen_type"),
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


def test_amounts_over_the_limit_name_the_amount_and_the_limit(world, shop):
    with translation.override("zh-hans"), pytest.raises(ApplicationError) as exc:
        _create(world, shop, subsidy_fen=MAX_FACE_VALUE_FEN + 1)
    assert exc.value.field == "subsidy_fen"
    assert "10,000" in str(exc.value.message)
    assert Campaign.objects.count() == 0


def test_minimum_purchase_defaults_to_none_and_can_be_the_face_value(world, shop):
    assert _create(world, shop).min_purchase_fen == 0
    c = _create(world, shop, name="满百可用", min_purchase_fen=10_000)
    c.refresh_from_db()
    assert c.min_purchase_fen == 10_000
    with translation.override("zh-hans"), pytest.raises(ApplicationError) as exc:
        _create(world, shop, min_purchase_fen=MAX_FACE_VALUE_FEN + 1)
    assert exc.value.field == "min_purchase_fen" and "10,000" in str(exc.value.message)


def test_the_limits_themselves_are_accepted(world, shop):
    c = _create(
        world,
        shop,
        face_value_fen=MAX_FACE_VALUE_FEN,
        subsidy_fen=MAX_FACE_VALUE_FEN,
        member_share_fen=0,
        concession_fen=0,
        quota=MAX_QUOTA,
        per_member_limit=MAX_PER_MEMBER,
    )
    c.refresh_from_db()
    assert (c.face_value_fen, c.quota, c.per_member_limit, c.remaining) == (
        MAX_FACE_VALUE_FEN,
        MAX_QUOTA,
        MAX_PER_MEMBER,
        MAX_QUOTA,
    )


@pytest.mark.parametrize(
    "values",
    [
        # the split still adds up: only the face value's bound is broken
        {"face_value_fen": MAX_FACE_VALUE_FEN + 1, "subsidy_fen": MAX_FACE_VALUE_FEN + 1 - 3200},
        {"face_value_fen": 10**12, "subsidy_fen": 10**12 - 3200},
        {"quota": MAX_QUOTA + 1},
        {"quota": 0},
        {"per_member_limit": MAX_PER_MEMBER + 1},
        {"min_purchase_fen": -1},
        {"min_purchase_fen": MAX_FACE_VALUE_FEN + 1},
    ],
)
def test_database_refuses_a_campaign_beyond_the_limits(world, shop, values):
    """A write that skips the services (the shell, a script, a later bug) hits the same limits."""
    c = _create(world, shop)
    with pytest.raises(IntegrityError), transaction.atomic():
        Campaign.objects.filter(pk=c.pk).update(**values)
    c.refresh_from_db()
    assert (c.face_value_fen, c.quota, c.per_member_limit) == (10000, 5, 1)
    # and at the limits the same write goes through
    Campaign.objects.filter(pk=c.pk).update(
        face_value_fen=MAX_FACE_VALUE_FEN,
        subsidy_fen=MAX_FACE_VALUE_FEN - 3200,
        quota=MAX_QUOTA,
        per_member_limit=MAX_PER_MEMBER,
    )
    c.refresh_from_db()
    assert (c.face_value_fen, c.quota, c.per_member_limit) == (
        MAX_FACE_VALUE_FEN,
        MAX_QUOTA,
        MAX_PER_MEMBER,
    )


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


def test_the_merchant_must_be_one_the_actor_may_see(world, shop):
    """The form offers only the merchants of the actor's subtree; the service holds to it too."""
    with pytest.raises(PermissionDenied):
        campaign_create(
            actor=world.jiefang_officer,
            org=world.jiefang,
            merchant=shop.rival,
            stores=[shop.rival_store],
            **campaign_fields(),
        )
    assert Campaign.objects.count() == 0


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
    assert list(c.status_changes.values_list("new", "reason_code", "reason")) == [
        ("scheduled", "", ""),
        ("open", "release_time", ""),
        ("closed", "window_ended", ""),
    ]


def test_a_reason_code_must_be_known(world, shop):
    c = _create(world, shop)
    with pytest.raises(ValueError):
        campaign_transition(
            campaign=c,
            new=CampaignStatus.SCHEDULED,
            actor=None,
            reason_code="release time",  # type: ignore[arg-type]
        )
    c.refresh_from_db()
    assert c.status == CampaignStatus.DRAFT and not c.status_changes.exists()
    with pytest.raises(IntegrityError), transaction.atomic():
        CampaignStatusChange.objects.create(campaign=c, old="draft", new="x", reason_code="bogus")


def test_cancel_cancels_open_vouchers(world, shop, make_campaign, carded):
    c = make_campaign()
    member = carded()
    v = voucher_grab(campaign=c, member=member).voucher
    with pytest.raises(ApplicationError) as exc:
        campaign_cancel(campaign=c, actor=world.jiefang_officer, reason="")
    assert exc.value.code == "reason_empty"
    campaign_cancel(campaign=c, actor=world.jiefang_officer, reason="书店装修")
    v.refresh_from_db()
    assert v.status == "cancelled"
    # The voucher's row says why in a code (its campaign was cancelled) and keeps the manager's
    # words as typed.
    assert (v.status_changes.get().new, v.status_changes.get().reason_code) == (
        "cancelled",
        "campaign_cancelled",
    )
    assert v.status_changes.get().reason == "书店装修"
    change = c.status_changes.last()
    assert (change.new, change.reason_code, change.reason) == ("cancelled", "", "书店装修")


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


# ------------------------------------------------------------------ status labels and reasons


def _catalogue_key(label: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The key under which the zh-hans catalogue looks ``label`` up (context and msgid)."""
    keys: list[str] = []

    def spy(self: Any, message: str) -> str:
        keys.append(message)
        return message

    with monkeypatch.context() as m, translation.override("zh-hans"):
        m.setattr(trans_real.DjangoTranslation, "gettext", spy)
        str(label)
    assert keys
    return keys[-1]


def test_an_open_campaign_and_an_open_objection_translate_apart(monkeypatch):
    """Both are "Open" in English, but a campaign that is open runs (进行中) while an objection
    that is open waits for an answer: one catalogue entry cannot say both."""
    campaign = _catalogue_key(CampaignStatus.OPEN.label, monkeypatch)
    objection = _catalogue_key(ObjectionStatus.OPEN.label, monkeypatch)
    assert campaign != objection
    # still English when no translation is active
    with translation.override(None):
        assert str(CampaignStatus.OPEN.label) == str(ObjectionStatus.OPEN.label) == "Open"


MIGRATION = importlib.import_module("gonghui.benefits.migrations.0005_status_change_reason_code")


@pytest.mark.parametrize(
    ("reason", "new", "expected"),
    [
        ("release time", "open", ("release_time", "")),
        ("window ended", "closed", ("window_ended", "")),
        ("settlement approved", "settling", ("settlement_approved", "")),
        ("notice closed by staff:wang", "settled", ("notice_closed", "")),
        ("notice closed by system", "settled", ("notice_closed", "")),
        # what a person typed stays as typed, even where it reads like the clock
        ("书店装修", "cancelled", ("", "书店装修")),
        ("release time", "cancelled", ("", "release time")),
        ("window ended", "cancelled", ("", "window ended")),
        ("notice closed by me", "cancelled", ("", "notice closed by me")),
        ("Release time", "open", ("", "Release time")),
        ("演示数据", "scheduled", ("", "演示数据")),
        ("", "scheduled", ("", "")),
    ],
)
def test_old_reasons_map_to_codes(reason, new, expected):
    assert MIGRATION.reason_from_legacy(reason, new) == expected


@pytest.mark.parametrize(
    ("code", "reason", "actor_label", "expected"),
    [
        ("release_time", "", "system", "release time"),
        ("window_ended", "", "system", "window ended"),
        ("settlement_approved", "", "staff:wang", "settlement approved"),
        ("notice_closed", "", "staff:wang", "notice closed by staff:wang"),
        ("", "书店装修", "staff:wang", "书店装修"),
    ],
)
def test_codes_map_back_to_old_reasons(code, reason, actor_label, expected):
    assert MIGRATION.legacy_from_reason(code, reason, actor_label) == expected


def test_the_data_step_moves_only_the_services_reasons(world, shop):
    c = _create(world, shop)
    rows = {
        text: CampaignStatusChange.objects.create(campaign=c, old="x", new=new, reason=text)
        for text, new in [
            ("release time", "open"),
            ("notice closed by staff:wang", "settled"),
            ("书店装修", "cancelled"),
            ("", "scheduled"),
        ]
    }
    MIGRATION.forwards(django_apps, None)
    got = {
        text: tuple(
            CampaignStatusChange.objects.filter(pk=row.pk).values_list("reason_code", "reason")[0]
        )
        for text, row in rows.items()
    }
    assert got == {
        "release time": ("release_time", ""),
        "notice closed by staff:wang": ("notice_closed", ""),
        "书店装修": ("", "书店装修"),
        "": ("", ""),
    }
    CampaignStatusChange.objects.filter(pk=rows["notice closed by staff:wang"].pk).update(
        actor_label="staff:wang"
    )
    MIGRATION.backwards(django_apps, None)
    assert sorted(
        CampaignStatusChange.objects.filter(campaign=c).values_list("reason", flat=True)
    ) == sorted(rows)
    assert set(CampaignChangeReason.values) == set(MIGRATION.LEGACY_REASONS.values()) | {
        "notice_closed"
    }


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        # more per member than there are vouchers at all
        ({"quota": 5, "per_member_limit": 6}, "limit_over_quota", "per_member_limit"),
        ({"quota": 1, "per_member_limit": MAX_PER_MEMBER}, "limit_over_quota", "per_member_limit"),
        # a lottery redeemable before its registration closes (there are no vouchers yet)
        ("lottery_early", "redeem_before_draw", "redeem_from"),
    ],
)
def test_implausible_terms_refused_and_nothing_made(world, shop, overrides, code, field):
    if overrides == "lottery_early":
        base = campaign_fields()
        overrides = {
            "distribution": "lottery",
            "registration_closes_at": base["release_at"] + dt.timedelta(days=2),
            "redeem_from": base["release_at"] + dt.timedelta(days=1),
        }
    with pytest.raises(ApplicationError) as exc:
        _create(world, shop, **overrides)
    assert (exc.value.code, exc.value.field) == (code, field)
    assert Campaign.objects.count() == 0


def test_implausible_terms_refused_on_update_too(world, shop):
    c = _create(world, shop, quota=5, per_member_limit=2)
    with pytest.raises(ApplicationError) as exc:
        campaign_update(actor=world.jiefang_officer, campaign=c, quota=1)
    assert exc.value.code == "limit_over_quota"
    c.refresh_from_db()
    assert (c.quota, c.per_member_limit) == (5, 2)


def test_plausible_edges_accepted(world, shop):
    c = _create(world, shop, quota=3, per_member_limit=3)
    assert c.per_member_limit == c.quota == 3
    base = campaign_fields()
    closes = base["release_at"] + dt.timedelta(days=1)
    lottery = _create(
        world, shop, distribution="lottery", registration_closes_at=closes, redeem_from=closes
    )
    assert lottery.redeem_from == lottery.registration_closes_at


def test_split_mismatch_is_said_in_yuan_as_typed(world, shop):
    """The form is typed in yuan: the refusal adds up in yuan too, not in fen."""
    with translation.override("en"), pytest.raises(ApplicationError) as exc:
        _create(
            world,
            shop,
            face_value_fen=10000,
            subsidy_fen=5000,
            member_share_fen=1000,
            concession_fen=3000,
        )
    assert exc.value.code == "split_mismatch" and exc.value.field == "subsidy_fen"
    assert "(50.00 + 10.00 + 30.00 ≠ 100.00 yuan)" in str(exc.value.message)
    assert "10000" not in str(exc.value.message)
