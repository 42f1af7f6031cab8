"""Merchant pages under /merchant/: redeem (typed or scanned code), recent redemptions, reversal;
and the demo's vouchers."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import Client
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext

from gonghui.benefits.models import (
    Campaign,
    Merchant,
    MerchantClerk,
    Redemption,
    Voucher,
    VoucherStatusChange,
)
from gonghui.benefits.services import clean_day, voucher_grab, voucher_redeem
from gonghui.core.errors import ApplicationError
from gonghui.ledger.models import Transaction

REDEEM = "/merchant/"
RECENT = "/merchant/redemptions/"
FULL_WIDTH = str.maketrans(
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_.",
    "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ"
    "ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ－＿．",
)


def zh(text: str) -> str:
    with translation.override("zh-hans"):
        return escape(gettext(text))


@pytest.fixture
def voucher(make_campaign, carded):
    campaign = make_campaign()
    v = voucher_grab(campaign=campaign, member=carded(name="王晓红"), request_key="v").voucher
    assert v is not None
    return v


def form(v: Voucher, store, **kw: str) -> dict[str, str]:
    data = {
        "store": str(store.pk),
        "code": v.code,
        "receipt_no": "XH-20260424-0001",
        "amount": "120",
    }
    data.update(kw)
    return data


def alerts(r: HttpResponse) -> list[str]:
    """The texts of the page's error lines, in page order."""
    return re.findall(r'<p class="mc-no" role="alert"[^>]*>(.*?)</p>', r.content.decode(), re.S)


def unchanged(v: Voucher) -> None:
    v.refresh_from_db()
    assert v.status == "open" and v.used_at is None
    assert not Redemption.objects.exists()
    assert not Transaction.objects.filter(reference__startswith="benefits.redemption").exists()


# --- who may use the pages ------------------------------------------------------------------


def test_anonymous_goes_to_sign_in_and_nothing_changes(world, shop, voucher):
    client = Client()
    for url in (REDEEM, RECENT, f"{RECENT}1/"):
        r = client.get(url)
        assert r.status_code == 302 and r["Location"].startswith("/accounts/login/?next=")
    r = client.post(REDEEM, form(voucher, shop.store))
    assert r.status_code == 302
    unchanged(voucher)


def test_staff_who_are_not_clerks_get_not_found(world, shop, login, voucher):
    for user in (world.city_admin, world.jiefang_officer, world.zhongzhan_officer):
        client = login(user)
        assert client.get(REDEEM).status_code == 404
        assert client.get(RECENT).status_code == 404
        r = client.post(REDEEM, form(voucher, shop.store))
        assert r.status_code == 404 and voucher.code not in r.content.decode()
    unchanged(voucher)


def test_member_session_is_not_a_clerk(world, shop, login, voucher):
    client = login(member=voucher.member)
    r = client.post(REDEEM, form(voucher, shop.store))
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")
    unchanged(voucher)


def test_rival_merchant_clerk_sees_nothing_of_ours(world, shop, login, voucher):
    redemption = voucher_redeem(
        code=voucher.code, store=shop.store, clerk=shop.clerk, receipt_no="R1", amount_fen=100
    )
    rival = login(shop.rival_clerk.user)
    body = rival.get(RECENT).content.decode()
    assert "王*红" not in body and f"{RECENT}{redemption.pk}/" not in body
    for url in (f"{RECENT}{redemption.pk}/",):
        r = rival.get(url)
        assert r.status_code == 404 and "王" not in r.content.decode()
    r = rival.post(f"{RECENT}{redemption.pk}/reverse/", {"reason": "想撤销"})
    assert r.status_code == 404
    redemption.refresh_from_db()
    assert redemption.reversed_at is None


# --- redeeming ----------------------------------------------------------------------------------


def test_clerk_redeems_by_typed_code(world, shop, login, voucher):
    client = login(shop.clerk.user)
    page = client.get(REDEEM).content.decode()
    assert "BarcodeDetector" in page and "getUserMedia" in page and 'id="camera" hidden' in page
    assert shop.store.name in page and shop.other_store.name in page  # two stores: a choice
    r = client.post(REDEEM, form(voucher, shop.store, amount="120.50"))
    assert r.status_code == 302
    redemption = Redemption.objects.get()
    assert r["Location"] == f"{RECENT}{redemption.pk}/"
    assert redemption.amount_fen == 12050 and redemption.store == shop.store
    assert redemption.subsidy_fen == 6800 and redemption.clerk == shop.clerk
    body = client.get(r["Location"]).content.decode()
    assert voucher.campaign.name in body and "王*红" in body and "王晓红" not in body
    assert "¥68.00" in body and "¥120.50" in body and voucher.code not in body
    voucher.refresh_from_db()
    assert voucher.status == "used"
    # Listed among the recent redemptions, name masked.
    body = client.get(RECENT).content.decode()
    assert f"{RECENT}{redemption.pk}/" in body and "王*红" in body and "王晓红" not in body


def test_the_form_sent_twice_lands_on_the_same_redemption(world, shop, login, voucher):
    """Without the page's script a slow line's double press posts the form twice: the second
    lands on the first redemption with its answer, not on "already used"."""
    client = login(shop.clerk.user)
    first = client.post(REDEEM, form(voucher, shop.store))
    client.get(first["Location"])  # the first answer's message, shown (or lost)
    again = client.post(REDEEM, form(voucher, shop.store), follow=True)
    assert again.redirect_chain[0][0] == first["Location"]
    body = again.content.decode()
    repeat = zh(
        "Your earlier press at %(t)s went through; its answer was lost on the way. "
        "Nothing more was redeemed."
    )
    assert repeat.split("%(t)s")[0] in body and "XH-20260424-0001" in body
    assert Redemption.objects.count() == 1


def test_full_width_code_and_amount_are_understood(world, shop, login, voucher):
    client = login(shop.clerk.user)
    r = client.post(
        REDEEM,
        form(
            voucher,
            shop.store,
            code=f"  {voucher.code.translate(FULL_WIDTH)} ",
            amount="１２０．５０",
            receipt_no="ＸＨ－１",
        ),
    )
    assert r.status_code == 302
    redemption = Redemption.objects.get()
    assert redemption.amount_fen == 12050 and redemption.receipt_no == "XH-1"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("code", "", "Scan or enter the voucher code."),
        ("code", "<script>alert(1)</script>", "This is not a voucher code."),
        ("code", "' OR 1=1 --", "This is not a voucher code."),
        ("code", "x" * 500, "This is not a voucher code."),
        ("code", "AAAAAAAAAAAAAAAAAAAAAA", "No such voucher."),
        ("receipt_no", "", "Enter the receipt number."),
        ("receipt_no", "<img src=x onerror=alert(1)>", None),
        ("receipt_no", "R" * 41, None),
        ("amount", "", "Enter an amount in yuan, e.g. 68 or 68.50."),
        ("amount", "-5", "Enter an amount in yuan, e.g. 68 or 68.50."),
        ("amount", "12.345", "Enter an amount in yuan, e.g. 68 or 68.50."),
        ("amount", "1e5", "Enter an amount in yuan, e.g. 68 or 68.50."),
        ("amount", "9999999999", "The amount is far too large; check it."),
        ("amount", "9" * 20, "The amount is far too large; check it."),
        ("amount", "999999999", ("The amount may be at most ¥%(max)s.", {"max": "10,000,000.00"})),
        ("amount", "0", ("The amount must be at least ¥%(min)s.", {"min": "0.01"})),
        ("amount", "0.00", ("The amount must be at least ¥%(min)s.", {"min": "0.01"})),
        ("amount", ".5", "Enter an amount in yuan, e.g. 68 or 68.50."),
        (
            "amount",
            "'; DROP TABLE benefits_voucher; --",
            "Enter an amount in yuan, e.g. 68 or 68.50.",
        ),
    ],
)
def test_bad_input_is_refused_with_the_reason_and_nothing_changes(
    world, shop, login, voucher, field, value, message
):
    client = login(shop.clerk.user)
    r = client.post(REDEEM, form(voucher, shop.store, **{field: value}))
    body = r.content.decode()
    assert r.status_code == 400
    assert f'data-error-for="{field}"' in body
    if isinstance(message, tuple):
        message = zh(message[0]) % message[1]
    elif message:
        message = zh(message)
    if message:
        assert message in body
    assert "<script>alert(1)</script>" not in body and "<img src=x" not in body
    unchanged(voucher)


def test_a_purchase_below_the_minimum_is_refused_on_the_amount_and_kept(
    world, shop, login, make_campaign, carded
):
    """The clerk is told the minimum and what was typed; the form keeps every field."""
    c = make_campaign(min_purchase_fen=10_000)
    v = voucher_grab(campaign=c, member=carded(), request_key="m").voucher
    assert v is not None
    client = login(shop.clerk.user)
    r = client.post(REDEEM, form(v, shop.store, amount="99.99", receipt_no="XH-9"))
    body = r.content.decode()
    assert r.status_code == 400 and 'data-error-for="amount"' in body
    assert "100.00" in body and "99.99" in body
    assert 'value="99.99"' in body and 'value="XH-9"' in body
    unchanged(v)
    r = client.post(REDEEM, form(v, shop.store, amount="100"))
    assert r.status_code == 302 and Redemption.objects.get().amount_fen == 10_000


def test_store_of_another_merchant_or_garbage_is_refused(world, shop, login, voucher):
    client = login(shop.clerk.user)
    for store in (str(shop.rival_store.pk), "", "abc", "<script>", "99999999"):
        r = client.post(REDEEM, {**form(voucher, shop.store), "store": store})
        assert r.status_code == 400 and 'data-error-for="store"' in r.content.decode()
    unchanged(voucher)


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("store", "Choose one of your stores."),
        ("code", "This is not a voucher code."),
        ("receipt_no", "The receipt number may have up to 40 letters, digits and - _ / # ."),
        ("amount", "Enter an amount in yuan, e.g. 68 or 68.50."),
    ],
)
def test_a_nul_in_a_field_gets_the_fields_own_words_only(
    world, shop, login, voucher, field, message
):
    """Django's own refusal of a NUL came first, in its odd Chinese ("不允许是用空字符串",
    "empty strings are not allowed"), which sends the clerk looking for an empty field."""
    client = login(shop.clerk.user)
    r = client.post(REDEEM, {**form(voucher, shop.store), field: "1\x00"})
    assert r.status_code == 400
    assert alerts(r) == [zh(message)], alerts(r)
    unchanged(voucher)


@pytest.mark.parametrize("off", ["clerk", "merchant"])
def test_a_clerk_switched_off_mid_shift_is_told_so(world, shop, login, voucher, off):
    """The page was open when the supervisor or the union switched the clerk (or the merchant)
    off: the next press answered "not found", as if the till had gone."""
    client = login(shop.clerk.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert client.get(REDEEM).status_code == 200
    if off == "clerk":
        MerchantClerk.objects.filter(pk=shop.clerk.pk).update(is_active=False)
    else:
        Merchant.objects.filter(pk=shop.merchant.pk).update(is_active=False)
    for r in (client.post(REDEEM, form(voucher, shop.store)), client.get(RECENT)):
        assert r.status_code == 403
        assert "has been switched off" in r.content.decode(), r.content.decode()[:2000]
    unchanged(voucher)


def test_wrong_store_used_twice_rival_code_window(
    world, shop, login, make_campaign, carded, voucher
):
    client = login(shop.clerk.user)
    r = client.post(REDEEM, form(voucher, shop.other_store))
    assert (
        r.status_code == 400
        and zh("This voucher cannot be used at this store. It can be used at: %(stores)s.")
        % {"stores": shop.store.name}
        in r.content.decode()
    )
    unchanged(voucher)
    assert client.post(REDEEM, form(voucher, shop.store)).status_code == 302
    r = client.post(REDEEM, form(voucher, shop.store, receipt_no="R2"))
    # Used: the answer says where, when and on which receipt (a double tap finds its own sale).
    used = zh("This voucher was already used at %(store)s on %(t)s, receipt %(receipt)s.")
    (alert,) = alerts(r)
    assert r.status_code == 400 and alert.startswith(used.split("%(")[0])
    assert shop.store.name in alert and "XH-20260424-0001" in alert
    assert Redemption.objects.count() == 1
    # Our voucher at the rival merchant: the same answer as a code that does not exist.
    rival = login(shop.rival_clerk.user)
    other = voucher_grab(campaign=make_campaign(name="第二期"), member=carded()).voucher
    assert other is not None
    r = rival.post(REDEEM, form(other, shop.rival_store))
    assert r.status_code == 400 and zh("No such voucher.") in r.content.decode()
    # Outside the window: not yet, and expired.
    now = timezone.now()
    Campaign.objects.filter(pk=other.campaign_id).update(redeem_from=now + dt.timedelta(days=1))
    r = client.post(REDEEM, form(other, shop.store))
    not_yet = zh("This voucher can be used from %(t)s.").split("%(t)s")[0]
    assert r.status_code == 400 and not_yet in r.content.decode()
    Campaign.objects.filter(pk=other.campaign_id).update(
        redeem_from=now - dt.timedelta(days=2), redeem_until=now - dt.timedelta(minutes=1)
    )
    r = client.post(REDEEM, form(other, shop.store))
    assert r.status_code == 400 and zh("This voucher has expired.") in r.content.decode()
    other.refresh_from_db()
    assert other.status == "open" and Redemption.objects.count() == 1


# --- reversal ---------------------------------------------------------------------------------


def test_supervisor_reverses_within_the_window(world, shop, login, voucher):
    redemption = voucher_redeem(
        code=voucher.code, store=shop.store, clerk=shop.clerk, receipt_no="R1", amount_fen=100
    )
    url = f"{RECENT}{redemption.pk}/"
    # A plain clerk sees no reversal form and is refused if it posts anyway.
    clerk = login(shop.clerk.user)
    assert "/reverse/" not in clerk.get(url).content.decode()
    assert clerk.post(f"{url}reverse/", {"reason": "顾客退货"}).status_code == 403
    redemption.refresh_from_db()
    assert redemption.reversed_at is None
    boss = login(shop.supervisor.user)
    assert f"{url}reverse/" in boss.get(url).content.decode()
    for reason in ("", "   ", "\u3000", "<script>x</script>"):
        r = boss.post(f"{url}reverse/", {"reason": reason})
        assert r.status_code == 400 and 'data-error-for="reason"' in r.content.decode()
        if reason != "<script>x</script>":
            assert zh("Write why the redemption is reversed.") in r.content.decode()
    # The refused form leaves .../reverse/ in the address bar; reloading it was a blank 405.
    r = boss.get(f"{url}reverse/")
    assert r.status_code == 302 and r["Location"] == url
    assert clerk.get(f"{url}reverse/")["Location"] == url
    rival = login(shop.rival_clerk.user)
    assert rival.get(f"{url}reverse/").status_code == 404
    redemption.refresh_from_db()
    assert redemption.reversed_at is None
    r = boss.post(f"{url}reverse/", {"reason": "收银员扫错顾客"})
    assert r.status_code == 302
    redemption.refresh_from_db()
    voucher.refresh_from_db()
    assert redemption.reversed_at is not None and redemption.reverse_reason == "收银员扫错顾客"
    assert voucher.status == "open"
    body = boss.get(url).content.decode()
    assert "data-reversed" in body and f"{url}reverse/" not in body
    # Reversed twice: refused.
    r = boss.post(f"{url}reverse/", {"reason": "再来一次"})
    assert r.status_code == 400


def test_a_reversal_sent_twice_is_one_reversal_and_says_done(world, shop, login, voucher):
    """A double press on a slow line posts the reversal twice; the page the supervisor sees is
    the second answer. It says the reversal was done, not "already reversed"."""
    redemption = voucher_redeem(
        code=voucher.code, store=shop.store, clerk=shop.clerk, receipt_no="R1", amount_fen=100
    )
    url = f"{RECENT}{redemption.pk}/"
    boss = login(shop.supervisor.user)
    assert boss.post(f"{url}reverse/", {"reason": "顾客退货"}).status_code == 302
    r = boss.post(f"{url}reverse/", {"reason": "顾客退货"}, follow=True)
    assert r.redirect_chain == [(url, 302)]
    body = r.content.decode()
    assert zh("The redemption was reversed; the voucher can be used again.") in body
    assert zh("This redemption has already been reversed.") not in body
    reversals = Transaction.objects.filter(reference=f"benefits.redemption:{redemption.pk}")
    assert reversals.count() == 2  # the accrual and one reversal
    assert VoucherStatusChange.objects.filter(voucher=voucher, new="open").count() == 1
    # Another reason (or another supervisor) is another reversal: refused, as before.
    r = boss.post(f"{url}reverse/", {"reason": "再来一次"})
    assert r.status_code == 400 and zh("This redemption has already been reversed.") in (
        r.content.decode()
    )


def test_reversal_too_late(world, shop, login, voucher, settings):
    redemption = voucher_redeem(
        code=voucher.code, store=shop.store, clerk=shop.clerk, receipt_no="R1", amount_fen=100
    )
    Redemption.objects.filter(pk=redemption.pk).update(
        at=timezone.now() - dt.timedelta(minutes=settings.GONGHUI_REDEMPTION_REVERSAL_MINUTES + 1)
    )
    boss = login(shop.supervisor.user)
    url = f"{RECENT}{redemption.pk}/"
    assert f"{url}reverse/" not in boss.get(url).content.decode()
    r = boss.post(f"{url}reverse/", {"reason": "太晚了"})
    assert r.status_code == 400
    redemption.refresh_from_db()
    assert redemption.reversed_at is None


# --- the demo ---------------------------------------------------------------------------------


def test_demo_vouchers_load_and_work(world, login):
    from gonghui.benefits.services import lottery_verify, member_eligibility
    from gonghui.demo.benefits import demo_benefits_load

    demo = demo_benefits_load(
        city=world.city, member_phone=world.jiefang_member.phone, password="gonghui-demo"
    )
    c = demo.campaign
    assert (c.name, c.status, c.quota, c.per_member_limit) == ("四月芳菲", "open", 2000, 1)
    assert (c.face_value_fen, c.member_share_fen, c.subsidy_fen, c.concession_fen) == (
        10000,
        1000,
        6800,
        2200,
    )
    assert c.org == world.city and c.merchant.name == "新华书店"
    assert [s.name for s in c.stores.all()] == ["塔南路图书大厦"]
    assert c.release_at < timezone.now() < c.redeem_until
    assert member_eligibility(member=world.jiefang_member, campaign=c).ok
    assert demo.clerk.user.check_password("gonghui-demo") and not demo.clerk.user.is_staff
    # The demo member grabs on the page, the clerk redeems, the member sees it used.
    member = login(member=world.jiefang_member)
    r = member.post(f"/m/benefits/campaigns/{c.pk}/grab/", {"request_key": "demo-1"}, follow=True)
    v = Voucher.objects.get(campaign=c)
    assert (
        r.redirect_chain == [(f"/m/benefits/vouchers/{v.pk}/", 303)]
        and "data-qr" in r.content.decode()
    )
    clerk = Client()
    # The real sign-in page, sending the clerk on to the redeem page.
    r = clerk.post(
        "/accounts/login/?next=/merchant/",
        {"username": "bookstore_clerk", "password": "gonghui-demo", "next": "/merchant/"},
    )
    assert r.status_code == 302 and r["Location"] == "/merchant/"
    assert clerk.get(REDEEM).status_code == 200
    r = clerk.post(REDEEM, {"code": v.code, "receipt_no": "XH1", "amount": "100"})
    assert r.status_code == 302
    body = member.get(f"/m/benefits/vouchers/{v.pk}/").content.decode()
    assert 'data-state="used"' in body
    lottery = demo.lottery
    assert lottery is not None and lottery.drawn_at and lottery.seed
    regs = list(lottery.registrations.values_list("pk", flat=True))
    winners = lottery_verify(
        seed=lottery.seed,
        seed_hash=lottery.seed_hash,
        campaign_id=lottery.pk,
        registration_ids=regs,
        quota=lottery.quota,
    )
    assert sorted(winners) == sorted(
        lottery.registrations.filter(won=True).values_list("pk", flat=True)
    )


def test_recent_list_finds_by_receipt_or_code_tail_and_store(
    world, shop, login, make_campaign, carded
):
    campaign = make_campaign(quota=40, stores=[shop.store, shop.other_store])
    made = []
    for i in range(35):
        v = voucher_grab(campaign=campaign, member=carded()).voucher
        store = shop.store if i % 2 else shop.other_store
        made.append(
            voucher_redeem(
                code=v.code, store=store, clerk=shop.clerk, receipt_no=f"XH-{i:04d}", amount_fen=100
            )
        )
    client = login(shop.clerk.user)

    def listed(**params: str) -> set[int]:
        r = client.get(RECENT, params)
        assert r.status_code == 200
        body = r.content.decode()
        return {x.pk for x in made if f'data-redemption="{x.pk}"' in body}

    assert len(listed()) == 30  # one page
    newest_first = list(Redemption.objects.order_by("-at", "-id").values_list("pk", flat=True))
    assert listed() == set(newest_first[:30])
    assert listed(page="2") == set(newest_first[30:])  # older ones on the next page
    assert listed(q="XH-0007") == {made[7].pk}
    assert listed(q="ｘｈ-０００７") == {made[7].pk}  # full-width, lower case
    tail = made[3].voucher.code[-6:]
    assert made[3].pk in listed(q=tail)
    # The code as the member's phone shows it, in groups of five, whole or its last groups, with
    # spaces, dashes or a full-width space between them.
    code = made[3].voucher.code
    groups = [code[i : i + 5] for i in range(0, len(code), 5)]
    assert listed(q=" ".join(groups)) == {made[3].pk}
    assert made[3].pk in listed(q=" ".join(groups[-2:]))
    assert made[3].pk in listed(q="-".join(groups[-2:]))
    assert made[3].pk in listed(q="\u3000".join(groups[-2:]))
    assert listed(q="XH-0", store=str(shop.other_store.pk), page="1") <= {
        x.pk for x in made if x.store_id == shop.other_store.pk
    }
    # A NUL was a server error on PostgreSQL, which cannot compare text holding one.
    for hostile in (
        "<script>alert(1)</script>",
        "' OR 1=1 --",
        "x" * 500,
        "%",
        "_",
        "\x00",
        "XH-0007\x00",
    ):
        r = client.get(RECENT, {"q": hostile, "store": "<b>"})
        assert r.status_code == 200 and "<script>alert(1)" not in r.content.decode()
        assert 'data-redemption="' not in r.content.decode()
        assert zh("No redemption matches.") in r.content.decode()
    # Another merchant's clerk finds nothing of ours, whatever it searches.
    rival = login(shop.rival_clerk.user)
    assert 'data-redemption="' not in rival.get(RECENT, {"q": "XH-0007"}).content.decode()


# --- what a clerk meets on a phone --------------------------------------------------------------


def test_a_clerk_signing_in_lands_on_the_redeem_page_not_the_console(world, shop, login):
    client = Client()
    r = client.post("/accounts/login/", {"username": "xinhua_clerk", "password": "Clerk-pass-2026"})
    assert r.status_code == 302 and r["Location"] == REDEEM
    # Signed in already: the sign-in page and the site's root send it on to the same place.
    assert client.get("/accounts/login/")["Location"] == REDEEM
    assert client.get("/")["Location"] == REDEEM
    # Staff still land on the console; an asked-for page still wins.
    assert login(world.jiefang_officer).get("/")["Location"] == "/console/"
    r = Client().post(
        f"/accounts/login/?next={RECENT}",
        {"username": "xinhua_clerk", "password": "Clerk-pass-2026", "next": RECENT},
    )
    assert r["Location"] == RECENT
    # A switched-off clerk has no redeem page to land on.
    shop.clerk.is_active = False
    shop.clerk.save()
    r = Client().post(
        "/accounts/login/", {"username": "xinhua_clerk", "password": "Clerk-pass-2026"}
    )
    assert r["Location"] == "/console/"


def test_a_clerk_opening_a_staff_page_is_sent_back_to_the_till(world, shop, login):
    """A clerk at /console/ saw "not allowed" under the staff menu, with no way back."""
    clerk = login(shop.clerk.user)
    for path in ("/console/", "/console/benefits/", "/console/members/"):
        r = clerk.get(path)
        assert r.status_code == 302 and r["Location"] == REDEEM, path
    # A switched-off clerk has no till: refused, not sent round in a circle.
    shop.clerk.is_active = False
    shop.clerk.save()
    assert clerk.get("/console/").status_code == 403


def test_refusals_are_shown_in_the_merchant_frame(world, shop, login, voucher):
    redemption = voucher_redeem(
        code=voucher.code, store=shop.store, clerk=shop.clerk, receipt_no="R1", amount_fen=100
    )
    clerk = login(shop.clerk.user)
    r = clerk.get(f"{RECENT}99999999/")
    body = r.content.decode()
    assert r.status_code == 404 and zh("Not found.") in body
    # The clerk's own header and a way back, none of the console's menu.
    assert shop.merchant.name in body and f'href="{RECENT}"' in body
    assert "/console/members/" not in body and "/admin/" not in body
    r = clerk.post(f"{RECENT}{redemption.pk}/reverse/", {"reason": "顾客退货"})
    assert r.status_code == 403 and alerts(r) == [zh("Only a supervisor may reverse a redemption.")]
    assert "/console/members/" not in r.content.decode()
    assert r["Cache-Control"] == "private, no-store"
    redemption.refresh_from_db()
    assert redemption.reversed_at is None


def test_an_empty_form_names_every_missing_field_at_once(world, shop, login, voucher):
    client = login(shop.clerk.user)
    r = client.post(REDEEM, {"store": "", "code": " ", "receipt_no": "", "amount": ""})
    assert r.status_code == 400
    assert alerts(r) == [
        zh("Choose one of your stores."),
        zh("Scan or enter the voucher code."),
        zh("Enter the receipt number."),
        zh("Enter an amount in yuan, e.g. 68 or 68.50."),
    ]
    # The cursor waits in the first field to fix.
    assert re.search(r'<select name="store"[^>]*autofocus', r.content.decode())
    # Several wrong fields: all named, in the form's order, and what was typed stays.
    r = client.post(REDEEM, form(voucher, shop.store, code="abc", amount="12.345"))
    assert alerts(r) == [
        zh("This is not a voucher code."),
        zh("Enter an amount in yuan, e.g. 68 or 68.50."),
    ]
    body = r.content.decode()
    assert 'value="abc"' in body and 'value="12.345"' in body and 'value="XH-20260424-0001"' in body
    assert re.search(r'<input type="text" name="code"[^>]*autofocus', body)
    unchanged(voucher)


def test_a_store_among_several_is_never_chosen_silently(world, shop, login, voucher):
    client = login(shop.clerk.user)
    body = client.get(REDEEM).content.decode()
    assert '<option value="" selected>' in body  # first time: the clerk chooses
    assert f'<option value="{shop.store.pk}" selected>' not in body
    r = client.post(REDEEM, {**form(voucher, shop.store), "store": ""})
    assert r.status_code == 400 and alerts(r) == [zh("Choose one of your stores.")]
    unchanged(voucher)
    assert client.post(REDEEM, form(voucher, shop.store)).status_code == 302
    # Next time the page offers the store of the clerk's last redemption.
    body = client.get(REDEEM).content.decode()
    assert f'<option value="{shop.store.pk}" selected>' in body
    # A store switched off since is not offered, even if it was the last one.
    shop.store.is_active = False
    shop.store.save()
    body = client.get(REDEEM).content.decode()
    assert f'value="{shop.store.pk}"' not in body and 'type="hidden" name="store"' in body


def test_a_typed_code_survives_spaces_and_the_dashes_of_a_chinese_keyboard(
    world, shop, login, voucher
):
    Voucher.objects.filter(pk=voucher.pk).update(code="Ab3d-EfGh_Jk5m-NpQr7s")
    client = login(shop.clerk.user)
    # As a clerk types it off the member's phone: in groups, with an input method's dashes.
    typed = "Ab3d–EfGh——Jk5m－NpQr 7s"
    r = client.post(REDEEM, form(voucher, shop.store, code=f" {typed.replace('h', 'h ')} "))
    assert r.status_code == 302
    assert Redemption.objects.get().voucher_id == voucher.pk


@pytest.mark.parametrize(
    ("amount", "fen"),
    [("12。5", 1250), ("1,280.50", 128050), ("１，２８０", 128000), ("¥12.5元", 1250)],
)
def test_amounts_as_a_chinese_keyboard_types_them(world, shop, login, voucher, amount, fen):
    client = login(shop.clerk.user)
    assert client.post(REDEEM, form(voucher, shop.store, amount=amount)).status_code == 302
    assert Redemption.objects.get().amount_fen == fen


@pytest.mark.parametrize("amount", ["12,5", "12,50", "1,2,3", "1,28", ",5", "1,280,"])
def test_a_comma_that_is_not_a_thousands_separator_is_refused(world, shop, login, voucher, amount):
    # "12,50" must not become 1,250 yuan.
    client = login(shop.clerk.user)
    r = client.post(REDEEM, form(voucher, shop.store, amount=amount))
    assert r.status_code == 400
    assert alerts(r) == [zh("Enter an amount in yuan, e.g. 68 or 68.50.")]
    unchanged(voucher)


def test_a_refused_reversal_says_why_even_when_the_form_is_gone(
    world, shop, login, voucher, settings
):
    redemption = voucher_redeem(
        code=voucher.code, store=shop.store, clerk=shop.clerk, receipt_no="R1", amount_fen=100
    )
    url = f"{RECENT}{redemption.pk}/"
    window = settings.GONGHUI_REDEMPTION_REVERSAL_MINUTES
    too_late = zh("A redemption can be reversed only within %(n)d minutes.") % {"n": window}
    boss = login(shop.supervisor.user)
    # Reversed by another supervisor meanwhile: this one's press is answered, not swallowed.
    Redemption.objects.filter(pk=redemption.pk).update(reversed_at=timezone.now())
    r = boss.post(f"{url}reverse/", {"reason": "顾客退货"})
    assert r.status_code == 400
    assert alerts(r) == [zh("This redemption has already been reversed.")]
    assert "data-reversed" in r.content.decode() and f"{url}reverse/" not in r.content.decode()
    Redemption.objects.filter(pk=redemption.pk).update(reversed_at=None)
    # The window passed while the supervisor typed the reason.
    Redemption.objects.filter(pk=redemption.pk).update(
        at=timezone.now() - dt.timedelta(minutes=window + 1)
    )
    r = boss.post(f"{url}reverse/", {"reason": "顾客退货"})
    assert r.status_code == 400 and alerts(r) == [too_late]
    assert f"{url}reverse/" not in r.content.decode()
    # Opened later, the page says so instead of offering a form that cannot work.
    body = boss.get(url).content.decode()
    assert f"{url}reverse/" not in body and "data-reverse-blocked" in body and too_late in body
    # A closed campaign: no form either, and the reason.
    Redemption.objects.filter(pk=redemption.pk).update(at=timezone.now())
    Campaign.objects.filter(pk=voucher.campaign_id).update(status="closed")
    body = boss.get(url).content.decode()
    assert f"{url}reverse/" not in body and zh("This campaign is closed.") in body
    redemption.refresh_from_db()
    assert redemption.reversed_at is None
    # A plain clerk is told nothing about reversing.
    body = login(shop.clerk.user).get(url).content.decode()
    assert "data-reverse-blocked" not in body


def test_the_list_shows_receipt_numbers_and_a_store_column_only_for_several_stores(
    world, shop, login, voucher
):
    redemption = voucher_redeem(
        code=voucher.code, store=shop.store, clerk=shop.clerk, receipt_no="XH-77", amount_fen=100
    )
    client = login(shop.clerk.user)
    body = client.get(RECENT).content.decode()
    assert '<td class="mc-receipt" data-receipt>XH-77</td>' in body
    assert f"data-store>{shop.store.name}<" in body  # two stores: which one
    shop.other_store.is_active = False
    shop.other_store.save()
    body = client.get(RECENT).content.decode()
    assert f'data-redemption="{redemption.pk}"' in body and "data-receipt>XH-77<" in body
    assert "data-store>" not in body and zh("Store") not in body


# --- a shift's redemptions: by day, with what they add up to ------------------------------------


@pytest.mark.parametrize(
    "typed, day",
    [
        ("2026-04-24", dt.date(2026, 4, 24)),
        ("2026/4/24", dt.date(2026, 4, 24)),
        ("2026.04.24", dt.date(2026, 4, 24)),
        ("2026年4月24日", dt.date(2026, 4, 24)),
        ("２０２６－０４－２４", dt.date(2026, 4, 24)),  # full width
        (" 2026-04-24 ", dt.date(2026, 4, 24)),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_clean_day_reads_what_a_clerk_types(typed, day):
    assert clean_day(typed) == day


@pytest.mark.parametrize(
    "typed",
    [
        "2026-02-30",
        "2026-13-01",
        "24/04/2026",
        "昨天",
        "1999-12-31",
        "2101-01-01",
        "<script>",
        "' OR 1=1 --",
        "9" * 500,
        "2026-04-24x",
        "20260424",
    ],
)
def test_clean_day_refuses_what_is_not_a_day(typed):
    # The message is made in the language active when it is raised (as in a request).
    with translation.override("zh-hans"), pytest.raises(ApplicationError) as exc:
        clean_day(typed)
    assert (exc.value.code, exc.value.field) == ("day_invalid", "day")
    assert str(exc.value.message) == "请按 2026-04-24 的格式填写日期。"


def test_the_list_filters_by_day_and_adds_up_the_shift(world, shop, login, make_campaign, carded):
    campaign = make_campaign(quota=40)
    made = []
    for i in range(35):
        v = voucher_grab(campaign=campaign, member=carded()).voucher
        made.append(
            voucher_redeem(
                code=v.code,
                store=shop.store,
                clerk=shop.clerk,
                receipt_no=f"D-{i:02d}",
                amount_fen=12_000,
            )
        )
    # 32 of them on 24 April (one page and two more), three the day after, in Beijing time.
    tz = timezone.get_current_timezone()
    for i, r in enumerate(made):
        day = 24 if i < 32 else 25
        at = dt.datetime(2026, 4, day, 9, 0, tzinfo=tz) + dt.timedelta(minutes=i)
        Redemption.objects.filter(pk=r.pk).update(at=at)
    # 00:30 on the 25th in Beijing is still the 24th in UTC: it counts for the 25th, the day on
    # the shop's clock.
    Redemption.objects.filter(pk=made[34].pk).update(at=dt.datetime(2026, 4, 25, 0, 30, tzinfo=tz))
    # One of the 24th's is reversed: listed, not counted.
    Redemption.objects.filter(pk=made[0].pk).update(
        reversed_at=timezone.now(), reversed_by_label="test", reverse_reason="录错"
    )
    client = login(shop.clerk.user)

    def page(**params: str) -> str:
        with translation.override("zh-hans"):
            r = client.get(RECENT, params, HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert r.status_code == 200
        return r.content.decode()

    def listed(body: str) -> set[int]:
        return {x.pk for x in made if f'data-redemption="{x.pk}"' in body}

    body = page(day="2026-04-25")
    assert listed(body) == {made[32].pk, made[33].pk, made[34].pk}
    assert "已核销 3 张券：工会补贴 ¥204.00，会员支付 ¥30.00。" in body
    assert 'value="2026-04-25"' in body

    body = page(day="２０２６年４月２４日")  # full width, as typed
    assert len(listed(body)) == 30 and made[34].pk not in listed(body)
    assert "已核销 31 张券：工会补贴 ¥2,108.00，会员支付 ¥310.00。" in body
    assert "已撤销的核销不计入。" in body
    assert 'value="2026-04-24"' in body
    # The next page keeps the day (and the other filters).
    assert "?day=2026-04-24&amp;page=2" in body
    assert listed(page(day="2026-04-24", page="2")) == {made[0].pk, made[1].pk}  # the oldest
    assert "?q=D-&amp;day=2026-04-24&amp;page=2" in page(q="D-", day="2026-04-24")
    assert listed(page(q="D-3", day="2026-04-25")) == {made[32].pk, made[33].pk, made[34].pk}

    # Without a day: everything, all counted but the reversed one.
    body = page()
    assert "已核销 34 张券：工会补贴 ¥2,312.00，会员支付 ¥340.00。" in body
    assert f'href="?day={timezone.localdate().isoformat()}"' in body  # "today" at a tap

    # A day with nothing.
    body = page(day="2026-04-23")
    assert listed(body) == set() and "已核销 0 张券" in body
    assert zh("No redemption matches.") in body

    # Not a day: said under the field, typed text kept (escaped), the list not filtered by day.
    for bad in ("2026-02-30", "<script>alert(1)</script>", "9" * 500):
        body = page(day=bad)
        assert "请按 2026-04-24 的格式填写日期。" in body and 'data-error-for="day"' in body
        assert "<script>alert(1)" not in body
        assert len(listed(body)) == 30  # the first page of everything
        assert "已核销 34 张券" in body

    # Another merchant's clerk sees none of it, and adds up to nothing.
    rival = login(shop.rival_clerk.user)
    with translation.override("zh-hans"):
        body = rival.get(RECENT, {"day": "2026-04-24"}).content.decode()
    assert 'data-redemption="' not in body and "已核销 0 张券" in body


@pytest.mark.parametrize("path", [REDEEM, RECENT, "/merchant/settlement/"])
def test_a_clerk_switches_language_from_any_merchant_page(world, shop, login, path):
    """The merchant pages had no language switch (only the sign-in page did): a clerk signed in
    in Chinese could not read the till in English without signing out."""
    client = login(shop.clerk.user)
    page = client.get(path).content.decode()
    assert '<html lang="zh-hans">' in page
    switch = re.search(r'<footer class="m-lang">.*?</footer>', page, re.S)
    assert switch is not None and 'value="en"' in switch.group(0)
    assert f'name="next" value="{path}"' in switch.group(0)
    r = client.post("/i18n/setlang/", {"language": "en", "next": path})
    assert r.status_code == 302 and r["Location"] == path
    page = client.get(path).content.decode()
    assert '<html lang="en">' in page and 'value="zh-hans"' in page
    assert "Sign out" in page


def test_the_list_counts_one_campaign_at_a_time(world, shop, login, make_campaign, carded):
    # A store running two campaigns settles each apart: the clerk picks one, and the list and its
    # totals are that campaign's; without a choice every row names its campaign.
    spring = make_campaign(name="四月芳菲购书券", quota=40)
    winter = make_campaign(
        name="冬日书香购书券",
        quota=5,
        face_value_fen=5000,
        subsidy_fen=3000,
        member_share_fen=500,
        concession_fen=1500,
    )
    made = {}
    receipts = [(spring, f"S-{i:02d}") for i in range(31)] + [(winter, "W-1")]
    for campaign, receipt in receipts:
        v = voucher_grab(campaign=campaign, member=carded()).voucher
        made[receipt] = voucher_redeem(
            code=v.code, store=shop.store, clerk=shop.clerk, receipt_no=receipt, amount_fen=12_000
        )
    draft = make_campaign(status="draft", name="草稿活动")
    client = login(shop.clerk.user)

    def page(**params: str) -> str:
        with translation.override("zh-hans"):
            r = client.get(RECENT, params, HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert r.status_code == 200
        return r.content.decode()

    def listed(body: str) -> set[str]:
        return {k for k, r in made.items() if f'data-redemption="{r.pk}"' in body}

    body = page()
    assert len(listed(body)) == 30 and "W-1" in listed(body)  # the newest page
    assert "已核销 32 张券：工会补贴 ¥2,138.00，会员支付 ¥315.00。" in body
    assert f'<option value="{winter.pk}">冬日书香购书券</option>' in body
    assert f'<option value="{draft.pk}"' not in body  # members never saw it: nothing to count
    assert "data-campaign>冬日书香购书券<" in body and "data-campaign>四月芳菲购书券<" in body

    body = page(campaign=str(winter.pk))
    assert listed(body) == {"W-1"}
    assert "已核销 1 张券：工会补贴 ¥30.00，会员支付 ¥5.00。" in body
    assert f'<option value="{winter.pk}" selected>' in body
    assert "data-campaign>" not in body  # one campaign: its rows need not name it
    body = page(campaign=str(spring.pk))
    assert "W-1" not in listed(body) and len(listed(body)) == 30
    assert "已核销 31 张券：工会补贴 ¥2,108.00，会员支付 ¥310.00。" in body
    assert f"?campaign={spring.pk}&amp;page=2" in body  # the next page keeps the campaign
    assert listed(page(campaign=str(spring.pk), page="2")) == {"S-00"}
    assert listed(page(campaign=str(winter.pk), q="S-")) == set()

    # A draft, another merchant's or a made-up campaign, or nonsense: the list is not filtered.
    for hostile in (str(draft.pk), "<b>", "0", "-1", "9" * 30, "１", "\x00", " "):
        body = page(campaign=hostile)
        assert len(listed(body)) == 30 and "已核销 32 张券" in body
    # Another merchant's clerk is offered none of ours and finds nothing by naming one.
    body = login(shop.rival_clerk.user).get(RECENT, {"campaign": str(spring.pk)}).content.decode()
    assert 'data-redemption="' not in body and "四月芳菲购书券" not in body
