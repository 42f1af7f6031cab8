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


def _bookshop(world: World) -> tuple[Any, Any]:
    """A county bookshop with one store, for the console's campaign forms."""
    merchant = merchant_create(
        actor=world.jiefang_officer,
        org=world.jiefang,
        name="解放路书店",
        settlement_account_name="解放路书店有限公司",
        settlement_bank="中原银行焦作分行",
        settlement_account_no="410000123456789012",
    )
    return merchant, store_create(actor=None, merchant=merchant, name="解放路门店")


def test_campaign_form_names_every_mistake_and_keeps_lines(
    live_server: Any, world: World, chromium: Any, screenshot: Any
) -> None:
    merchant, store = _bookshop(world)
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
            "(%(a)s + %(b)s + %(c)s ≠ %(f)s yuan)."
        ) % {"a": "68.00", "b": "10.00", "c": "21.00", "f": "100.00"}
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


def _open_campaign_with_vouchers(world: World, *, name: str, held: int) -> Campaign:
    from gonghui.benefits.services import campaign_create, campaign_transition, voucher_grab
    from gonghui.benefits.tests.conftest import ZHONGYUAN_CARD, campaign_fields
    from gonghui.members.services import member_card_set
    from gonghui.members.tests.factories import MemberFactory

    merchant, store = _bookshop(world)
    campaign = campaign_create(
        actor=world.jiefang_officer,
        org=world.jiefang,
        merchant=merchant,
        stores=[store],
        **campaign_fields(name=name, quota=10),
    )
    for new in ("scheduled", "open"):
        campaign_transition(campaign=campaign, new=new, actor=world.jiefang_officer)
    for i in range(held):
        member = MemberFactory(org=world.jiefang_base)
        member_card_set(actor=None, member=member, card_number=ZHONGYUAN_CARD[:-4] + f"{i:04d}")
        assert voucher_grab(campaign=campaign, member=member).voucher is not None
    campaign.refresh_from_db()
    return campaign


def test_cancel_asks_first_and_dismissing_changes_nothing(
    live_server: Any, world: World, desktop: Any, screenshot: Any
) -> None:
    from gonghui.benefits.models import CampaignStatus, CampaignStatusChange, Voucher

    campaign = _open_campaign_with_vouchers(world, name="夏日读书券", held=2)
    page = desktop
    sign_in(page, live_server.url, "jiefang_staff")
    page.goto(f"{live_server.url}{reverse('benefits_console:detail', args=[campaign.pk])}")
    page.fill("#cancel-form textarea[name=reason]", "书店装修，活动取消")
    asked: list[str] = []

    def dismiss(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.locator("#cancel-form button[type=submit]").click()
    page.wait_for_timeout(500)
    assert len(asked) == 1 and "2" in asked[0], asked  # names the vouchers members hold
    assert page.url.endswith(reverse("benefits_console:detail", args=[campaign.pk]))
    assert page.input_value("#cancel-form textarea[name=reason]") == "书店装修，活动取消"
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.OPEN
    assert not CampaignStatusChange.objects.filter(campaign=campaign, new="cancelled").exists()
    assert set(Voucher.objects.filter(campaign=campaign).values_list("status", flat=True)) == {
        "open"
    }

    def accept(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    with page.expect_navigation():
        page.locator("#cancel-form button[type=submit]").click()
    screenshot(page, "campaign-cancelled")
    assert len(asked) == 2
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED
    assert set(Voucher.objects.filter(campaign=campaign).values_list("status", flat=True)) == {
        "cancelled"
    }
    assert page.locator("#campaign-status").inner_text() == zh("Cancelled")


def test_schedule_asks_first(live_server: Any, world: World, desktop: Any) -> None:
    from gonghui.benefits.models import CampaignStatus

    campaign = _open_campaign_with_vouchers(world, name="秋日读书券", held=0)
    campaign.__class__.objects.filter(pk=campaign.pk).update(status=CampaignStatus.DRAFT)
    page = desktop
    sign_in(page, live_server.url, "jiefang_staff")
    page.goto(f"{live_server.url}{reverse('benefits_console:detail', args=[campaign.pk])}")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.locator("form[action$='/schedule/'] button").click()
    page.wait_for_timeout(500)
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_list_keeps_badges_whole_beside_a_long_name(
    live_server: Any, world: World, desktop: Any, screenshot: Any
) -> None:
    """1280px wide: a 100-character name wraps (at most three lines, the rest in its title);
    the status badge, the kind, the time and the figures stay on one line each."""
    long_name = ("二〇二六年焦作市解放区总工会职工读书月暨四月芳菲全民阅读惠民购书券" * 4)[:100]
    _open_campaign_with_vouchers(world, name=long_name, held=0)
    page = desktop
    sign_in(page, live_server.url, "jiefang_staff")
    page.goto(f"{live_server.url}{reverse('benefits_console:list')}")
    screenshot(page, "campaign-list-long-name")
    row = page.locator("#campaigns tbody tr").first
    line = page.evaluate("parseFloat(getComputedStyle(document.body).lineHeight) || 24")
    badge = row.locator(".badge").bounding_box()
    assert badge is not None and badge["height"] < line * 1.5, (badge, line)
    for cell in row.locator("td.nowrap").all():
        box = cell.bounding_box()
        assert box is not None and box["height"] < line * 4  # the row's height, not a column
        assert cell.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    time_cell = row.locator("td.nowrap").nth(2)
    assert "\n" not in time_cell.inner_text()
    name = row.locator("td.long-name a")
    assert name.get_attribute("title") == long_name
    name_box = name.bounding_box()
    assert name_box is not None and name_box["height"] <= line * 3.5  # three lines at most
    # nothing sticks out of the page sideways
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
