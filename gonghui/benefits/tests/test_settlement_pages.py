"""The console's settlement pages as the approver reads them: the register template refused
untouched, headings named."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from gonghui.benefits.models import Settlement
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
