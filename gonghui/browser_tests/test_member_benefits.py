"""The member's voucher pages on a cheap phone (320×568): what is in the first screen, one request
per double tap, a page restored by the back button, and a countdown on a phone whose clock is off."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from importlib import import_module
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext

from gonghui.accounts.middleware import MEMBER_SESSION_KEY
from gonghui.benefits.models import Campaign, Voucher
from gonghui.benefits.tests import conftest as benefits_fixtures
from gonghui.members.models import Member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SMALL = {"width": 320, "height": 568}

# The benefits tests' fixtures (a merchant with a store, campaigns, members with cards).
_reset_hot = benefits_fixtures._reset_hot
shop = benefits_fixtures.shop
make_campaign = benefits_fixtures.make_campaign
carded = benefits_fixtures.carded


@pytest.fixture
def small_phone(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(
        viewport=SMALL, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    context.set_default_timeout(15_000)
    yield context
    context.close()


def _sign_in(context: Any, base: str, member: Member) -> Any:
    """A member session as /m/login/ leaves it (the sign-in itself is tested in test_vouchers)."""
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[MEMBER_SESSION_KEY] = member.pk
    session.save()
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session.session_key, "url": base}]
    )
    return context.new_page()


def _fits(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= SMALL["width"], f"{page.url} is {width}px wide on a 320px phone"


def _tall_enough(locator: Any, what: str) -> None:
    for i in range(locator.count()):
        box = locator.nth(i).bounding_box()
        assert box is not None and box["height"] >= 44, f"{what} #{i} is {box} (under 44px)"


def test_grab_on_a_small_phone(
    live_server: Any, small_phone: Any, make_campaign: Any, carded: Any, screenshot: Any
) -> None:
    base = live_server.url
    campaign = make_campaign(name="四月芳菲")
    member = carded(name="王晓红")
    page = _sign_in(small_phone, base, member)
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)

    page.goto(f"{base}/m/benefits/")
    _fits(page)
    page.goto(f"{base}/m/benefits/campaigns/{campaign.pk}/")
    _fits(page)
    screenshot(page, "member-campaign-320")
    # The eligibility and the button are in the first screen, above terms and stores.
    button = page.locator("form[data-grab] button")
    box = button.bounding_box()
    assert box is not None and box["y"] + box["height"] <= SMALL["height"], box
    assert page.locator("[data-eligibility=ok]").is_visible()
    _tall_enough(button, "grab button")

    # A double tap is one request (to the hot endpoint, with the page's ticket and no cookies)
    # and one voucher, whose page opens.
    with page.expect_navigation():
        page.evaluate(
            """() => { const b = document.querySelector("form[data-grab] button");
                       b.click(); b.click(); }"""
        )
    assert posts == [f"{base}/benefits/campaigns/{campaign.pk}/grab"]
    voucher = Voucher.objects.get(campaign=campaign, member=member)
    page.wait_for_url(f"{base}/m/benefits/vouchers/{voucher.pk}/")
    # The voucher's page says the grab won, as the form's grab does; its address is the
    # voucher's own again, so a reload does not say it twice.
    with translation.override("zh-hans"):
        got = gettext("You got a voucher.")
    assert page.locator(".messages li.success").inner_text() == got
    page.reload()
    assert page.locator(".messages").count() == 0 and page.locator("[data-qr] svg").is_visible()

    # Back: the campaign page says what the member has now.
    page.go_back()
    page.locator(f"#action a[href='/m/benefits/vouchers/{voucher.pk}/']").wait_for()
    assert page.locator("form[data-once]").count() == 0

    page.goto(f"{base}/m/benefits/vouchers/{voucher.pk}/")
    _fits(page)
    qr = page.locator("[data-qr] svg").bounding_box()
    assert qr is not None and qr["width"] >= 200
    screenshot(page, "member-voucher-320")

    page.goto(f"{base}/m/benefits/vouchers/")
    _fits(page)
    _tall_enough(page.locator(".b-tabs a"), "voucher tab")
    page.locator("[data-tab=used]").tap()
    page.wait_for_url(f"{base}/m/benefits/vouchers/?state=used")
    assert page.locator("[data-empty]").is_visible()
    screenshot(page, "member-vouchers-320")

    # Someone else's voucher: the member pages' own "not found", narrow too.
    page.goto(f"{base}/m/benefits/vouchers/{voucher.pk + 1000}/")
    assert page.locator("[data-not-found]").is_visible()
    _fits(page)
    assert Voucher.objects.count() == 1


def test_page_restored_by_back_button_is_fetched_again(
    live_server: Any, small_phone: Any, make_campaign: Any, carded: Any
) -> None:
    """A phone's back-forward cache shows the page as it was at the tap (button "sending…",
    dead); the page reloads itself instead."""
    base = live_server.url
    campaign = make_campaign()
    page = _sign_in(small_phone, base, carded())
    page.goto(f"{base}/m/benefits/campaigns/{campaign.pk}/")
    label = page.inner_text("form[data-grab] button")
    page.route("**/benefits/campaigns/*/grab", lambda route: None)  # the answer never comes
    page.locator("form[data-grab] button").tap()
    assert page.inner_text("form[data-grab] button") != label  # "sending…", and stuck so
    with page.expect_navigation():
        page.evaluate(
            """() => window.dispatchEvent(
                   new PageTransitionEvent("pageshow", {persisted: true}))"""
        )
    assert page.inner_text("form[data-grab] button") == label
    assert Voucher.objects.count() == 0


def _countdown_seconds(page: Any) -> int:
    text = page.inner_text("[data-countdown-left]")
    m = re.search(r"(\d\d):(\d\d):(\d\d)", text)
    assert m, text
    h, mi, s = (int(x) for x in m.groups())
    return h * 3600 + mi * 60 + s


@pytest.mark.parametrize("phone_clock_off_minutes", [10, -10])
def test_countdown_keeps_the_server_time_on_a_phone_with_a_wrong_clock(
    live_server: Any,
    small_phone: Any,
    make_campaign: Any,
    carded: Any,
    phone_clock_off_minutes: int,
) -> None:
    """A fast phone clock made the page reload over and over before the release (every member
    waiting on it hammering the server); a slow one kept counting after the release."""
    base = live_server.url
    now = timezone.now()
    campaign = make_campaign(
        status="scheduled",
        release_at=now + dt.timedelta(seconds=90),
        redeem_from=now + dt.timedelta(seconds=90),
        redeem_until=now + dt.timedelta(days=9),
    )
    page = _sign_in(small_phone, base, carded())
    page.clock.set_system_time(
        dt.datetime.now(dt.UTC) + dt.timedelta(minutes=phone_clock_off_minutes)
    )
    loads: list[str] = []
    page.on("load", lambda: loads.append(page.url))
    page.goto(f"{base}/m/benefits/campaigns/{campaign.pk}/")
    page.wait_for_timeout(2500)
    assert len(loads) == 1, f"the page reloaded itself {len(loads) - 1} times"
    left = _countdown_seconds(page)
    assert 60 <= left <= 90, f"counts {left} s to a release 90 s away"


def test_countdown_enables_the_button_at_the_release_on_a_fast_clock(
    live_server: Any, small_phone: Any, make_campaign: Any, carded: Any
) -> None:
    base = live_server.url
    now = timezone.now()
    campaign = make_campaign(
        status="scheduled",
        release_at=now + dt.timedelta(seconds=6),
        redeem_from=now,
        redeem_until=now + dt.timedelta(days=9),
    )
    page = _sign_in(small_phone, base, carded())
    page.clock.set_system_time(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10))
    loads: list[str] = []
    page.on("load", lambda: loads.append(page.url))
    page.goto(f"{base}/m/benefits/campaigns/{campaign.pk}/")
    assert page.locator("[data-countdown-left]").count() == 1
    button = page.locator("form[data-grab] button")
    assert button.is_disabled()
    # At the release the button comes alive in place: no reload (thousands of members waiting
    # on the page would otherwise all load it again in the same second).
    page.wait_for_function(
        "() => !document.querySelector('form[data-grab] button').disabled", timeout=20_000
    )
    assert timezone.now() >= campaign.release_at - dt.timedelta(seconds=1)
    assert len(loads) == 1, f"{len(loads)} loads for one release"
    assert Campaign.objects.get(pk=campaign.pk).remaining == campaign.quota
    page.wait_for_timeout(max(0, (campaign.release_at - timezone.now()).total_seconds() * 1000))
    with page.expect_navigation():
        button.tap()
    voucher = Voucher.objects.get(campaign=campaign)
    page.wait_for_url(f"{base}/m/benefits/vouchers/{voucher.pk}/")


def test_sold_out_and_an_expired_session_answer_in_place(
    live_server: Any, small_phone: Any, make_campaign: Any, carded: Any
) -> None:
    """The last voucher goes to someone else while the page is open: the tap says so in place.
    A member whose session ran out while waiting still grabs (the page's ticket carries them)."""
    from gonghui.benefits.services import voucher_grab

    base = live_server.url
    campaign = make_campaign(quota=1)
    page = _sign_in(small_phone, base, carded())
    page.goto(f"{base}/m/benefits/campaigns/{campaign.pk}/")
    assert voucher_grab(campaign=campaign, member=carded(), request_key="other").ok
    page.locator("form[data-grab] button").tap()
    answer = page.locator("[data-grab-answer]")
    answer.wait_for()
    assert "抢完" in answer.inner_text() or "已被领完" in answer.inner_text(), answer.inner_text()
    assert page.locator("form[data-grab] button").is_disabled()
    assert "/m/benefits/campaigns/" in page.url
    _fits(page)

    second = make_campaign(name="五月书香")
    waiting = _sign_in(small_phone, base, member := carded())
    waiting.goto(f"{base}/m/benefits/campaigns/{second.pk}/")
    small_phone.clear_cookies()  # the session ends while the member waits for the release
    waiting.locator("form[data-grab] button").tap()
    waiting.wait_for_url(re.compile(r".*/m/login/.*"))
    voucher = Voucher.objects.get(campaign=second, member=member)
    assert f"next=%2Fm%2Fbenefits%2Fvouchers%2F{voucher.pk}%2F" in waiting.url


def test_a_lost_answer_then_a_second_tap_gives_the_same_voucher(
    live_server: Any, small_phone: Any, make_campaign: Any, carded: Any
) -> None:
    """The grab reached the server but its answer was lost on a weak network: the page says to
    tap again, and the second tap returns the voucher the first one made."""
    base = live_server.url
    campaign = make_campaign()
    member = carded()
    page = _sign_in(small_phone, base, member)
    page.goto(f"{base}/m/benefits/campaigns/{campaign.pk}/")

    def lose_answer(route: Any) -> None:
        route.fetch()  # the server does the grab
        route.abort("connectionreset")  # and the phone never hears back

    page.route("**/benefits/campaigns/*/grab", lose_answer)
    button = page.locator("form[data-grab] button")
    button.tap()
    answer = page.locator("[data-grab-answer]")
    answer.wait_for()
    assert "再" in answer.inner_text(), answer.inner_text()  # "…tap again…"
    assert button.is_enabled()
    voucher = Voucher.objects.get(campaign=campaign, member=member)

    page.unroute("**/benefits/campaigns/*/grab")
    with page.expect_navigation():
        button.tap()
    page.wait_for_url(f"{base}/m/benefits/vouchers/{voucher.pk}/")
    assert Voucher.objects.filter(campaign=campaign, member=member).count() == 1


def _refuse(body: str, content_type: str) -> Any:
    """A route that answers the grab with 429 and a Retry-After of two seconds."""

    def handler(route: Any) -> None:
        route.fulfill(
            status=429, body=body, content_type=content_type, headers={"Retry-After": "2"}
        )

    return handler


def test_a_refused_or_broken_answer_says_what_happened_and_when_to_tap_again(
    live_server: Any, small_phone: Any, make_campaign: Any, carded: Any
) -> None:
    """What a proxy or a failing server sends is not "no answer from the server": a 502 page says
    the server is busy and the button stays ready; a 429 (the platform's own JSON or a proxy's
    page) says to wait and holds the button for the Retry-After seconds, so a worker does not
    hammer the limit that refused them. Nothing is taken until a real answer arrives."""
    base = live_server.url
    campaign = make_campaign()
    member = carded()
    page = _sign_in(small_phone, base, member)
    page.goto(f"{base}/m/benefits/campaigns/{campaign.pk}/")
    form = page.locator("form[data-grab]")
    button = form.locator("button")
    answer = page.locator("[data-grab-answer]")
    grab = "**/benefits/campaigns/*/grab"

    page.route(grab, lambda route: route.fulfill(status=502, body="<h1>502 Bad Gateway</h1>"))
    button.tap()
    answer.wait_for()
    page.wait_for_function("!document.querySelector('form[data-grab]').dataset.sent")
    assert answer.inner_text() == form.get_attribute("data-server-busy")
    assert button.is_enabled()
    page.unroute(grab)

    for body, content_type in (
        ("<html><body>429 Too Many Requests</body></html>", "text/html"),
        ('{"code": "rate_limited", "message": "M"}', "application/json"),
    ):
        page.route(grab, _refuse(body, content_type))
        button.tap()
        page.wait_for_function(
            "document.querySelector('[data-grab-answer]').textContent.length > 0"
            " && document.querySelector('form[data-grab] button').disabled"
        )
        expected = (
            "M" if content_type == "application/json" else form.get_attribute("data-too-many")
        )
        assert answer.inner_text() == expected
        assert button.is_disabled()
        page.wait_for_function("!document.querySelector('form[data-grab] button').disabled")
        page.unroute(grab)
        answer.evaluate("e => { e.textContent = ''; }")
    assert not Voucher.objects.filter(campaign=campaign, member=member).exists()

    with page.expect_navigation():
        button.tap()
    voucher = Voucher.objects.get(campaign=campaign, member=member)
    page.wait_for_url(f"{base}/m/benefits/vouchers/{voucher.pk}/")


# What a phone's "large text" setting (WeChat's font size, Android's font scale) does: every
# font twice as big, the layout width unchanged.
DOUBLE_TEXT = """() => {
  const all = [...document.querySelectorAll("body, body *")];
  const sizes = all.map(e => parseFloat(getComputedStyle(e).fontSize));
  all.forEach((e, i) => e.style.setProperty("font-size", sizes[i] * 2 + "px", "important"));
}"""


OFF_SCREEN = """(width) => [...document.querySelectorAll("body *")]
  .filter(e => e.getBoundingClientRect().right > width + 1)
  .filter(e => ![...e.children].some(c => c.getBoundingClientRect().right > width + 1))
  .map(e => e.tagName + "." + e.className + ": " + e.textContent.trim().slice(0, 30))"""


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_twice_the_text_size_still_fits_a_small_phone(
    live_server: Any, small_phone: Any, make_campaign: Any, carded: Any, language: str
) -> None:
    """A worker with large text set on the phone: the money boxes, the face value, the member
    card's number, the badges and the header wrap inside 320 px instead of running off it."""
    from gonghui.benefits.services import voucher_grab

    base = live_server.url
    small_phone.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": base}]
    )
    campaign = make_campaign(min_purchase_fen=10000)
    other = make_campaign(name="五月书香")
    member = carded()
    voucher = voucher_grab(campaign=other, member=member).voucher
    assert voucher is not None
    page = _sign_in(small_phone, base, member)
    for path in (
        "/m/",
        "/m/benefits/",
        f"/m/benefits/campaigns/{campaign.pk}/",
        "/m/benefits/vouchers/",
        f"/m/benefits/vouchers/{voucher.pk}/",
    ):
        page.goto(base + path)
        page.evaluate(DOUBLE_TEXT)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= SMALL["width"], (
            f"{path} is {width}px wide: {page.evaluate(OFF_SCREEN, SMALL['width'])}"
        )


def test_the_phones_own_text_size_is_honoured(
    live_server: Any, small_phone: Any, make_campaign: Any, carded: Any
) -> None:
    """A browser set to twice the default text size (32 px where the default is 16): the pages'
    text grows with it (fonts are in rem, not fixed pixels) and still fits a 320 px phone. With
    ``font-size: 15px`` on the body the setting changed nothing."""
    base = live_server.url
    campaign = make_campaign()
    member = carded()
    page = _sign_in(small_phone, base, member)
    body_size = "parseFloat(getComputedStyle(document.body).fontSize)"
    page.goto(f"{base}/m/benefits/campaigns/{campaign.pk}/")
    default = page.evaluate(body_size)
    assert default == 15

    cdp = small_phone.new_cdp_session(page)
    cdp.send("Page.enable")
    cdp.send("Page.setFontSizes", {"fontSizes": {"standard": 32, "fixed": 26}})
    for path in ("/m/", "/m/benefits/", f"/m/benefits/campaigns/{campaign.pk}/", "/m/login/"):
        page.goto(base + path)
        assert page.evaluate(body_size) == 2 * default, path
        inputs = page.evaluate(
            "[...document.querySelectorAll('input:not([type=hidden])')]"
            ".map(e => parseFloat(getComputedStyle(e).fontSize))"
        )
        assert all(size >= 32 for size in inputs), (path, inputs)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= SMALL["width"], (
            f"{path} is {width}px wide: {page.evaluate(OFF_SCREEN, SMALL['width'])}"
        )


# --- tap targets ----------------------------------------------------------------------------------

# The header's links and buttons and the pages' navigation (the two big tabs, the voucher tabs,
# the way back): what a thumb aims at on every member page.
TAP_TARGETS = (
    "header a, header button, header select, .b-nav a, .b-tabs a, a.b-back, a.b-big, button.b-big"
)


def _tap_targets_fit(page: Any, viewport: dict[str, int]) -> int:
    """Every tap target is at least 44×44 px and nothing is wider than the screen."""
    boxes = page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)]
             .filter(e => e.offsetParent !== null)
             .map(e => { const r = e.getBoundingClientRect();
                         return {what: e.outerHTML.slice(0, 80), width: r.width,
                                 height: r.height, right: r.right}; })""",
        TAP_TARGETS,
    )
    small = [b for b in boxes if b["width"] < 44 or b["height"] < 44]
    assert not small, f"{page.url} at {viewport['width']}px: under 44×44: {small}"
    outside = [b for b in boxes if b["right"] > viewport["width"]]
    assert not outside, f"{page.url} at {viewport['width']}px: off the screen: {outside}"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], f"{page.url} is {width}px wide on a {viewport}px phone"
    return len(boxes)


@pytest.mark.parametrize("viewport", [SMALL, {"width": 360, "height": 640}])
@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_every_tap_target_is_44_px_and_nothing_overflows(
    live_server: Any,
    chromium: Any,
    make_campaign: Any,
    carded: Any,
    screenshot: Any,
    viewport: dict[str, int],
    language: str,
) -> None:
    """The header's "vouchers" link was 23 px high and "sign out" 33 px: a thumb on a cheap
    phone hit the brand or nothing. In English (the longest labels) as in Chinese."""
    base = live_server.url
    context = chromium.new_context(
        viewport=viewport, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    context.set_default_timeout(15_000)
    try:
        context.add_cookies([{"name": "django_language", "value": language, "url": base}])
        signed_out = context.new_page()
        signed_out.goto(f"{base}/m/login/")
        assert _tap_targets_fit(signed_out, viewport) >= 1  # the brand
        signed_out.close()

        campaign = make_campaign(name="四月芳菲")
        # A long name (a member's name can run to ten characters and more) stays in the header.
        member = carded(name="阿卜杜热合曼·买买提艾力")
        voucher = Voucher.objects.get(pk=_grab(campaign, member))
        page = _sign_in(context, base, member)
        for path in (
            "/m/",
            "/m/benefits/",
            f"/m/benefits/campaigns/{campaign.pk}/",
            "/m/benefits/vouchers/",
            f"/m/benefits/vouchers/{voucher.pk}/",
            f"/m/benefits/vouchers/{voucher.pk + 1000}/",  # the member pages' "not found"
        ):
            page.goto(f"{base}{path}")
            # brand, vouchers, sign out; on the voucher pages their two tabs too
            assert page.locator("header a, header button").count() == 3, path
            _tap_targets_fit(page, viewport)
        screenshot(page, f"member-header-{viewport['width']}-{language}")
    finally:
        context.close()


def _grab(campaign: Campaign, member: Member) -> int:
    from gonghui.benefits.services import voucher_grab

    result = voucher_grab(campaign=campaign, member=member, request_key="setup")
    assert result.voucher is not None, result
    return result.voucher.pk


# --- the grab's answer in the page's language -------------------------------------------------------


def test_the_grab_answers_in_english_on_an_english_page(
    live_server: Any, small_phone: Any, make_campaign: Any, carded: Any
) -> None:
    """The grab's fetch sends no cookies, so not the language cookie: a member who chose English
    read the sold-out answer in Chinese. The page names its language on the request."""
    base = live_server.url
    campaign = make_campaign(quota=1)
    page = _sign_in(small_phone, base, carded())
    # The member switches to English with the language switch (the public pages have one).
    page.goto(f"{base}/public/")
    with page.expect_navigation():
        page.select_option("form.lang select[name=language]", "en")
    page.goto(f"{base}/m/benefits/campaigns/{campaign.pk}/")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.inner_text("form[data-grab] button") == "Get the voucher"

    assert _grab(campaign, carded()) > 0  # someone else takes the last one meanwhile
    sent: list[dict[str, str]] = []
    page.on(
        "request",
        lambda r: sent.append(r.all_headers()) if r.url.endswith("/grab") else None,
    )
    page.locator("form[data-grab] button").tap()
    answer = page.locator("[data-grab-answer]")
    answer.wait_for()
    assert answer.inner_text() == "All vouchers have been taken."
    assert page.inner_text("form[data-grab] button") == "Sold out"
    assert page.locator("form[data-grab] button").is_disabled()
    # Still no cookies on the hot path: the language travels in the request's own header.
    assert len(sent) == 1 and sent[0].get("accept-language") == "en"
    assert "cookie" not in sent[0]
    _fits(page)
    assert Voucher.objects.filter(campaign=campaign).count() == 1


# --- the public lottery proof on a phone ------------------------------------------------------------


@pytest.mark.parametrize("viewport", [SMALL, {"width": 360, "height": 640}])
def test_the_public_lottery_proof_fits_a_phone(
    live_server: Any,
    chromium: Any,
    world: Any,
    make_campaign: Any,
    carded: Any,
    screenshot: Any,
    viewport: dict[str, int],
) -> None:
    """The member's "rules and how to check" link opens the public proof: its 64-character hash
    and seed did not wrap, so the page was 865 px wide on a 360 px phone and the hash was cut
    off. Now every character of both is on the screen, and the program scrolls in its own box."""
    from gonghui.benefits.services import (
        campaign_schedule,
        lottery_commit_seed,
        lottery_draw,
        lottery_register,
    )

    now = timezone.now()
    lottery = make_campaign(
        status="draft",
        distribution="lottery",
        quota=2,
        release_at=now - dt.timedelta(hours=1),
        registration_closes_at=now + dt.timedelta(hours=1),
    )
    lottery_commit_seed(campaign=lottery, actor=world.jiefang_officer)
    campaign_schedule(campaign=lottery, actor=world.jiefang_officer)
    for _ in range(3):
        lottery_register(campaign=lottery, member=carded())
    lottery_draw(
        campaign=lottery,
        actor=world.jiefang_officer,
        now=lottery.registration_closes_at + dt.timedelta(seconds=1),
    )
    lottery.refresh_from_db()
    context = chromium.new_context(
        viewport=viewport, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/public/campaigns/{lottery.pk}/")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"{width}px wide on a {viewport['width']}px phone"
        for selector, text in (("#seed-hash", lottery.seed_hash), ("#seed", lottery.seed)):
            code = page.locator(selector)
            assert code.inner_text().replace("\n", "") == text
            box = code.bounding_box()
            assert box is not None and box["x"] >= 0
            assert box["x"] + box["width"] <= viewport["width"], (selector, box)
        snippet = page.locator("#verify-snippet").bounding_box()
        assert snippet is not None and snippet["x"] + snippet["width"] <= viewport["width"]
        switch = page.locator("header form.lang select").bounding_box()
        assert switch is not None and switch["height"] >= 44
        screenshot(page, f"public-lottery-proof-{viewport['width']}")
        # the public list's link to this proof is thumb-sized too (it was 18 px high)
        page.goto(f"{live_server.url}/public/")
        link = page.locator(f'a.tap[href$="/public/campaigns/{lottery.pk}/#proof"]').bounding_box()
        assert link is not None and link["height"] >= 44
    finally:
        context.close()


def test_grab_without_script_is_post_redirect_get(
    live_server: Any, chromium: Any, make_campaign: Any, carded: Any, screenshot: Any
) -> None:
    """Script blocked (an old WebView, a strict setting): the form posts, the answer comes by a
    redirect, and a reload or the back button fetches pages by GET: no "resubmit the form?", no
    second grab."""
    base = live_server.url
    context = chromium.new_context(
        viewport=SMALL, is_mobile=True, has_touch=True, locale="zh-CN", java_script_enabled=False
    )
    context.set_default_timeout(15_000)
    try:
        sold_out = make_campaign(name="已抢光活动", quota=1)
        campaign = make_campaign(name="四月芳菲")
        member = carded(name="王晓红")
        page = _sign_in(context, base, member)
        posts: list[str] = []
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)

        page.goto(f"{base}/m/benefits/campaigns/{campaign.pk}/")
        page.locator("form[data-grab] button").tap()
        page.wait_for_url(re.compile(r"/m/benefits/vouchers/\d+/$"))
        voucher = Voucher.objects.get(campaign=campaign, member=member)
        assert page.url == f"{base}/m/benefits/vouchers/{voucher.pk}/"
        assert page.locator("[data-qr] svg").is_visible()
        with translation.override("zh-hans"):
            got, sold = gettext("You got a voucher."), gettext("Sold out.")
        assert page.locator(".messages li.success").inner_text() == got
        screenshot(page, "member-grab-no-script-won")
        page.reload()
        page.go_back()  # the campaign page: its voucher, no button
        assert page.url == f"{base}/m/benefits/campaigns/{campaign.pk}/"
        page.locator(f"#action a[href='/m/benefits/vouchers/{voucher.pk}/']").wait_for()
        assert page.locator("form[data-grab]").count() == 0
        page.go_forward()
        page.reload()
        assert page.url == f"{base}/m/benefits/vouchers/{voucher.pk}/"
        assert posts == [f"{base}/m/benefits/campaigns/{campaign.pk}/grab/"]
        assert Voucher.objects.filter(member=member).count() == 1

        # A refusal: its own page by GET; reloaded, the campaign page says where things stand.
        page.goto(f"{base}/m/benefits/campaigns/{sold_out.pk}/")
        from gonghui.benefits.services import voucher_grab

        assert voucher_grab(campaign=sold_out, member=carded()).ok  # the last one went meanwhile
        page.locator("form[data-grab] button").tap()
        result = f"{base}/m/benefits/campaigns/{sold_out.pk}/grab/"
        page.wait_for_url(result)
        assert page.locator('[data-outcome="sold_out"]').inner_text().count(sold) == 1
        screenshot(page, "member-grab-no-script-sold-out")
        page.reload()
        assert page.url == f"{base}/m/benefits/campaigns/{sold_out.pk}/"
        assert page.locator("[data-sold-out]").is_visible()
        assert posts == [f"{base}/m/benefits/campaigns/{campaign.pk}/grab/", result]
        assert Voucher.objects.filter(member=member).count() == 1
        assert Voucher.objects.count() == 2
    finally:
        context.close()
