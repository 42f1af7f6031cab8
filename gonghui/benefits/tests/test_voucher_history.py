"""A voucher's status history: the platform's reasons are codes, said in the reader's language;
what a person typed is kept and shown as typed."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.db import IntegrityError, transaction
from django.urls import reverse

from gonghui.benefits.models import (
    VoucherChangeReason,
    VoucherStatus,
    VoucherStatusChange,
)
from gonghui.benefits.services import (
    campaign_cancel,
    redemption_reverse,
    voucher_grab,
    voucher_redeem,
    vouchers_expire,
)
from gonghui.benefits.tests.pages_helpers import text, zh

MIGRATION = importlib.import_module("gonghui.benefits.migrations.0007_voucher_change_reason_code")


@pytest.mark.parametrize(
    ("reason", "new", "expected"),
    [
        ("window ended", "expired", ("window_ended", "")),
        # a campaign's cancellation: the code, and the manager's words as typed
        ("书店装修", "cancelled", ("campaign_cancelled", "书店装修")),
        ("window ended", "cancelled", ("campaign_cancelled", "window ended")),
        ("", "cancelled", ("campaign_cancelled", "")),
        # what a person typed stays as typed, even where it reads like the clock
        ("window ended", "open", ("", "window ended")),
        ("收银员扫错了", "open", ("", "收银员扫错了")),
        ("Window ended", "expired", ("", "Window ended")),
        ("window ended ", "expired", ("", "window ended ")),
        ("ｗｉｎｄｏｗ ｅｎｄｅｄ", "expired", ("", "ｗｉｎｄｏｗ ｅｎｄｅｄ")),
        ("<script>alert(1)</script>", "open", ("", "<script>alert(1)</script>")),
        ("x" * 300, "open", ("", "x" * 300)),
        ("", "used", ("", "")),
        ("", "expired", ("", "")),
    ],
)
def test_old_reasons_map_to_codes(reason: str, new: str, expected: tuple[str, str]) -> None:
    assert MIGRATION.reason_from_legacy(reason, new) == expected


@pytest.mark.parametrize(
    ("code", "reason", "expected"),
    [
        ("window_ended", "", "window ended"),
        ("campaign_cancelled", "书店装修", "书店装修"),
        ("campaign_cancelled", "", ""),
        ("", "收银员扫错了", "收银员扫错了"),
        ("", "", ""),
    ],
)
def test_codes_map_back_to_old_reasons(code: str, reason: str, expected: str) -> None:
    assert MIGRATION.legacy_from_reason(code, reason) == expected


def test_every_code_has_a_way_back_from_old_rows() -> None:
    assert set(VoucherChangeReason.values) == set(MIGRATION.LEGACY_REASONS.values()) | {
        MIGRATION.CAMPAIGN_CANCELLED
    }


def test_the_data_step_agrees_with_the_mapping(
    world: Any, shop: Any, make_campaign: Any, carded: Any
) -> None:
    v = voucher_grab(campaign=make_campaign(), member=carded()).voucher
    cases = [
        ("window ended", "expired"),
        ("Window ended", "expired"),
        ("书店装修", "cancelled"),
        ("", "cancelled"),
        ("window ended", "open"),
        ("", "used"),
    ]
    rows = [
        VoucherStatusChange.objects.create(voucher=v, old="x", new=new, reason=reason)
        for reason, new in cases
    ]
    MIGRATION.forwards(django_apps, None)
    got = [
        tuple(VoucherStatusChange.objects.filter(pk=r.pk).values_list("reason_code", "reason")[0])
        for r in rows
    ]
    assert got == [MIGRATION.reason_from_legacy(reason, new) for reason, new in cases]
    MIGRATION.forwards(django_apps, None)  # a second run changes nothing
    assert got == [
        tuple(VoucherStatusChange.objects.filter(pk=r.pk).values_list("reason_code", "reason")[0])
        for r in rows
    ]
    MIGRATION.backwards(django_apps, None)
    assert [VoucherStatusChange.objects.get(pk=r.pk).reason for r in rows] == [
        reason for reason, _new in cases
    ]


def test_a_reason_code_must_be_known(world: Any, make_campaign: Any, carded: Any) -> None:
    v = voucher_grab(campaign=make_campaign(), member=carded()).voucher
    for bad in ("window ended", "WINDOW_ENDED", "bogus"):
        with pytest.raises(IntegrityError), transaction.atomic():
            VoucherStatusChange.objects.create(voucher=v, old="open", new="x", reason_code=bad)


def test_admin_history_says_the_platforms_reason_in_words_and_a_typed_one_as_typed(
    world: Any, shop: Any, login: Any, make_campaign: Any, carded: Any
) -> None:
    """The clock's old English ("window ended") is gone from the page; a supervisor who types the
    same words gets them shown as typed, never looked up."""
    campaign = make_campaign()
    used = voucher_grab(campaign=campaign, member=carded()).voucher
    r = voucher_redeem(
        code=used.code, store=shop.store, clerk=shop.clerk, receipt_no="R1", amount_fen=100
    )
    redemption_reverse(redemption=r, supervisor=shop.supervisor, reason="window ended 扫错了")
    expired = voucher_grab(campaign=campaign, member=carded()).voucher
    assert vouchers_expire(now=campaign.redeem_until) == 2  # both open vouchers expire
    client = login(world.jiefang_officer)

    def history(voucher: Any) -> str:
        response = client.get(reverse("admin:benefits_voucher_change", args=[voucher.pk]))
        assert response.status_code == 200
        return response.content.decode()

    page = history(used)
    assert "window ended 扫错了" in page  # the supervisor's words, as typed
    assert zh("The redemption window ended.") in page  # then the clock, in words
    assert [(c.new, c.reason_code, c.reason) for c in used.status_changes.order_by("at", "id")] == [
        (VoucherStatus.USED, "", ""),
        (VoucherStatus.OPEN, "", "window ended 扫错了"),
        (VoucherStatus.EXPIRED, VoucherChangeReason.WINDOW_ENDED, ""),
    ]
    page = history(expired)
    assert zh("The redemption window ended.") in page
    assert "window_ended" not in page and ">window ended<" not in page
    # The columns and the states are words in the reader's language, not field names and codes.
    for heading in ("at", "status before", "status after", "changed by"):
        assert zh(heading) != heading and zh(heading) in page
    assert zh("Not yet used") in page and zh("Expired") in page
    assert ">expired<" not in page and ">open<" not in page
    # A typed reason is text: markup in it is shown, not run.
    VoucherStatusChange.objects.create(
        voucher=expired, old="x", new="y", reason="<b>收银台</b> & “引号”"
    )
    page = history(expired)
    assert "&lt;b&gt;收银台&lt;/b&gt; &amp; “引号”" in page and "<b>收银台</b>" not in page
    assert "<b>收银台</b> & “引号”" in text(
        client.get(reverse("admin:benefits_voucher_change", args=[expired.pk]))
    )


def test_a_cancelled_campaigns_vouchers_say_why_and_keep_the_managers_words(
    world: Any, shop: Any, login: Any, make_campaign: Any, carded: Any
) -> None:
    campaign = make_campaign()
    v = voucher_grab(campaign=campaign, member=carded()).voucher
    campaign_cancel(campaign=campaign, actor=world.jiefang_officer, reason="window ended")
    change = v.status_changes.get()
    assert (change.reason_code, change.reason) == (
        VoucherChangeReason.CAMPAIGN_CANCELLED,
        "window ended",
    )
    page = (
        login(world.jiefang_officer)
        .get(reverse("admin:benefits_voucher_change", args=[v.pk]))
        .content.decode()
    )
    assert zh("The campaign was cancelled.") in page and "window ended" in page
    assert zh("The redemption window ended.") not in page
