"""Staff pages of voucher campaigns: forms, actions, dashboard, settlement, permission matrix."""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from gonghui.benefits.models import (
    MAX_FACE_VALUE_FEN,
    MAX_PER_MEMBER,
    MAX_QUOTA,
    Campaign,
    CampaignChangeReason,
    CampaignStatus,
    CampaignStatusChange,
    Objection,
    PublicNotice,
    Registration,
    Settlement,
    SettlementStatus,
    Voucher,
)
from gonghui.benefits.services import (
    campaign_transition,
    lottery_commit_seed,
    lottery_register,
)
from gonghui.benefits.settlement import (
    notice_publish,
    objection_submit,
    settlement_approve,
)
from gonghui.benefits.testing import registration_closed
from gonghui.benefits.tests.pages_helpers import (
    CAMPAIGN_NAME,
    PDF,
    campaign_post,
    clients,
    redeem_some,
    register_xlsx,
    rows_for,
    text,
    upload,
    zh,
)
from gonghui.ledger.models import Entry, Transaction

OTHER_NAME = "李秀英"


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    cache.clear()


def snapshot(campaign: Campaign) -> tuple[Any, ...]:
    campaign.refresh_from_db()
    return (
        campaign.status,
        campaign.name,
        campaign.seed_hash,
        campaign.drawn_at,
        CampaignStatusChange.objects.filter(campaign=campaign).count(),
        Settlement.objects.count(),
        PublicNotice.objects.count(),
        Transaction.objects.count(),
    )


# ------------------------------------------------------------------ permission matrix

READ_EXPECT = {
    "city_admin": 200,
    "jiefang_staff": 200,
    "jiefang_viewer": 200,
    "zhongzhan_staff": 404,
    "member": 302,
    "anonymous": 302,
    "clerk": 302,  # sent back to the till (/merchant/), never shown a staff page
}
MANAGE_EXPECT = {**READ_EXPECT, "jiefang_viewer": 403}


@pytest.fixture
def settled_world(world: Any, shop: Any, make_campaign: Any, carded: Any) -> dict[str, Any]:
    """An open campaign with two redemptions, a reconciled settlement and a notice."""
    campaign = make_campaign(quota=5)
    members = [carded(), carded()]
    redemptions = redeem_some(campaign, members, shop)
    campaign_transition(campaign=campaign, new=CampaignStatus.CLOSED, actor=world.jiefang_officer)
    from gonghui.benefits.settlement import settlement_upload

    settlement, _rows = settlement_upload(
        staff=world.jiefang_officer,
        campaign=campaign,
        store=shop.store,
        register=SimpleUploadedFile("r.xlsx", register_xlsx(rows_for(redemptions))),
        invoice=SimpleUploadedFile("i.pdf", PDF),
    )
    return {
        "campaign": campaign,
        "members": members,
        "redemptions": redemptions,
        "settlement": settlement,
    }


def test_read_pages_permission_matrix(
    world: Any, shop: Any, login: Any, settled_world: dict[str, Any]
) -> None:
    campaign = settled_world["campaign"]
    settlement = settled_world["settlement"]
    members = settled_world["members"]
    pages = {
        "detail": (reverse("benefits_console:detail", args=[campaign.pk]), READ_EXPECT),
        "dashboard": (reverse("benefits_console:dashboard", args=[campaign.pk]), READ_EXPECT),
        "figures export": (
            reverse("benefits_console:dashboard_export", args=[campaign.pk]),
            READ_EXPECT,
        ),
        # a closed campaign cannot be changed: its managers are sent to its page, told why
        "edit": (
            reverse("benefits_console:edit", args=[campaign.pk]),
            {**MANAGE_EXPECT, "city_admin": 302, "jiefang_staff": 302},
        ),
        "settlement": (reverse("benefits_console:settlement", args=[campaign.pk]), MANAGE_EXPECT),
        "template": (
            reverse("benefits_console:register_template", args=[campaign.pk]),
            MANAGE_EXPECT,
        ),
        "objections": (reverse("benefits_console:objections", args=[campaign.pk]), MANAGE_EXPECT),
        "reconciliation": (
            reverse("benefits_console:settlement_detail", args=[settlement.pk]),
            MANAGE_EXPECT,
        ),
        "report": (
            reverse("benefits_console:settlement_report", args=[settlement.pk]),
            MANAGE_EXPECT,
        ),
        "invoice": (
            reverse("benefits_console:settlement_file", args=[settlement.pk, "invoice"]),
            MANAGE_EXPECT,
        ),
    }
    before = snapshot(campaign)
    for who, client in clients(world, shop, login).items():
        for name, (url, expect) in pages.items():
            response = client.get(url)
            assert response.status_code == expect[who], (who, name, response.status_code)
            if response.status_code != 200:
                body = response.content.decode(errors="ignore")
                assert CAMPAIGN_NAME not in body, (who, name)
                assert settled_world["redemptions"][0].voucher.code not in body
                for m in members:
                    assert m.name not in body
    assert snapshot(campaign) == before


def test_list_scoped_and_filtered(world: Any, shop: Any, login: Any, make_campaign: Any) -> None:
    make_campaign(status="draft")
    make_campaign(status="open", name="夏日购书券", distribution="grab")
    url = reverse("benefits_console:list")
    jiefang = text(login(world.jiefang_officer).get(url))
    assert CAMPAIGN_NAME in jiefang and "夏日购书券" in jiefang
    other = login(world.zhongzhan_officer).get(url)
    assert other.status_code == 200
    assert CAMPAIGN_NAME not in text(other) and "夏日购书券" not in text(other)
    drafts = text(login(world.jiefang_officer).get(url, {"status": "draft"}))
    assert CAMPAIGN_NAME in drafts and "夏日购书券" not in drafts
    lottery = text(login(world.jiefang_officer).get(url, {"kind": "lottery"}))
    assert CAMPAIGN_NAME not in lottery
    search = text(login(world.jiefang_officer).get(url, {"q": "夏日"}))
    assert "夏日购书券" in search and CAMPAIGN_NAME not in search
    bad = login(world.jiefang_officer).get(url, {"status": "<script>"})
    assert bad.status_code == 400 and "<script>" not in bad.content.decode()
    for who in ("member", "anonymous"):
        assert clients(world, shop, login)[who].get(url).status_code == 302
    clerk = login(shop.clerk.user).get(url)
    assert clerk.status_code == 302 and clerk["Location"] == "/merchant/"


# ------------------------------------------------------------------ create / edit


def test_create_campaign_yuan_to_fen(world: Any, shop: Any, login: Any) -> None:
    client = login(world.jiefang_officer)
    response = client.post(
        reverse("benefits_console:new"),
        campaign_post(shop, world, face_value="１００", subsidy="68.00", card_banks=[]),
    )
    assert response.status_code == 302, text(response)[:3000]
    campaign = Campaign.objects.get()
    assert (campaign.face_value_fen, campaign.subsidy_fen) == (10000, 6800)
    assert (campaign.member_share_fen, campaign.concession_fen) == (1000, 2200)
    assert campaign.status == CampaignStatus.DRAFT and campaign.org == world.jiefang
    assert list(campaign.stores.all()) == [shop.store]


def test_the_union_pickers_read_as_a_tree(world: Any, shop: Any, login: Any) -> None:
    """The organising and eligible union pickers listed hundreds of unions flat; a county's base
    unions now sit indented under it, and each picker keeps to what the staff member may see."""
    for who, top in ((world.city_admin, world.city), (world.jiefang_officer, world.jiefang)):
        body = login(who).get(reverse("benefits_console:new")).content.decode()
        for field in ("org", "eligible_org"):
            select = body.split(f'name="{field}"')[1].split("</select>")[0]
            indent = "\u3000" * (world.jiefang_base.depth - top.depth)
            assert f">{top.name}<" in select  # the staff member's own union, not indented
            assert f">{indent}{world.jiefang_base.name}<" in select
            if who == world.jiefang_officer:
                assert world.zhongzhan.name not in select


@pytest.mark.parametrize(
    ("overrides", "message", "kept"),
    [
        (
            {"concession": "21"},
            "Subsidy, member share and concession must add up to the face value "
            "(%(a)s + %(b)s + %(c)s ≠ %(f)s yuan).",
            'value="21"',
        ),
        ({"name": ""}, "This field is required.", 'value="68"'),
        (
            {"name": "<script>alert(1)</script>"},
            "The text contains characters that are not allowed.",
            "",
        ),
        (
            {"name": "x'; DROP TABLE benefits_campaign; --"},
            "The text contains characters that are not allowed.",
            "",
        ),
        ({"name": "书" * 101}, "At most %(n)d characters.", ""),
        ({"face_value": "abc"}, "Enter an amount in yuan, e.g. 68 or 68.50.", 'value="abc"'),
        ({"subsidy": "68.555"}, "Enter an amount in yuan, e.g. 68 or 68.50.", ""),
        ({"face_value": ""}, "Enter an amount in yuan, e.g. 68 or 68.50.", ""),
        ({"quota": "0"}, "The number of vouchers must be between 1 and %(n)d.", ""),
        ({"quota": "99999999999"}, "The number of vouchers must be between 1 and %(n)d.", ""),
        ({"per_member_limit": "21"}, "Vouchers per member must be between 1 and %(n)d.", ""),
        ({"stores": []}, "Choose at least one store.", ""),
        ({"distribution": "lottery"}, "A lottery needs the time registration closes.", ""),
        ({"categories": ["astronaut"]}, None, ""),
        ({"notice_days": "0"}, "The public notice runs 1 to 60 days.", ""),
        # a NUL character: the services' words, not Django's (its zh-hans text says "empty")
        ({"terms": "第一条\x00"}, "The text contains characters that are not allowed.", ""),
        ({"name": "四月\x00芳菲"}, "The text contains characters that are not allowed.", ""),
        # an amount too long for the field is still an amount typed wrong
        ({"face_value": "9" * 30}, "Enter an amount in yuan, e.g. 68 or 68.50.", ""),
    ],
)
def test_create_campaign_bad_input(
    world: Any, shop: Any, login: Any, overrides: dict[str, Any], message: str | None, kept: str
) -> None:
    client = login(world.jiefang_officer)
    response = client.post(reverse("benefits_console:new"), campaign_post(shop, world, **overrides))
    assert response.status_code == 400
    body = text(response)
    if message is not None:
        expected = zh(message).split("%(")[0].split("(")[0]
        assert expected in body, expected
    if kept:
        assert kept in body
    assert "<script>alert" not in response.content.decode()
    assert Campaign.objects.count() == 0


SPLIT_MISMATCH = (
    "Subsidy, member share and concession must add up to the face value "
    "(%(a)s + %(b)s + %(c)s ≠ %(f)s yuan)."
)
FACE_LIMIT = "The face value can be at most %(limit)s yuan."
QUOTA_RANGE = "The number of vouchers must be between 1 and %(n)d."
LIMIT_RANGE = "Vouchers per member must be between 1 and %(n)d."
YUAN_LIMIT = {"limit": f"{MAX_FACE_VALUE_FEN // 100:,}"}


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        # one fen over, a slip of the keyboard (100000 for 100), and far too large
        ({"face_value": "10000.01"}, "face_value", (FACE_LIMIT, YUAN_LIMIT)),
        ({"face_value": "100000"}, "face_value", (FACE_LIMIT, YUAN_LIMIT)),
        ({"face_value": "99999999999"}, "face_value", (FACE_LIMIT, YUAN_LIMIT)),
        ({"face_value": "¥1,000,000,000"}, "face_value", (FACE_LIMIT, YUAN_LIMIT)),
        ({"face_value": "１００００.０１"}, "face_value", (FACE_LIMIT, YUAN_LIMIT)),
        ({"face_value": "１０００００００００００元"}, "face_value", (FACE_LIMIT, YUAN_LIMIT)),
        (
            {"subsidy": "68000"},
            "subsidy",
            ("The union subsidy can be at most %(limit)s yuan.", YUAN_LIMIT),
        ),
        (
            {"member_share": "10000000000000"},
            "member_share",
            ("The member's share can be at most %(limit)s yuan.", YUAN_LIMIT),
        ),
        (
            {"concession": "10000.5"},
            "concession",
            ("The merchant concession can be at most %(limit)s yuan.", YUAN_LIMIT),
        ),
        # a negative amount is no amount
        ({"face_value": "-100"}, "face_value", ("Enter an amount in yuan, e.g. 68 or 68.50.", {})),
        ({"quota": str(MAX_QUOTA + 1)}, "quota", (QUOTA_RANGE, {"n": MAX_QUOTA})),
        ({"quota": "１０００００１"}, "quota", (QUOTA_RANGE, {"n": MAX_QUOTA})),
        ({"quota": "9" * 30}, "quota", (QUOTA_RANGE, {"n": MAX_QUOTA})),
        ({"quota": "-2000"}, "quota", (QUOTA_RANGE, {"n": MAX_QUOTA})),
        (
            {"per_member_limit": str(MAX_PER_MEMBER + 1)},
            "per_member_limit",
            (LIMIT_RANGE, {"n": MAX_PER_MEMBER}),
        ),
        ({"per_member_limit": "２１"}, "per_member_limit", (LIMIT_RANGE, {"n": MAX_PER_MEMBER})),
        ({"per_member_limit": "-1"}, "per_member_limit", (LIMIT_RANGE, {"n": MAX_PER_MEMBER})),
        (
            {"min_purchase": "10000.01"},
            "min_purchase",
            ("The minimum purchase can be at most %(limit)s yuan.", YUAN_LIMIT),
        ),
        (
            {"min_purchase": "9" * 30},
            "min_purchase",
            ("Enter an amount in yuan, e.g. 68 or 68.50.", {}),
        ),
        (
            {"min_purchase": "满100"},
            "min_purchase",
            ("Enter an amount in yuan, e.g. 68 or 68.50.", {}),
        ),
        (
            {"min_purchase": "-1"},
            "min_purchase",
            ("Enter an amount in yuan, e.g. 68 or 68.50.", {}),
        ),
        (
            {"min_purchase": "<script>"},
            "min_purchase",
            ("Enter an amount in yuan, e.g. 68 or 68.50.", {}),
        ),
    ],
)
def test_create_campaign_refuses_amounts_and_counts_over_the_limits(
    world: Any,
    shop: Any,
    login: Any,
    overrides: dict[str, Any],
    field: str,
    message: tuple[str, dict[str, Any]],
) -> None:
    response = login(world.jiefang_officer).post(
        reverse("benefits_console:new"), campaign_post(shop, world, **overrides)
    )
    assert response.status_code == 400
    msgid, params = message
    assert zh(msgid) % params in _field_block(text(response), field)
    assert Campaign.objects.count() == 0


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"face_value": "10000", "subsidy": "9990", "member_share": "10", "concession": "0"},
            {"face_value_fen": MAX_FACE_VALUE_FEN, "subsidy_fen": MAX_FACE_VALUE_FEN - 1000},
        ),
        (
            {
                "face_value": "１００００",
                "subsidy": "１００００",
                "member_share": "0",
                "concession": "0",
            },
            {"face_value_fen": MAX_FACE_VALUE_FEN, "subsidy_fen": MAX_FACE_VALUE_FEN},
        ),
        ({"quota": str(MAX_QUOTA)}, {"quota": MAX_QUOTA}),
        ({"quota": "１００００００"}, {"quota": MAX_QUOTA}),
        ({"per_member_limit": str(MAX_PER_MEMBER)}, {"per_member_limit": MAX_PER_MEMBER}),
        ({"min_purchase": ""}, {"min_purchase_fen": 0}),
        ({"min_purchase": "  "}, {"min_purchase_fen": 0}),
        ({"min_purchase": "１００"}, {"min_purchase_fen": 10_000}),
        ({"min_purchase": "¥99.5元"}, {"min_purchase_fen": 9_950}),
        ({"min_purchase": "10000"}, {"min_purchase_fen": MAX_FACE_VALUE_FEN}),
    ],
)
def test_create_campaign_at_the_limits(
    world: Any, shop: Any, login: Any, overrides: dict[str, Any], expected: dict[str, int]
) -> None:
    response = login(world.jiefang_officer).post(
        reverse("benefits_console:new"), campaign_post(shop, world, **overrides)
    )
    assert response.status_code == 302, text(response)[:3000]
    campaign = Campaign.objects.get()
    assert {f: getattr(campaign, f) for f in expected} == expected


LIMIT_OVER_QUOTA = "Vouchers per member cannot be more than the number of vouchers (%(n)d)."
LOTTERY_EARLY = "A lottery's redemption window can start only when registration has closed."


def _lottery(days_closes: int, days_from: int | None) -> dict[str, Any]:
    now = timezone.now()

    def local(days: int) -> str:
        return timezone.localtime(now + dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")

    return {
        "distribution": "lottery",
        "registration_closes_at": local(days_closes),
        "redeem_from": "" if days_from is None else local(days_from),
    }


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"quota": "5", "per_member_limit": "6"}, {"per_member_limit": (LIMIT_OVER_QUOTA, 5)}),
        ({"quota": "５", "per_member_limit": "６"}, {"per_member_limit": (LIMIT_OVER_QUOTA, 5)}),
        ({"quota": "1", "per_member_limit": "20"}, {"per_member_limit": (LIMIT_OVER_QUOTA, 1)}),
        # one field wrong on its own: its own message, no second one about the pair
        ({"quota": "", "per_member_limit": "3"}, {"quota": ("This field is required.", None)}),
        ({"quota": "9" * 30, "per_member_limit": "3"}, {"quota": (QUOTA_RANGE, MAX_QUOTA)}),
        (
            {"quota": "5", "per_member_limit": "9" * 30},
            {"per_member_limit": (LIMIT_RANGE, MAX_PER_MEMBER)},
        ),
        (
            {"quota": "5", "per_member_limit": ""},
            {"per_member_limit": ("This field is required.", None)},
        ),
        (_lottery(3, 2), {"redeem_from": (LOTTERY_EARLY, None)}),
        (_lottery(3, None), {"redeem_from": ("This field is required.", None)}),
    ],
)
def test_create_campaign_refuses_implausible_terms(
    world: Any,
    shop: Any,
    login: Any,
    overrides: dict[str, Any],
    errors: dict[str, tuple[str, int | None]],
) -> None:
    response = login(world.jiefang_officer).post(
        reverse("benefits_console:new"), campaign_post(shop, world, **overrides)
    )
    assert response.status_code == 400
    body = text(response)
    for field, (msgid, n) in errors.items():
        message = zh(msgid) % {"n": n} if n is not None else zh(msgid)
        assert message in _field_block(body, field), field
    if errors.get("per_member_limit", ("",))[0] != LIMIT_OVER_QUOTA:
        assert zh(LIMIT_OVER_QUOTA).split("(")[0] not in body
    assert Campaign.objects.count() == 0


def test_create_campaign_accepts_the_plausible_edges(world: Any, shop: Any, login: Any) -> None:
    client = login(world.jiefang_officer)
    response = client.post(
        reverse("benefits_console:new"),
        campaign_post(shop, world, quota="３", per_member_limit="３"),
    )
    assert response.status_code == 302, text(response)[:2000]
    response = client.post(
        reverse("benefits_console:new"), campaign_post(shop, world, **_lottery(3, 3))
    )
    assert response.status_code == 302, text(response)[:2000]
    assert Campaign.objects.count() == 2


@pytest.mark.parametrize("limit", ["2", "２", "20"])
def test_a_lottery_with_more_than_one_voucher_per_member_is_refused_beside_the_field(
    world: Any, shop: Any, login: Any, limit: str
) -> None:
    client = login(world.jiefang_officer)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.post(
        reverse("benefits_console:new"),
        campaign_post(shop, world, quota="50", per_member_limit=limit, **_lottery(3, 3)),
    )
    assert response.status_code == 400
    assert "A lottery gives each winner one voucher: vouchers per member must be 1." in (
        _field_block(text(response), "per_member_limit")
    )
    assert Campaign.objects.count() == 0


def _field_block(body: str, name: str) -> str:
    return body.split(f'id="field-{name}"')[1].split('<div class="field"')[0]


def test_a_window_already_over_is_refused_on_the_form(world: Any, shop: Any, login: Any) -> None:
    """Such a campaign could be saved but never scheduled; the form says so beside the dates,
    keeps what was typed, and saves nothing. The same on edit."""
    now = timezone.now()

    def local(moment: dt.datetime) -> str:
        return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")

    past = {
        "release_at": local(now - dt.timedelta(days=10)),
        "redeem_from": local(now - dt.timedelta(days=9)),
        "redeem_until": local(now - dt.timedelta(days=1)),
    }
    client = login(world.jiefang_officer)
    response = client.post(reverse("benefits_console:new"), campaign_post(shop, world, **past))
    assert response.status_code == 400
    body = text(response)
    message = zh("The redemption window has already ended; change the dates first.")
    assert message in body.split('id="field-redeem_until"')[1].split('id="field-')[0]
    assert f'value="{past["redeem_until"]}"' in body
    assert Campaign.objects.count() == 0
    created = client.post(reverse("benefits_console:new"), campaign_post(shop, world))
    assert created.status_code == 302
    campaign = Campaign.objects.get()
    edit = reverse("benefits_console:edit", args=[campaign.pk])
    assert client.post(edit, campaign_post(shop, world, **past)).status_code == 400
    campaign.refresh_from_db()
    assert campaign.redeem_until > now


def test_create_campaign_names_every_wrong_field_at_once(world: Any, shop: Any, login: Any) -> None:
    """Six fields wrong: six messages, each beside its field, on the first submit; and what was
    typed is still there (the service alone stops at the first)."""
    now = timezone.now()
    data = campaign_post(
        shop,
        world,
        name="<script>alert(1)</script>劳动节",
        distribution="lottery",
        concession="21",
        quota="1000000000000",
        per_member_limit="0",
        categories=["migrant_worker"],
        registration_closes_at=timezone.localtime(now - dt.timedelta(days=3)).strftime(
            "%Y-%m-%dT%H:%M"
        ),
        notice_days="0",
    )
    response = login(world.jiefang_officer).post(reverse("benefits_console:new"), data)
    assert response.status_code == 400
    body = text(response)
    expected = {
        "name": zh("The text contains characters that are not allowed."),
        "subsidy": zh(SPLIT_MISMATCH) % {"a": "68.00", "b": "10.00", "c": "21.00", "f": "100.00"},
        "quota": zh("The number of vouchers must be between 1 and %(n)d.") % {"n": MAX_QUOTA},
        "per_member_limit": zh("Vouchers per member must be between 1 and %(n)d.") % {"n": 20},
        "registration_closes_at": zh("Registration must close after it opens."),
        "notice_days": zh("The public notice runs 1 to 60 days."),
    }
    for field, message in expected.items():
        assert message in _field_block(body, field), field
    # what was typed stays: amounts, numbers, ticks
    assert 'value="21"' in _field_block(body, "concession")
    assert 'value="1000000000000"' in _field_block(body, "quota")
    assert re.search(r'value="migrant_worker"[^>]*checked', response.content.decode())
    assert "<script>alert" not in response.content.decode()
    assert Campaign.objects.count() == 0


def test_create_campaign_checks_windows_and_stores_together(
    world: Any, shop: Any, login: Any
) -> None:
    now = timezone.now()
    data = campaign_post(
        shop,
        world,
        face_value="0",
        subsidy="0",
        member_share="0",
        concession="0",
        stores=[],
        release_at=timezone.localtime(now + dt.timedelta(days=20)).strftime("%Y-%m-%dT%H:%M"),
    )
    response = login(world.jiefang_officer).post(reverse("benefits_console:new"), data)
    assert response.status_code == 400
    body = text(response)
    assert zh("The face value must be more than zero.") in _field_block(body, "face_value")
    assert zh("Choose at least one store.") in _field_block(body, "stores")
    assert zh("The redemption window must end after the release time.") in _field_block(
        body, "redeem_until"
    )
    assert Campaign.objects.count() == 0


def test_textarea_line_breaks_as_a_browser_sends_them(world: Any, shop: Any, login: Any) -> None:
    """Browsers send a textarea's line breaks as CR LF; those are line breaks, not control
    characters, so multi-line terms are kept (as LF) and shown line by line."""
    data = campaign_post(
        shop, world, terms="每人限领一张。\r\n过期作废。", excluded_goods="特价书\r\n教材"
    )
    client = login(world.jiefang_officer)
    response = client.post(reverse("benefits_console:new"), data)
    assert response.status_code == 302, text(response)
    campaign = Campaign.objects.get()
    assert (campaign.terms, campaign.excluded_goods) == (
        "每人限领一张。\n过期作废。",
        "特价书\n教材",
    )
    detail = client.get(reverse("benefits_console:detail", args=[campaign.pk])).content.decode()
    assert "每人限领一张。<br>过期作废。" in detail


def test_new_campaign_without_a_merchant_says_what_to_do(world: Any, login: Any) -> None:
    page = login(world.jiefang_officer).get(reverse("benefits_console:new"))
    assert page.status_code == 200
    body = text(page)
    assert 'id="no-merchants"' in body
    assert reverse("admin:benefits_merchant_add") in body


def test_new_campaign_with_a_merchant_has_no_warning(world: Any, shop: Any, login: Any) -> None:
    """...and points to where a missing store or till clerk is added; the officer may open it."""
    client = login(world.jiefang_officer)
    page = client.get(reverse("benefits_console:new")).content.decode()
    assert 'id="no-merchants"' not in page
    hint = page.split('id="stores-elsewhere"')[1].split("</div>")[0]
    for name in ("admin:benefits_store_changelist", "admin:benefits_merchantclerk_changelist"):
        assert reverse(name) in hint
        listing = client.get(reverse(name))
        assert listing.status_code == 200 and shop.store.name in text(listing)


def test_window_order_error_next_to_field(world: Any, shop: Any, login: Any) -> None:
    now = timezone.now()
    data = campaign_post(
        shop,
        world,
        redeem_from=timezone.localtime(now + dt.timedelta(days=5)).strftime("%Y-%m-%dT%H:%M"),
        redeem_until=timezone.localtime(now + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
    )
    response = login(world.jiefang_officer).post(reverse("benefits_console:new"), data)
    assert response.status_code == 400
    body = text(response)
    field = body.split('id="field-redeem_until"')[1].split('<div class="field"')[0]
    assert zh("The redemption window must end after it starts.") in field
    assert Campaign.objects.count() == 0


def test_other_district_cannot_use_foreign_merchant_or_org(
    world: Any, shop: Any, login: Any
) -> None:
    client = login(world.zhongzhan_officer)
    page = text(client.get(reverse("benefits_console:new")))
    assert shop.merchant.name not in page and shop.store.name not in page
    assert world.jiefang.name not in page
    response = client.post(reverse("benefits_console:new"), campaign_post(shop, world))
    assert response.status_code == 400
    assert Campaign.objects.count() == 0
    viewer = login(world.jiefang_viewer)
    assert (
        viewer.post(reverse("benefits_console:new"), campaign_post(shop, world)).status_code == 403
    )
    assert Campaign.objects.count() == 0


def test_edit_draft_and_refuse_after_schedule(
    world: Any, shop: Any, login: Any, make_campaign: Any
) -> None:
    campaign = make_campaign(status="draft")
    client = login(world.jiefang_officer)
    url = reverse("benefits_console:edit", args=[campaign.pk])
    page = text(client.get(url))
    assert 'value="68.00"' in page and CAMPAIGN_NAME in page
    response = client.post(url, campaign_post(shop, world, name="四月芳菲购书券（第二批）"))
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.name == "四月芳菲购书券（第二批）"  # Chinese brackets stay as typed
    # org / merchant / stores are fixed: a crafted POST does not move them
    assert campaign.org == world.jiefang
    assert client.post(reverse("benefits_console:schedule", args=[campaign.pk])).status_code == 302
    response = client.post(url, campaign_post(shop, world, name="改名"))
    assert response.status_code == 400
    assert zh("Only a draft campaign can be changed.") in text(response)
    campaign.refresh_from_db()
    assert campaign.name == "四月芳菲购书券（第二批）"


def test_edit_keeps_the_minimum_purchase(
    world: Any, shop: Any, login: Any, make_campaign: Any
) -> None:
    """No minimum shows an empty field (not "0.00"); a minimum shows in yuan and is kept."""
    campaign = make_campaign(status="draft")
    client = login(world.jiefang_officer)
    url = reverse("benefits_console:edit", args=[campaign.pk])
    assert re.search(r'<input[^>]*name="min_purchase"(?![^>]*value=)[^>]*>', text(client.get(url)))
    response = client.post(url, campaign_post(shop, world, min_purchase="100"))
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.min_purchase_fen == 10_000
    assert 'value="100.00"' in text(client.get(url))
    detail = text(client.get(reverse("benefits_console:detail", args=[campaign.pk])))
    assert re.search(r"data-min-purchase>100\.00<", detail)


# ------------------------------------------------------------------ actions


def test_schedule_and_cancel(world: Any, shop: Any, login: Any, make_campaign: Any) -> None:
    campaign = make_campaign(status="draft")
    client = login(world.jiefang_officer)
    response = client.post(reverse("benefits_console:schedule", args=[campaign.pk]))
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED
    # scheduling twice (a double click): the work is done, no error and no second move
    again = client.post(reverse("benefits_console:schedule", args=[campaign.pk]), follow=True)
    assert again.status_code == 200
    assert "action-error" not in again.content.decode()
    assert zh("The campaign is scheduled; it opens at its release time.") in text(again)
    assert CampaignStatusChange.objects.filter(campaign=campaign).count() == 1
    cancel = reverse("benefits_console:cancel", args=[campaign.pk])
    for bad, message in [
        ("", "This field is required."),
        ("  ", "This field is required."),
        ("x" * 301, "At most %(n)d characters."),
    ]:
        response = client.post(cancel, {"reason": bad})
        assert response.status_code == 400
        assert zh(message).split("%(")[0] in text(response)
        campaign.refresh_from_db()
        assert campaign.status == CampaignStatus.SCHEDULED
    response = client.post(cancel, {"reason": "书店装修 <b>"})
    assert response.status_code == 400
    assert zh("The text contains characters that are not allowed.") in text(response)
    assert "<b>" not in response.content.decode()
    response = client.post(cancel, {"reason": "书店装修，活动取消"})
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED
    detail = client.get(reverse("benefits_console:detail", args=[campaign.pk]))
    body = detail.content.decode()
    assert "书店装修，活动取消" in body  # Chinese punctuation stays as typed
    # The history's columns are the status before and after, not dates.
    assert "<th>原状态</th><th>新状态</th>" in body and "开始日期" not in body
    assert [h.new for h in CampaignStatusChange.objects.filter(campaign=campaign)] == [
        "scheduled",
        "cancelled",
    ]


@pytest.mark.parametrize(
    "who", ["zhongzhan_staff", "jiefang_viewer", "member", "anonymous", "clerk"]
)
def test_actions_refused_change_nothing(
    world: Any, shop: Any, login: Any, make_campaign: Any, who: str, settled_world: Any
) -> None:
    draft = make_campaign(
        status="draft",
        distribution="lottery",
        registration_closes_at=timezone.now() + dt.timedelta(days=1),
    )
    closed = settled_world["campaign"]
    settlement = settled_world["settlement"]
    client = clients(world, shop, login)[who]
    posts = [
        (reverse("benefits_console:schedule", args=[draft.pk]), {}),
        (reverse("benefits_console:cancel", args=[draft.pk]), {"reason": "不办了"}),
        (reverse("benefits_console:seed", args=[draft.pk]), {}),
        (reverse("benefits_console:draw", args=[draft.pk]), {}),
        (reverse("benefits_console:settlement_approve", args=[settlement.pk]), {}),
        (reverse("benefits_console:notice_publish", args=[closed.pk]), {"days": "5"}),
        (reverse("benefits_console:notice_close", args=[closed.pk]), {}),
        (
            reverse("benefits_console:settlement_upload", args=[closed.pk, shop.store.pk]),
            {
                # a register the service would take: only the permission check refuses it
                "register": SimpleUploadedFile(
                    "r.xlsx", register_xlsx(rows_for(settled_world["redemptions"]))
                ),
                "invoice": SimpleUploadedFile("i.pdf", PDF),
            },
        ),
        (reverse("benefits_console:edit", args=[draft.pk]), campaign_post(shop, world, name="改")),
    ]
    before = (snapshot(draft), snapshot(closed), settlement.status)
    expect = MANAGE_EXPECT[who]
    for url, data in posts:
        response = client.post(url, data)
        assert response.status_code == expect, (who, url, response.status_code)
        assert CAMPAIGN_NAME not in response.content.decode(errors="ignore")
    settlement.refresh_from_db()
    assert (snapshot(draft), snapshot(closed), settlement.status) == before
    assert client.post(reverse("benefits_console:new"), campaign_post(shop, world)).status_code in {
        302 if who in {"member", "anonymous", "clerk"} else 403,
        400,
    }
    assert Campaign.objects.count() == 2


def test_lottery_seed_and_draw(
    world: Any, shop: Any, login: Any, make_campaign: Any, carded: Any
) -> None:
    now = timezone.now()
    campaign = make_campaign(
        status="draft",
        distribution="lottery",
        quota=2,
        release_at=now - dt.timedelta(minutes=5),
        registration_closes_at=now + dt.timedelta(hours=2),
    )
    client = login(world.jiefang_officer)
    # no seed yet: scheduling is refused and says why
    response = client.post(reverse("benefits_console:schedule", args=[campaign.pk]))
    assert response.status_code == 400
    assert zh("Commit the lottery seed before scheduling, so its hash can be published.") in text(
        response
    )
    response = client.post(reverse("benefits_console:seed", args=[campaign.pk]), follow=True)
    campaign.refresh_from_db()
    assert len(campaign.seed_hash) == 64 and campaign.seed_hash in text(response)
    assert not campaign.seed
    # a double click finds the seed committed: the same hash, said again, not an error
    committed = campaign.seed_hash
    again = client.post(reverse("benefits_console:seed", args=[campaign.pk]), follow=True)
    assert again.status_code == 200 and committed in text(again)
    assert 'id="action-error"' not in text(again)
    campaign.refresh_from_db()
    assert campaign.seed_hash == committed
    client.post(reverse("benefits_console:schedule", args=[campaign.pk]))
    campaign.refresh_from_db()
    campaign_transition(campaign=campaign, new=CampaignStatus.OPEN, actor=world.jiefang_officer)
    for _ in range(4):
        lottery_register(campaign=campaign, member=carded())
    # too early: registration still open
    early = client.post(reverse("benefits_console:draw", args=[campaign.pk]))
    assert early.status_code == 400
    assert zh("The draw runs after registration closes.") in text(early)
    registration_closed(campaign.pk, now - dt.timedelta(minutes=1))
    response = client.post(reverse("benefits_console:draw", args=[campaign.pk]), follow=True)
    assert response.status_code == 200
    campaign.refresh_from_db()
    assert campaign.drawn_at is not None and campaign.seed in text(response)
    assert Registration.objects.filter(campaign=campaign, won=True).count() == 2
    # a double click on "Run the draw" finds it done; nothing runs twice
    drawn = (campaign.drawn_at, campaign.seed, Voucher.objects.count())
    again = client.post(reverse("benefits_console:draw", args=[campaign.pk]), follow=True)
    assert again.status_code == 200 and 'id="action-error"' not in text(again)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    again = client.post(reverse("benefits_console:draw", args=[campaign.pk]), follow=True)
    assert "The draw has run. The seed is now public." in text(again)
    campaign.refresh_from_db()
    assert (campaign.drawn_at, campaign.seed, Voucher.objects.count()) == drawn


# ------------------------------------------------------------------ dashboard


def test_dashboard_figures_and_ledger(
    world: Any, shop: Any, login: Any, make_campaign: Any, carded: Any
) -> None:
    campaign = make_campaign(quota=5)
    members = [carded(), carded(), carded()]
    redeem_some(campaign, members[:2], shop)
    from gonghui.benefits.services import voucher_grab

    voucher_grab(campaign=campaign, member=members[2])
    client = login(world.jiefang_officer)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("benefits_console:dashboard", args=[campaign.pk]))
    assert response.status_code == 200
    # The ledger's references are matched in the database, never sent one per redemption
    # (a large campaign would exceed SQLite's parameter limit).
    assert not [q for q in queries if re.search(r"benefits\.redemption:\d", q["sql"])]
    body = response.content.decode()
    assert 'id="fig-handed-out">3<' in body
    assert 'id="fig-redeemed">2<' in body
    assert 'id="fig-rate">66.7%<' in body
    assert 'id="fig-accrued">136.00<' in body
    assert 'id="fig-paid">0.00<' in body
    assert 'id="fig-payable">136.00<' in body
    assert "<svg" in body and shop.store.name in body
    assert world.jiefang_township.name in body  # by union, rolled up under the campaign's
    # the other district sees nothing of it
    other = login(world.zhongzhan_officer).get(
        reverse("benefits_console:dashboard", args=[campaign.pk])
    )
    assert other.status_code == 404 and shop.store.name not in other.content.decode()


# ------------------------------------------------------------------ settlement


def test_upload_reconcile_report(
    world: Any, shop: Any, login: Any, make_campaign: Any, carded: Any
) -> None:
    campaign = make_campaign(quota=5)
    redemptions = redeem_some(campaign, [carded(), carded(), carded()], shop)
    client = login(world.jiefang_officer)
    template = client.get(reverse("benefits_console:register_template", args=[campaign.pk]))
    assert template.status_code == 200
    assert load_workbook(io.BytesIO(template.content)).active["A1"].value == "券码"
    rows = rows_for(redemptions)
    rows[1] = (rows[1][0], rows[1][1], "1.00")  # amount differs
    rows = [rows[0], rows[1], ("ZZZZZZZZZZZZZZZZZZZZZZ", "R-9", "10.00")]  # third missing
    response = upload(
        client,
        campaign,
        shop.store,
        SimpleUploadedFile("登记表.xlsx", register_xlsx(rows)),
        SimpleUploadedFile("发票.pdf", PDF),
    )
    assert response.status_code == 302
    settlement = Settlement.objects.get(status=SettlementStatus.RECONCILED)
    assert (
        settlement.matched,
        settlement.amount_differences,
        settlement.missing_in_platform,
        settlement.missing_in_register,
    ) == (1, 1, 1, 1)
    page = client.get(reverse("benefits_console:settlement_detail", args=[settlement.pk]))
    body = text(page)
    assert "ZZZZZZZZZZZZZZZZZZZZZZ" in body and redemptions[2].voucher.code in body
    assert 'id="n-amount">1<' in page.content.decode()
    report = client.get(reverse("benefits_console:settlement_report", args=[settlement.pk]))
    wb = load_workbook(io.BytesIO(report.content))
    assert [r[0].value for r in wb["汇总"].iter_rows(min_row=3, max_row=6)] == [
        "一致",
        "平台有、登记表无",
        "登记表有、平台无",
        "金额不一致",
    ]
    invoice = client.get(
        reverse("benefits_console:settlement_file", args=[settlement.pk, "invoice"])
    )
    assert b"".join(invoice.streaming_content).startswith(b"%PDF")
    url = reverse("benefits_console:settlement_file", args=[settlement.pk, "register"])
    assert client.get(url.replace("register", "passwd")).status_code == 404
    # approval waits for the window to close
    response = client.post(reverse("benefits_console:settlement_approve", args=[settlement.pk]))
    assert response.status_code == 400
    assert zh("Settle after the redemption window has closed.") in text(response)
    settlement.refresh_from_db()
    assert settlement.status == SettlementStatus.RECONCILED


BIG = 10 * 1024 * 1024 + 10
ONE_ROW = ("ZZZZZZZZZZZZZZZZZZZZZZ", "R-9", "10.00")  # a register that parses (not our code)


@pytest.mark.parametrize(
    ("register", "invoice", "message"),
    [
        (None, ("i.pdf", PDF), "This field is required."),
        (("r.xlsx", register_xlsx([])), None, "This field is required."),
        (("r.xlsx", b""), ("i.pdf", PDF), "The submitted file is empty."),
        (
            ("r.csv", b"a,b,c\n"),
            ("i.pdf", PDF),
            "The register is a text (CSV) file or a web page, not an Excel workbook.",
        ),
        (
            ("r.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600),
            ("i.pdf", PDF),
            "The register is an old-format spreadsheet (.xls, or WPS .et), renamed or saved in "
            "the old format.",
        ),
        (
            ("r.pdf", b"%PDF-1.4"),
            ("i.pdf", PDF),
            "The register is not an Excel (.xlsx) file; use the template.",
        ),
        (
            ("r.xlsx", b"\x00garbage" * 100),
            ("i.pdf", PDF),
            "The register is not an Excel (.xlsx) file; use the template.",
        ),
        (
            ("r.xlsx", b"<script>alert(1)</script>"),
            ("i.pdf", PDF),
            "The register is a text (CSV) file or a web page, not an Excel workbook.",
        ),
        (("r.xlsx", b"PK" + b"\x00" * BIG), ("i.pdf", PDF), "The register file is too large."),
        (
            ("r.xlsx", register_xlsx([ONE_ROW])),
            ("i.exe", b"MZ\x90\x00"),
            "The invoice must be a PDF, PNG or JPEG file.",
        ),
        (
            ("r.xlsx", register_xlsx([ONE_ROW])),
            ("i.pdf", b"%PDF" + b"\x00" * BIG),
            "The invoice file is too large.",
        ),
        (
            ("r.xlsx", register_xlsx([("bad code!", "R", "1")])),
            ("i.pdf", PDF),
            "%(n)d rows of the register have errors; nothing was saved.",
        ),
        (
            ("r.xlsx", register_xlsx([("ABCDEFGHIJKLMNOPQRSTUV", "R", "十元")])),
            ("i.pdf", PDF),
            "%(n)d rows of the register have errors; nothing was saved.",
        ),
    ],
)
def test_upload_bad_files(
    world: Any,
    shop: Any,
    login: Any,
    make_campaign: Any,
    register: Any,
    invoice: Any,
    message: str,
) -> None:
    campaign = make_campaign(quota=5)
    client = login(world.jiefang_officer)
    response = upload(
        client,
        campaign,
        shop.store,
        SimpleUploadedFile(*register) if register else None,
        SimpleUploadedFile(*invoice) if invoice else None,
    )
    assert response.status_code == 400
    assert zh(message).split("%(")[0].split("(")[0] in text(response)
    assert "<script>alert" not in response.content.decode()
    assert Settlement.objects.count() == 0


def test_upload_row_errors_listed(world: Any, shop: Any, login: Any, make_campaign: Any) -> None:
    campaign = make_campaign(quota=5)
    response = upload(
        login(world.jiefang_officer),
        campaign,
        shop.store,
        SimpleUploadedFile("r.xlsx", register_xlsx([("bad code!", "R", "1"), ("", "R", "1")])),
        SimpleUploadedFile("i.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20),
    )
    assert response.status_code == 400
    body = text(response)
    assert zh("This is not a voucher code.") in body
    assert zh("The voucher code is missing.") in body
    assert "<td>A 券码</td>" in response.content.decode()
    assert Settlement.objects.count() == 0


def test_upload_for_store_outside_campaign(
    world: Any, shop: Any, login: Any, make_campaign: Any
) -> None:
    campaign = make_campaign(quota=5)
    for store in (shop.other_store, shop.rival_store):
        response = upload(
            login(world.jiefang_officer),
            campaign,
            store,
            SimpleUploadedFile("r.xlsx", register_xlsx([ONE_ROW])),
            SimpleUploadedFile("i.pdf", PDF),
        )
        assert response.status_code == 404
    assert Settlement.objects.count() == 0


def _close_notice_period(notice: PublicNotice) -> None:
    now = timezone.now()
    PublicNotice.objects.filter(pk=notice.pk).update(
        starts_at=now - dt.timedelta(days=6), ends_at=now - dt.timedelta(minutes=1)
    )


def test_full_settlement_objection_blocks_then_settles(
    world: Any, shop: Any, login: Any, settled_world: dict[str, Any]
) -> None:
    campaign = settled_world["campaign"]
    settlement = settled_world["settlement"]
    client = login(world.jiefang_officer)
    response = client.post(reverse("benefits_console:settlement_approve", args=[settlement.pk]))
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SETTLING
    # publishing: bad days first
    publish = reverse("benefits_console:notice_publish", args=[campaign.pk])
    for bad in ("0", "61", "abc", "", "５"):
        response = client.post(publish, {"days": bad})
        if bad == "５":
            break  # full-width digits are a valid number of days
        assert response.status_code == 400
        assert PublicNotice.objects.count() == 0
    assert response.status_code == 302
    notice = PublicNotice.objects.get(campaign=campaign)
    assert (notice.ends_at - notice.starts_at).days == 5
    objection_submit(notice=notice, name="赵六", phone="13800000009", text="我没有用过这张券")
    close = reverse("benefits_console:notice_close", args=[campaign.pk])
    # still running
    response = client.post(close)
    assert response.status_code == 400
    assert zh("The public notice is still running.") in text(response)
    _close_notice_period(notice)
    txns = Transaction.objects.count()
    response = client.post(close)
    assert response.status_code == 400
    assert zh("Resolve the open objections first.") in text(response)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SETTLING
    assert Transaction.objects.count() == txns
    # the staff objection view shows the objection (escaped), the other district gets 404
    page = client.get(reverse("benefits_console:objections", args=[campaign.pk]))
    assert "我没有用过这张券" in text(page) and "13800000009" in text(page)
    other = login(world.zhongzhan_officer)
    objection = Objection.objects.get()
    assert other.get(reverse("benefits_console:objections", args=[campaign.pk])).status_code == 404
    resolve = reverse("benefits_console:objection_resolve", args=[objection.pk])
    assert other.post(resolve, {"resolution": "已核实"}).status_code == 404
    response = client.post(resolve, {"resolution": ""})
    assert response.status_code == 400
    objection.refresh_from_db()
    assert objection.status == "open"
    assert client.post(resolve, {"resolution": "已电话核实，系误会。"}).status_code == 302
    response = client.post(close)
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SETTLED
    settlement.refresh_from_db()
    assert settlement.status == SettlementStatus.PAID
    txn = settlement.ledger_transaction
    assert txn is not None
    amounts = list(Entry.objects.filter(transaction=txn).values_list("amount_fen", flat=True))
    assert sum(amounts) == 0 and sorted(amounts) == [-2 * 6800, 2 * 6800]
    dashboard = client.get(reverse("benefits_console:dashboard", args=[campaign.pk]))
    body = dashboard.content.decode()
    assert 'id="fig-paid">136.00<' in body and 'id="fig-payable">0.00<' in body
    # closing twice: refused, nothing more posted
    response = client.post(close)
    assert response.status_code == 400
    assert Transaction.objects.count() == txns + 1


def test_close_without_objection_settles(
    world: Any, shop: Any, login: Any, settled_world: dict[str, Any]
) -> None:
    campaign = settled_world["campaign"]
    settlement_approve(settlement=settled_world["settlement"], actor=world.jiefang_officer)
    notice = notice_publish(campaign=campaign, actor=world.jiefang_officer)
    _close_notice_period(notice)
    response = login(world.city_admin).post(
        reverse("benefits_console:notice_close", args=[campaign.pk])
    )
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SETTLED
    txn = Settlement.objects.get(status=SettlementStatus.PAID).ledger_transaction
    assert txn is not None
    assert sum(Entry.objects.filter(transaction=txn).values_list("amount_fen", flat=True)) == 0


def test_the_settlement_page_shows_the_payment_orders_posted(
    world: Any, shop: Any, login: Any, settled_world: dict[str, Any]
) -> None:
    """Closing the notice said "2 payment orders were posted", and no page showed them: not the
    amount to transfer, nor the merchant's account to transfer it to."""
    campaign = settled_world["campaign"]
    settlement = settled_world["settlement"]
    client = login(world.jiefang_officer)
    url = reverse("benefits_console:settlement", args=[campaign.pk])
    settlement_approve(settlement=settlement, actor=world.jiefang_officer)
    notice = notice_publish(campaign=campaign, actor=world.jiefang_officer)
    body = text(client.get(url))  # approved, the notice running: nothing paid yet
    assert 'id="payment"' not in body and shop.merchant.settlement_account_no not in body
    _close_notice_period(notice)
    assert (
        client.post(reverse("benefits_console:notice_close", args=[campaign.pk])).status_code == 302
    )
    settlement.refresh_from_db()
    body = text(client.get(url))
    payment = body.split('id="payment"', 1)[1].split("</div>", 1)[0]
    assert zh("Payment orders") in payment
    for value in (
        shop.merchant.settlement_account_name,
        shop.merchant.settlement_bank,
        shop.merchant.settlement_account_no,
    ):
        assert value in payment
    row = payment.split(f'data-paid-store="{shop.store.pk}"', 1)[1].split("</tr>", 1)[0]
    assert shop.store.name in row and ">136.00<" in row
    assert f"#{settlement.ledger_transaction_id}" in row
    assert "data-paid-total>136.00<" in payment
    # Another district's officer sees no page at all.
    assert login(world.zhongzhan_officer).get(url).status_code == 404


def test_lottery_seed_committed_by_service_shows_hash(
    world: Any, shop: Any, login: Any, make_campaign: Any
) -> None:
    campaign = make_campaign(
        status="draft",
        distribution="lottery",
        registration_closes_at=timezone.now() + dt.timedelta(days=1),
    )
    lottery_commit_seed(campaign=campaign, actor=world.jiefang_officer)
    campaign.refresh_from_db()
    body = (
        login(world.jiefang_officer)
        .get(reverse("benefits_console:detail", args=[campaign.pk]))
        .content.decode()
    )
    assert campaign.seed_hash in body
    assert 'id="seed"' not in body


# ------------------------------------------------------------------ audit walk fixes


def test_detail_says_categories_and_history_in_words(
    world: Any, shop: Any, login: Any, make_campaign: Any
) -> None:
    """Worker categories and the clock's moves are stored as codes; the Chinese page shows
    them in words."""
    campaign = make_campaign(status="draft", categories=["migrant_worker", "new_form_worker"])
    campaign_transition(
        campaign=campaign, new=CampaignStatus.SCHEDULED, actor=world.jiefang_officer
    )
    campaign_transition(
        campaign=campaign,
        new=CampaignStatus.OPEN,
        actor=None,
        reason_code=CampaignChangeReason.RELEASE_TIME,
    )
    campaign_transition(
        campaign=campaign,
        new=CampaignStatus.CLOSED,
        actor=None,
        reason_code=CampaignChangeReason.WINDOW_ENDED,
    )
    body = text(
        login(world.jiefang_officer).get(reverse("benefits_console:detail", args=[campaign.pk]))
    )
    assert f"{zh('Migrant worker')}、{zh('New-form worker')}" in body
    assert "migrant_worker" not in body and "new_form_worker" not in body
    history = body.split('id="history"')[1]
    assert "<td>系统</td>" in history  # who moved it (not the theme switch's 跟随系统)
    assert zh("The release time came.") in history
    assert zh("The redemption window ended.") in history
    for english in ("system", "release time", "window ended", "release_time", "window_ended"):
        assert f"<td>{english}</td>" not in history
    assert world.jiefang_officer.username in history  # a person stays named as they are


def test_history_of_settlement_moves_in_words(
    world: Any, shop: Any, login: Any, settled_world: dict[str, Any]
) -> None:
    campaign = settled_world["campaign"]
    settlement_approve(settlement=settled_world["settlement"], actor=world.jiefang_officer)
    notice = notice_publish(campaign=campaign, actor=world.jiefang_officer)
    _close_notice_period(notice)
    client = login(world.jiefang_officer)
    assert (
        client.post(reverse("benefits_console:notice_close", args=[campaign.pk])).status_code == 302
    )
    history = text(client.get(reverse("benefits_console:detail", args=[campaign.pk]))).split(
        'id="history"'
    )[1]
    assert zh("A store's settlement was approved.") in history
    assert zh("The public notice was closed and the payments posted.") in history
    assert "<td>settlement approved</td>" not in history and "notice closed by" not in history
    assert list(
        CampaignStatusChange.objects.filter(campaign=campaign).values_list("reason_code", "reason")
    )[-2:] == [("settlement_approved", ""), ("notice_closed", "")]


def test_a_typed_reason_is_shown_as_typed_even_if_it_reads_like_the_clocks(
    world: Any, shop: Any, login: Any, make_campaign: Any
) -> None:
    """The staff's own words are text, never looked up: a cancellation "window ended" (the
    clock's old English reason) is shown as typed, with the platform's reasons beside it in
    words."""
    campaign = make_campaign(status="scheduled")
    campaign_transition(
        campaign=campaign,
        new=CampaignStatus.OPEN,
        actor=None,
        reason_code=CampaignChangeReason.RELEASE_TIME,
    )
    client = login(world.jiefang_officer)
    response = client.post(
        reverse("benefits_console:cancel", args=[campaign.pk]), {"reason": "window ended"}
    )
    assert response.status_code == 302
    change = CampaignStatusChange.objects.filter(campaign=campaign).last()
    assert change is not None
    assert (change.new, change.reason_code, change.reason) == ("cancelled", "", "window ended")
    history = text(client.get(reverse("benefits_console:detail", args=[campaign.pk]))).split(
        'id="history"'
    )[1]
    assert "<td>window ended</td>" in history
    assert zh("The redemption window ended.") not in history
    assert zh("The release time came.") in history


def test_edit_of_a_scheduled_campaign_goes_back_with_the_reason(
    world: Any, shop: Any, login: Any, make_campaign: Any
) -> None:
    campaign = make_campaign(status="scheduled")
    client = login(world.jiefang_officer)
    response = client.get(reverse("benefits_console:edit", args=[campaign.pk]), follow=True)
    assert response.redirect_chain == [
        (reverse("benefits_console:detail", args=[campaign.pk]), 302)
    ]
    assert zh("Only a draft campaign can be changed.") in text(response)
    assert 'name="face_value"' not in response.content.decode()
    # a draft still opens its form
    draft = make_campaign(status="draft")
    assert client.get(reverse("benefits_console:edit", args=[draft.pk])).status_code == 200


def test_schedule_refused_when_the_window_is_over(
    world: Any, shop: Any, login: Any, make_campaign: Any
) -> None:
    now = timezone.now()
    campaign = make_campaign(
        status="draft",
        release_at=now - dt.timedelta(days=30),
        redeem_from=now - dt.timedelta(days=29),
        redeem_until=now - dt.timedelta(days=10),
    )
    response = login(world.jiefang_officer).post(
        reverse("benefits_console:schedule", args=[campaign.pk])
    )
    assert response.status_code == 400
    assert zh("The redemption window has already ended; change the dates first.") in text(response)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    assert not CampaignStatusChange.objects.filter(campaign=campaign).exists()


def test_report_writes_the_stores_text_as_text(
    world: Any, shop: Any, login: Any, make_campaign: Any, carded: Any
) -> None:
    """A receipt number typed as a formula stays text in the union's workbook (no live
    =HYPERLINK or =cmd, not even once the cell is edited); amounts are numbers."""
    campaign = make_campaign(quota=5, name="=1+1购书券")
    redemptions = redeem_some(campaign, [carded()], shop)
    rows = rows_for(redemptions)
    hostile = '=HYPERLINK("http://evil.example/","点我")'
    # The store's sheet holds it as text (typed with a leading apostrophe, or pasted from a
    # CSV export): a text cell, which openpyxl would otherwise write back as a formula.
    register = load_workbook(io.BytesIO(register_xlsx(rows)))
    cell = register.active["B2"]
    cell.value = hostile
    cell.data_type = "s"
    buf = io.BytesIO()
    register.save(buf)
    client = login(world.jiefang_officer)
    response = upload(
        client,
        campaign,
        shop.store,
        SimpleUploadedFile("r.xlsx", buf.getvalue()),
        SimpleUploadedFile("i.pdf", PDF),
    )
    assert response.status_code == 302
    settlement = Settlement.objects.get()
    report = client.get(reverse("benefits_console:settlement_report", args=[settlement.pk]))
    wb = load_workbook(io.BytesIO(report.content))
    name = wb["汇总"]["B1"]
    # Text a spreadsheet would take for a formula starts with an apostrophe: it stays words
    # when the cell is edited, or the sheet saved as CSV and opened again.
    assert (name.value, name.data_type) == ("'=1+1购书券", "s")
    receipt = wb["明细"]["D2"]
    assert (receipt.value, receipt.data_type) == ("'" + hostile, "s")
    assert wb["明细"]["E2"].value == 128.5 and wb["明细"]["E2"].data_type == "n"
    assert wb["汇总"]["A8"].value == "应付补贴(元)"
    assert wb["汇总"]["B8"].value == 68 and wb["汇总"]["B8"].number_format == "0.00"
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            assert all(c.data_type != "f" for c in row)


@pytest.fixture
def differing(world: Any, shop: Any, make_campaign: Any, carded: Any) -> dict[str, Any]:
    """A closed campaign whose store register misses one of its two redemptions."""
    campaign = make_campaign(quota=5)
    redemptions = redeem_some(campaign, [carded(), carded()], shop)
    campaign_transition(campaign=campaign, new=CampaignStatus.CLOSED, actor=world.jiefang_officer)
    from gonghui.benefits.settlement import settlement_upload

    settlement, _rows = settlement_upload(
        staff=world.jiefang_officer,
        campaign=campaign,
        store=shop.store,
        register=SimpleUploadedFile("r.xlsx", register_xlsx(rows_for(redemptions[:1]))),
        invoice=SimpleUploadedFile("i.pdf", PDF),
    )
    return {"campaign": campaign, "settlement": settlement}


def test_approving_differences_needs_a_reason(
    world: Any, shop: Any, login: Any, differing: dict[str, Any]
) -> None:
    from gonghui.audit.models import AuditEvent

    settlement = differing["settlement"]
    client = login(world.jiefang_officer)
    page = text(client.get(reverse("benefits_console:settlement_detail", args=[settlement.pk])))
    assert 'id="differences-warning"' in page and 'name="reason"' in page
    url = reverse("benefits_console:settlement_approve", args=[settlement.pk])
    for bad, message in [
        ("", "The register and our records differ; say why you approve anyway."),
        ("   ", "The register and our records differ; say why you approve anyway."),
        ("理" * 301, "At most %(n)d characters."),
        ("已核对\x00", "The text contains characters that are not allowed."),
    ]:
        response = client.post(url, {"reason": bad})
        assert response.status_code == 400
        assert zh(message).split("%(")[0] in _approve_block(text(response))
        settlement.refresh_from_db()
        assert settlement.status == SettlementStatus.RECONCILED
        differing["campaign"].refresh_from_db()
        assert differing["campaign"].status == CampaignStatus.CLOSED
    reason = "已与门店核对：门店漏登一张，以平台记录为准。"
    response = client.post(url, {"reason": reason})
    assert response.status_code == 302
    settlement.refresh_from_db()
    assert settlement.status == SettlementStatus.APPROVED
    event = AuditEvent.objects.get(object_type="benefits.settlement", action="transition")
    assert event.reason == reason


def _approve_block(body: str) -> str:
    return body.split('id="approve"')[1].split("</form>")[0]


def test_a_clean_match_is_approved_without_words(
    world: Any, shop: Any, login: Any, settled_world: dict[str, Any]
) -> None:
    settlement = settled_world["settlement"]
    client = login(world.jiefang_officer)
    page = text(client.get(reverse("benefits_console:settlement_detail", args=[settlement.pk])))
    assert 'id="differences-warning"' not in page and 'name="reason"' not in page
    url = reverse("benefits_console:settlement_approve", args=[settlement.pk])
    assert client.post(url).status_code == 302


def test_reconciliation_says_why_approval_waits_and_who_uploaded(
    world: Any, shop: Any, login: Any, make_campaign: Any, carded: Any
) -> None:
    campaign = make_campaign(quota=5)
    redemptions = redeem_some(campaign, [carded()], shop)
    client = login(world.jiefang_officer)
    upload(
        client,
        campaign,
        shop.store,
        SimpleUploadedFile("r.xlsx", register_xlsx(rows_for(redemptions))),
        SimpleUploadedFile("i.pdf", PDF),
    )
    settlement = Settlement.objects.get()
    body = text(client.get(reverse("benefits_console:settlement_detail", args=[settlement.pk])))
    assert 'id="approve-later"' in body and 'id="approve"' not in body
    assert zh("Approval opens once the campaign's redemption window has closed.") in body
    assert "staff:" not in body
    assert (
        zh("%(user)s (union staff, on the store's behalf)")
        % {"user": world.jiefang_officer.username}
        in body
    )


def test_upload_refused_after_approval_is_shown(
    world: Any, shop: Any, login: Any, settled_world: dict[str, Any]
) -> None:
    """The page was open before the approval: the later upload's refusal must be seen."""
    campaign = settled_world["campaign"]
    settlement_approve(settlement=settled_world["settlement"], actor=world.jiefang_officer)
    response = upload(
        login(world.jiefang_officer),
        campaign,
        shop.store,
        SimpleUploadedFile("r.xlsx", register_xlsx(rows_for(settled_world["redemptions"]))),
        SimpleUploadedFile("i.pdf", PDF),
    )
    assert response.status_code == 400
    # One store's approval moves the campaign to settling; the other stores may still upload,
    # so the refusal is this store's own.
    assert zh("This store's settlement is already approved.") in text(response)
    assert Settlement.objects.exclude(status=SettlementStatus.SUPERSEDED).count() == 1


def test_publishing_twice_says_so(
    world: Any, shop: Any, login: Any, settled_world: dict[str, Any]
) -> None:
    campaign = settled_world["campaign"]
    settlement_approve(settlement=settled_world["settlement"], actor=world.jiefang_officer)
    notice_publish(campaign=campaign, actor=world.jiefang_officer)
    response = login(world.jiefang_officer).post(
        reverse("benefits_console:notice_publish", args=[campaign.pk]), {"days": "5"}
    )
    assert response.status_code == 400
    assert zh("The notice is already published.") in text(response)
    assert PublicNotice.objects.count() == 1


def test_publish_days_refused_before_approval_is_shown(
    world: Any, shop: Any, login: Any, settled_world: dict[str, Any]
) -> None:
    campaign = settled_world["campaign"]
    response = login(world.jiefang_officer).post(
        reverse("benefits_console:notice_publish", args=[campaign.pk]), {"days": "abc"}
    )
    assert response.status_code == 400
    assert zh("Enter a whole number.") in text(response)
    assert PublicNotice.objects.count() == 0


def test_objections_page_while_the_notice_runs(
    world: Any, shop: Any, login: Any, settled_world: dict[str, Any]
) -> None:
    campaign = settled_world["campaign"]
    settlement_approve(settlement=settled_world["settlement"], actor=world.jiefang_officer)
    notice = notice_publish(campaign=campaign, actor=world.jiefang_officer)
    objection_submit(notice=notice, name="赵六", phone="13800000009", text="我没有用过这张券")
    client = login(world.jiefang_officer)
    page = client.get(reverse("benefits_console:objections", args=[campaign.pk])).content.decode()
    body = html.unescape(page)
    close = page.split("notice/close/")[1].split("</form>")[0]
    assert "disabled" in close
    end = timezone.localtime(notice.ends_at).strftime("%Y-%m-%d %H:%M")
    assert end in body.split('id="close-hint"')[1]
    assert zh("Awaiting an answer") in body
    _close_notice_period(notice)
    page = client.get(reverse("benefits_console:objections", args=[campaign.pk])).content.decode()
    assert "disabled" not in page.split("notice/close/")[1].split("</form>")[0]


def test_console_search_box_is_bounded(world: Any, login: Any) -> None:
    page = login(world.jiefang_officer).get(reverse("benefits_console:list")).content.decode()
    assert re.search(r'<input type="search" name="q"[^>]*maxlength="100"', page)


def test_approve_and_publish_ask_first(
    world: Any, login: Any, settled_world: dict[str, Any]
) -> None:
    """Both are irreversible: their buttons carry the question the browser asks (data-confirm)."""
    client = login(world.jiefang_officer)
    settlement = settled_world["settlement"]
    page = text(client.get(reverse("benefits_console:settlement_detail", args=[settlement.pk])))
    approve = page.split(reverse("benefits_console:settlement_approve", args=[settlement.pk]))[1]
    assert re.search(r'<button type="submit" data-confirm="[^"]+">', approve.split("</form>")[0])
    settlement_approve(settlement=settlement, actor=world.jiefang_officer)
    campaign = settled_world["campaign"]
    page = text(client.get(reverse("benefits_console:settlement", args=[campaign.pk])))
    publish = page.split(reverse("benefits_console:notice_publish", args=[campaign.pk]))[1]
    assert re.search(r'<button type="submit" data-confirm="[^"]+">', publish.split("</form>")[0])
    # closing the notice posts the payment orders: the most irreversible of all asks too
    notice_publish(campaign=campaign, actor=world.jiefang_officer)
    page = text(client.get(reverse("benefits_console:objections", args=[campaign.pk])))
    close = page.split(reverse("benefits_console:notice_close", args=[campaign.pk]))[1]
    assert re.search(r"<button [^>]*data-confirm=\"[^\"]+\">", close.split("</form>")[0])
