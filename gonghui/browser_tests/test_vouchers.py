"""The voucher on a phone: a member signs in, grabs, sees the QR; a clerk redeems it by the code
read back from the screenshot of that QR; the member then sees the voucher as used."""

from __future__ import annotations

import re
from typing import Any

import pytest
import zxingcpp
from PIL import Image

from gonghui.benefits.models import Redemption, Voucher
from gonghui.conftest import World
from gonghui.demo.benefits import demo_benefits_load
from gonghui.demo.loader import DEMO_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CODE = "246810"


def _narrow(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"page is {width}px wide on a 390px phone"


def test_grab_show_qr_redeem_used(
    live_server: Any,
    world: World,
    chromium: Any,
    phone: Any,
    screenshot: Any,
    settings: Any,
    tmp_path: Any,
) -> None:
    member = world.jiefang_member
    settings.GONGHUI_DEMO_MEMBER_PHONE = member.phone
    settings.GONGHUI_DEMO_MEMBER_CODE = CODE
    demo = demo_benefits_load(city=world.city, member_phone=member.phone, password=DEMO_PASSWORD)
    campaign = demo.campaign
    base = live_server.url

    # --- the member, on a phone ---------------------------------------------------------------
    page = phone
    page.goto(f"{base}/m/benefits/")
    assert "/m/login/" in page.url  # not signed in: sent to sign in
    page.fill("input[name=phone]", member.phone)
    page.locator("form button[type=submit]").first.tap()
    page.fill("input[name=code]", CODE)
    page.locator("form button[type=submit]").first.tap()
    page.wait_for_url(f"{base}/m/benefits/")  # back where the member was going
    page.locator(f"a[href='/m/benefits/campaigns/{campaign.pk}/']").first.tap()
    page.wait_for_url(f"{base}/m/benefits/campaigns/{campaign.pk}/")
    body = page.inner_text("body")
    assert "四月芳菲" in body and "¥10.00" in body and "¥68.00" in body and "¥22.00" in body
    assert page.locator("[data-eligibility=ok]").count() == 1
    _narrow(page)
    screenshot(page, "voucher-campaign")
    # The tap goes to the hot endpoint with the page's grab ticket; the voucher's page follows.
    page.locator("form[data-grab] button").tap()
    page.wait_for_url(re.compile(r".*/m/benefits/vouchers/\d+/$"))
    voucher = Voucher.objects.get(campaign=campaign, member=member)
    assert page.url == f"{base}/m/benefits/vouchers/{voucher.pk}/"
    qr = page.locator("[data-qr] svg")
    assert qr.is_visible()
    box = qr.bounding_box()
    assert box is not None and box["width"] >= 200  # big enough to scan from a phone
    _narrow(page)
    screenshot(page, "voucher-qr")
    shot = tmp_path / "qr.png"
    qr.screenshot(path=str(shot))
    decoded = [r.text for r in zxingcpp.read_barcodes(Image.open(shot))]
    assert decoded == [voucher.code]
    # Under the QR the code is 15 digits in groups of five, for the clerk to type if need be.
    shown = page.inner_text("[data-code]").strip()
    assert re.fullmatch(r"\d{5} \d{5} \d{5}", shown) and shown.replace(" ", "") == voucher.code

    # --- the clerk, on another phone --------------------------------------------------------
    context = chromium.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    context.set_default_timeout(15_000)
    till = context.new_page()
    try:
        till.goto(f"{base}/merchant/")
        assert "/accounts/login/" in till.url
        till.fill("input[name=username]", "bookstore_clerk")
        till.fill("input[name=password]", DEMO_PASSWORD)
        till.locator("form button[type=submit]").last.tap()
        till.wait_for_url(f"{base}/merchant/")
        # This phone has no camera, so no scan button (test_camera.py scans with one); the code
        # is typed.
        assert till.locator("#camera-start").is_hidden()
        _narrow(till)
        screenshot(till, "merchant-redeem")
        # The clerk types what the member's screen shows, groups and all; the number pad opens.
        assert till.get_attribute("input[name=code]", "inputmode") == "numeric"
        till.fill("input[name=code]", shown)
        till.fill("input[name=receipt_no]", "XH-0424-001")
        till.fill("input[name=amount]", "126.80")
        till.locator("#redeem-form button[type=submit]").tap()
        # The page redeems in place (scan ticket, no reload) and clears the form for the next
        # customer; the answer links to the redemption.
        done = till.locator("#scan-result .mc-ok")
        done.wait_for()
        assert "XH-0424-001" in done.inner_text() and "¥126.80" in done.inner_text()
        # It names the campaign and the voucher, and what the member pays with the union card.
        assert "四月芳菲" in done.inner_text() and "¥100.00" in done.inner_text()
        assert "¥10.00" in done.inner_text()
        assert till.input_value("input[name=code]") == ""
        assert till.input_value("input[name=receipt_no]") == ""
        redemption = Redemption.objects.get(voucher=voucher)
        screenshot(till, "merchant-redeemed-inline")
        # The same code again: the refusal replaces the success line, nothing changes.
        till.fill("input[name=code]", decoded[0])
        till.fill("input[name=receipt_no]", "XH-0424-002")
        till.fill("input[name=amount]", "50")
        till.locator("#redeem-form button[type=submit]").tap()
        refusal = till.locator("#scan-result .mc-no")
        refusal.wait_for()
        # It says where and on which receipt: the clerk's own first sale.
        assert "XH-0424-001" in refusal.inner_text() and "塔南路图书大厦" in refusal.inner_text()
        assert till.input_value("input[name=receipt_no]") == "XH-0424-002"  # what was typed stays
        assert Redemption.objects.filter(voucher=voucher).count() == 1
        assert till.locator("#scan-result .mc-ok").count() == 0
        # A bad amount is shown next to its field.
        till.fill("input[name=amount]", "12.345")
        till.locator("#redeem-form button[type=submit]").tap()
        till.locator("[data-error-for=amount]").wait_for()
        assert "元" in till.inner_text("[data-error-for=amount]")
        till.goto(f"{base}/merchant/redemptions/{redemption.pk}/")
        assert redemption.amount_fen == 12680 and redemption.subsidy_fen == 6800
        text = till.inner_text("body")
        assert "四月芳菲" in text and "¥68.00" in text and "王*明" in text and "王小明" not in text
        _narrow(till)
        screenshot(till, "merchant-redeemed")
        # End of the shift: today's redemptions, and what they come to.
        till.goto(f"{base}/merchant/redemptions/")
        till.locator("[data-today]").tap()
        till.wait_for_url(re.compile(r".*/merchant/redemptions/\?day=\d{4}-\d{2}-\d{2}$"))
        assert till.locator(f"[data-redemption='{redemption.pk}']").count() == 1
        totals = till.inner_text("[data-totals]")
        assert "已核销 1 张券" in totals and "¥68.00" in totals and "¥10.00" in totals
        _narrow(till)
    finally:
        context.close()

    # --- the member sees it used ---------------------------------------------------------------
    page.reload()
    assert page.locator("[data-state=used]").count() == 1
    assert page.locator("[data-qr] svg").count() == 0
    screenshot(page, "voucher-used")
    page.goto(f"{base}/m/benefits/vouchers/")
    assert (
        page.locator(f"a[href='/m/benefits/vouchers/{voucher.pk}/'][data-state=used]").count() == 1
    )
