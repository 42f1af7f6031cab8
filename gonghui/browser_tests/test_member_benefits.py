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
from django.utils import timezone

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
