"""Member pages under /m/benefits/: list, campaign, grab, lottery, my vouchers."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import zxingcpp
from django.test import Client, override_settings
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext

from gonghui.benefits.models import Campaign, Registration, Voucher
from gonghui.benefits.services import (
    lottery_commit_seed,
    lottery_draw,
    voucher_grab,
    voucher_redeem,
)
from gonghui.benefits.tests.conftest import OTHER_BANK_CARD
from gonghui.benefits.tests.qr_raster import svg_qr_to_image

LIST = "/m/benefits/"
VOUCHERS = "/m/benefits/vouchers/"


def zh(text: str) -> str:
    """What the page shows for an English source string (the default language is zh-hans)."""
    with translation.override("zh-hans"):
        return escape(gettext(text))


def campaign_url(c: Campaign, suffix: str = "") -> str:
    return f"/m/benefits/campaigns/{c.pk}/{suffix}"


def grab(client: Client, c: Campaign, key: str = "k-1"):
    return client.post(campaign_url(c, "grab/"), {"request_key": key})


def request_key(page: str) -> str:
    m = re.search(r'name="request_key" value="([^"]+)"', page)
    assert m, "no request key on the page"
    return m.group(1)


# --- who may see the pages ----------------------------------------------------------------------


def test_anonymous_and_staff_go_to_member_sign_in_and_nothing_changes(
    world, login, make_campaign, carded
):
    c = make_campaign()
    v = voucher_grab(campaign=c, member=carded(name="王晓红")).voucher
    assert v is not None
    gets = [LIST, campaign_url(c), VOUCHERS, f"{VOUCHERS}{v.pk}/"]
    posts = [campaign_url(c, "grab/"), campaign_url(c, "register/")]
    for client in (Client(), login(world.city_admin), login(world.jiefang_officer)):
        for url in gets:
            r = client.get(url)
            assert r.status_code == 302 and r["Location"].startswith("/m/login/?next=")
        for url in posts:
            r = client.post(url, {"request_key": "x"})
            assert r.status_code == 302 and r["Location"].startswith("/m/login/?next=")
    assert Voucher.objects.count() == 1 and Registration.objects.count() == 0


def test_member_b_cannot_see_member_a_voucher(world, login, make_campaign, carded):
    c = make_campaign()
    a = carded(name="王晓红")
    b = carded(name="赵大勇")
    va = voucher_grab(campaign=c, member=a, request_key="a").voucher
    assert va is not None
    client_b = login(member=b)
    r = client_b.get(f"{VOUCHERS}{va.pk}/")
    assert r.status_code == 404
    body = r.content.decode()
    assert va.code not in body and "王晓红" not in body
    r = client_b.get(VOUCHERS)
    assert r.status_code == 200 and va.code not in r.content.decode()
    assert f"{VOUCHERS}{va.pk}/" not in r.content.decode()
    assert client_b.get(f"{VOUCHERS}999999/").status_code == 404
    # Member A sees it.
    r = login(member=a).get(f"{VOUCHERS}{va.pk}/")
    assert r.status_code == 200 and va.code in r.content.decode()


def test_list_shows_open_and_upcoming_for_own_subtree_only(world, login, make_campaign, carded):
    now = timezone.now()
    open_c = make_campaign(name="四月芳菲")
    soon = make_campaign(
        status="scheduled",
        name="五月读书节",
        release_at=now + dt.timedelta(days=2, hours=3),
        redeem_from=now + dt.timedelta(days=3),
        redeem_until=now + dt.timedelta(days=20),
    )
    make_campaign(status="draft", name="草稿活动")
    r = login(member=carded()).get(LIST)
    body = r.content.decode()
    assert r.status_code == 200 and r["Cache-Control"] == "private, no-store"
    assert "四月芳菲" in body and "五月读书节" in body and "草稿活动" not in body
    assert campaign_url(open_c) in body and campaign_url(soon) in body
    # The countdown degrades to the server-rendered release time.
    local = timezone.localtime(soon.release_at)
    assert f'datetime="{local.isoformat()}"' in body
    assert local.strftime("%Y-%m-%d %H:%M") in body
    # No external script: only our own static files.
    assert all(src.startswith("/static/") for src in re.findall(r'<script src="([^"]*)"', body))
    # A member of the other district (中站区) sees none of 解放区's campaigns.
    r = login(member=carded(org=world.zhongzhan_base)).get(LIST)
    assert "四月芳菲" not in r.content.decode() and "五月读书节" not in r.content.decode()


# --- the campaign page ------------------------------------------------------------------------


def test_campaign_page_shows_money_stores_terms_and_eligibility(
    world, shop, login, make_campaign, carded
):
    c = make_campaign()
    r = login(member=carded()).get(campaign_url(c))
    body = r.content.decode()
    assert r.status_code == 200
    for text in ("¥100.00", "¥10.00", "¥68.00", "¥22.00", shop.store.name, shop.store.address):
        assert text in body, text
    assert "公务员考试用书" in body and "每人限领一张" in body
    assert 'data-eligibility="ok"' in body and 'name="request_key"' in body


@pytest.mark.parametrize(
    ("kind", "code", "message"),
    [
        ("no_card", "card_missing", "Register your union member card first."),
        ("other_bank", "card_bank", None),
        ("other_district", "org_outside", None),
    ],
)
def test_ineligible_member_is_told_why_before_the_click(
    world, login, make_campaign, carded, kind, code, message
):
    c = make_campaign()
    member = {
        "no_card": lambda: carded(card=None),
        "other_bank": lambda: carded(card=OTHER_BANK_CARD),
        "other_district": lambda: carded(org=world.zhongzhan_base),
    }[kind]()
    client = login(member=member)
    body = client.get(campaign_url(c)).content.decode()
    assert f'data-eligibility="{code}"' in body
    assert 'name="request_key"' not in body  # no grab button
    if message:
        assert zh(message) in body
    # Pressing anyway (a stale page, a script) gets the same honest answer and nothing.
    r = grab(client, c)
    assert r.status_code == 200 and 'data-outcome="not_eligible"' in r.content.decode()
    assert Voucher.objects.count() == 0


def test_drafts_and_unknown_campaigns_are_not_found(world, login, make_campaign, carded):
    draft = make_campaign(status="draft")
    client = login(member=carded())
    for url in (campaign_url(draft), "/m/benefits/campaigns/999999/"):
        assert client.get(url).status_code == 404
    assert grab(client, draft).status_code == 404
    assert Voucher.objects.count() == 0


# --- the grab -------------------------------------------------------------------------------


def test_grab_from_the_page_then_double_tap_gives_one_voucher(world, login, make_campaign, carded):
    c = make_campaign()
    client = login(member=carded(name="王晓红"))
    key = request_key(client.get(campaign_url(c)).content.decode())
    first = grab(client, c, key)
    second = grab(client, c, key)  # the double tap / the network retry
    assert first.status_code == second.status_code == 200
    voucher = Voucher.objects.get()
    for r in (first, second):
        body = r.content.decode()
        assert 'data-outcome="won"' in body and f"{VOUCHERS}{voucher.pk}/" in body
    assert voucher.request_key == key
    # A fresh page (new key) is told the truth: already have one, and where it is.
    body = grab(client, c, "another-key").content.decode()
    assert 'data-outcome="already"' in body and f"{VOUCHERS}{voucher.pk}/" in body
    assert Voucher.objects.count() == 1 and c.remaining == c.quota - 1
    # The campaign page now links to the voucher instead of offering the button.
    body = client.get(campaign_url(c)).content.decode()
    assert f"{VOUCHERS}{voucher.pk}/" in body and 'name="request_key"' not in body


def test_sold_out_is_said_plainly(world, login, make_campaign, carded):
    c = make_campaign(quota=1)
    assert 'data-outcome="won"' in grab(login(member=carded()), c).content.decode()
    r = grab(login(member=carded()), c)
    assert r.status_code == 200 and 'data-outcome="sold_out"' in r.content.decode()
    assert Voucher.objects.count() == 1


def test_not_released_yet(world, login, make_campaign, carded):
    now = timezone.now()
    c = make_campaign(
        status="scheduled",
        release_at=now + dt.timedelta(hours=2),
        redeem_until=now + dt.timedelta(days=9),
    )
    client = login(member=carded())
    body = client.get(campaign_url(c)).content.decode()
    assert "data-countdown" in body and 'name="request_key"' not in body and "disabled" in body
    r = grab(client, c)
    assert 'data-outcome="not_open"' in r.content.decode()
    assert Voucher.objects.count() == 0


@override_settings(GONGHUI_GRAB_RATE_PER_MEMBER=2)
def test_rate_limited_answer(world, login, make_campaign, carded):
    c = make_campaign(quota=1)
    grab(login(member=carded()), c)  # sold out from here on
    client = login(member=carded())
    assert grab(client, c).status_code == 200
    assert grab(client, c).status_code == 200
    r = grab(client, c)
    assert r.status_code == 429 and 'data-outcome="rate_limited"' in r.content.decode()
    assert Voucher.objects.count() == 1


@pytest.mark.parametrize(
    "key",
    ["<script>alert(1)</script>", "' OR 1=1 --", "ｋｅｙ－１", "k" * 65, "a b"],
)
def test_hostile_request_keys_are_refused_and_nothing_is_made(
    world, login, make_campaign, carded, key
):
    c = make_campaign()
    r = grab(login(member=carded()), c, key)
    body = r.content.decode()
    assert r.status_code == 400 and 'data-outcome="error"' in body
    assert zh("The request key is malformed.") in body
    assert "<script>alert(1)</script>" not in body
    assert Voucher.objects.count() == 0 and c.remaining == c.quota


def test_get_on_grab_is_refused(world, login, make_campaign, carded):
    c = make_campaign()
    assert login(member=carded()).get(campaign_url(c, "grab/")).status_code == 405
    assert Voucher.objects.count() == 0


# --- my vouchers --------------------------------------------------------------------------------


def test_voucher_page_qr_decodes_to_the_code(world, shop, login, make_campaign, carded):
    c = make_campaign()
    member = carded()
    v = voucher_grab(campaign=c, member=member, request_key="q").voucher
    assert v is not None
    body = login(member=member).get(f"{VOUCHERS}{v.pk}/").content.decode()
    assert 'data-state="open"' in body and v.code in body and c.name in body
    assert shop.store.name in body
    svg = re.search(r"<svg.*?</svg>", body, re.S)
    assert svg, "no inline QR"
    decoded = [r.text for r in zxingcpp.read_barcodes(svg_qr_to_image(svg.group(0)))]
    assert decoded == [v.code]


def test_used_and_expired_vouchers_are_marked(world, shop, login, make_campaign, carded):
    c = make_campaign()
    member = carded()
    used = voucher_grab(campaign=c, member=member).voucher
    assert used is not None
    voucher_redeem(
        code=used.code, store=shop.store, clerk=shop.clerk, receipt_no="R1", amount_fen=12000
    )
    c2 = make_campaign(name="过期活动")
    old = voucher_grab(campaign=c2, member=member).voucher
    assert old is not None
    # The window ended (the nightly job has not run yet): the page already says expired.
    Campaign.objects.filter(pk=c2.pk).update(
        redeem_from=timezone.now() - dt.timedelta(days=3),
        redeem_until=timezone.now() - dt.timedelta(minutes=1),
    )
    client = login(member=member)
    listing = client.get(VOUCHERS).content.decode()
    assert 'data-state="used"' in listing and 'data-state="expired"' in listing
    for v, state in ((used, "used"), (old, "expired")):
        body = client.get(f"{VOUCHERS}{v.pk}/").content.decode()
        assert f'data-state="{state}"' in body and "data-stamp" in body
        assert "<svg" not in body  # no scannable code for a voucher that cannot be used


# --- lottery ------------------------------------------------------------------------------------


def _lottery(world, make_campaign, **kw):
    now = timezone.now()
    c = make_campaign(
        status="draft",
        distribution="lottery",
        quota=1,
        release_at=now - dt.timedelta(minutes=5),
        registration_closes_at=now + dt.timedelta(hours=1),
        **kw,
    )
    lottery_commit_seed(campaign=c, actor=world.jiefang_officer)
    from gonghui.benefits.services import campaign_transition

    for new in ("scheduled", "open"):
        campaign_transition(campaign=c, new=new, actor=world.jiefang_officer)
    c.refresh_from_db()
    return c


def test_lottery_register_then_draw_shows_won_and_lost(world, login, make_campaign, carded):
    c = _lottery(world, make_campaign)
    a, b = carded(), carded()
    ca, cb = login(member=a), login(member=b)
    body = ca.get(campaign_url(c)).content.decode()
    assert campaign_url(c, "register/") in body and c.seed_hash in body
    assert f"/public/campaigns/{c.pk}/" in body
    for client in (ca, ca, cb):  # a registers twice: still one entry
        r = client.post(campaign_url(c, "register/"))
        assert r.status_code == 302
    assert Registration.objects.filter(campaign=c).count() == 2
    body = ca.get(campaign_url(c)).content.decode()
    assert "data-registered" in body and campaign_url(c, "register/") not in body
    # A grab on a lottery is refused, honestly.
    assert 'data-outcome="not_open"' in grab(ca, c).content.decode()
    lottery_draw(
        campaign=c,
        actor=world.jiefang_officer,
        now=c.registration_closes_at + dt.timedelta(seconds=1),
    )
    winner = Registration.objects.get(campaign=c, won=True).member
    for member, client in ((a, ca), (b, cb)):
        body = client.get(campaign_url(c)).content.decode()
        expected = "won" if member == winner else "lost"
        assert f'data-draw="{expected}"' in body
    assert Voucher.objects.filter(campaign=c).count() == 1


def test_lottery_register_refused_for_ineligible_and_nothing_changes(
    world, login, make_campaign, carded
):
    c = _lottery(world, make_campaign)
    client = login(member=carded(card=None))
    r = client.post(campaign_url(c, "register/"))
    assert (
        r.status_code == 400 and zh("Register your union member card first.") in r.content.decode()
    )
    assert Registration.objects.count() == 0
