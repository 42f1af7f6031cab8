"""The member's phone: join a union by its QR code at 390×844."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from gonghui.conftest import World
from gonghui.core import crypto
from gonghui.members.models import JoinApplication, WorkerCategory
from gonghui.members.tests.factories import make_id_number

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_join_by_qr_on_a_phone(live_server: Any, world: World, phone: Any, screenshot: Any) -> None:
    page = phone
    number = make_id_number(region="410802", seq=8201, female=True)
    url = f"{live_server.url}{reverse('mobile:join', args=[world.jiefang_base.join_token])}"
    page.goto(url)
    assert world.jiefang_base.name in page.inner_text("body")
    # Usable at 390 px: nothing wider than the screen.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"page is {width}px wide on a 390px phone"
    screenshot(page, "join-form")
    page.fill("input[name=name]", "扫码测试")
    # Typed as a phone keyboard might: full-width digits and a space.
    full_width = number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    page.fill("input[name=id_number]", f"{full_width[:6]} {full_width[6:]}")
    page.fill("input[name=phone]", "13712345678")
    page.fill("input[name=employer]", "焦作市解放区某某商贸有限公司")
    page.select_option("select[name=category]", WorkerCategory.EMPLOYEE.value)
    page.check("input[name=consent]")
    page.locator("main form button[type=submit]").tap()
    page.wait_for_url(f"{url}submitted/")
    body = page.inner_text("body")
    # English source text until the zh-hans catalogue is compiled; Chinese after.
    assert any(word in body for word in ("waiting for approval", "等待", "审核", "审批")), body
    application = JoinApplication.objects.get()
    assert application.status == "pending" and application.org == world.jiefang_base
    assert crypto.decrypt(application.id_number_enc) == number
    assert number not in body  # the page never echoes the identity number
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "join-done")
