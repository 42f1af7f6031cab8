"""The merchant's settlement page under /merchant/settlement/: the register template, the store's
register and invoice handed in by a supervisor, and how it compares with the union's records."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from gonghui.benefits.models import CampaignStatus, Settlement, SettlementStatus
from gonghui.benefits.services import campaign_transition
from gonghui.benefits.settlement import REGISTER_HEADERS, settlement_approve
from gonghui.benefits.tests.pages_helpers import (
    PDF,
    redeem_some,
    register_xlsx,
    rows_for,
    text,
    zh,
)

PAGE = "/merchant/settlement/"


@pytest.fixture
def used(world: Any, shop: Any, make_campaign: Any, carded: Any) -> dict[str, Any]:
    """A campaign whose three vouchers were used at the shop's store, now closed."""
    campaign = make_campaign()
    redemptions = redeem_some(campaign, [carded() for _ in range(3)], shop)
    campaign_transition(campaign=campaign, new=CampaignStatus.CLOSED, actor=None)
    return {"campaign": campaign, "redemptions": redemptions}


def upload_url(campaign: Any, store: Any) -> str:
    return reverse("merchant:settlement_upload", args=[campaign.pk, store.pk])


def files(rows: list[tuple[str, str, str]], *, invoice: bytes = PDF) -> dict[str, Any]:
    return {
        "register": SimpleUploadedFile("登记表.xlsx", register_xlsx(rows)),
        "invoice": SimpleUploadedFile("发票.pdf", invoice),
    }


def test_a_supervisor_hands_in_the_register_and_sees_the_comparison(
    world: Any, shop: Any, login: Any, used: dict[str, Any]
) -> None:
    campaign, redemptions = used["campaign"], used["redemptions"]
    boss = login(shop.supervisor.user)
    page = text(boss.get(PAGE))
    assert campaign.name in page and zh("No register handed in yet.") in page
    template = boss.get(reverse("merchant:register_template"))
    assert template.status_code == 200
    heads = next(load_workbook(io.BytesIO(template.content)).active.iter_rows(values_only=True))
    assert list(heads) == REGISTER_HEADERS
    rows = rows_for(redemptions)
    rows[1] = (rows[1][0], rows[1][1], "1.00")  # an amount the store got wrong
    r = boss.post(upload_url(campaign, shop.store), files(rows[:2]))
    assert r.status_code == 302
    assert r["Location"] == f"{PAGE}#settle-{campaign.pk}-{shop.store.pk}"
    settlement = Settlement.objects.get()
    assert settlement.status == SettlementStatus.RECONCILED
    assert settlement.uploaded_by_label == f"clerk:{shop.supervisor.user.username}"
    page = text(boss.get(PAGE))
    assert zh("Amounts differ") in page  # the row the store got wrong, named
    assert zh("On the platform, not in the store's register") in page
    assert redemptions[2].voucher.code in page and redemptions[1].voucher.code in page
    assert redemptions[0].voucher.code not in page  # a match is not listed


def test_a_bad_register_is_refused_row_by_row_and_nothing_is_saved(
    world: Any, shop: Any, login: Any, used: dict[str, Any]
) -> None:
    campaign = used["campaign"]
    boss = login(shop.supervisor.user)
    r = boss.post(
        upload_url(campaign, shop.store), files([("123", "R1", "100"), ("", "R2", "abc")])
    )
    assert r.status_code == 400
    body = text(r)
    assert zh("%(n)d rows of the register have errors; nothing was saved.") % {"n": 2} in body
    assert zh("The voucher code is missing.") in body
    # each problem is named by row and by column (letter and the template's heading)
    assert r.content.decode().count("<td>A 券码</td>") == 2
    r = boss.post(
        upload_url(campaign, shop.store),
        files(rows_for(used["redemptions"]), invoice=b"<html>not an invoice</html>"),
    )
    assert r.status_code == 400
    assert zh("The invoice must be a PDF, PNG or JPEG file.") in text(r)
    r = boss.post(upload_url(campaign, shop.store), {})
    assert r.status_code == 400
    assert not Settlement.objects.exists()


def test_a_refused_register_opens_the_page_at_the_refusal(
    world: Any, shop: Any, login: Any, used: dict[str, Any], make_campaign: Any
) -> None:
    # A phone shows the page from its top, and the refusal sat screens below the other
    # campaigns' forms: the clerk saw "结算" and no answer. The form's address names the block
    # that holds the refusal and the form, so the answer opens there.
    campaign = used["campaign"]
    make_campaign(name="另一个活动", stores=[shop.store, shop.other_store])  # forms above ours
    boss = login(shop.supervisor.user)
    block = f"upload-{campaign.pk}-{shop.store.pk}"
    page = boss.get(PAGE).content.decode()
    assert f'action="{upload_url(campaign, shop.store)}#{block}"' in page
    r = boss.post(upload_url(campaign, shop.store), files([("123", "R1", "100")]))
    assert r.status_code == 400
    body = r.content.decode()
    start = body.index(f'<div id="{block}">')
    errors = body.index("data-upload-errors")
    form = body.index(f'action="{upload_url(campaign, shop.store)}#{block}"')
    assert start < errors < form  # the refusal, then the form to try again, in the block
    assert body.count(f'id="{block}"') == 1
    assert not Settlement.objects.exists()


def test_a_till_clerk_sees_the_page_but_may_not_hand_in(
    world: Any, shop: Any, login: Any, used: dict[str, Any]
) -> None:
    campaign = used["campaign"]
    clerk = login(shop.clerk.user)
    page = text(clerk.get(PAGE))
    assert campaign.name in page and zh("Only a supervisor may hand in the register.") in page
    assert upload_url(campaign, shop.store) not in page
    r = clerk.post(upload_url(campaign, shop.store), files(rows_for(used["redemptions"])))
    assert r.status_code == 403
    assert zh("Only a supervisor may hand in the settlement register.") in text(r)
    assert not Settlement.objects.exists()


def test_strangers_see_nothing_and_change_nothing(
    world: Any, shop: Any, login: Any, used: dict[str, Any]
) -> None:
    campaign = used["campaign"]
    rows = rows_for(used["redemptions"])
    rival = login(shop.rival_clerk.user)
    assert campaign.name not in text(rival.get(PAGE))
    # a campaign of another merchant, a store outside the campaign: one boring "not found"
    assert rival.post(upload_url(campaign, shop.store), files(rows)).status_code == 404
    boss = login(shop.supervisor.user)
    assert boss.post(upload_url(campaign, shop.other_store), files(rows)).status_code == 404
    assert boss.post(upload_url(campaign, shop.rival_store), files(rows)).status_code == 404
    for client in (login(world.jiefang_officer), login(member=world.jiefang_member)):
        assert client.get(PAGE).status_code in {302, 404}
        r = client.post(upload_url(campaign, shop.store), files(rows))
        assert r.status_code in {302, 404}
    r = Client().post(upload_url(campaign, shop.store), files(rows))
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")
    assert not Settlement.objects.exists()


def test_an_approved_register_is_final(
    world: Any, shop: Any, login: Any, used: dict[str, Any]
) -> None:
    campaign = used["campaign"]
    rows = rows_for(used["redemptions"])
    boss = login(shop.supervisor.user)
    assert boss.post(upload_url(campaign, shop.store), files(rows)).status_code == 302
    settlement_approve(settlement=Settlement.objects.get(), actor=world.jiefang_officer)
    page = text(boss.get(PAGE))
    assert upload_url(campaign, shop.store) not in page  # no form offered
    r = boss.post(upload_url(campaign, shop.store), files(rows))
    assert r.status_code == 400
    assert zh("This store's settlement is already approved.") in text(r)
    assert Settlement.objects.count() == 1


def test_the_page_can_ask_whether_the_sign_in_still_holds(
    world: Any, shop: Any, login: Any
) -> None:
    """The settlement page asks before it sends a register: a clerk signed in gets an empty
    204; a sign-in that ran out gets the sign-in redirect (the files stay on the page); anyone
    who is not a clerk, the usual not found."""
    url = reverse("merchant:session")
    assert login(shop.supervisor.user).get(url).status_code == 204
    r = Client().get(url)
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")
    assert login(world.city_admin).get(url).status_code == 404
    assert login(shop.clerk.user).post(url).status_code == 405


def test_the_upload_form_carries_its_limits_and_its_sending_line(
    world: Any, shop: Any, login: Any, used: dict[str, Any]
) -> None:
    """What the page's script needs to hand in on a slow line: each file's limit with its own
    refusal, and the line said while sending, with its placeholder intact (a "%%" left in it
    would show on the page)."""
    from gonghui.benefits.settlement import MAX_REGISTER_BYTES

    body = text(login(shop.supervisor.user).get(PAGE))
    assert "data-upload" in body and f'data-max-bytes="{MAX_REGISTER_BYTES}"' in body
    assert zh("The register file is too large.") in body
    # The catalogue holds a template's "%" doubled (makemessages escapes it); the page shows one.
    sending = zh(
        "Sending %%s MB. Keep this page open until the answer comes; on a slow line this takes "
        "a while."
    ).replace("%%", "%")
    assert sending != sending.replace("正在提交", "")  # the Chinese line, not the msgid
    assert f'data-sending="{sending}"' in body and "%%" not in body
