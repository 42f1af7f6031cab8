"""The union clerk's campaign form in a real browser (1366×768): every wrong field is named on
the first submit with what was typed kept, and multi-line terms typed with Enter (sent by the
browser as CR LF) are saved as lines, not refused as control characters."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from gonghui.benefits.models import MAX_QUOTA, Campaign
from gonghui.benefits.services import merchant_create, store_create
from gonghui.browser_tests.test_staff import sign_in
from gonghui.conftest import World

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def zh(message: str) -> str:
    with translation.override("zh-hans"):
        return gettext(message)


def _local(value: dt.datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


def _field_text(page: Any, name: str) -> str:
    return str(page.inner_text(f"#field-{name}"))


def test_campaign_form_names_every_mistake_and_keeps_lines(
    live_server: Any, world: World, chromium: Any, screenshot: Any
) -> None:
    merchant = merchant_create(
        actor=world.jiefang_officer,
        org=world.jiefang,
        name="解放路书店",
        settlement_account_name="解放路书店有限公司",
        settlement_bank="中原银行焦作分行",
        settlement_account_no="410000123456789012",
    )
    store = store_create(actor=None, merchant=merchant, name="解放路门店")
    context = chromium.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        sign_in(page, live_server.url, "jiefang_staff")
        page.goto(f"{live_server.url}{reverse('benefits_console:new')}")
        now = timezone.now()
        page.fill("#id_name", "夏日读书券")
        page.select_option("#id_org", str(world.jiefang.pk))
        page.select_option("#id_merchant", str(merchant.pk))
        page.check(f"input[name=stores][value='{store.pk}']")
        page.fill("#id_face_value", "１００")  # full-width digits, as a Chinese keyboard types
        page.fill("#id_subsidy", "68")
        page.fill("#id_member_share", "10")
        page.fill("#id_concession", "21")  # does not add up
        page.fill("#id_quota", "0")  # out of range
        page.fill("#id_release_at", _local(now + dt.timedelta(days=1)))
        page.fill("#id_redeem_from", _local(now + dt.timedelta(days=2)))
        page.fill("#id_redeem_until", _local(now + dt.timedelta(days=16)))
        page.fill("#id_terms", "每人限领一张。\n过期作废。")
        page.fill("#id_notice_days", "99")  # out of range
        with page.expect_navigation():
            page.locator("form[novalidate] button[type=submit]").click()
        screenshot(page, "campaign-form-errors")
        split = zh(
            "Subsidy, member share and concession must add up to the face value "
            "(%(a)d + %(b)d + %(c)d ≠ %(f)d fen)."
        ) % {"a": 6800, "b": 1000, "c": 2100, "f": 10000}
        assert split in _field_text(page, "subsidy")
        quota = zh("The number of vouchers must be between 1 and %(n)d.") % {"n": MAX_QUOTA}
        assert quota in _field_text(page, "quota")
        assert zh("The public notice runs 1 to 60 days.") in _field_text(page, "notice_days")
        # the lines typed with Enter are no mistake, and everything typed is still there
        assert page.locator("#field-terms .errorlist").count() == 0
        assert page.input_value("#id_terms") == "每人限领一张。\n过期作废。"
        assert page.input_value("#id_concession") == "21"
        assert page.is_checked(f"input[name=stores][value='{store.pk}']")
        assert Campaign.objects.count() == 0

        page.fill("#id_concession", "22")
        page.fill("#id_quota", "500")
        page.fill("#id_notice_days", "5")
        with page.expect_navigation():
            page.locator("form[novalidate] button[type=submit]").click()
        campaign = Campaign.objects.get()
        assert page.url.endswith(reverse("benefits_console:detail", args=[campaign.pk]))
        assert campaign.terms == "每人限领一张。\n过期作废。"
        assert campaign.face_value_fen == 10000
        terms_row = page.locator("table.facts tr", has_text=zh("Terms")).inner_text()
        assert "每人限领一张。\n过期作废。" in terms_row
    finally:
        context.close()
