"""Benefits registries in the admin: scoped lists, read-only campaigns and vouchers, writes through
services, no voucher code in full."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from gonghui.benefits.models import Campaign, Merchant, MerchantClerk, Store
from gonghui.benefits.services import fen_yuan, voucher_grab
from gonghui.benefits.tests.pages_helpers import CAMPAIGN_NAME, redeem_some, text, zh

MODELS = ["merchant", "store", "merchantclerk", "campaign", "voucher", "redemption"]


def _clients(world: Any, shop: Any, login: Any) -> dict[str, Client]:
    return {
        "city_admin": login(world.city_admin),
        "jiefang_staff": login(world.jiefang_officer),
        "zhongzhan_staff": login(world.zhongzhan_officer),
        "member": login(member=world.jiefang_member),
        "anonymous": Client(),
        "clerk": login(shop.clerk.user),
    }


@pytest.fixture
def data(world: Any, shop: Any, make_campaign: Any, carded: Any) -> dict[str, Any]:
    campaign = make_campaign(quota=5)
    member = carded(name="欧阳娜娜")
    redemptions = redeem_some(campaign, [member], shop)
    other = carded(name="司马相如")
    open_voucher = voucher_grab(campaign=campaign, member=other).voucher
    return {"campaign": campaign, "redemption": redemptions[0], "open_voucher": open_voucher}


def test_changelists_scoped(world: Any, shop: Any, login: Any, data: dict[str, Any]) -> None:
    codes = [data["redemption"].voucher.code, data["open_voucher"].code]
    for who, client in _clients(world, shop, login).items():
        for model in MODELS:
            response = client.get(reverse(f"admin:benefits_{model}_changelist"))
            body = text(response)
            for code in codes:
                assert code not in body, (who, model)
            if who in {"city_admin", "jiefang_staff"}:
                assert response.status_code == 200, (who, model)
            elif who == "zhongzhan_staff":
                assert response.status_code == 200, (who, model)
                assert CAMPAIGN_NAME not in body and "欧阳娜娜" not in body
                assert shop.store.name not in body and "xinhua_clerk" not in body
            else:
                assert response.status_code == 302, (who, model)
                assert "/admin/login/" in response["Location"]
    body = text(login(world.jiefang_officer).get(reverse("admin:benefits_voucher_changelist")))
    assert "…" + data["open_voucher"].code[-6:] in body and "司马相如" in body


def test_change_pages_read_only_and_scoped(
    world: Any, shop: Any, login: Any, data: dict[str, Any]
) -> None:
    campaign = data["campaign"]
    url = reverse("admin:benefits_campaign_change", args=[campaign.pk])
    jiefang = login(world.jiefang_officer)
    page = jiefang.get(url)
    assert page.status_code == 200 and CAMPAIGN_NAME in text(page)
    assert 'name="name"' not in page.content.decode()  # read-only: no inputs
    # money in yuan and the banks as words, as in the console (it showed 10000 and \u4e2d…)
    body = text(page)
    assert zh("Face value (yuan)") in body and "100.00" in body and "68.00" in body
    assert "中原银行" in body and "\\u4e2d" not in body
    redemption_page = text(
        jiefang.get(reverse("admin:benefits_redemption_change", args=[data["redemption"].pk]))
    )
    assert zh("Purchase (yuan)") in redemption_page
    assert fen_yuan(data["redemption"].amount_fen) in redemption_page
    listing = text(jiefang.get(reverse("admin:benefits_redemption_changelist")))
    assert fen_yuan(data["redemption"].subsidy_fen) in listing
    # the registry's labels are words of the reader's language, not field names
    for label in ("merchant", "store", "campaign"):
        assert zh(label) in body + redemption_page + listing, label
    for english in (">Merchant<", ">Store<", ">Campaign<", "Reversed by label"):
        assert english not in body + redemption_page + listing, english
    # the history lines say the states in words ("草稿 → 待开始"), not codes
    assert "draft → scheduled" not in body
    response = jiefang.post(url, {"name": "改名", "status": "settled"})
    assert response.status_code == 403
    campaign.refresh_from_db()
    assert campaign.name == CAMPAIGN_NAME and campaign.status == "open"
    assert login(world.zhongzhan_officer).get(url).status_code == 404
    assert jiefang.get(reverse("admin:benefits_campaign_add")).status_code == 403
    voucher_url = reverse("admin:benefits_voucher_change", args=[data["open_voucher"].pk])
    body = jiefang.get(voucher_url).content.decode()
    assert data["open_voucher"].code not in body
    assert login(world.zhongzhan_officer).get(voucher_url).status_code == 404
    assert (
        jiefang.post(
            reverse("admin:benefits_voucher_delete", args=[data["open_voucher"].pk]),
            {"post": "yes"},
        ).status_code
        == 403
    )
    assert Campaign.objects.filter(pk=campaign.pk).exists()


def test_merchant_store_clerk_added_through_services(world: Any, shop: Any, login: Any) -> None:
    client = login(world.jiefang_officer)
    response = client.post(
        reverse("admin:benefits_merchant_add"),
        {
            "org": world.jiefang.pk,
            "name": "解放区图书城",
            "uscc": "",
            "settlement_account_name": "解放区图书城有限公司",
            "settlement_bank": "中原银行",
            "settlement_account_no": "４１００００１２３４５６７８９",
        },
    )
    assert response.status_code == 302, text(response)[-3000:]
    merchant = Merchant.objects.get(name="解放区图书城")
    assert merchant.settlement_account_no == "410000123456789"  # full-width digits normalised
    response = client.post(
        reverse("admin:benefits_store_add"),
        {"merchant": merchant.pk, "name": "图书城一店", "address": "民主路"},
    )
    assert response.status_code == 302
    assert Store.objects.filter(merchant=merchant, name="图书城一店").exists()
    response = client.post(
        reverse("admin:benefits_merchantclerk_add"),
        {"merchant": merchant.pk, "username": "tushucheng", "password": "Long-pass-2026"},
    )
    assert response.status_code == 302
    assert MerchantClerk.objects.filter(merchant=merchant, user__username="tushucheng").exists()


@pytest.mark.parametrize(
    ("name", "account", "message"),
    [
        (
            "<script>alert(1)</script>",
            "410000012345678",
            "The text contains characters that are not allowed.",
        ),
        ("", "410000012345678", None),
        ("书" * 101, "410000012345678", None),
        ("图书城", "abc", "Enter the settlement account number (8 to 32 digits)."),
        ("图书城", "1' OR '1'='1", "Enter the settlement account number (8 to 32 digits)."),
    ],
)
def test_merchant_add_bad_input(
    world: Any, shop: Any, login: Any, name: str, account: str, message: str | None
) -> None:
    before = Merchant.objects.count()
    response = login(world.jiefang_officer).post(
        reverse("admin:benefits_merchant_add"),
        {
            "org": world.jiefang.pk,
            "name": name,
            "settlement_account_name": "某公司",
            "settlement_bank": "中原银行",
            "settlement_account_no": account,
        },
    )
    assert response.status_code == 200
    if message:
        assert zh(message) in text(response)
    assert "<script>alert" not in response.content.decode()
    assert Merchant.objects.count() == before


def test_other_district_cannot_add_store_to_foreign_merchant(
    world: Any, shop: Any, login: Any
) -> None:
    client = login(world.zhongzhan_officer)
    page = client.get(reverse("admin:benefits_store_add"))
    assert shop.merchant.name not in text(page)
    response = client.post(
        reverse("admin:benefits_store_add"),
        {"merchant": shop.merchant.pk, "name": "偷偷开的店", "address": ""},
    )
    assert response.status_code == 200
    assert not Store.objects.filter(name="偷偷开的店").exists()
    assert login(world.jiefang_viewer).get(reverse("admin:benefits_store_add")).status_code == 403


def test_merchant_store_clerk_changed_through_services(
    world: Any, shop: Any, login: Any, make_campaign: Any, carded: Any
) -> None:
    from gonghui.audit.models import AuditEvent
    from gonghui.benefits.services import scan_ticket_issue

    client = login(world.jiefang_officer)
    url = reverse("admin:benefits_merchant_change", args=[shop.merchant.pk])
    form = {
        "name": shop.merchant.name,
        "uscc": "",
        "settlement_account_name": "焦作市新华书店有限公司",
        "settlement_bank": "邮储银行焦作分行",
        "settlement_account_no": "６２１７ ９９００ ０００１",  # full-width, with spaces
        "is_active": "on",
        # the read-only stores inline's management form
        "stores-TOTAL_FORMS": "2",
        "stores-INITIAL_FORMS": "2",
        "stores-MIN_NUM_FORMS": "0",
        "stores-MAX_NUM_FORMS": "1000",
        "stores-0-id": str(shop.store.pk),
        "stores-0-merchant": str(shop.merchant.pk),
        "stores-1-id": str(shop.other_store.pk),
        "stores-1-merchant": str(shop.merchant.pk),
    }
    response = client.post(url, {**form, "settlement_account_no": "12ab"})
    assert response.status_code == 200
    assert zh("Enter the settlement account number (8 to 32 digits).") in text(response)
    shop.merchant.refresh_from_db()
    assert shop.merchant.settlement_bank == "中原银行焦作分行"  # a refused change changes nothing
    response = client.post(url, form)
    assert response.status_code == 302, text(response)
    shop.merchant.refresh_from_db()
    assert (shop.merchant.settlement_bank, shop.merchant.settlement_account_no) == (
        "邮储银行焦作分行",
        "621799000001",
    )
    line = AuditEvent.objects.filter(object_type="benefits.merchant", action="update").get()
    assert line.actor_id == world.jiefang_officer.pk
    assert line.changes["settlement_bank"] == ["中原银行焦作分行", "邮储银行焦作分行"]

    # Another district cannot even see it; a viewer may look but not change.
    assert login(world.zhongzhan_officer).post(url, form).status_code == 404
    assert login(world.jiefang_viewer).post(url, {**form, "name": "改名"}).status_code == 403

    # A store switched off; a clerk switched off: a ticket handed out before stops working.
    store_url = reverse("admin:benefits_store_change", args=[shop.store.pk])
    response = client.post(store_url, {"name": "图书大厦（新）", "address": "塔南路"})
    assert response.status_code == 302, text(response)
    shop.store.refresh_from_db()
    assert (shop.store.name, shop.store.is_active) == ("图书大厦（新）", False)

    voucher = voucher_grab(
        campaign=make_campaign(stores=[shop.other_store]), member=carded()
    ).voucher
    ticket = scan_ticket_issue(clerk=shop.clerk)
    clerk_url = reverse("admin:benefits_merchantclerk_change", args=[shop.clerk.pk])
    response = client.post(clerk_url, {"is_supervisor": "on"})  # is_active unticked
    assert response.status_code == 302, text(response)
    shop.clerk.refresh_from_db()
    assert (shop.clerk.is_supervisor, shop.clerk.is_active) == (True, False)
    scan = {
        "code": voucher.code,
        "store": shop.other_store.pk,
        "receipt_no": "R1",
        "amount": "10",
    }
    refused = Client(HTTP_X_SCAN_TICKET=ticket, HTTP_ACCEPT="application/json").post(
        "/benefits/redeem", scan
    )
    assert refused.status_code == 403
    # Told they were switched off (403), not "not found" as if the till had gone.
    assert login(shop.clerk.user).get("/merchant/").status_code == 403
    voucher.refresh_from_db()
    assert voucher.status == "open"
    assert AuditEvent.objects.filter(object_type="benefits.merchantclerk", action="update").exists()


@pytest.mark.parametrize("name", ["", "   ", "<script>alert(1)</script>", "店" * 101])
def test_store_change_with_bad_name_says_why_and_changes_nothing(
    world: Any, shop: Any, login: Any, name: str
) -> None:
    from gonghui.audit.models import AuditEvent

    url = reverse("admin:benefits_store_change", args=[shop.store.pk])
    response = login(world.jiefang_officer).post(
        url, {"name": name, "address": "塔南路", "is_active": "on"}
    )
    assert response.status_code == 200  # the form again, with the reason
    raw = response.content.decode()
    assert "errorlist" in raw and "<script>alert(1)</script>" not in raw
    # the service's reason, in Chinese, next to the field
    from gonghui.benefits.services import store_update
    from gonghui.core.errors import ApplicationError

    if len(name) > 100:  # the form's own length check answers first, in Chinese too
        assert "100" in raw.split("errorlist", 1)[1][:300]
    else:
        with pytest.raises(ApplicationError) as exc:
            store_update(actor=world.jiefang_officer, store=shop.store, name=name, address="塔南路")
        assert exc.value.field == "name" and zh(str(exc.value.message)) in raw
    shop.store.refresh_from_db()
    assert (shop.store.name, shop.store.is_active) == ("图书大厦", True)
    assert not AuditEvent.objects.filter(object_type="benefits.store", action="update").exists()


@pytest.mark.parametrize(
    ("password", "messages"),
    [
        ("abcdefghij", ["The password must contain both letters and digits."]),
        ("Ab1", []),  # too short (Django's own message)
        ("1234567890", ["This password is entirely numeric."]),
        ("", []),
        ("ｐａｓｓ１２", []),
        ("<script>", ["The password must contain both letters and digits."]),
    ],
)
def test_a_clerk_account_meets_the_password_policy(
    world: Any, shop: Any, login: Any, password: str, messages: list[str]
) -> None:
    """A merchant clerk (a supervisor can reverse redemptions) was saved with "abcdefghij": the
    clerk form checked only the length. The platform's policy now applies, as for staff."""
    users = MerchantClerk.objects.count()
    response = login(world.jiefang_officer).post(
        reverse("admin:benefits_merchantclerk_add"),
        {"merchant": shop.merchant.pk, "username": "weak_clerk", "password": password},
    )
    assert response.status_code == 200
    body = text(response)
    for message in messages:
        assert zh(message) in body, body[-2000:]
    assert MerchantClerk.objects.count() == users
    assert not MerchantClerk.objects.filter(user__username="weak_clerk").exists()
    from gonghui.accounts.models import User

    assert not User.objects.filter(username="weak_clerk").exists()


def test_the_clerk_service_refuses_a_weak_password(world: Any, shop: Any) -> None:
    from gonghui.benefits.services import merchant_clerk_create
    from gonghui.core.errors import ApplicationError

    with pytest.raises(ApplicationError) as exc:
        merchant_clerk_create(
            actor=world.jiefang_officer, merchant=shop.merchant, username="w", password="abcdefghij"
        )
    assert exc.value.code == "password_weak" and exc.value.field == "password"
