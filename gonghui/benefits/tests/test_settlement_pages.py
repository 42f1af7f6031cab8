"""The console's settlement pages as the approver reads them: figures worked out as our records
stand, the register template refused untouched, headings named, receipt differences shown."""

from __future__ import annotations

import html
import io
import re
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from gonghui.benefits.models import CampaignStatus, Settlement, SettlementStatus
from gonghui.benefits.services import campaign_transition, redemption_reverse
from gonghui.benefits.settlement import RECONCILE_LABELS
from gonghui.benefits.tests.pages_helpers import (
    PDF,
    redeem_some,
    register_xlsx,
    rows_for,
    text,
    upload,
    zh,
)


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    cache.clear()


def figure(body: str, id_: str) -> str:
    match = re.search(rf'id="{id_}">([^<]*)<', body)
    assert match, id_
    return match.group(1)


def store_row(body: str, store_pk: int) -> list[str]:
    """The number cells of a store's row on the campaign's settlement page."""
    row = body.split(f'id="store-{store_pk}"')[1].split("</tr>")[0]
    return re.findall(r'<td class="num">([^<]*)</td>', row)


def sheet(headers: list[Any], rows: list[tuple[Any, ...]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(headers)
    for row in rows:
        ws.append(list(row))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# ------------------------------------------------------------------ figures as they stand


def test_after_a_reversal_the_pages_show_what_approval_would_accept(
    world: Any, shop: Any, login: Any, make_campaign: Any, carded: Any
) -> None:
    """QA's case: the register misses one of five redemptions, which is then reversed. The pages
    showed the upload's "only in our records 1" and 340.00 payable; the campaign pays 272.00."""
    campaign = make_campaign(quota=10)
    redemptions = redeem_some(campaign, [carded() for _ in range(5)], shop)
    client = login(world.jiefang_officer)
    response = upload(
        client,
        campaign,
        shop.store,
        SimpleUploadedFile("r.xlsx", register_xlsx(rows_for(redemptions[:4]))),
        SimpleUploadedFile("i.pdf", PDF),
    )
    assert response.status_code == 302
    settlement = Settlement.objects.get()
    detail = reverse("benefits_console:settlement_detail", args=[settlement.pk])
    overview = reverse("benefits_console:settlement", args=[campaign.pk])
    body = client.get(detail).content.decode()
    assert (figure(body, "n-missing-register"), figure(body, "payable")) == ("1", "340.00")

    redemption_reverse(redemption=redemptions[4], supervisor=shop.supervisor, reason="扫错了")
    body = client.get(detail).content.decode()
    assert [
        figure(body, id_)
        for id_ in (
            "n-matched",
            "n-missing-register",
            "n-missing-platform",
            "n-amount",
            "n-receipt",
            "payable",
        )
    ] == ["4", "0", "0", "0", "0", "272.00"]
    assert 'id="figures-live"' in body
    assert redemptions[4].voucher.code not in body  # the table agrees with the figures
    # The campaign's page: our records, then the comparison, by the same live figures.
    assert store_row(client.get(overview).content.decode(), shop.store.pk) == [
        "4",
        "272.00",
        "4",
        "0",
        "0",
        "0",
        "0",
    ]
    # A register line whose redemption is reversed is now only in the register.
    redemption_reverse(redemption=redemptions[0], supervisor=shop.supervisor, reason="退货")
    body = client.get(detail).content.decode()
    assert [figure(body, i) for i in ("n-matched", "n-missing-platform", "payable")] == [
        "3",
        "1",
        "204.00",
    ]
    assert store_row(client.get(overview).content.decode(), shop.store.pk)[2:5] == ["3", "0", "1"]
    # What was shown is what approval stores (a difference now: it asks for a reason).
    campaign_transition(campaign=campaign, new=CampaignStatus.CLOSED, actor=world.jiefang_officer)
    url = reverse("benefits_console:settlement_approve", args=[settlement.pk])
    assert client.post(url, {"reason": "门店已确认退货"}).status_code == 302
    settlement.refresh_from_db()
    assert settlement.status == SettlementStatus.APPROVED
    assert (settlement.matched, settlement.missing_in_platform, settlement.payable_fen) == (
        3,
        1,
        20400,
    )
    body = client.get(detail).content.decode()
    assert figure(body, "payable") == "204.00" and 'id="figures-live"' not in body


# ------------------------------------------------------------------ the untouched template


def test_the_template_as_served_is_refused_and_changes_nothing(
    world: Any, shop: Any, login: Any, make_campaign: Any, carded: Any
) -> None:
    campaign = make_campaign(quota=5)
    redemptions = redeem_some(campaign, [carded()], shop)
    client = login(world.jiefang_officer)
    upload(
        client,
        campaign,
        shop.store,
        SimpleUploadedFile("r.xlsx", register_xlsx(rows_for(redemptions))),
        SimpleUploadedFile("i.pdf", PDF),
    )
    before = list(Settlement.objects.values_list("pk", "status", "rows"))
    template = client.get(reverse("benefits_console:register_template", args=[campaign.pk]))
    assert template.status_code == 200
    response = upload(
        client,
        campaign,
        shop.store,
        SimpleUploadedFile("登记表.xlsx", template.content),
        SimpleUploadedFile("i.pdf", PDF),
    )
    assert response.status_code == 400
    errors = text(response).split('id="upload-errors"')[1]
    assert (
        zh("The register has no rows (the example row is ignored). Fill it in and upload it again.")
        in errors
    )
    assert list(Settlement.objects.values_list("pk", "status", "rows")) == before


# ------------------------------------------------------------------ headings


def test_full_width_headings_are_accepted(
    world: Any, shop: Any, login: Any, make_campaign: Any, carded: Any
) -> None:
    campaign = make_campaign(quota=5)
    redemptions = redeem_some(campaign, [carded()], shop)
    register = sheet(["券码", "小票号", "消费金额（元）", "核销时间"], rows_for(redemptions))
    response = upload(
        login(world.jiefang_officer),
        campaign,
        shop.store,
        SimpleUploadedFile("r.xlsx", register),
        SimpleUploadedFile("i.pdf", PDF),
    )
    assert response.status_code == 302
    assert Settlement.objects.get().matched == 1


def test_a_wrong_heading_is_named_on_the_page(
    world: Any, shop: Any, login: Any, make_campaign: Any, carded: Any
) -> None:
    campaign = make_campaign(quota=5)
    redemptions = redeem_some(campaign, [carded()], shop)
    client = login(world.jiefang_officer)
    for heading in ("金额", "<b>金额</b>"):
        register = sheet(["券码", "小票号", heading, "核销时间"], rows_for(redemptions))
        response = upload(
            client,
            campaign,
            shop.store,
            SimpleUploadedFile("r.xlsx", register),
            SimpleUploadedFile("i.pdf", PDF),
        )
        assert response.status_code == 400
        message = zh("Column %(column)s should be headed “%(expected)s”; it is “%(found)s”.") % {
            "column": "C",
            "expected": "消费金额(元)",
            "found": heading,
        }
        assert message in text(response).split('id="upload-errors"')[1]
        assert "<b>金额" not in response.content.decode()
    assert Settlement.objects.count() == 0


# ------------------------------------------------------------------ receipts


def test_a_receipt_difference_is_shown_counted_and_approved_with_a_reason(
    world: Any, shop: Any, login: Any, make_campaign: Any, carded: Any
) -> None:
    campaign = make_campaign(quota=5)
    redemptions = redeem_some(campaign, [carded(), carded()], shop)
    rows = rows_for(redemptions)
    rows[1] = (rows[1][0], "R-7777", rows[1][2])  # same code and amount, another receipt
    client = login(world.jiefang_officer)
    upload(
        client,
        campaign,
        shop.store,
        SimpleUploadedFile("r.xlsx", register_xlsx(rows)),
        SimpleUploadedFile("i.pdf", PDF),
    )
    settlement = Settlement.objects.get()
    detail = reverse("benefits_console:settlement_detail", args=[settlement.pk])
    body = client.get(detail).content.decode()
    assert [figure(body, i) for i in ("n-matched", "n-receipt", "payable")] == ["1", "1", "136.00"]
    line = body.split(f"<code>{redemptions[1].voucher.code}</code>")[1].split("</tr>")[0]
    assert str(RECONCILE_LABELS["receipt_differs"]) in html.unescape(line)
    assert '<td class="differs">R-7777</td>' in line
    assert f'<td class="differs">{redemptions[1].receipt_no}</td>' in line
    overview = client.get(reverse("benefits_console:settlement", args=[campaign.pk]))
    assert store_row(overview.content.decode(), shop.store.pk)[2:] == ["1", "0", "0", "0", "1"]
    # Approval: the subsidy is paid on our records, but not without the approver's word.
    campaign_transition(campaign=campaign, new=CampaignStatus.CLOSED, actor=world.jiefang_officer)
    body = text(client.get(detail))
    assert 'id="differences-warning"' in body and 'name="reason"' in body
    url = reverse("benefits_console:settlement_approve", args=[settlement.pk])
    response = client.post(url, {"reason": ""})
    assert response.status_code == 400
    assert zh("The register and our records differ; say why you approve anyway.") in text(response)
    settlement.refresh_from_db()
    assert settlement.status == SettlementStatus.RECONCILED
    assert client.post(url, {"reason": "门店抄错小票号，已核对原始小票"}).status_code == 302
    settlement.refresh_from_db()
    assert (settlement.status, settlement.receipt_differences, settlement.payable_fen) == (
        SettlementStatus.APPROVED,
        1,
        2 * 6800,
    )
