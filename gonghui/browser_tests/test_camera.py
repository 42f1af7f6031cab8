"""The merchant page reads a voucher's QR code from the camera.

Chromium's fake camera plays a Y4M video of the voucher's QR code (made here with segno, as the
member's page draws it). Chromium on Linux has no ``BarcodeDetector``, so this is the path of
Safari on an iPhone too: the page loads the vendored jsQR only when the clerk starts the camera.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import segno
from PIL import Image

from gonghui.benefits.models import Redemption
from gonghui.benefits.services import voucher_grab
from gonghui.browser_tests.conftest import CHROMIUM, CHROMIUM_ARGS
from gonghui.conftest import World
from gonghui.demo.benefits import demo_benefits_load
from gonghui.demo.loader import DEMO_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH, HEIGHT = 640, 480


def _qr_video(text: str, path: Path, frames: int = 5) -> Path:
    """A Y4M file (4:2:0, full range) whose frames show ``text`` as a QR code on white paper."""
    qr = segno.make(text, error="m", micro=False)  # as the page draws it (a short code of digits
    # would otherwise fit a Micro QR, which phone decoders do not read)
    side = 8 * qr.symbol_size(scale=1, border=4)[0]
    image = Image.new("L", (WIDTH, HEIGHT), 255)
    png = io.BytesIO()
    qr.save(png, kind="png", scale=8, border=4)
    code = Image.open(png).convert("L")
    assert code.size == (side, side) and side <= HEIGHT
    image.paste(code, ((WIDTH - side) // 2, (HEIGHT - side) // 2))
    luma = image.tobytes()
    chroma = bytes([128]) * (WIDTH // 2 * HEIGHT // 2)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + luma + chroma + chroma)
    return path


def _sign_in_clerk(page: Any, base: str) -> None:
    """The demo's bookstore clerk signs in and lands on the merchant page."""
    page.goto(f"{base}/accounts/login/?next=/merchant/")
    page.fill("input[name=username]", "bookstore_clerk")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(f"{base}/merchant/")


@pytest.fixture
def camera_browser(chromium: Any, tmp_path: Path) -> Any:
    """Launch a Chromium whose camera shows the video ``load(text)`` writes, granted at once."""
    launched: list[Any] = []

    def load(text: str) -> Any:
        video = _qr_video(text, tmp_path / "qr.y4m")
        browser = chromium.browser_type.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                *CHROMIUM_ARGS,
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={video}",
            ],
        )
        launched.append(browser)
        return browser

    yield load
    for browser in launched:
        browser.close()


def test_the_clerk_scans_the_voucher_with_the_camera(
    live_server: Any, world: World, camera_browser: Any, screenshot: Any
) -> None:
    demo = demo_benefits_load(
        city=world.city, member_phone=world.jiefang_member.phone, password=DEMO_PASSWORD
    )
    voucher = voucher_grab(campaign=demo.campaign, member=world.jiefang_member).voucher
    assert voucher is not None
    browser = camera_browser(voucher.code)
    base = live_server.url
    # localhost is a secure context, as HTTPS is in production: the camera may be asked for.
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    context.grant_permissions(["camera"], origin=base)
    context.set_default_timeout(20_000)
    till = context.new_page()
    decoder_requests: list[str] = []
    till.on("request", lambda r: decoder_requests.append(r.url) if "jsQR" in r.url else None)
    try:
        _sign_in_clerk(till, base)
        assert till.evaluate("'BarcodeDetector' in window") is False  # the jsQR path
        till.locator("#camera").wait_for(state="visible")  # shown once a camera is listed
        assert decoder_requests == []  # nothing extra on a page load
        till.locator("#camera-start").tap()
        till.wait_for_function(
            "code => document.querySelector('input[name=code]').value === code", arg=voucher.code
        )
        assert len(decoder_requests) == 1
        status = till.inner_text("#camera-status")
        assert "已识别" in status or "小票" in status, status
        assert till.locator("#camera-video").is_hidden()  # the camera is off again
        # The receipt field has the focus: the clerk types on.
        assert till.evaluate("document.activeElement.name") == "receipt_no"
        screenshot(till, "merchant-camera-read")
        till.fill("input[name=receipt_no]", "XH-CAM-001")
        till.fill("input[name=amount]", "188")
        till.locator("#redeem-form button[type=submit]").tap()
        till.locator("#scan-result .mc-ok").wait_for()
        redemption = Redemption.objects.get(voucher=voucher)
        assert (redemption.receipt_no, redemption.amount_fen) == ("XH-CAM-001", 18800)
    finally:
        context.close()


def test_without_a_camera_the_code_is_typed(live_server: Any, world: World, chromium: Any) -> None:
    # No camera here: the page offers no scan button that could only fail, and the code field
    # is ready for typing. (A camera the clerk refused: test_merchant_phone.py.)
    demo_benefits_load(
        city=world.city, member_phone=world.jiefang_member.phone, password=DEMO_PASSWORD
    )
    base = live_server.url
    context = chromium.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    context.set_default_timeout(15_000)
    till = context.new_page()
    try:
        _sign_in_clerk(till, base)
        till.wait_for_function(
            "() => navigator.mediaDevices.enumerateDevices().then("
            "ds => ds.every(d => d.kind !== 'videoinput'))"
        )
        till.wait_for_function("() => document.getElementById('camera').hidden")
        assert till.locator("#camera-start").is_hidden()
        assert till.locator("input[name=code]").is_editable()
    finally:
        context.close()
