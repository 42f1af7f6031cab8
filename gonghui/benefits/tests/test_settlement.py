from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.base import ContentFile
from openpyxl import Workbook, load_workbook

from gonghui.benefits import settlement as settlement_module
from gonghui.benefits.models import Campaign, CampaignStatus, Settlement, SettlementStatus
from gonghui.benefits.selectors import notice_public_rows
from gonghui.benefits.services import campaign_transition, voucher_grab, voucher_redeem
from gonghui.benefits.settlement import (
    notice_close,
    notice_publish,
    objection_resolve,
    objection_submit,
    settlement_approve,
    settlement_parse_register,
    settlement_reconcile,
    settlement_register_template,
    settlement_report_xlsx,
    settlement_upload,
)
from gonghui.core.errors import ApplicationError, PermissionDenied
from gonghui.ledger.models import Account
from gonghui.ledger.selectors import account_balance_fen, ledger_total_fen

PDF = ContentFile(b"%PDF-1.4\n%fake invoice\n", name="invoice.pdf")


def xlsx(rows, headers=("券码", "小票号", "消费金额(元)", "核销时间")) -> ContentFile:
    wb = Workbook()
    ws = wb.active
    if headers:
        ws.append(list(headers))
    for row in rows:
        ws.append(list(row))
    buf = io.BytesIO()
    wb.save(buf)
    return ContentFile(buf.getvalue(), name="register.xlsx")


@pytest.fixture
def redeemed(shop, make_campaign, carded):
    """An open campaign with three vouchers used at the store (amounts 100.00, 120.50, 80.00)."""
    c = make_campaign()
    codes = []
    for amount in (10000, 12050, 8000):
        v = voucher_grab(campaign=c, member=carded()).voucher
        voucher_redeem(
            code=v.code,
            store=shop.store,
            clerk=shop.clerk,
            receipt_no=f"R{amount}",
            amount_fen=amount,
        )
        codes.append(v.code)
    return c, codes


def test_template_has_the_headings():
    wb = load_workbook(io.BytesIO(settlement_register_template()))
    assert [c.value for c in wb.active[1]] == ["券码", "小票号", "消费金额(元)", "核销时间"]
    rows, errors = settlement_parse_register(settlement_register_template())
    assert rows == [] and errors == []  # the sample row is skipped


def test_row_errors_carry_row_numbers():
    data = xlsx(
        [
            ("GOODCODE0123456789AB", "R1", "100"),
            ("", "R2", "10"),
            ("<script>alert(1)</script>", "R3", "10"),
            ("GOODCODE0123456789AB", "R4", "10"),
            ("OTHERCODE0123456789A", "R5", "abc"),
            ("THIRDCODE0123456789A", "R6", "-5"),
            ("FOURTHCODE123456789A", "R7", "１２.５"),
        ]
    ).read()
    rows, errors = settlement_parse_register(data)
    assert [r.row_no for r in rows] == [2, 8]
    assert rows[1].amount_fen == 1250
    assert [e.row_no for e in errors] == [3, 4, 5, 6, 7]


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"not a workbook", "register_format"),
        (b"", "register_format"),
    ],
)
def test_not_xlsx(content, code):
    with pytest.raises(ApplicationError) as exc:
        settlement_parse_register(content)
    assert exc.value.code == code


def test_wrong_headers():
    with pytest.raises(ApplicationError) as exc:
        settlement_parse_register(
            xlsx([("a", "b", "1")], headers=("code", "receipt", "amount")).read()
        )
    assert exc.value.code == "register_headers"


def test_blank_rows_count_against_the_row_limit(monkeypatch):
    """Blank (or merely styled) rows are rows: a sheet of millions of them is refused at the
    limit instead of being read to its end."""
    monkeypatch.setattr(settlement_module, "MAX_REGISTER_ROWS", 5)
    with pytest.raises(ApplicationError) as exc:
        settlement_parse_register(xlsx([(" ", None, None)] * 10).read())
    assert exc.value.code == "register_rows"
    # at the limit, blank rows are still skipped
    rows, errors = settlement_parse_register(xlsx([(" ", None, None)] * 5).read())
    assert rows == [] and errors == []


def test_full_flow_reconcile_approve_notice_pay(world, shop, redeemed, carded):
    c, codes = redeemed
    register = xlsx(
        [
            (codes[0], "R10000", "100.00"),  # matched
            (codes[1], "R12050", "110.00"),  # amount differs
            ("NOTOURSCODE123456789", "R9", "50"),  # only in the register
        ]
    )  # codes[2] is only in our records
    settlement, _ = settlement_upload(
        campaign=c, store=shop.store, clerk=shop.clerk, register=register, invoice=PDF
    )
    assert settlement.status == SettlementStatus.RECONCILED
    assert (
        settlement.matched,
        settlement.amount_differences,
        settlement.missing_in_platform,
        settlement.missing_in_register,
        settlement.payable_fen,
    ) == (1, 1, 1, 1, 3 * 6800)
    result = settlement_reconcile(settlement=settlement, actor=world.jiefang_officer)
    report = load_workbook(io.BytesIO(settlement_report_xlsx(settlement=settlement, result=result)))
    detail = [row for row in report["明细"].iter_rows(values_only=True)][1:]
    assert {(r[0], r[1]) for r in detail} == {
        (codes[0], "一致"),
        (codes[1], "金额不一致"),
        ("NOTOURSCODE123456789", "登记表有、平台无"),
        (codes[2], "平台有、登记表无"),
    }
    # approval waits for the window to close
    with pytest.raises(ApplicationError) as exc:
        settlement_approve(settlement=settlement, actor=world.jiefang_officer)
    assert exc.value.code == "campaign_not_closed"
    campaign_transition(campaign=c, new=CampaignStatus.CLOSED, actor=None)
    with pytest.raises(PermissionDenied):
        settlement_approve(settlement=settlement, actor=world.zhongzhan_officer)
    settlement_approve(settlement=settlement, actor=world.jiefang_officer)
    c.refresh_from_db()
    assert c.status == CampaignStatus.SETTLING
    notice = notice_publish(campaign=c, actor=world.jiefang_officer, days=5)
    assert notice.total_vouchers == 3 and notice.total_payable_fen == 20400
    rows = notice_public_rows(notice=notice)
    assert len(rows) == 3 and all("*" in r["name"] for r in rows)
    with pytest.raises(ApplicationError) as exc:
        objection_submit(notice=notice, name="<script>", phone="13900000009", text="x")
    assert exc.value.code == "name_chars"
    objection = objection_submit(
        notice=notice, name="张三", phone="13900000009", text="第二张券金额不对"
    )
    end = notice.ends_at
    with pytest.raises(ApplicationError) as exc:
        notice_close(notice=notice, actor=world.jiefang_officer, now=end - dt.timedelta(seconds=1))
    assert exc.value.code == "notice_running"
    with pytest.raises(ApplicationError) as exc:
        notice_close(notice=notice, actor=world.jiefang_officer, now=end)
    assert exc.value.code == "objections_open"
    with pytest.raises(ApplicationError) as exc:
        objection_submit(notice=notice, name="李四", phone="13900000008", text="晚了", now=end)
    assert exc.value.code == "notice_over"
    objection_resolve(
        objection=objection, actor=world.jiefang_officer, resolution="已核实，按平台记录结算"
    )
    paid = notice_close(notice=notice, actor=world.jiefang_officer, now=end)
    assert [s.status for s in paid] == [SettlementStatus.PAID]
    assert paid[0].payable_fen == 20400
    c.refresh_from_db()
    assert c.status == CampaignStatus.SETTLED
    payable = Account.objects.get(code=f"2202.M{shop.merchant.pk}")
    bank = Account.objects.get(code="1002", org=c.org)
    assert account_balance_fen(account=payable) == 0
    assert account_balance_fen(account=bank) == -20400
    assert account_balance_fen(account=Account.objects.get(code="5301")) == 20400
    assert ledger_total_fen() == 0
    assert list(c.status_changes.values_list("new", flat=True))[-3:] == [
        "closed",
        "settling",
        "settled",
    ]
    with pytest.raises(ApplicationError) as exc:
        notice_close(notice=notice, actor=world.jiefang_officer, now=end)
    assert exc.value.code == "notice_closed"


def test_upload_refuses_bad_rows_bad_invoice_and_strangers(shop, redeemed):
    c, codes = redeemed
    with pytest.raises(ApplicationError) as exc:
        settlement_upload(
            campaign=c,
            store=shop.store,
            clerk=shop.clerk,
            register=xlsx([("", "R", "1")]),
            invoice=PDF,
        )
    assert exc.value.code == "register_rows_invalid" and exc.value.extra["rows"][0][0] == 2
    with pytest.raises(ApplicationError) as exc:
        settlement_upload(
            campaign=c,
            store=shop.store,
            clerk=shop.clerk,
            register=xlsx([(codes[0], "R", "1")]),
            invoice=ContentFile(b"<html><script>alert(1)</script>", name="x.pdf"),
        )
    assert exc.value.code == "invoice_format"
    with pytest.raises(PermissionDenied):
        settlement_upload(
            campaign=c,
            store=shop.rival_store,
            clerk=shop.rival_clerk,
            register=xlsx([]),
            invoice=PDF,
        )
    assert Settlement.objects.count() == 0


def test_reupload_replaces_until_approved(shop, redeemed):
    c, codes = redeemed
    first, _ = settlement_upload(
        campaign=c,
        store=shop.store,
        clerk=shop.clerk,
        register=xlsx([(codes[0], "R", "100")]),
        invoice=PDF,
    )
    second, _ = settlement_upload(
        campaign=c,
        store=shop.store,
        clerk=shop.clerk,
        register=xlsx([(c, "R", "1") for c in codes]),
        invoice=PDF,
    )
    first.refresh_from_db()
    assert first.status == SettlementStatus.SUPERSEDED and second.rows == 3
    assert Campaign.objects.get(pk=c.pk).status == CampaignStatus.OPEN


def test_staff_upload_for_a_store_records_the_staff_user(world, shop, redeemed):
    from gonghui.audit.models import AuditEvent

    c, codes = redeemed
    register = [(code, f"R{i}", "100") for i, code in enumerate(codes)]
    # Staff of another district, a viewer, nobody, and "both a clerk and staff" are refused.
    for staff in (world.zhongzhan_officer, world.jiefang_viewer):
        with pytest.raises(PermissionDenied):
            settlement_upload(
                campaign=c, store=shop.store, staff=staff, register=xlsx(register), invoice=PDF
            )
    with pytest.raises(PermissionDenied):
        settlement_upload(campaign=c, store=shop.store, register=xlsx(register), invoice=PDF)
    with pytest.raises(PermissionDenied):
        settlement_upload(
            campaign=c,
            store=shop.store,
            clerk=shop.clerk,
            staff=world.jiefang_officer,
            register=xlsx(register),
            invoice=PDF,
        )
    with pytest.raises(PermissionDenied):  # a store outside the campaign
        settlement_upload(
            campaign=c,
            store=shop.other_store,
            staff=world.jiefang_officer,
            register=xlsx(register),
            invoice=PDF,
        )
    assert Settlement.objects.count() == 0
    settlement, errors = settlement_upload(
        campaign=c,
        store=shop.store,
        staff=world.jiefang_officer,
        register=xlsx(register),
        invoice=PDF,
    )
    assert errors == [] and settlement.rows == len(codes)
    assert settlement.uploaded_by_label == f"staff:{world.jiefang_officer.username}"
    line = AuditEvent.objects.get(object_type="benefits.settlement", action="import")
    assert line.actor_id == world.jiefang_officer.pk
    assert line.changes == {"rows": len(codes), "on_behalf_of_store": shop.store.pk}


def test_approval_reconciles_again_with_later_redemptions(world, shop, redeemed, carded):
    c, codes = redeemed
    register = xlsx([(code, f"R{i}", "100") for i, code in enumerate(codes)])
    settlement, _ = settlement_upload(
        campaign=c, store=shop.store, clerk=shop.clerk, register=register, invoice=PDF
    )
    assert (settlement.missing_in_register, settlement.payable_fen) == (0, 3 * 6800)
    # The campaign is still open: one more voucher is used after the register was uploaded.
    late = voucher_grab(campaign=c, member=carded()).voucher
    voucher_redeem(
        code=late.code, store=shop.store, clerk=shop.clerk, receipt_no="R9", amount_fen=1
    )
    campaign_transition(campaign=c, new=CampaignStatus.CLOSED, actor=world.jiefang_officer)
    settlement = settlement_approve(settlement=settlement, actor=world.jiefang_officer)
    assert settlement.status == SettlementStatus.APPROVED
    assert (settlement.missing_in_register, settlement.payable_fen) == (1, 4 * 6800)
