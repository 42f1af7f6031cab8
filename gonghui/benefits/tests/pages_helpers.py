"""Helpers shared by the console, public and admin page tests of benefits."""

from __future__ import annotations

import datetime as dt
import html
import io
from typing import Any

from django.test import Client
from django.utils import timezone, translation
from django.utils.translation import gettext
from openpyxl import Workbook

from gonghui.benefits.models import Campaign, Redemption
from gonghui.benefits.services import voucher_grab, voucher_redeem
from gonghui.benefits.settlement import REGISTER_HEADERS

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
CAMPAIGN_NAME = "四月芳菲购书券"


def zh(message: str) -> str:
    """A message as the (Chinese by default) pages show it."""
    with translation.override("zh-hans"):
        return gettext(message)


def clients(world: Any, shop: Any, login: Any) -> dict[str, Client]:
    """One signed-in client per kind of visitor the permission matrices try."""
    return {
        "city_admin": login(world.city_admin),
        "jiefang_staff": login(world.jiefang_officer),
        "jiefang_viewer": login(world.jiefang_viewer),
        "zhongzhan_staff": login(world.zhongzhan_officer),
        "member": login(member=world.jiefang_member),
        "anonymous": Client(),
        "clerk": login(shop.clerk.user),
    }


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


def local(value: dt.datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


def campaign_post(shop: Any, world: Any, **overrides: Any) -> dict[str, Any]:
    now = timezone.now()
    data: dict[str, Any] = {
        "name": CAMPAIGN_NAME,
        "distribution": "grab",
        "org": world.jiefang.pk,
        "merchant": shop.merchant.pk,
        "stores": [shop.store.pk],
        "face_value": "100",
        "subsidy": "68",
        "member_share": "10",
        "concession": "22",
        "quota": "2000",
        "per_member_limit": "1",
        "eligible_org": "",
        "require_member_card": "on",
        "card_banks": [],
        "categories": [],
        "release_at": local(now + dt.timedelta(days=1)),
        "registration_closes_at": "",
        "redeem_from": local(now + dt.timedelta(days=2)),
        "redeem_until": local(now + dt.timedelta(days=16)),
        "excluded_goods": "特价书、教材教辅",
        "terms": "每人限领一张。",
        "notice_days": "5",
    }
    data.update(overrides)
    return data


def register_xlsx(rows: list[tuple[str, str, str]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(REGISTER_HEADERS)
    for code, receipt, amount in rows:
        ws.append([code, receipt, amount, "2026-04-24 10:00"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def redeem_some(campaign: Campaign, members: list[Any], shop: Any, *, amount: int = 12850) -> list:
    """Each member grabs a voucher of ``campaign`` and redeems it at the shop's store."""
    out = []
    for i, member in enumerate(members):
        result = voucher_grab(campaign=campaign, member=member)
        assert result.voucher is not None, result
        out.append(
            voucher_redeem(
                code=result.voucher.code,
                store=shop.store,
                clerk=shop.clerk,
                receipt_no=f"R-{i:04d}",
                amount_fen=amount,
            )
        )
    return out


def upload(client: Client, campaign: Campaign, store: Any, register: Any, invoice: Any) -> Any:
    from django.urls import reverse

    data: dict[str, Any] = {}
    if register is not None:
        data["register"] = register
    if invoice is not None:
        data["invoice"] = invoice
    return client.post(
        reverse("benefits_console:settlement_upload", args=[campaign.pk, store.pk]), data
    )


def rows_for(redemptions: list[Redemption]) -> list[tuple[str, str, str]]:
    return [
        (r.voucher.code, r.receipt_no, f"{r.amount_fen // 100}.{r.amount_fen % 100:02d}")
        for r in redemptions
    ]
