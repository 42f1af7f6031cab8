"""Member pages under /m/benefits/: list, campaign, grab, lottery, my vouchers."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import zxingcpp
from django.conf import settings
from django.contrib.messages import constants
from django.contrib.messages.storage.base import Message
from django.contrib.messages.storage.cookie import CookieStorage
from django.db import connection
from django.http import HttpRequest
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext, pgettext

from gonghui.audit.models import AuditEvent
from gonghui.benefits import hot
from gonghui.benefits import page_selectors_member as pages
from gonghui.benefits.models import Campaign, CampaignStock, Registration, Voucher
from gonghui.benefits.services import (
    campaign_cancel,
    campaign_transition,
    lottery_commit_seed,
    lottery_draw,
    lottery_register,
    voucher_grab,
    voucher_redeem,
    vouchers_expire,
)
from gonghui.benefits.testing import registration_closed
from gonghui.benefits.tests.conftest import OTHER_BANK_CARD, POSTAL_CARD, ZHONGYUAN_CARD
from gonghui.benefits.tests.pages_helpers import text as page_text
from gonghui.benefits.tests.qr_raster import svg_qr_to_image
from gonghui.core.errors import ApplicationError
from gonghui.members.models import Member, MemberCard, MemberStatus
from gonghui.members.services import member_card_set

LIST = "/m/benefits/"
VOUCHERS = "/m/benefits/vouchers/"


def zh(text: str) -> str:
    """What the page shows for an English source string (the default language is zh-hans)."""
    with translation.override("zh-hans"):
        return escape(gettext(text))


def campaign_url(c: Campaign, suffix: str = "") -> str:
    return f"/m/benefits/campaigns/{c.pk}/{suffix}"


def grab(client: Client, c: Campaign, key: str = "k-1"):
    """The grab without script: the form's POST, and the page its redirect leads to."""
    return client.post(campaign_url(c, "grab/"), {"request_key": key}, follow=True)


def answered_on_the_result_page(r, c: Campaign, outcome: str) -> str:
    """The POST was answered 303 to the result page, fetched by GET, saying this outcome."""
    assert r.redirect_chain == [(campaign_url(c, "grab/"), 303)]
    assert r.request["REQUEST_METHOD"] == "GET" and r.status_code == 200
    body = r.content.decode()
    assert f'data-outcome="{outcome}"' in body
    return body


def answered_with_the_voucher(r, voucher: Voucher) -> str:
    """The POST was answered 303 to the voucher's own page, with its code to show at the till."""
    assert r.redirect_chain == [(f"{VOUCHERS}{voucher.pk}/", 303)]
    assert r.request["REQUEST_METHOD"] == "GET" and r.status_code == 200
    body = r.content.decode()
    assert "data-qr" in body and voucher.code in body
    return body


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
    body = answered_on_the_result_page(grab(client, c), c, "not_eligible")
    assert zh("You cannot take part.") in body
    if message:
        assert zh(message) in body
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
    voucher = Voucher.objects.get()
    for r in (first, second):
        assert zh("You got a voucher.") in answered_with_the_voucher(r, voucher)
    assert voucher.request_key == key
    # A fresh page (new key) is told the truth: already have one, and here it is.
    body = answered_with_the_voucher(grab(client, c, "another-key"), voucher)
    assert zh("You already have a voucher of this campaign.") in body
    assert zh("You got a voucher.") not in body
    assert Voucher.objects.count() == 1 and c.remaining == c.quota - 1
    # The campaign page now links to the voucher instead of offering the button.
    body = client.get(campaign_url(c)).content.decode()
    assert f"{VOUCHERS}{voucher.pk}/" in body and 'name="request_key"' not in body


def test_sold_out_is_said_plainly(world, login, make_campaign, carded):
    c = make_campaign(quota=1)
    answered_with_the_voucher(grab(login(member=carded()), c), Voucher.objects.get())
    body = answered_on_the_result_page(grab(login(member=carded()), c), c, "sold_out")
    assert zh("Sold out.") in body and zh("All vouchers of this campaign have been taken.") in body
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
    # The button waits, disabled, with the grab ticket ready; the countdown enables it in place
    # instead of reloading the page at the release.
    assert "data-countdown" in body and 'data-reload=""' in body
    assert re.search(r"<button[^>]*disabled data-waiting>", body)
    assert re.search(r'data-ticket="[^"]{20,}"', body)
    # Not eligible: nothing to wait for, no ticket.
    body = login(member=carded(card=None)).get(campaign_url(c)).content.decode()
    assert 'data-ticket="' not in body and "data-waiting" not in body
    assert zh("Not released yet") in body
    body = answered_on_the_result_page(grab(client, c), c, "not_open")
    local = timezone.localtime(c.release_at).strftime("%Y-%m-%d %H:%M")
    assert zh("Vouchers are released at %(t)s.") % {"t": local} in body
    assert Voucher.objects.count() == 0


@override_settings(GONGHUI_GRAB_RATE_PER_MEMBER=2)
def test_rate_limited_answer(world, login, make_campaign, carded):
    c = make_campaign(quota=1)
    grab(login(member=carded()), c)  # sold out from here on
    client = login(member=carded())
    answered_on_the_result_page(grab(client, c), c, "sold_out")
    answered_on_the_result_page(grab(client, c), c, "sold_out")
    body = answered_on_the_result_page(grab(client, c), c, "rate_limited")
    assert zh("Too many attempts.") in body and zh("Too many attempts; wait a few seconds.") in body
    assert Voucher.objects.count() == 1


@pytest.mark.parametrize(
    "key",
    ["<script>alert(1)</script>", "' OR 1=1 --", "ｋｅｙ－１", "k" * 65, "a b"],
)
def test_hostile_request_keys_are_refused_and_nothing_is_made(
    world, login, make_campaign, carded, key
):
    c = make_campaign()
    body = answered_on_the_result_page(grab(login(member=carded()), c, key), c, "error")
    assert zh("The request key is malformed.") in body
    assert "<script>alert(1)</script>" not in body
    assert Voucher.objects.count() == 0 and c.remaining == c.quota


def _closed(world, make_campaign) -> Campaign:
    c = make_campaign()
    campaign_transition(campaign=c, new="closed", actor=world.jiefang_officer)
    return c


def _written() -> tuple[int, int, int]:
    """What a grab may write: vouchers, the stock, the audit trail."""
    return (
        Voucher.objects.count(),
        sum(CampaignStock.objects.values_list("remaining", flat=True)),
        AuditEvent.objects.count(),
    )


@override_settings(GONGHUI_GRAB_RATE_PER_MEMBER=1)
@pytest.mark.parametrize(
    ("situation", "outcome", "said"),
    [
        ("sold_out", "sold_out", ["Sold out.", "All vouchers of this campaign have been taken."]),
        (
            "no_card",
            "not_eligible",
            ["You cannot take part.", "Register your union member card first."],
        ),
        ("lottery", "not_open", ["This campaign is a lottery; register for the draw instead."]),
        ("closed", "closed", ["This campaign has ended."]),
        (
            "rate_limited",
            "rate_limited",
            ["Too many attempts.", "Too many attempts; wait a few seconds."],
        ),
        ("bad_key", "error", ["The request key is malformed."]),
    ],
)
def test_each_refusal_is_said_in_chinese_on_a_page_fetched_by_get_and_a_reload_sends_nothing(
    world, login, make_campaign, carded, situation, outcome, said
):
    """Without script the form posts; the answer is a 303 to a GET page, so a reload or the back
    button never brings the browser's "resubmit the form?" and never grabs again."""
    member = carded(card=None) if situation == "no_card" else carded()
    c = {
        "sold_out": lambda: make_campaign(quota=1),
        "lottery": lambda: _lottery(world, make_campaign),
        "closed": lambda: _closed(world, make_campaign),
    }.get(situation, make_campaign)()
    if situation == "sold_out":
        assert voucher_grab(campaign=c, member=carded()).ok
    client = login(member=member)
    if situation == "rate_limited":
        client.post(campaign_url(c, "grab/"), {"request_key": "first"})  # the one allowed
        Voucher.objects.all().delete()
    before = _written()
    key = "<script>" if situation == "bad_key" else "k-1"
    body = answered_on_the_result_page(grab(client, c, key), c, outcome)
    for words in said:
        assert zh(words) in body
    assert "data-qr" not in body and VOUCHERS + "1" not in body
    # Said once, in the card, not again in the list of messages above it.
    assert body.count(zh(said[-1])) == 1
    assert _written() == before
    # The reload: a GET of the result page's address. The answer was said once; now the campaign
    # page says where the member stands. Nothing is sent again, nothing is written.
    again = client.get(campaign_url(c, "grab/"), follow=True)
    assert again.redirect_chain == [(campaign_url(c), 302)] and again.status_code == 200
    assert again.request["REQUEST_METHOD"] == "GET"
    assert 'data-outcome="' not in again.content.decode()
    assert _written() == before


def test_a_won_grab_lands_on_the_voucher_and_a_reload_or_back_writes_nothing(
    world, login, make_campaign, carded
):
    c = make_campaign()
    client = login(member=carded())
    key = request_key(client.get(campaign_url(c)).content.decode())
    r = grab(client, c, key)
    voucher = Voucher.objects.get()
    assert zh("You got a voucher.") in answered_with_the_voucher(r, voucher)
    written = _written()
    # The reload is a GET of the voucher's page: the code again, the flash said once.
    body = client.get(f"{VOUCHERS}{voucher.pk}/").content.decode()
    assert voucher.code in body and zh("You got a voucher.") not in body
    # Back: the campaign page (fetched afresh, never from cache) shows the voucher, no button;
    # forward again: the result page's address by GET goes to the campaign page too.
    for url in (campaign_url(c), campaign_url(c, "grab/")):
        r = client.get(url, follow=True)
        assert r.status_code == 200 and r["Cache-Control"] == "private, no-store"
        page = r.content.decode()
        assert f"{VOUCHERS}{voucher.pk}/" in page and 'name="request_key"' not in page
    assert _written() == written


def _flash_cookie(*flashes: Message) -> str:
    """A messages cookie as the site signs it: what a forger would need the secret key for."""
    return CookieStorage(HttpRequest())._encode(list(flashes))


def test_a_forged_answer_shows_no_voucher(world, login, make_campaign, carded):
    """The result page shows only refusals, and a voucher only ever comes from the database:
    a "won" in the address, an unsigned cookie or even a signed flash shows nothing of one."""
    c = make_campaign()
    other = voucher_grab(campaign=c, member=carded(name="王晓红")).voucher
    assert other is not None
    client = login(member=carded())
    tag = f"grab-result grab-{c.pk}"
    forged = [
        None,  # the address alone, with a made-up outcome
        f'[["__json_message",0,25,"won","{tag} won"]]',  # not signed
        _flash_cookie(Message(constants.SUCCESS, "won", extra_tags=f"{tag} won")),
        _flash_cookie(Message(constants.SUCCESS, "won", extra_tags=f"{tag} already")),
    ]
    for cookie in forged:
        if cookie is not None:
            client.cookies["messages"] = cookie
        r = client.get(campaign_url(c, f"grab/?outcome=won&voucher={other.pk}"), follow=True)
        assert r.redirect_chain == [(campaign_url(c), 302)] and r.status_code == 200
        body = r.content.decode()
        assert other.code not in body and "data-qr" not in body and "王晓红" not in body
        assert f"{VOUCHERS}{other.pk}/" not in body and 'data-outcome="' not in body
        assert 'name="request_key"' in body  # the campaign page, still offering the button
    assert Voucher.objects.count() == 1
    # A signed refusal of another campaign is not this campaign's answer.
    client.cookies["messages"] = _flash_cookie(
        Message(constants.ERROR, "已抢光", extra_tags=f"grab-result grab-{c.pk + 1} sold_out")
    )
    r = client.get(campaign_url(c, "grab/"))
    assert r.status_code == 302 and r["Location"] == campaign_url(c)


def test_a_grab_without_the_forms_csrf_token_is_refused_and_changes_nothing(
    world, make_campaign, carded
):
    from gonghui.accounts.middleware import MEMBER_SESSION_KEY

    c = make_campaign()
    strict = Client(enforce_csrf_checks=True)
    session = strict.session
    session[MEMBER_SESSION_KEY] = carded().pk
    session.save()
    before = _written()
    r = strict.post(campaign_url(c, "grab/"), {"request_key": "k-1"})
    assert r.status_code == 403
    with translation.override("zh-hans"):
        assert gettext("CSRF verification failed. Request aborted.") in r.content.decode()
    assert _written() == before


def test_get_on_grab_or_register_goes_to_the_campaign_page_and_changes_nothing(
    world, login, make_campaign, carded
):
    """The result page's address opened again (history, a restored tab) was a blank 405 page."""
    c = make_campaign()
    lottery = _lottery(world, make_campaign)
    client = login(member=carded())
    for campaign, suffix in ((c, "grab/"), (lottery, "register/")):
        r = client.get(campaign_url(campaign, suffix))
        assert r.status_code == 302 and r["Location"] == campaign_url(campaign)
    assert Voucher.objects.count() == 0 and Registration.objects.count() == 0
    assert client.get("/m/benefits/campaigns/999999/grab/").status_code == 302  # then a 404


def test_session_lost_mid_tap_signs_in_then_lands_on_the_campaign_page(
    world, settings, make_campaign
):
    """Signed out at the tap: sign-in's "next" is the grab address, reached again by GET."""
    c = make_campaign()
    member = world.jiefang_member
    member_card_set(actor=None, member=member, card_number=ZHONGYUAN_CARD)
    settings.GONGHUI_DEMO_MEMBER_PHONE = member.phone
    settings.GONGHUI_DEMO_MEMBER_CODE = "246810"
    client = Client()
    r = client.post(campaign_url(c, "grab/"), {"request_key": "k-1"})
    assert r.status_code == 302 and Voucher.objects.count() == 0
    target = r["Location"].split("next=", 1)[1].replace("%2F", "/")
    assert target == campaign_url(c, "grab/")
    client.post("/m/login/", {"step": "request", "phone": member.phone, "next": target})
    r = client.post(
        "/m/login/",
        {"step": "verify", "phone": member.phone, "code": "246810", "next": target},
    )
    assert r.status_code == 302 and r["Location"] == target
    r = client.get(target, follow=True)
    assert r.redirect_chain == [(campaign_url(c), 302)] and r.status_code == 200
    assert 'name="request_key"' in r.content.decode() and Voucher.objects.count() == 0


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


def _voucher_past_its_window(make_campaign, member: Member, *, name: str) -> Voucher:
    """A voucher of a campaign whose redemption window ended a minute ago (before the nightly
    job has marked anything)."""
    c = make_campaign(name=name)
    v = voucher_grab(campaign=c, member=member).voucher
    assert v is not None
    Campaign.objects.filter(pk=c.pk).update(
        redeem_from=timezone.now() - dt.timedelta(days=3),
        redeem_until=timezone.now() - dt.timedelta(minutes=1),
    )
    return v


def test_used_and_expired_vouchers_are_marked(world, shop, login, make_campaign, carded):
    c = make_campaign()
    member = carded()
    used = voucher_grab(campaign=c, member=member).voucher
    assert used is not None
    voucher_redeem(
        code=used.code, store=shop.store, clerk=shop.clerk, receipt_no="R1", amount_fen=12000
    )
    # The window ended (the nightly job has not run yet): the page already says expired.
    old = _voucher_past_its_window(make_campaign, member, name="过期活动")
    client = login(member=member)
    listing = client.get(VOUCHERS).content.decode()
    assert 'data-state="used"' in listing and 'data-state="expired"' in listing
    for v, state in ((used, "used"), (old, "expired")):
        body = client.get(f"{VOUCHERS}{v.pk}/").content.decode()
        assert f'data-state="{state}"' in body and "data-stamp" in body
        assert "<svg" not in body  # no scannable code for a voucher that cannot be used


def test_a_minimum_purchase_is_shown_before_the_grab_and_on_the_voucher(
    world, login, make_campaign, carded
):
    member = carded()
    client = login(member=member)
    plain = make_campaign(name="无门槛")
    assert "data-min-purchase" not in client.get(campaign_url(plain)).content.decode()
    c = make_campaign(name="满百可用", min_purchase_fen=10_000)
    page = client.get(campaign_url(c)).content.decode()
    assert "data-min-purchase" in page and "¥100.00" in page
    v = voucher_grab(campaign=c, member=member).voucher
    assert v is not None
    body = client.get(f"{VOUCHERS}{v.pk}/").content.decode()
    assert re.search(r"<dd data-min-purchase>¥100\.00</dd>", body)


def test_an_ended_voucher_says_why(world, shop, login, make_campaign, carded):
    """Expired (before and after the nightly job) and cancelled vouchers say why, in the
    reader's language, with the manager's own words for a cancellation."""
    member = carded()
    client = login(member=member)

    def end_of(v: Voucher) -> str:
        body = client.get(f"{VOUCHERS}{v.pk}/").content.decode()
        m = re.search(r"<p class=\"b-end\" data-end>(.*?)</p>", body, re.S)
        return m.group(1) if m else ""

    expiring = _voucher_past_its_window(make_campaign, member, name="到期活动")
    assert end_of(expiring) == zh("The redemption window ended.")  # the job has not run yet
    assert vouchers_expire() >= 1
    assert end_of(expiring) == zh("The redemption window ended.")

    words = "书店装修，活动取消（5月1日起另行通知）"  # markup itself is refused at the form
    c2 = make_campaign(name="取消活动")
    cancelled = voucher_grab(campaign=c2, member=member).voucher
    assert cancelled is not None
    campaign_cancel(campaign=c2, actor=world.jiefang_officer, reason=words)
    end = end_of(cancelled)
    assert zh("The campaign was cancelled.") in end
    assert end == zh("The campaign was cancelled.") + "<br>" + zh("The union's note: %(words)s") % {
        "words": words
    }

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert end_of(cancelled).startswith("The campaign was cancelled.<br>The union's note: ")
    del client.cookies[settings.LANGUAGE_COOKIE_NAME]

    # A usable or used voucher has no such line.
    c4 = make_campaign(name="正常活动")
    fine = voucher_grab(campaign=c4, member=member).voucher
    assert fine is not None
    assert end_of(fine) == ""
    voucher_redeem(
        code=fine.code, store=shop.store, clerk=shop.clerk, receipt_no="R9", amount_fen=12000
    )
    assert end_of(fine) == ""


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
    assert "data-seed" not in body  # revealed after the draw only
    assert f"/public/campaigns/{c.pk}/" in body
    # a lottery's start is when registration opens, not a "release" of vouchers
    assert zh("Registration opens") in body and zh("Release time") not in body
    for client in (ca, ca, cb):  # a registers twice: still one entry
        r = client.post(campaign_url(c, "register/"))
        assert r.status_code == 302
    assert Registration.objects.filter(campaign=c).count() == 2
    body = ca.get(campaign_url(c)).content.decode()
    assert "data-registered" in body and campaign_url(c, "register/") not in body
    # A grab on a lottery is refused, honestly.
    body = answered_on_the_result_page(grab(ca, c), c, "not_open")
    assert zh("This campaign is a lottery; register for the draw instead.") in body
    lottery_draw(
        campaign=c,
        actor=world.jiefang_officer,
        now=c.registration_closes_at + dt.timedelta(seconds=1),
    )
    winner = Registration.objects.get(campaign=c, won=True).member
    c.refresh_from_db()
    assert c.seed
    for member, client in ((a, ca), (b, cb)):
        body = client.get(campaign_url(c)).content.decode()
        expected = "won" if member == winner else "lost"
        assert f'data-draw="{expected}"' in body
        # What the member needs to check the draw: the own number and the revealed seed.
        registration = Registration.objects.get(campaign=c, member=member)
        assert f"data-registration>{registration.pk}<" in body
        assert f"data-seed>{c.seed}<" in body and c.seed_hash in body
    assert Voucher.objects.filter(campaign=c).count() == 1
    # Someone who did not register is not told "you are eligible" for a draw long past.
    body = login(member=carded()).get(campaign_url(c)).content.decode()
    assert 'data-eligibility="ok"' not in body and "data-registration" not in body
    assert "data-seed" in body


def test_an_upcoming_lottery_counts_down_to_registration_not_to_a_release(
    world, login, make_campaign, carded
):
    """Before it opens, a lottery's page and the list said "Release time" over the countdown:
    nothing is released then, registration opens."""
    now = timezone.now()
    c = make_campaign(
        status="scheduled",
        distribution="lottery",
        quota=1,
        release_at=now + dt.timedelta(hours=1),
        registration_closes_at=now + dt.timedelta(hours=2),
    )
    client = login(member=carded())
    for url in (campaign_url(c), LIST):
        body = page_text(client.get(url))
        assert "data-countdown" in body
        assert f"{zh('Registration opens')}: <time" in body, url
        assert f"{zh('Release time')}: <time" not in body, url


def test_registering_twice_says_already_registered(world, login, make_campaign, carded):
    c = _lottery(world, make_campaign)
    client = login(member=carded())
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    said = []
    for _tap in range(2):
        r = client.post(campaign_url(c, "register/"))
        assert r.status_code == 302
        said.append(page_text(client.get(r["Location"])))
    assert "You are registered for the draw." in said[0]
    assert "already registered" not in said[0]
    assert "You were already registered for this draw." in said[1]
    assert "You are registered for the draw." not in said[1]
    assert Registration.objects.filter(campaign=c).count() == 1


def test_an_entry_whose_card_is_replaced_is_warned_then_told_it_was_passed_over(
    world, login, make_campaign, carded
):
    """A member registers, then changes to a card the campaign does not take. The page says now,
    while there is time to put it right, that the draw will pass the entry over; after the draw
    it says the entry was passed over and why, not "you were not drawn this time"."""
    c = _lottery(world, make_campaign)
    member = carded()
    client = login(member=member)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert client.post(campaign_url(c, "register/")).status_code == 302
    assert "data-entry-at-risk" not in client.get(campaign_url(c)).content.decode()
    member_card_set(actor=None, member=member, card_number=OTHER_BANK_CARD)
    body = page_text(client.get(campaign_url(c)))
    assert "data-registered" in body and 'data-eligibility="card_bank"' in body
    assert "Unless this is put right before the draw, your entry will be passed over." in body
    listed = page_text(client.get(LIST))
    assert "The draw will pass your entry over: Your card is not an accepted member card." in listed
    lottery_draw(
        campaign=c,
        actor=world.jiefang_officer,
        now=c.registration_closes_at + dt.timedelta(seconds=1),
    )
    body = page_text(client.get(campaign_url(c)))
    assert 'data-draw="passed_over"' in body and 'data-draw="lost"' not in body
    assert (
        "Your entry was passed over in the draw: you were no longer eligible when it ran." in body
    )
    assert not Voucher.objects.filter(campaign=c).exists()


def test_a_cancelled_lottery_tells_those_who_entered_and_no_one_else(
    world, login, make_campaign, carded
):
    """Staff cancel a lottery during registration. Its entrants are told it was cancelled and
    why, on the list and the campaign page (it used to vanish: the list no longer showed it and
    its page was "not found", so a worker who registered could not learn what happened). For
    anyone else it is gone, and registering again is refused as cancelled."""
    c = _lottery(world, make_campaign)
    entrant = carded()
    lottery_register(campaign=c, member=entrant)
    campaign_cancel(campaign=c, actor=world.jiefang_officer, reason="书店装修，活动取消")
    client = login(member=entrant)
    listed = page_text(client.get(LIST))
    assert f'data-campaign="{c.pk}" data-state="cancelled"' in listed
    assert zh("Cancelled") in listed
    r = client.get(campaign_url(c))
    assert r.status_code == 200
    body = page_text(r)
    assert "data-cancelled" in body and "书店装修，活动取消" in body
    assert zh("The campaign was cancelled.") in body
    assert campaign_url(c, "register/") not in body and "data-eligibility" not in body
    # nothing was drawn: no proof page (it is "not found") to send them to
    assert f"/public/campaigns/{c.pk}/" not in body
    r = client.post(campaign_url(c, "register/"))
    assert r.status_code == 400 and "data-cancelled" in r.content.decode()
    assert zh("The campaign was cancelled.") in page_text(r)
    outsider = login(member=carded())
    assert f'data-campaign="{c.pk}"' not in outsider.get(LIST).content.decode()
    assert outsider.get(campaign_url(c)).status_code == 404
    assert outsider.post(campaign_url(c, "register/")).status_code == 404
    assert Registration.objects.filter(campaign=c).count() == 1


def test_registering_for_a_closed_lottery_says_closed_not_not_yet_open(
    world, make_campaign, carded
):
    from gonghui.benefits.models import CampaignStatus

    c = _lottery(world, make_campaign)
    Campaign.objects.filter(pk=c.pk).update(status=CampaignStatus.CLOSED)
    c.refresh_from_db()
    with pytest.raises(ApplicationError) as exc:
        lottery_register(campaign=c, member=carded())
    assert exc.value.code == "registration_closed"


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


# --- what the pages say -----------------------------------------------------------------------


def test_not_found_is_the_member_page_and_tells_nothing(world, login, make_campaign, carded):
    """Someone else's voucher, an unknown one, a draft campaign: one member-styled 404 page
    (was the staff console's, with its header, language switch and a history.back() link)."""
    c = make_campaign()
    a = carded(name="王晓红")
    va = voucher_grab(campaign=c, member=a, request_key="a").voucher
    assert va is not None
    draft = make_campaign(status="draft", name="草稿活动")
    client = login(member=carded(name="赵大勇"))
    bodies = []
    for url in (
        f"{VOUCHERS}{va.pk}/",
        f"{VOUCHERS}999999/",
        campaign_url(draft),
        "/m/benefits/campaigns/999999/",
        f"{VOUCHERS}{'9' * 30}/",  # past any integer column: still "not found", not a 500
        f"/m/benefits/campaigns/{'9' * 30}/",
    ):
        r = client.get(url)
        assert r.status_code == 404 and r["Cache-Control"] == "private, no-store"
        body = r.content.decode()
        assert "data-not-found" in body and 'href="/m/benefits/vouchers/"' in body
        assert "/console/" not in body and "history.back" not in body
        assert va.code not in body and "王晓红" not in body and "草稿活动" not in body
        # The CSRF token is masked anew; the language switch's way back is the address asked.
        body = re.sub(r'name="next" value="[^"]*"', "", body)
        bodies.append(re.sub(r"[A-Za-z0-9]{64}", "", body))
    assert len(set(bodies)) == 1  # someone else's voucher reads exactly like no voucher
    assert grab(client, draft).status_code == 404
    assert Voucher.objects.count() == 1


def test_sold_out_is_said_before_the_tap(world, login, make_campaign, carded):
    c = make_campaign(quota=2)
    first = carded()
    voucher_grab(campaign=c, member=first, request_key="a")
    client = login(member=carded())
    body = client.get(campaign_url(c)).content.decode()
    assert re.search(r"data-remaining>[^<]*\b1\b", body) and 'name="request_key"' in body
    voucher_grab(campaign=c, member=carded(), request_key="b")
    for flagged in (False, True):  # counted from the stock, or known from memory
        hot.reset_local()
        if flagged:
            hot.mark_sold_out(hot.campaign_key(c))
        body = client.get(campaign_url(c)).content.decode()
        assert "data-sold-out" in body and zh("Sold out.") in body
        assert 'name="request_key"' not in body and "data-remaining" not in body
        assert 'data-eligibility="ok"' not in body
    # Those who got one see their voucher, not "sold out".
    body = login(member=first).get(campaign_url(c)).content.decode()
    assert "data-sold-out" not in body and f"{VOUCHERS}" in body
    assert Voucher.objects.count() == 2


def test_the_button_comes_before_the_fine_print(world, login, make_campaign, carded):
    c = make_campaign(terms="每人限领一张，仅限会员卡支付。")
    body = login(member=carded()).get(campaign_url(c)).content.decode()
    assert body.index('name="request_key"') < body.index("每人限领一张，仅限会员卡支付。")
    assert body.index('data-eligibility="ok"') < body.index(c.excluded_goods)


@pytest.mark.parametrize(
    ("kind", "helped"), [("no_card", True), ("other_bank", True), ("other_district", False)]
)
def test_card_problems_say_where_to_turn(world, login, make_campaign, carded, kind, helped):
    c = make_campaign()
    member = {
        "no_card": lambda: carded(card=None),
        "other_bank": lambda: carded(card=OTHER_BANK_CARD),
        "other_district": lambda: carded(org=world.zhongzhan_base),
    }[kind]()
    body = login(member=member).get(campaign_url(c)).content.decode()
    assert ("data-card-help" in body) is helped
    if helped:
        assert escape(member.org.name) in body and 'href="/m/"' in body


def test_countdown_runs_on_the_server_clock(world, login, make_campaign, carded):
    now = timezone.now()
    c = make_campaign(
        status="scheduled",
        release_at=now + dt.timedelta(hours=2),
        redeem_until=now + dt.timedelta(days=9),
    )
    client = login(member=carded())
    for url in (campaign_url(c), LIST):
        body = client.get(url).content.decode()
        m = re.search(r"var server=(\d+),skew=server\?server-arrived:0;", body)
        assert m, url
        assert abs(int(m.group(1)) / 1000 - timezone.now().timestamp()) < 60


def test_voucher_tabs_filter_by_state_with_usable_ones_first(
    world, shop, login, make_campaign, carded
):
    member = carded()
    used = voucher_grab(campaign=make_campaign(name="已用活动"), member=member).voucher
    assert used is not None
    voucher_redeem(
        code=used.code, store=shop.store, clerk=shop.clerk, receipt_no="R9", amount_fen=15000
    )
    old_c = make_campaign(name="过期活动")
    old = voucher_grab(campaign=old_c, member=member).voucher
    Campaign.objects.filter(pk=old_c.pk).update(
        redeem_from=timezone.now() - dt.timedelta(days=3),
        redeem_until=timezone.now() - dt.timedelta(minutes=1),
    )
    usable = voucher_grab(campaign=make_campaign(name="可用活动"), member=member).voucher
    newest = voucher_grab(campaign=make_campaign(name="最新已用"), member=member).voucher
    assert old is not None and usable is not None and newest is not None
    voucher_redeem(
        code=newest.code, store=shop.store, clerk=shop.clerk, receipt_no="R10", amount_fen=15000
    )
    client = login(member=member)
    body = client.get(VOUCHERS).content.decode()
    order = [int(pk) for pk in re.findall(r'href="/m/benefits/vouchers/(\d+)/"', body)]
    assert order == [usable.pk, newest.pk, old.pk, used.pk]
    for tab, count in (("all", 4), ("open", 1), ("used", 2), ("expired", 1)):
        assert re.search(rf'data-tab="{tab}"[^>]*>[^<]*(<[^>]*>)?[^<]*\b{count}</a>', body), tab
    expected = {"open": [usable], "used": [newest, used], "expired": [old]}
    for state, vouchers in expected.items():
        r = client.get(VOUCHERS, {"state": state})
        page = r.content.decode()
        shown = [int(pk) for pk in re.findall(r'href="/m/benefits/vouchers/(\d+)/"', page)]
        assert r.status_code == 200 and shown == [v.pk for v in vouchers], state
        assert f'data-tab="{state}" class="on"' in page
    # Odd or hostile values show them all, escaped, never an error.
    for value in ("<script>alert(1)</script>", "ＵＳＥＤ", "x" * 5000, "cancelled"):
        r = client.get(VOUCHERS, {"state": value})
        page = r.content.decode()
        assert r.status_code == 200 and "<script>alert(1)" not in page
        assert len(re.findall(r'href="/m/benefits/vouchers/\d+/"', page)) == 4


def test_empty_tab_says_so(world, login, make_campaign, carded):
    member = carded()
    voucher_grab(campaign=make_campaign(), member=member)
    body = login(member=member).get(VOUCHERS, {"state": "used"}).content.decode()
    assert "data-empty" in body and 'href="/m/benefits/vouchers/"' in body
    assert zh("You have no vouchers yet.") not in body  # the member has one: not "none yet"


def test_used_voucher_says_where_and_for_what(world, shop, login, make_campaign, carded):
    member = carded()
    v = voucher_grab(campaign=make_campaign(), member=member).voucher
    assert v is not None
    voucher_redeem(
        code=v.code, store=shop.store, clerk=shop.clerk, receipt_no="XH-77", amount_fen=12345
    )
    body = login(member=member).get(f"{VOUCHERS}{v.pk}/").content.decode()
    assert "data-used-store" in body and shop.store.name in body
    assert "XH-77" in body and "¥123.45" in body


def test_voucher_before_its_window_says_from_when(world, login, make_campaign, carded):
    now = timezone.now()
    c = make_campaign(
        redeem_from=now + dt.timedelta(days=1), redeem_until=now + dt.timedelta(days=9)
    )
    member = carded()
    v = voucher_grab(campaign=c, member=member).voucher
    assert v is not None
    body = login(member=member).get(f"{VOUCHERS}{v.pk}/").content.decode()
    local = timezone.localtime(c.redeem_from).strftime("%Y-%m-%d %H:%M")
    assert "data-not-yet" in body and local in body and "data-qr" in body
    Campaign.objects.filter(pk=c.pk).update(redeem_from=now - dt.timedelta(minutes=1))
    assert "data-not-yet" not in login(member=member).get(f"{VOUCHERS}{v.pk}/").content.decode()


def test_the_pages_ticket_grabs_without_cookies(world, login, make_campaign, carded):
    """The page hands its button a grab ticket and the hot endpoint's address; a client with no
    cookie at all (as the page's fetch sends it) gets the voucher, once, and its page's id."""
    c = make_campaign()
    member = carded()
    body = login(member=member).get(campaign_url(c)).content.decode()
    ticket = re.search(r'data-ticket="([^"]+)"', body)
    action = re.search(r'data-grab="([^"]+)"', body)
    key = re.search(r'name="request_key" value="([^"]+)"', body)
    assert ticket and action and key
    anonymous = Client()
    headers = {"HTTP_X_GRAB_TICKET": ticket[1], "HTTP_IDEMPOTENCY_KEY": key[1]}
    r = anonymous.post(action[1], HTTP_ACCEPT="application/json", **headers)
    voucher = Voucher.objects.get(campaign=c, member=member)
    assert r.status_code == 201 and r.json()["voucher_id"] == voucher.pk
    r = anonymous.post(action[1], HTTP_ACCEPT="application/json", **headers)  # a second tap
    assert r.status_code == 200 and r.json()["voucher_id"] == voucher.pk
    # The ticket is for this campaign only.
    other = make_campaign(name="五月书香")
    r = anonymous.post(
        f"/benefits/campaigns/{other.pk}/grab", HTTP_ACCEPT="application/json", **headers
    )
    assert r.status_code == 400 and r.json()["code"] == "ticket_invalid"
    assert Voucher.objects.count() == 1


# --- where each campaign of the list stands -------------------------------------------------------


def _cards(body: str) -> list[tuple[int, str, list[str]]]:
    """The list's cards in order: (campaign id, state, the badges shown)."""
    cards = []
    for chunk in body.split('<a class="card')[1:]:
        m = re.search(r'data-campaign="(\d+)" data-state="(\w+)"', chunk)
        assert m, chunk[:200]
        card = chunk.split("</a>", 1)[0]
        cards.append((int(m[1]), m[2], re.findall(r'data-badge="(\w+)"', card)))
    return cards


def _badge(label: str) -> str:
    with translation.override("zh-hans"):
        return escape(pgettext("campaign state", label))


def test_list_badges_say_where_each_campaign_stands(world, shop, login, make_campaign, carded):
    """The list said nothing of a campaign's state: a member tapped a sold-out or drawn campaign
    to learn it, and could not tell the campaigns they already hold a voucher of."""
    now = timezone.now()
    member = carded()
    grab_now = make_campaign(name="抢券中活动")
    sold_out = make_campaign(name="已抢完活动", quota=1)
    assert voucher_grab(campaign=sold_out, member=carded()).ok
    held = make_campaign(name="已领取活动")
    assert voucher_grab(campaign=held, member=member).ok
    # Up to two each: one held, and the campaign still open to the member for the second.
    one_of_two = make_campaign(name="每人两张", per_member_limit=2)
    assert voucher_grab(campaign=one_of_two, member=member, request_key="first").ok
    soon = make_campaign(
        status="scheduled",
        name="即将开始活动",
        release_at=now + dt.timedelta(days=2, hours=3),
        redeem_from=now + dt.timedelta(days=3),
        redeem_until=now + dt.timedelta(days=20),
    )
    registering = _lottery(world, make_campaign, name="报名中活动")
    registered = _lottery(world, make_campaign, name="已报名活动")
    lottery_register(campaign=registered, member=member)
    awaiting = _lottery(world, make_campaign, name="待开奖活动")
    lottery_register(campaign=awaiting, member=member)
    registration_closed(awaiting.pk, now)
    drawn = _lottery(world, make_campaign, name="已开奖活动")
    lottery_register(campaign=drawn, member=carded())
    assert drawn.registration_closes_at is not None
    lottery_draw(
        campaign=drawn,
        actor=world.jiefang_officer,
        now=drawn.registration_closes_at + dt.timedelta(seconds=1),
    )
    over = make_campaign(name="已结束活动")
    Campaign.objects.filter(pk=over.pk).update(
        redeem_from=now - dt.timedelta(days=10), redeem_until=now - dt.timedelta(days=1)
    )
    closed = make_campaign(name="提前结束活动")
    assert voucher_grab(campaign=closed, member=member).ok
    from gonghui.benefits.services import campaign_transition

    campaign_transition(campaign=closed, new="closed", actor=world.jiefang_officer)
    long_ago = make_campaign(name="很久以前的活动")
    Campaign.objects.filter(pk=long_ago.pk).update(
        redeem_from=now - dt.timedelta(days=60), redeem_until=now - dt.timedelta(days=31)
    )

    body = page_text(login(member=member).get(LIST))
    cards = _cards(body)
    shown = {pk: (state, badges) for pk, state, badges in cards}
    assert shown == {
        grab_now.pk: ("open", ["open"]),
        sold_out.pk: ("sold_out", ["sold_out"]),
        held.pk: ("open", ["held"]),  # all the member may have: only that
        one_of_two.pk: ("open", ["open", "held"]),
        soon.pk: ("upcoming", ["upcoming"]),
        registering.pk: ("registering", ["registering"]),
        registered.pk: ("registering", ["registering", "registered"]),
        awaiting.pk: ("awaiting_draw", ["awaiting_draw", "registered"]),
        drawn.pk: ("drawn", ["drawn"]),
        over.pk: ("ended", ["ended"]),
        closed.pk: ("ended", ["held"]),
    }
    assert "很久以前的活动" not in body  # ended a month ago: off the list
    for label in (
        "Grab now",
        "Sold out",
        "You have it",
        "Coming soon",
        "Registering",
        "Registered",
        "Awaiting the draw",
        "Drawn",
        "Ended",
    ):
        assert _badge(label) in body, label
    # The upcoming one says when.
    soon_card = body.split(f'data-campaign="{soon.pk}"', 1)[1].split("</a>", 1)[0]
    assert timezone.localtime(soon.release_at).strftime("%Y-%m-%d %H:%M") in soon_card

    # What the member can do now comes first: grab or register, then the vouchers to show,
    # then the draws they wait for, then what is over for them; then what is still to come,
    # then what ended (their own voucher first).
    order = [pk for pk, _state, _badges in cards]
    rank = [
        {grab_now.pk, one_of_two.pk, registering.pk},
        {held.pk},
        {registered.pk, awaiting.pk},
        {sold_out.pk, drawn.pk},
        {soon.pk},
        {closed.pk},
        {over.pk},
    ]
    assert [set(order[i : i + len(r)]) for i, r in _spans(rank)] == rank
    assert body.index(zh("Open now")) < body.index(zh("Coming soon")) < body.index("已结束活动")


def _spans(groups: list[set[int]]) -> list[tuple[int, set[int]]]:
    start, out = 0, []
    for group in groups:
        out.append((start, group))
        start += len(group)
    return out


def test_list_badges_for_a_member_who_won_or_lost_the_draw(world, login, make_campaign, carded):
    c = _lottery(world, make_campaign, name="抽签活动")
    winner, loser = carded(), carded()
    lottery_register(campaign=c, member=winner)
    lottery_register(campaign=c, member=loser)
    assert c.registration_closes_at is not None
    lottery_draw(
        campaign=c,
        actor=world.jiefang_officer,
        now=c.registration_closes_at + dt.timedelta(seconds=1),
    )
    won = Registration.objects.get(campaign=c, won=True).member
    lost = loser if won == winner else winner
    assert _cards(page_text(login(member=won).get(LIST))) == [(c.pk, "drawn", ["held"])]
    # the member who entered and lost is told so on the list (it said only "drawn")
    assert _cards(page_text(login(member=lost).get(LIST))) == [
        (c.pk, "drawn", ["drawn", "not_won"])
    ]
    # one who never entered sees only the campaign's state
    assert _cards(page_text(login(member=carded()).get(LIST))) == [(c.pk, "drawn", ["drawn"])]


def test_list_costs_the_same_queries_for_one_campaign_or_many(world, login, make_campaign, carded):
    """The state and the member's standing of each campaign come with the list in one query,
    not one query (or three) per campaign."""
    now = timezone.now()
    member = carded()
    client = login(member=member)
    make_campaign(name="第一个活动")
    client.get(LIST)  # sessions, content types: whatever a first request loads once
    with CaptureQueriesContext(connection) as one:
        assert client.get(LIST).status_code == 200
    sold_out = make_campaign(name="已抢完活动", quota=1)
    voucher_grab(campaign=sold_out, member=member)
    make_campaign(name="每人两张", per_member_limit=2)
    lottery = _lottery(world, make_campaign, name="抽签活动")
    lottery_register(campaign=lottery, member=member)
    make_campaign(
        status="scheduled",
        name="即将开始活动",
        release_at=now + dt.timedelta(days=2),
        redeem_from=now + dt.timedelta(days=3),
        redeem_until=now + dt.timedelta(days=20),
    )
    over = make_campaign(name="已结束活动")
    Campaign.objects.filter(pk=over.pk).update(
        redeem_from=now - dt.timedelta(days=10), redeem_until=now - dt.timedelta(days=1)
    )
    with CaptureQueriesContext(connection) as many:
        r = client.get(LIST)
    assert len(_cards(page_text(r))) == 6
    assert len(many) == len(one), [q["sql"] for q in many]


def test_member_campaigns_is_one_query(world, make_campaign, carded, django_assert_num_queries):
    member = carded()
    for i in range(4):
        voucher_grab(campaign=make_campaign(name=f"活动{i}"), member=member)
    _lottery(world, make_campaign, name="抽签活动")
    with django_assert_num_queries(1):
        listing = pages.member_campaigns(member=member)
        items = listing["open"] + listing["upcoming"] + listing["ended"]
        assert [item.campaign.merchant.name for item in items]  # loaded with the list
        assert [item.campaign.org.name for item in items]
    assert len(items) == 5 and sum(item.held for item in items) == 4


# --- who may take part, on the list -------------------------------------------------------------


def _ineligible_setup(world, make_campaign, carded, kind):
    """(member, a campaign the member may not take part in) for one reason."""
    if kind == "no_card":
        return carded(card=None), make_campaign(name="不可参加活动")
    if kind == "not_member_card":
        return carded(card=OTHER_BANK_CARD), make_campaign(name="不可参加活动")
    if kind == "bank_not_listed":
        return carded(card=POSTAL_CARD), make_campaign(name="不可参加活动", card_banks=["中原银行"])
    assert kind == "category"
    return carded(), make_campaign(name="不可参加活动", categories=["migrant_worker"])


@pytest.mark.parametrize(
    ("kind", "code", "reason"),
    [
        ("no_card", "card_missing", "Register your union member card first."),
        ("not_member_card", "card_bank", "Your card is not an accepted member card."),
        ("bank_not_listed", "card_bank", "Your card is not an accepted member card."),
        ("category", "category", "Not open to your worker category."),
    ],
)
def test_list_says_not_eligible_before_the_tap(
    world, login, make_campaign, carded, kind, code, reason
):
    """The list showed 抢券中 first to a member who could not take part: they learnt it only on
    the campaign page. Now the list says so, with the reason, after what they can act on and
    before what is sold out."""
    now = timezone.now()
    sold_out = make_campaign(name="已抢完活动", quota=1, require_member_card=False)
    assert voucher_grab(campaign=sold_out, member=carded()).ok
    member, bad = _ineligible_setup(world, make_campaign, carded, kind)
    bad_soon = make_campaign(
        status="scheduled",
        name="不可参加的预告",
        release_at=now + dt.timedelta(days=1),
        redeem_from=now + dt.timedelta(days=2),
        redeem_until=now + dt.timedelta(days=20),
        card_banks=bad.card_banks,
        categories=bad.categories,
    )
    good_soon = make_campaign(
        status="scheduled",
        name="可参加的预告",
        release_at=now + dt.timedelta(days=2),
        redeem_from=now + dt.timedelta(days=3),
        redeem_until=now + dt.timedelta(days=20),
        require_member_card=False,
        categories=[],
    )
    good = make_campaign(name="可参加活动", require_member_card=False, categories=[])
    client = login(member=member)
    body = page_text(client.get(LIST))
    cards = _cards(body)
    assert cards == [
        (good.pk, "open", ["open"]),
        (bad.pk, "open", ["not_eligible"]),
        (sold_out.pk, "sold_out", ["sold_out"]),
        (good_soon.pk, "upcoming", ["upcoming"]),  # what the member may wait for first
        (bad_soon.pk, "upcoming", ["not_eligible"]),
    ]
    assert _badge("Not eligible") in body
    bad_card = body.split(f'data-campaign="{bad.pk}"', 1)[1].split("</a>", 1)[0]
    assert f'data-eligibility="{code}"' in bad_card and zh(reason) in bad_card
    good_card = body.split(f'data-campaign="{good.pk}"', 1)[1].split("</a>", 1)[0]
    assert "data-eligibility" not in good_card
    # The campaign page agrees, campaign by campaign.
    for c, expected in ((bad, code), (bad_soon, code), (good, "ok"), (good_soon, "ok")):
        page = client.get(campaign_url(c)).content.decode()
        assert f'data-eligibility="{expected}"' in page, c.name


def test_eligible_member_sees_no_not_eligible_badge(world, login, make_campaign, carded):
    make_campaign(name="抢券活动")
    make_campaign(name="限中原银行", card_banks=["中原银行"])
    make_campaign(name="限职工", categories=["employee"], eligible_org=world.jiefang_base)
    _lottery(world, make_campaign, name="抽签活动")
    body = page_text(login(member=carded()).get(LIST))
    cards = _cards(body)
    assert len(cards) == 4
    assert all("not_eligible" not in badges for _pk, _state, badges in cards)
    assert "data-eligibility" not in body and _badge("Not eligible") not in body


def test_not_eligible_lottery_and_what_the_member_already_has(world, login, make_campaign, carded):
    """An entry or a voucher made before the card went keeps its badge: the draw does not ask
    again, and the voucher is the member's. Only what they could still get says "not eligible"."""
    member = carded()
    held = make_campaign(name="已领一张", per_member_limit=2)
    assert voucher_grab(campaign=held, member=member).ok
    registered = _lottery(world, make_campaign, name="已报名活动")
    lottery_register(campaign=registered, member=member)
    registering = _lottery(world, make_campaign, name="报名中活动")
    MemberCard.objects.filter(member=member).update(is_current=False)  # the card is gone
    cards = _cards(page_text(login(member=member).get(LIST)))
    assert cards == [
        (held.pk, "open", ["held"]),
        (registered.pk, "registering", ["registering", "registered"]),
        (registering.pk, "registering", ["not_eligible"]),
    ]


def test_list_leaves_out_campaigns_for_another_subtree_as_the_page_refuses_them(
    world, login, make_campaign, carded
):
    """Wrong subtree: the list does not offer the campaign at all, and its page (reachable by
    link) says why; neither says "eligible"."""
    c = make_campaign(name="解放区活动")
    member = carded(org=world.zhongzhan_base)
    client = login(member=member)
    assert str(c.pk) not in {str(pk) for pk, _s, _b in _cards(page_text(client.get(LIST)))}
    assert 'data-eligibility="org_outside"' in client.get(campaign_url(c)).content.decode()
    eligibility = pages.member_campaign_get(member=member, pk=c.pk).eligibility
    assert not eligibility.ok and eligibility.code == "org_outside"


def test_list_and_page_agree_for_a_member_who_left(world, make_campaign, carded):
    """A member who left cannot sign in; the selectors still give the same answer."""
    member = carded()
    c = make_campaign(name="抢券活动")
    Member.objects.filter(pk=member.pk).update(status=MemberStatus.LEFT)
    member.refresh_from_db()
    (item,) = pages.member_campaigns(member=member)["open"]
    assert item.not_eligible and item.rank == 3
    assert item.eligibility.code == "member_inactive"
    assert item.reason == gettext("Only active union members can take part.")
    assert pages.member_campaign_get(member=member, pk=c.pk).eligibility == item.eligibility


def test_not_eligible_list_costs_one_query_however_many_campaigns(
    world, make_campaign, carded, django_assert_num_queries
):
    """The member's card, org and category are read once with the list, not per campaign
    (eligible_org names the subtree in a reason: it comes with the list too)."""
    member = carded(card=POSTAL_CARD)
    for i in range(3):
        make_campaign(name=f"限中原{i}", card_banks=["中原银行"], eligible_org=world.jiefang_base)
        make_campaign(name=f"限农民工{i}", categories=["migrant_worker"])
        make_campaign(name=f"可参加{i}", eligible_org=world.jiefang_township)
    with django_assert_num_queries(1):
        listing = pages.member_campaigns(member=member)
        items = listing["open"]
        assert [item.reason for item in items]
    assert [item.eligibility.code for item in items] == ["ok"] * 3 + ["card_bank", "category"] * 3


# --- weight on a slow network ------------------------------------------------------------------


def test_member_and_public_pages_load_no_staff_scripts(world, login, shop, make_campaign, carded):
    """htmx (51 KB, 17 KB compressed) and the staff's confirm dialog were loaded by every member
    page, none of which uses them: most of a first visit's bytes on a 50 KB/s phone. The member
    and public pages load no script file; the staff pages keep theirs."""
    campaign = make_campaign()
    member = carded()
    voucher = voucher_grab(campaign=campaign, member=member).voucher
    assert voucher is not None
    client = login(member=member)
    pages_ = [
        "/m/",
        LIST,
        campaign_url(campaign),
        VOUCHERS,
        f"{VOUCHERS}{voucher.pk}/",
        f"/public/campaigns/{campaign.pk}/",
    ]
    for url in pages_:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "<script src=" not in response.content.decode(), url
    assert "<script src=" not in Client().get("/m/login/").content.decode()
    staff = login(world.city_admin).get("/console/")
    assert "htmx" in staff.content.decode()


@pytest.mark.parametrize("status", ["settling", "settled"])
def test_a_campaign_being_settled_stays_ended_for_its_members(
    world, shop, login, make_campaign, carded, status
):
    """Once the union approved a store's settlement the campaign vanished from the member's list
    and its page said "not found, or you may not see it", minutes after the member used its
    voucher: settling is the union's business with the store, not the member's."""
    member = carded()
    c = _closed(world, make_campaign)
    Campaign.objects.filter(pk=c.pk).update(status=status)
    mine = make_campaign(name="我用过券的活动")
    v = voucher_grab(campaign=mine, member=member).voucher
    campaign_transition(campaign=mine, new="closed", actor=world.jiefang_officer)
    Campaign.objects.filter(pk=mine.pk).update(status=status)
    client = login(member=member)

    listed = {pk: (state, badges) for pk, state, badges in _cards(page_text(client.get(LIST)))}
    assert listed == {mine.pk: ("ended", ["held"]), c.pk: ("ended", ["ended"])}
    r = client.get(campaign_url(mine))
    assert r.status_code == 200
    body = page_text(r)
    assert zh("This campaign has ended.") in body and zh("Show my voucher") in body
    assert f"{VOUCHERS}{v.pk}/" in body
    assert "data-grab=" not in body
    # The grab, without script, answers as for a closed campaign and writes nothing.
    before = _written()
    r = grab(client, c)
    assert r.status_code == 200 and zh("This campaign has ended.") in page_text(r)
    assert _written() == before
    # Long over: off the list, as any ended campaign.
    Campaign.objects.filter(pk=c.pk).update(
        redeem_from=timezone.now() - dt.timedelta(days=60),
        redeem_until=timezone.now() - dt.timedelta(days=31),
    )
    assert c.pk not in {pk for pk, _s, _b in _cards(page_text(client.get(LIST)))}


def test_the_scripted_grab_opens_the_voucher_saying_what_happened(
    world, login, make_campaign, carded
):
    """The page's script grabs at the hot door and then opens the voucher's page: it said
    nothing there, where the form's grab says "you got it" or "you already have one". The
    script now names the answer in the address, and the page says it, once."""
    c = make_campaign()
    member = carded()
    v = voucher_grab(campaign=c, member=member, request_key="k").voucher
    client = login(member=member)
    page = client.get(campaign_url(c)).content.decode()
    assert '"?got="+o' not in page  # has a voucher: no grab script on the page
    other = make_campaign()
    page = client.get(campaign_url(other)).content.decode()
    assert 'location.assign(f.getAttribute("data-voucher-url")' in page
    assert '.replace("/0/","/"+d.voucher_id+"/")+"?got="+o' in page

    url = f"{VOUCHERS}{v.pk}/"
    body = client.get(url, {"got": "won"}).content.decode()
    assert zh("You got a voucher.") in body and v.code in body
    assert "history.replaceState(null" in body  # a reload does not say it again
    body = client.get(url, {"got": "already"}).content.decode()
    assert zh("You already have a voucher of this campaign.") in body
    assert zh("You got a voucher.") not in body
    for hostile in (
        "",
        "WON",
        "sold_out",
        "<script>alert(1)</script>",
        "won\x00",
        "ｗｏｎ",
        "x" * 5000,
    ):
        body = client.get(url, {"got": hostile}).content.decode()
        assert zh("You got a voucher.") not in body
        assert zh("You already have a voucher of this campaign.") not in body
        assert "<script>alert(1)" not in body and "history.replaceState(null" not in body
    assert zh("You got a voucher.") not in client.get(url).content.decode()
    # Someone else's voucher is not found, whatever the address says.
    stranger = login(member=carded())
    assert stranger.get(url, {"got": "won"}).status_code == 404
    assert Voucher.objects.count() == 1


def test_a_coming_campaign_says_what_the_member_pays_and_where(
    world, shop, login, make_campaign, carded
):
    """The open campaign's card said "you pay ¥10" and the bookstore; the coming one only the
    face value, which is what a member decides on before setting an alarm for the release."""
    now = timezone.now()
    soon = make_campaign(
        status="scheduled",
        name="冬日书香",
        release_at=now + dt.timedelta(hours=2),
        redeem_from=now + dt.timedelta(hours=2),
        redeem_until=now + dt.timedelta(days=10),
    )
    body = page_text(login(member=carded()).get(LIST))
    card = body.split(f'data-campaign="{soon.pk}"', 1)[1].split("</a>", 1)[0]
    with translation.override("zh-hans"):
        pays = gettext("you pay ¥%(pay)s") % {"pay": "10.00"}
    assert "¥100.00" in card and escape(pays) in card
    assert f"{shop.merchant.name} · {world.jiefang.name}" in card
    assert timezone.localtime(soon.release_at).strftime("%Y-%m-%d %H:%M") in card
