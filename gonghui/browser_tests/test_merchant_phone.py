"""The bookstore clerk on a cheap phone (360×640): the typed-code path with the keyboard a hand
scanner or a thumb gives it, a phone without a camera, a camera the clerk refused, and a page
left open past its sign-in."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import Error

from gonghui.benefits.models import Redemption
from gonghui.benefits.services import voucher_grab
from gonghui.browser_tests.conftest import CHROMIUM, CHROMIUM_ARGS
from gonghui.conftest import World
from gonghui.demo.benefits import DemoBenefits, demo_benefits_load
from gonghui.demo.loader import DEMO_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHEAP_PHONE = {
    "viewport": {"width": 360, "height": 640},
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
}


@pytest.fixture
def demo(world: World) -> DemoBenefits:
    return demo_benefits_load(
        city=world.city, member_phone=world.jiefang_member.phone, password=DEMO_PASSWORD
    )


@pytest.fixture
def till(chromium: Any) -> Iterator[Any]:
    """A 360px phone with no camera at all."""
    context = chromium.new_context(**CHEAP_PHONE)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def _sign_in(page: Any, base: str) -> None:
    # Signed in without asking for a page: a clerk lands on the redeem page.
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", "bookstore_clerk")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(f"{base}/merchant/")


def _fits(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"page is {width}px wide on a 360px phone"


def _errors(page: Any) -> dict[str, str]:
    return dict(
        page.eval_on_selector_all(
            "[data-error-for]", "els => els.map(e => [e.dataset.errorFor, e.textContent])"
        )
    )


def _zh(text: str) -> str:
    with translation.override("zh-hans"):
        return gettext(text)


def _focused(page: Any) -> str:
    return str(page.evaluate("document.activeElement.name"))


def test_the_typed_code_path_on_a_cheap_phone(
    live_server: Any, world: World, demo: DemoBenefits, till: Any, screenshot: Any
) -> None:
    voucher = voucher_grab(campaign=demo.campaign, member=world.jiefang_member).voucher
    assert voucher is not None
    base = live_server.url
    sent: list[str] = []
    till.on("request", lambda r: sent.append(r.url) if "/benefits/redeem" in r.url else None)
    _sign_in(till, base)
    _fits(till)
    # No camera on this phone: no button that can only fail.
    till.wait_for_function("() => document.getElementById('camera').hidden")
    # Redeem pressed on an empty form: every missing field named at once, nothing sent.
    till.locator("#redeem-submit").tap()
    assert _errors(till) == {
        "code": _zh("Scan or enter the voucher code."),
        "receipt_no": _zh("Enter the receipt number."),
        "amount": _zh("Enter an amount in yuan, e.g. 68 or 68.50."),
    }
    assert _focused(till) == "code" and sent == []
    _fits(till)
    screenshot(till, "merchant-360-empty")
    # A hand scanner types the code and ends with Enter: the cursor moves on, nothing is sent.
    till.locator("input[name=code]").fill(voucher.code)
    till.keyboard.press("Enter")
    assert _focused(till) == "receipt_no" and sent == []
    assert set(_errors(till)) == {"receipt_no", "amount"}  # the corrected field's error went
    till.keyboard.type("XH-0001")
    till.keyboard.press("Enter")
    assert _focused(till) == "amount" and sent == []
    assert set(_errors(till)) == {"amount"}
    till.keyboard.type("１２。５")  # full-width digits and the Chinese keyboard's point
    with till.expect_response(lambda r: "/benefits/redeem" in r.url):
        till.keyboard.press("Enter")
    # The demo's book voucher needs a purchase of ¥100: said at the amount, nothing redeemed.
    refusal = till.locator("[data-error-for=amount]")
    refusal.wait_for()
    assert "100.00" in refusal.inner_text() and "12.50" in refusal.inner_text()
    assert not Redemption.objects.filter(voucher=voucher).exists()
    assert till.input_value("input[name=code]") != ""  # what was typed stays
    till.locator("input[name=amount]").fill("１２８。５")
    with till.expect_response(lambda r: "/benefits/redeem" in r.url):
        till.locator("input[name=amount]").press("Enter")
    till.locator("#scan-result .mc-ok").wait_for()
    redemption = Redemption.objects.get(voucher=voucher)
    assert (redemption.receipt_no, redemption.amount_fen) == ("XH-0001", 12850)
    assert len(sent) == 2
    # Cleared for the next customer, the cursor back in the code field.
    assert till.input_value("input[name=code]") == "" and _focused(till) == "code"
    # The same code on another sale: where and when it was used.
    till.locator("input[name=code]").fill(voucher.code)
    till.locator("input[name=receipt_no]").fill("XH-0002")
    till.locator("input[name=amount]").fill("128.5")
    till.locator("#redeem-submit").tap()
    till.locator("#scan-result .mc-no").wait_for()
    answer = till.inner_text("#scan-result")
    assert "XH-0001" in answer and "塔南路图书大厦" in answer
    assert till.input_value("input[name=code]") == voucher.code  # what was typed stays
    _fits(till)
    screenshot(till, "merchant-360-used")
    for url in ("/merchant/redemptions/", f"/merchant/redemptions/{redemption.pk}/"):
        till.goto(f"{base}{url}")
        _fits(till)
    assert "XH-0001" in till.inner_text("body")


def test_a_press_whose_answer_was_lost_is_recognised_when_pressed_again(
    live_server: Any, world: World, demo: DemoBenefits, till: Any, screenshot: Any
) -> None:
    """The line drops after the scan reached the server: the clerk is told nothing came back
    and presses again. The answer is the first redemption, in green, with what to collect;
    not a red "already used" that makes the customer look like a cheat."""
    voucher = voucher_grab(campaign=demo.campaign, member=world.jiefang_member).voucher
    assert voucher is not None
    _sign_in(till, live_server.url)
    till.locator("input[name=code]").fill(voucher.code)
    till.locator("input[name=receipt_no]").fill("XH-0007")
    till.locator("input[name=amount]").fill("1,280")

    def lost(route: Any) -> None:
        route.fetch()  # the server redeems…
        route.abort("internetdisconnected")  # …and its answer never arrives

    till.route("**/benefits/redeem", lost)
    till.locator("#redeem-submit").tap()
    till.locator("#scan-result .mc-no").wait_for()
    assert till.input_value("input[name=code]") == voucher.code  # kept for the second press
    till.unroute("**/benefits/redeem")
    with till.expect_response(lambda r: "/benefits/redeem" in r.url):
        till.locator("#redeem-submit").tap()
    till.locator("#scan-result .mc-ok").wait_for()
    answer = till.inner_text("#scan-result")
    redemption = Redemption.objects.get(voucher=voucher)
    with translation.override("zh-hans"):
        repeat = gettext(
            "Your earlier press at %(t)s went through; its answer was lost on the way. "
            "Nothing more was redeemed."
        ).split("%(t)s")[0]
    assert repeat in answer and "XH-0007" in answer
    assert "¥1,190.00" in answer  # what to collect: ¥1,180 beyond the voucher and the ¥10 share
    assert till.input_value("input[name=code]") == ""  # cleared for the next customer
    assert Redemption.objects.filter(voucher=voucher).count() == 1
    assert redemption.amount_fen == 128000
    _fits(till)
    screenshot(till, "merchant-360-repeated")


def test_a_refused_camera_says_how_to_allow_it(
    live_server: Any, demo: DemoBenefits, chromium: Any
) -> None:
    # The phone has a camera, but the clerk said no when the browser asked.
    browser = chromium.browser_type.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=[*CHROMIUM_ARGS, "--use-fake-device-for-media-stream"],
    )
    try:
        context = browser.new_context(**CHEAP_PHONE)
        context.set_default_timeout(15_000)
        page = context.new_page()
        _sign_in(page, live_server.url)
        page.locator("#camera-start").wait_for(state="visible")
        page.locator("#camera-start").tap()
        # Not the "no camera here" of a phone without one: how to let the camera in.
        page.wait_for_function(
            "starting => !['', starting].includes("
            "document.getElementById('camera-status').textContent)",
            arg=_zh("Starting the camera…"),
        )
        status = page.inner_text("#camera-status")
        assert status != _zh("The camera is not available; type the code instead."), status
        assert page.locator("#camera-video").is_hidden()
        assert page.locator("#camera-start").is_enabled()  # may try again once allowed
        assert _focused(page) == "code"  # and meanwhile type the code
    finally:
        browser.close()


def test_a_page_left_open_past_its_sign_in_offers_a_reload(
    live_server: Any, world: World, demo: DemoBenefits, till: Any
) -> None:
    voucher = voucher_grab(campaign=demo.campaign, member=world.jiefang_member).voucher
    assert voucher is not None
    _sign_in(till, live_server.url)
    # The clerk's password was changed elsewhere since the page was opened: its ticket is dead.
    demo.clerk.user.set_password("Another-pass-2026")
    demo.clerk.user.save()
    till.locator("input[name=code]").fill(voucher.code)
    till.locator("input[name=receipt_no]").fill("XH-9")
    till.locator("input[name=amount]").fill("100")
    till.locator("#redeem-submit").tap()
    link = till.locator("#scan-result .mc-no a")
    link.wait_for()
    assert _zh("Your sign-in has expired; reload the page and sign in again.") in till.inner_text(
        "#scan-result"
    )
    assert link.get_attribute("href") == f"{live_server.url}/merchant/"
    assert till.input_value("input[name=code]") == voucher.code
    assert not Redemption.objects.filter(voucher=voucher).exists()
    # The reload asks for the sign-in (the session went with the password); back on the page
    # after it, the sale typed before is there again, not lost to the sign-in.
    link.tap()
    till.wait_for_url("**/accounts/login/**")
    till.fill("input[name=username]", "bookstore_clerk")
    till.fill("input[name=password]", "Another-pass-2026")
    till.locator("form button[type=submit]").last.click()
    till.wait_for_url(f"{live_server.url}/merchant/")
    assert till.input_value("input[name=code]") == voucher.code
    assert till.input_value("input[name=receipt_no]") == "XH-9"
    assert till.input_value("input[name=amount]") == "100"
    assert _zh("What you typed before signing in again is back; press Redeem.") in (
        till.inner_text("#scan-result")
    )
    with till.expect_response(lambda r: "/benefits/redeem" in r.url):
        till.locator("#redeem-submit").tap()
    till.locator("#scan-result .mc-ok").wait_for()
    assert Redemption.objects.filter(voucher=voucher).count() == 1
    # Kept once: the next visit starts empty.
    till.reload()
    assert till.input_value("input[name=code]") == ""


def test_the_clerks_links_and_buttons_are_thumb_sized(
    live_server: Any, world: World, demo: DemoBenefits, till: Any
) -> None:
    """ "Recent" in the header was 60×23 px and "Today" 30×23: a thumb hit the brand or nothing."""
    base = live_server.url
    _sign_in(till, base)
    for path in ("/merchant/", "/merchant/redemptions/"):
        till.goto(f"{base}{path}")
        boxes = till.evaluate(
            """() => [...document.querySelectorAll(
                    'header a, header button, .mc-search a, .mc-pages a')]
                 .filter(e => e.offsetParent !== null)
                 .map(e => { const r = e.getBoundingClientRect();
                             return {what: e.textContent.trim(), width: r.width,
                                     height: r.height, right: r.right}; })"""
        )
        assert len(boxes) >= (3 if path == "/merchant/" else 4), boxes
        small = [b for b in boxes if b["width"] < 44 or b["height"] < 44]
        assert not small, f"{path}: under 44×44: {small}"
        assert all(b["right"] <= 360 for b in boxes), boxes
        _fits(till)


SLOW_3G = {
    "offline": False,
    "latency": 400,
    "downloadThroughput": 50 * 1024,
    "uploadThroughput": 20 * 1024,
}


def _slow_line(page: Any) -> None:
    """The till's bad connection (Chromium's own throttling): an answer takes a while, so a
    second press lands while the first is on its way."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", SLOW_3G)


def _double_tap(page: Any, selector: str) -> None:
    """Two taps on one button, as a thumb on a slow line gives them: the second lands while the
    first press's request is on its way."""
    button = page.locator(selector)
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    with page.expect_request(lambda r: r.method == "POST"):
        page.touchscreen.tap(x, y)
    page.touchscreen.tap(x, y)  # the first press is on its way


def test_a_reversal_pressed_twice_is_sent_once(
    live_server: Any, world: World, demo: DemoBenefits, till: Any
) -> None:
    from gonghui.benefits.services import voucher_redeem

    voucher = voucher_grab(campaign=demo.campaign, member=world.jiefang_member).voucher
    assert voucher is not None
    redemption = voucher_redeem(
        code=voucher.code, store=demo.store, clerk=demo.clerk, receipt_no="XH-3", amount_fen=12000
    )
    _sign_in(till, live_server.url)
    till.goto(f"{live_server.url}/merchant/redemptions/{redemption.pk}/")
    posts: list[str] = []
    till.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    till.fill("input[name=reason]", "顾客退货")
    _slow_line(till)
    _double_tap(till, "form[action$='/reverse/'] button")
    till.locator("[data-reversed]").wait_for()
    assert len(posts) == 1, posts
    assert _zh("The redemption was reversed; the voucher can be used again.") in till.inner_text(
        "main"
    )


def _settlement_files(tmp_path: Any, world: World, demo: DemoBenefits) -> tuple[str, str]:
    """A register of the demo campaign's redemptions (one made here) and an invoice."""
    from gonghui.benefits.services import voucher_redeem
    from gonghui.benefits.tests.pages_helpers import PDF, register_xlsx, rows_for

    voucher = voucher_grab(campaign=demo.campaign, member=world.jiefang_member).voucher
    assert voucher is not None
    voucher_redeem(
        code=voucher.code, store=demo.store, clerk=demo.clerk, receipt_no="XH-1", amount_fen=12000
    )
    rows = rows_for(list(Redemption.objects.filter(voucher__campaign=demo.campaign)))
    register, invoice = tmp_path / "登记表.xlsx", tmp_path / "发票.pdf"
    register.write_bytes(register_xlsx(rows))
    invoice.write_bytes(PDF)
    return str(register), str(invoice)


def _choose(page: Any, demo: DemoBenefits, register: str, invoice: str) -> str:
    section = f"#settle-{demo.campaign.pk}-{demo.store.pk}"
    page.set_input_files(f"{section} input[name=register]", register)
    page.set_input_files(f"{section} input[name=invoice]", invoice)
    return section


def test_the_register_pressed_twice_on_a_slow_line_is_handed_in_once(
    live_server: Any, world: World, demo: DemoBenefits, till: Any, tmp_path: Any
) -> None:
    from gonghui.benefits.models import Settlement

    register, invoice = _settlement_files(tmp_path, world, demo)
    _sign_in(till, live_server.url)
    till.goto(f"{live_server.url}/merchant/settlement/")
    section = _choose(till, demo, register, invoice)
    posts: list[str] = []
    till.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    _slow_line(till)
    _double_tap(till, f"{section} form button[type=submit]")
    till.locator(".messages .success").wait_for(timeout=60_000)  # a slow line
    assert len([p for p in posts if "/upload/" in p]) == 1, posts
    assert Settlement.objects.filter(campaign=demo.campaign, store=demo.store).count() == 1


def test_a_register_chosen_after_the_sign_in_ran_out_is_kept(
    live_server: Any, world: World, demo: DemoBenefits, till: Any, tmp_path: Any
) -> None:
    """The supervisor opened the page, went to fetch the invoice, and came back after the
    sign-in had run out. Hand in does not lose the chosen files to the sign-in page: it says
    so, and once signed in again (in another tab) the same press hands them in."""
    from gonghui.benefits.models import Settlement

    register, invoice = _settlement_files(tmp_path, world, demo)
    base = live_server.url
    _sign_in(till, base)
    till.goto(f"{base}/merchant/settlement/")
    section = _choose(till, demo, register, invoice)
    till.context.clear_cookies(name="sessionid")  # the session ran out meanwhile
    posts: list[str] = []
    till.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    till.locator(f"{section} form button[type=submit]").tap()
    note = till.locator(f"{section} [data-upload-status] .mc-no")
    note.wait_for()
    assert (
        _zh(
            "Your sign-in has expired. Sign in again in the new tab this link opens, then come "
            "back and press the button again; the chosen files are still here."
        )
        in note.inner_text()
    )
    assert posts == [] and till.url.startswith(f"{base}/merchant/settlement/")
    chosen = till.eval_on_selector(f"{section} input[name=register]", "i => i.files.length")
    assert chosen == 1
    # Signed in again in another tab, as the note's link offers.
    link = note.locator("a")
    assert link.get_attribute("target") == "_blank"
    other = till.context.new_page()
    other.goto(f"{base}{link.get_attribute('href')}")
    other.fill("input[name=username]", "bookstore_clerk")
    other.fill("input[name=password]", DEMO_PASSWORD)
    other.locator("form button[type=submit]").last.click()
    other.wait_for_url(f"{base}/merchant/**")
    other.close()
    till.locator(f"{section} form button[type=submit]").tap()
    till.locator(".messages .success").wait_for()
    assert Settlement.objects.filter(campaign=demo.campaign, store=demo.store).count() == 1


def test_a_register_over_the_limit_is_named_before_it_is_sent(
    live_server: Any, world: World, demo: DemoBenefits, till: Any, tmp_path: Any
) -> None:
    """Minutes of sending on a slow line for the server to refuse the size: said at once."""
    from gonghui.benefits.settlement import MAX_REGISTER_BYTES

    register, invoice = _settlement_files(tmp_path, world, demo)
    with open(register, "ab") as f:
        f.truncate(MAX_REGISTER_BYTES + 1)
    _sign_in(till, live_server.url)
    till.goto(f"{live_server.url}/merchant/settlement/")
    section = _choose(till, demo, register, invoice)
    posts: list[str] = []
    till.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    till.locator(f"{section} form button[type=submit]").tap()
    note = till.locator(f"{section} [data-upload-status] .mc-no")
    note.wait_for()
    assert note.inner_text() == _zh("The register file is too large.")
    assert posts == [] and till.locator(f"{section} form button[type=submit]").is_enabled()


def test_a_scan_that_hangs_on_a_dead_line_gives_the_button_back(
    live_server: Any, world: World, demo: DemoBenefits, till: Any
) -> None:
    """A connection that neither answers nor fails (a phone between cells) held the button
    greyed out for as long as the browser waited. The page stops waiting, says nothing came
    back, keeps the sale, and a second press is safe (the same sale is recognised)."""
    voucher = voucher_grab(campaign=demo.campaign, member=world.jiefang_member).voucher
    assert voucher is not None
    _sign_in(till, live_server.url)
    # How long the page waits: shortened here so the test does not wait the real half minute.
    till.eval_on_selector("#redeem-form", "f => { f.dataset.waitMs = '300'; }")
    held: list[Any] = []
    line_dead = [True]

    def dead_line(route: Any) -> None:
        # While the line is dead nothing is answered; once it is back every scan goes through.
        # Decided by the line, not by which request comes first: on a busy machine the page may
        # give up on its first scan before that request ever reaches this handler.
        if line_dead[0]:
            held.append(route)
            return
        # A first request reaching here only now was given up by the page: it cannot go on.
        with contextlib.suppress(Error):
            route.continue_()

    till.route("**/benefits/redeem", dead_line)
    till.locator("input[name=code]").fill(voucher.code)
    till.locator("input[name=receipt_no]").fill("XH-8")
    till.locator("input[name=amount]").fill("100")
    till.locator("#redeem-submit").tap()
    till.locator("#scan-result .mc-no").wait_for()
    assert till.locator("#redeem-submit").is_enabled()
    assert till.input_value("input[name=code]") == voucher.code
    line_dead[0] = False
    with till.expect_response(lambda r: "/benefits/redeem" in r.url, timeout=60_000):
        till.locator("#redeem-submit").tap()
    till.locator("#scan-result .mc-ok").wait_for()
    assert Redemption.objects.filter(voucher=voucher).count() == 1
