"""Staff pages of voucher campaigns: forms, actions, dashboard, settlement, permission matrix."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from gonghui.benefits.models import (
    Campaign,
    CampaignStatus,
    CampaignStatusChange,
    Objection,
    PublicNotice,
    Registration,
    Settlement,
    SettlementStatus,
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
from gonghui.benefits.tests.pages_helpers import (
    CAMPAIGN_NAME,
    PDF,
    campaign_post,
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


def clients(world: Any, shop: Any, login: Any) -> dict[str, Client]:
    return {
        "city_admin": login(world.city_admin),
        "jiefang_staff": login(world.jiefang_officer),
        "jiefang_viewer": login(world.jiefang_viewer),
        "zhongzhan_staff": login(world.zhongzhan_officer),
        "member": login(member=world.jiefang_member),
        "anonymous": Client(),
        "clerk": login(shop.clerk.user),
    }


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
    "clerk": 403,
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
        "edit": (reverse("benefits_console:edit", args=[campaign.pk]), MANAGE_EXPECT),
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
    assert login(shop.clerk.user).get(url).status_code == 403


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


@pytest.mark.parametrize(
    ("overrides", "message", "kept"),
    [
        (
            {"concession": "21"},
            "Subsidy, member share and concession must add up to the face value "
            "(%(a)d + %(b)d + %(c)d ≠ %(f)d fen).",
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


# ------------------------------------------------------------------ actions


def test_schedule_and_cancel(world: Any, shop: Any, login: Any, make_campaign: Any) -> None:
    campaign = make_campaign(status="draft")
    client = login(world.jiefang_officer)
    response = client.post(reverse("benefits_console:schedule", args=[campaign.pk]))
    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED
    # scheduling twice: the service's refusal, shown on the page
    again = client.post(reverse("benefits_console:schedule", args=[campaign.pk]))
    assert again.status_code == 400
    assert "action-error" in again.content.decode()
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
                "register": SimpleUploadedFile("r.xlsx", register_xlsx([])),
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
        302 if who in {"member", "anonymous"} else 403,
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
    again = client.post(reverse("benefits_console:seed", args=[campaign.pk]))
    assert again.status_code == 400
    client.post(reverse("benefits_console:schedule", args=[campaign.pk]))
    campaign.refresh_from_db()
    campaign_transition(campaign=campaign, new=CampaignStatus.OPEN, actor=world.jiefang_officer)
    for _ in range(4):
        lottery_register(campaign=campaign, member=carded())
    # too early: registration still open
    early = client.post(reverse("benefits_console:draw", args=[campaign.pk]))
    assert early.status_code == 400
    assert zh("The draw runs after registration closes.") in text(early)
    Campaign.objects.filter(pk=campaign.pk).update(
        registration_closes_at=now - dt.timedelta(minutes=1)
    )
    response = client.post(reverse("benefits_console:draw", args=[campaign.pk]), follow=True)
    assert response.status_code == 200
    campaign.refresh_from_db()
    assert campaign.drawn_at is not None and campaign.seed in text(response)
    assert Registration.objects.filter(campaign=campaign, won=True).count() == 2


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
    assert world.jiefang_base.name in body  # by the member's union
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


@pytest.mark.parametrize(
    ("register", "invoice", "message"),
    [
        (None, ("i.pdf", PDF), "This field is required."),
        (("r.xlsx", register_xlsx([])), None, "This field is required."),
        (("r.xlsx", b""), ("i.pdf", PDF), "The submitted file is empty."),
        (
            ("r.csv", b"a,b,c\n"),
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
            "The register is not an Excel (.xlsx) file; use the template.",
        ),
        (("r.xlsx", b"PK" + b"\x00" * BIG), ("i.pdf", PDF), "The register file is too large."),
        (
            ("r.xlsx", register_xlsx([])),
            ("i.exe", b"MZ\x90\x00"),
            "The invoice must be a PDF, PNG or JPEG file.",
        ),
        (
            ("r.xlsx", register_xlsx([])),
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
            SimpleUploadedFile("r.xlsx", register_xlsx([])),
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
