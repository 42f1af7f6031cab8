from __future__ import annotations

import datetime as dt
import io
import zipfile
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.utils import translation
from django.utils.translation import gettext
from openpyxl import Workbook, load_workbook

from gonghui.benefits import register_xlsx
from gonghui.benefits import settlement as settlement_module
from gonghui.benefits.models import (
    Campaign,
    CampaignStatus,
    Redemption,
    Settlement,
    SettlementStatus,
)
from gonghui.benefits.selectors import notice_public_rows
from gonghui.benefits.services import (
    campaign_transition,
    clean_voucher_code,
    redemption_reverse,
    voucher_grab,
    voucher_redeem,
)
from gonghui.benefits.settlement import (
    RECONCILE_LABELS,
    notice_close,
    notice_publish,
    objection_resolve,
    objection_submit,
    settlement_approve,
    settlement_compare,
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
    # The sample row is skipped, and a register of nothing is not a register.
    error = _refusal(settlement_register_template())
    assert (error.code, error.field) == ("register_no_rows", "register")
    assert str(error.message) == (
        "The register has no rows (the example row is ignored). Fill it in and upload it again."
    )


def test_the_untouched_template_is_refused_and_changes_nothing(shop, redeemed):
    """Uploaded as it was downloaded, the template would have been a reconciled settlement of
    0 rows, replacing the store's real one."""
    c, codes = redeemed
    earlier, _ = settlement_upload(
        campaign=c,
        store=shop.store,
        clerk=shop.supervisor,
        register=xlsx([(codes[0], "R10000", "100.00")]),
        invoice=PDF,
    )
    template = ContentFile(settlement_register_template(), name="register.xlsx")
    with pytest.raises(ApplicationError) as exc:
        settlement_upload(
            campaign=c, store=shop.store, clerk=shop.supervisor, register=template, invoice=PDF
        )
    assert exc.value.code == "register_no_rows"
    # A sheet of headings and blank rows is no better.
    with pytest.raises(ApplicationError) as exc:
        settlement_upload(
            campaign=c,
            store=shop.store,
            clerk=shop.supervisor,
            register=xlsx([(None, " ", None)] * 3),
            invoice=PDF,
        )
    assert exc.value.code == "register_no_rows"
    assert list(Settlement.objects.values_list("pk", "status", "rows")) == [
        (earlier.pk, SettlementStatus.RECONCILED, 1)
    ]


@pytest.mark.parametrize(
    "headers",
    [
        ("券码", "小票号", "消费金额（元）", "核销时间"),  # full-width brackets
        (" 券 码 ", "小票号\u3000", "消费金额 ( 元 )", None),  # spaces, ideographic too
        ("券码", "小票号", "消费金额(元)"),  # no time column: it is not read
    ],
)
def test_headings_typed_another_way_are_the_template_s(headers):
    rows, errors = settlement_parse_register(
        xlsx([("GOODCODE0123456789AB", "R1", "100")], headers=headers).read()
    )
    assert [(r.code, r.amount_fen) for r in rows] == [("GOODCODE0123456789AB", 10000)]
    assert errors == []


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (
            ("券码", "小票号", "金额", "核销时间"),
            "Column C should be headed “消费金额(元)”; it is “金额”.",
        ),
        (
            ("券码", "小票号", "消费金额(角)", "核销时间"),
            "Column C should be headed “消费金额(元)”; it is “消费金额(角)”.",
        ),
        (
            ("code", "receipt", "amount"),
            "Column A should be headed “券码”; it is “code”.",
        ),
        (
            ("券码", None, "消费金额(元)"),
            "Column B should be headed “小票号”; it is empty.",
        ),
        (
            # swapped, and one heading wrong: the template's order is named
            ("小票号", "券码", "金额"),
            "Column A should be headed “券码”; it is “小票号”.",
        ),
    ],
)
def test_a_wrong_heading_is_named_with_the_one_expected(headers, message):
    error = _refusal(xlsx([("GOODCODE0123456789AB", "R1", "100")], headers=headers).read())
    assert (error.code, error.field) == ("register_headers", "register")
    assert str(error.message) == message


def _sheet(rows: list[tuple[Any, ...]]) -> bytes:
    wb = Workbook()
    for row in rows:
        wb.active.append(list(row))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


HEADINGS = ("券码", "小票号", "消费金额(元)", "核销时间")


def test_title_lines_and_blank_rows_above_the_headings_are_passed_over():
    """A store's register often opens with a title and a date above the headings."""
    data = _sheet(
        [
            ("新华书店塔南路图书大厦 消费券核销登记表",),
            (None, None, "2026年4月24日—5月8日"),
            (),
            HEADINGS,
            ("GOODCODE0123456789AB", "R1", "100"),
            ("", "R2", "10"),
        ]
    )
    rows, errors = settlement_parse_register(data)
    assert [(r.row_no, r.code, r.amount_fen) for r in rows] == [(5, "GOODCODE0123456789AB", 10000)]
    assert [e.row_no for e in errors] == [6]  # row numbers are the sheet's


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        # Data from the first row, no headings: the row is named as the headings it should be.
        (
            [("GOODCODE0123456789AB", "R1", "100")],
            "Column A should be headed “券码”; it is “GOODCODE0123456789AB”.",
        ),
        # A title, then wrong headings.
        (
            [("登记表",), ("券号", "小票号", "消费金额(元)")],
            "Column A should be headed “券码”; it is “券号”.",
        ),
        # Too many one-cell rows: the sixth is taken for the headings.
        (
            [(f"标题{i}",) for i in range(6)] + [HEADINGS],
            "Column A should be headed “券码”; it is “标题5”.",
        ),
        # The first heading alone is a headings row, not a title.
        ([("券码",)], "Column B should be headed “小票号”; it is empty."),
    ],
)
def test_a_register_without_its_headings_is_refused_with_the_row_named(rows, message):
    error = _refusal(_sheet(rows))
    assert (error.code, str(error.message)) == ("register_headers", message)


def test_titles_and_nothing_else_are_an_empty_register():
    error = _refusal(_sheet([("新华书店核销登记表",), (), (None, "2026年4月")]))
    assert error.code == "register_empty"


def test_a_long_wrong_heading_is_cut_short():
    error = _refusal(xlsx([], headers=("券码" * 100, "小票号", "消费金额(元)")).read())
    assert str(error.message) == f"Column A should be headed “券码”; it is “{'券码' * 20}”."


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


def test_digit_codes_as_a_spreadsheet_keeps_them():
    """A code typed into a cell that is not text is a number; 15 digits survive that, as an
    integer or as a float. Groups and full-width digits are read as the member's screen shows
    them, and a typo is refused with the reason."""
    data = xlsx(
        [
            (123456789012347, "R1", "100"),
            (300000000000007.0, "R2", "100"),
            ("12345 67890 12362", "R3", "100"),
            ("１２３４５６７８９０１２３７０", "R4", "100"),
            (123456789012348, "R5", "100"),  # one digit wrong
            (1.2345678901234e15, "R6", "100"),  # 16 digits: the spreadsheet rounded it
            ("123456789012347", "R7", "100"),  # the same as row 2 once read
        ]
    ).read()
    rows, errors = settlement_parse_register(data)
    assert [(r.row_no, r.code) for r in rows] == [
        (2, "123456789012347"),
        (3, "300000000000007"),
        (4, "123456789012362"),
        (5, "123456789012370"),
    ]
    assert [e.row_no for e in errors] == [6, 7, 8]
    with pytest.raises(ApplicationError) as typo:
        clean_voucher_code("123456789012348")
    assert errors[0].message == str(typo.value.message)
    assert "16" in errors[1].message and "2" in errors[2].message


def _with_stored_values(data: bytes, values: dict[str, str]) -> bytes:
    """The workbook with some number cells' stored text replaced: Excel writes a formula's
    result with up to 17 significant digits (``=3*42.7`` is stored as ``128.10000000000002``),
    which openpyxl never writes itself."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            part = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                for placeholder, stored in values.items():
                    part = part.replace(
                        f"<v>{placeholder}</v>".encode(), f"<v>{stored}</v>".encode()
                    )
            dst.writestr(item, part)
    return out.getvalue()


def test_amounts_a_spreadsheet_worked_out_are_read_to_the_fen():
    data = _with_stored_values(
        xlsx(
            [
                ("123456789012347", "R1", 777.77),
                ("300000000000007", "R2", 666.66),
                ("123456789012362", "R3", 555.55),
            ]
        ).read(),
        {"777.77": "128.10000000000002", "666.66": "0.30000000000000004", "555.55": "99.985"},
    )
    rows, errors = settlement_parse_register(data)
    assert [(r.row_no, r.amount_fen) for r in rows] == [(2, 12810), (3, 30)]
    # A third decimal is not a rounding artefact: the row is refused, not rounded.
    assert [e.row_no for e in errors] == [4]


@pytest.mark.parametrize("label", ["合计", "合 计", "总计", "小计", "Total", "合计："])
def test_a_totals_row_is_not_a_voucher(label):
    """A store's register often ends with a totals row (label in the code or receipt column,
    the sum under the amount): it is left out, not refused as a bad code."""
    for row in ((label, "", "¥228.50"), ("", label, 228.5), (None, label, None)):
        data = xlsx(
            [
                ("123456789012347", "R1", "100"),
                ("300000000000007", "R2", "128.50"),
                (None, None, None),
                row,
            ]
        ).read()
        rows, errors = settlement_parse_register(data)
        assert ([r.code for r in rows], errors) == (["123456789012347", "300000000000007"], [])


def test_a_totals_row_alone_is_no_register():
    with pytest.raises(ApplicationError) as exc:
        settlement_parse_register(xlsx([("合计", "", "0")]).read())
    assert exc.value.code == "register_no_rows"


def test_the_template_keeps_codes_and_receipts_as_text():
    ws = load_workbook(io.BytesIO(settlement_register_template())).active
    assert ws.column_dimensions["A"].number_format == "@"
    assert ws.column_dimensions["B"].number_format == "@"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"not a workbook", "register_text"),
        (b"", "register_empty_file"),
        (b"%PDF-1.4\n", "register_format"),
        (b"\x00\x01\x02" * 10, "register_format"),
    ],
)
def test_not_xlsx(content, code):
    with pytest.raises(ApplicationError) as exc:
        settlement_parse_register(content)
    assert exc.value.code == code


def test_blank_rows_count_against_the_row_limit(monkeypatch):
    """Blank (or merely styled) rows are rows: a sheet of millions of them is refused at the
    limit instead of being read to its end."""
    monkeypatch.setattr(settlement_module, "MAX_REGISTER_ROWS", 5)
    with pytest.raises(ApplicationError) as exc:
        settlement_parse_register(xlsx([(" ", None, None)] * 10).read())
    assert exc.value.code == "register_rows"
    # at the limit, blank rows are still skipped (and a register of only blank rows is refused
    # for that, not for its length)
    assert _refusal(xlsx([(" ", None, None)] * 5).read()).code == "register_no_rows"


def _register_rows(n: int, *, dimension: str | None = None) -> bytes:
    """A register of ``n`` rows below the headings, written as a streaming writer does (openpyxl
    write-only: no dimension); ``dimension`` puts one in, as spreadsheet programs do."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(["券码", "小票号", "消费金额(元)", "核销时间"])
    for i in range(n):
        ws.append([f"CODE{i:016d}", f"R{i}", "12.50", "2026-04-24 10:00"])
    buf = io.BytesIO()
    wb.save(buf)
    data = buf.getvalue()
    if dimension is None:
        return data
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for part in src.infolist():
            body = src.read(part.filename)
            if part.filename.startswith("xl/worksheets/"):
                assert b"<dimension" not in body
                body = body.replace(
                    b"<sheetViews>", f'<dimension ref="{dimension}"/><sheetViews>'.encode(), 1
                )
            dst.writestr(part.filename, body)
    return out.getvalue()


def _declared_rows(data: bytes) -> int | None:
    wb = load_workbook(io.BytesIO(data), read_only=True)
    try:
        return wb.worksheets[0].max_row
    finally:
        wb.close()


@pytest.fixture
def rows_read(monkeypatch):
    """How many rows of the sheet the reader has begun to parse so far."""
    count = {"rows": 0}
    start = register_xlsx._SheetReader.start

    def counting(self, name, attrs):
        if name.rsplit("}", 1)[-1] == "row":
            count["rows"] += 1
        return start(self, name, attrs)

    monkeypatch.setattr(register_xlsx._SheetReader, "start", counting)
    return count


def _refusal(data: bytes) -> ApplicationError:
    with translation.override("en"), pytest.raises(ApplicationError) as exc:
        settlement_parse_register(data)
    return exc.value


def test_a_sheet_that_states_too_many_rows_is_refused_before_a_row_is_read(monkeypatch, rows_read):
    monkeypatch.setattr(settlement_module, "MAX_REGISTER_ROWS", 5)
    data = _register_rows(40, dimension="A1:D41")
    assert _declared_rows(data) == 41
    error = _refusal(data)
    assert (error.code, error.field) == ("register_rows", "register")
    assert str(error.message) == (
        "The register has 40 rows below the headings (blank rows count too); "
        "at most 5 are accepted."
    )
    assert rows_read["rows"] == 0


def test_a_sheet_without_its_size_is_read_only_to_the_limit(monkeypatch, rows_read):
    monkeypatch.setattr(settlement_module, "MAX_REGISTER_ROWS", 5)
    data = _register_rows(40)
    assert _declared_rows(data) is None  # the writer states no size: the count must stop it
    error = _refusal(data)
    assert error.code == "register_rows"
    assert str(error.message) == (
        "The register has more than 5 rows below the headings (blank rows count too); "
        "at most 5 are accepted."
    )
    assert rows_read["rows"] == 5 + 2  # the headings, five rows, and the one too many


def test_a_size_stated_too_small_neither_cuts_the_register_short_nor_lets_it_through(
    monkeypatch, rows_read
):
    """openpyxl stops at the last row a sheet states; a wrong statement must not hide rows."""
    rows, errors = settlement_parse_register(_register_rows(3, dimension="A1:D2"))
    assert [r.row_no for r in rows] == [2, 3, 4] and errors == []
    monkeypatch.setattr(settlement_module, "MAX_REGISTER_ROWS", 5)
    assert _refusal(_register_rows(40, dimension="A1:D3")).code == "register_rows"
    assert rows_read["rows"] <= 4 + 5 + 2


def test_the_size_stated_is_counted_in_full_rows_and_large_numbers_are_grouped(monkeypatch):
    monkeypatch.setattr(settlement_module, "MAX_REGISTER_ROWS", 5)
    # at the limit (the headings and five rows) the sheet is read
    rows, errors = settlement_parse_register(_register_rows(5, dimension="A1:D6"))
    assert len(rows) == 5 and errors == []
    monkeypatch.setattr(settlement_module, "MAX_REGISTER_ROWS", 200_000)
    error = _refusal(_register_rows(1, dimension="A1:XFD1048576"))
    assert "1,048,575" in str(error.message) and "200,000" in str(error.message)


def test_a_register_that_unpacks_too_large_is_refused_unread(monkeypatch, rows_read):
    monkeypatch.setattr(settlement_module, "MAX_REGISTER_UNPACKED_BYTES", 10_000)
    error = _refusal(_register_rows(100))
    assert (error.code, error.field) == ("register_too_large", "register")
    assert rows_read["rows"] == 0


@pytest.mark.parametrize(
    "data",
    [
        b"PK\x03\x04" + b"\x00" * 40,  # a zip's first bytes, then nothing
        b"\x00" * 100,
    ],
)
def test_a_broken_archive_is_not_a_register(data):
    assert _refusal(data).code == "register_format"


def test_an_archive_that_is_no_workbook_is_not_a_register():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "你好")
    assert _refusal(buf.getvalue()).code == "register_format"


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
        campaign=c, store=shop.store, clerk=shop.supervisor, register=register, invoice=PDF
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
            clerk=shop.supervisor,
            register=xlsx([("", "R", "1")]),
            invoice=PDF,
        )
    assert exc.value.code == "register_rows_invalid" and exc.value.extra["rows"][0][0] == 2
    with pytest.raises(ApplicationError) as exc:
        settlement_upload(
            campaign=c,
            store=shop.store,
            clerk=shop.supervisor,
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
        clerk=shop.supervisor,
        register=xlsx([(codes[0], "R", "100")]),
        invoice=PDF,
    )
    second, _ = settlement_upload(
        campaign=c,
        store=shop.store,
        clerk=shop.supervisor,
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
            clerk=shop.supervisor,
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
        campaign=c, store=shop.store, clerk=shop.supervisor, register=register, invoice=PDF
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


def test_a_reversal_after_upload_changes_the_comparison_and_the_payable(world, shop, redeemed):
    """The comparison is worked out as our records stand: what the pages show is what approval
    stores, not the figures of the upload."""
    c, codes = redeemed
    settlement, _ = settlement_upload(
        campaign=c,
        store=shop.store,
        clerk=shop.supervisor,
        register=xlsx([(codes[0], "R10000", "100.00"), (codes[1], "R12050", "120.50")]),
        invoice=PDF,
    )
    at_upload = (settlement.matched, settlement.missing_in_register, settlement.payable_fen)
    assert at_upload == (2, 1, 3 * 6800)
    for code in (codes[0], codes[2]):
        redemption = Redemption.objects.get(voucher__code=code)
        redemption_reverse(redemption=redemption, supervisor=shop.supervisor, reason="扫错了")
    result = settlement_compare(settlement=settlement)
    assert result.counts == {
        "matched": 1,
        "missing_in_register": 0,
        "missing_in_platform": 1,  # codes[0]: in the register, no longer ours
        "amount_differs": 0,
        "receipt_differs": 0,
    }
    assert result.payable_fen == 6800
    settlement.refresh_from_db()
    assert (settlement.matched, settlement.payable_fen) == (2, 3 * 6800)  # the upload's record
    campaign_transition(campaign=c, new=CampaignStatus.CLOSED, actor=None)
    settlement = settlement_approve(settlement=settlement, actor=world.jiefang_officer)
    assert (
        settlement.matched,
        settlement.missing_in_register,
        settlement.missing_in_platform,
        settlement.payable_fen,
    ) == (1, 0, 1, result.payable_fen)


def test_a_register_line_for_a_reversed_redemption_says_so(world, shop, redeemed, carded):
    """The store wrote down a sale its supervisor then reversed: the line was only "in the
    register, not on the platform", and the store and the union looked for a lost scan. It says
    the redemption was reversed; a code never used here, or used at another store, does not."""
    c, codes = redeemed
    redemption = Redemption.objects.get(voucher__code=codes[0])
    redemption_reverse(redemption=redemption, supervisor=shop.supervisor, reason="顾客退货")
    # The same campaign's voucher used at the merchant's other store, and reversed there.
    c.stores.add(shop.other_store)
    elsewhere = voucher_grab(campaign=c, member=carded()).voucher
    voucher_redeem(
        code=elsewhere.code,
        store=shop.other_store,
        clerk=shop.clerk,
        receipt_no="O1",
        amount_fen=9000,
    )
    redemption_reverse(
        redemption=Redemption.objects.get(voucher__code=elsewhere.code),
        supervisor=shop.supervisor,
        reason="录错门店",
    )
    settlement, _ = settlement_upload(
        campaign=c,
        store=shop.store,
        clerk=shop.supervisor,
        register=xlsx(
            [
                (codes[0], "R10000", "100.00"),
                (codes[1], "R12050", "120.50"),
                (codes[2], "R8000", "80.00"),
                ("123456789012347", "X1", "100.00"),
                (elsewhere.code, "O1", "90.00"),
            ]
        ),
        invoice=PDF,
    )
    result = settlement_compare(settlement=settlement)
    by_code = {line.code: line for line in result.lines}
    assert result.counts["missing_in_platform"] == 3 and result.counts["matched"] == 2
    with translation.override("zh-hans"):
        assert by_code[codes[0]].label == "{}；{}".format(
            gettext("In the store's register, not on the platform"),
            gettext("its redemption at this store was reversed"),
        )
        assert by_code["123456789012347"].label == gettext(
            "In the store's register, not on the platform"
        )
        assert by_code[elsewhere.code].label == gettext(
            "In the store's register, not on the platform"
        )
        assert by_code[codes[1]].label == gettext("Matched")
    assert result.payable_fen == 2 * 6800  # nothing paid for the reversed one
    # Redeemed again after the reversal: ours again, a match, no note.
    Redemption.objects.filter(pk=redemption.pk).update(reversed_at=None)
    line = {x.code: x for x in settlement_compare(settlement=settlement).lines}[codes[0]]
    assert line.status == "matched" and not line.reversed_here


def test_receipt_numbers_are_compared(world, shop, redeemed):
    """A register row whose code and amount agree but whose receipt does not is a difference of
    its own: counted, in the report, and approved only with a reason. The same receipt typed in
    full-width, lower case or with spaces is the same receipt."""
    c, codes = redeemed
    register = xlsx(
        [
            (codes[0], "r１００００ ", "100.00"),  # the same receipt, typed differently
            (codes[1], "R99999", "120.50"),  # another receipt, same amount
            (codes[2], "", "80.00"),  # no receipt given
        ]
    )
    settlement, _ = settlement_upload(
        campaign=c, store=shop.store, clerk=shop.supervisor, register=register, invoice=PDF
    )
    assert (settlement.matched, settlement.receipt_differences, settlement.payable_fen) == (
        1,
        2,
        3 * 6800,  # paid on our records: a receipt difference holds nothing back
    )
    result = settlement_compare(settlement=settlement)
    assert [(line.code, line.status, line.receipt_differs) for line in result.lines] == [
        (codes[0], "matched", False),
        (codes[1], "receipt_differs", True),
        (codes[2], "receipt_differs", True),
    ]
    assert result.differences == 2
    assert (result.lines[1].receipt_no, result.lines[1].platform_receipt_no) == ("R99999", "R12050")
    report = load_workbook(io.BytesIO(settlement_report_xlsx(settlement=settlement, result=result)))
    label = str(RECONCILE_LABELS["receipt_differs"])
    summary = {r[0]: r[1] for r in report["汇总"].iter_rows(values_only=True)}
    assert summary[label] == 2 and summary["应付补贴(元)"] == 204
    detail = list(report["明细"].iter_rows(values_only=True))[1:]
    assert [(r[0], r[1], r[3], r[5]) for r in detail] == [
        (codes[0], str(RECONCILE_LABELS["matched"]), "r１００００", "R10000"),
        (codes[1], label, "R99999", "R12050"),
        (codes[2], label, None, "R8000"),
    ]


def test_an_amount_difference_does_not_hide_a_receipt_difference(shop, redeemed):
    c, codes = redeemed
    settlement, _ = settlement_upload(
        campaign=c,
        store=shop.store,
        clerk=shop.supervisor,
        register=xlsx([(codes[0], "R1", "99.00"), (codes[1], "R12050", "1.00")]),
        invoice=PDF,
    )
    result = settlement_compare(settlement=settlement)
    assert [(line.status, line.receipt_differs) for line in result.lines[:2]] == [
        ("amount_differs", True),
        ("amount_differs", False),
    ]
    assert result.counts["amount_differs"] == 2 and result.counts["receipt_differs"] == 0
    report = load_workbook(io.BytesIO(settlement_report_xlsx(settlement=settlement, result=result)))
    outcomes = [r[1] for r in list(report["明细"].iter_rows(values_only=True))[1:3]]
    amounts, receipts = RECONCILE_LABELS["amount_differs"], RECONCILE_LABELS["receipt_differs"]
    assert outcomes == [f"{amounts}；{receipts}", str(amounts)]


def test_a_receipt_typed_into_a_number_cell_is_the_receipt(shop, make_campaign, carded):
    """A spreadsheet keeps a receipt of digits typed into a number cell as a number; read back
    it is the same receipt, not ``20230424.0``."""
    c = make_campaign()
    codes = []
    for receipt in ("20230424", "20230425"):
        v = voucher_grab(campaign=c, member=carded()).voucher
        voucher_redeem(
            code=v.code, store=shop.store, clerk=shop.clerk, receipt_no=receipt, amount_fen=10000
        )
        codes.append(v.code)
    settlement, _ = settlement_upload(
        campaign=c,
        store=shop.store,
        clerk=shop.supervisor,
        register=xlsx([(codes[0], 20230424, "100"), (codes[1], 20230425.0, "100")]),
        invoice=PDF,
    )
    assert (settlement.matched, settlement.receipt_differences) == (2, 0)
    assert list(settlement.lines.values_list("receipt_no", flat=True)) == ["20230424", "20230425"]


@pytest.fixture
def two_stores(world, shop, make_campaign, carded):
    """A closed campaign with one voucher used at each of its two stores."""
    c = make_campaign(stores=[shop.store, shop.other_store])
    codes = {}
    for store in (shop.store, shop.other_store):
        v = voucher_grab(campaign=c, member=carded()).voucher
        voucher_redeem(
            code=v.code, store=store, clerk=shop.clerk, receipt_no="R1", amount_fen=10000
        )
        codes[store.pk] = v.code
    campaign_transition(campaign=c, new=CampaignStatus.CLOSED, actor=None)
    return c, codes


def _approved(world, shop, campaign, store, code):
    settlement, _ = settlement_upload(
        campaign=campaign,
        store=store,
        clerk=shop.supervisor,
        register=xlsx([(code, "R1", "100")]),
        invoice=PDF,
    )
    return settlement_approve(settlement=settlement, actor=world.jiefang_officer)


def test_no_notice_while_a_store_with_redemptions_has_no_approved_settlement(
    world, shop, two_stores
):
    """The notice publishes the campaign's whole count and closing it settles the campaign: a
    store whose vouchers were used but whose register was never approved would be promised its
    subsidy in public and then never paid."""
    from gonghui.benefits.models import PublicNotice

    c, codes = two_stores
    _approved(world, shop, c, shop.store, codes[shop.store.pk])
    c.refresh_from_db()
    assert c.status == CampaignStatus.SETTLING
    with pytest.raises(ApplicationError) as exc:
        notice_publish(campaign=c, actor=world.jiefang_officer, days=5)
    assert exc.value.code == "settlement_missing"
    assert shop.other_store.name in str(exc.value.message)
    assert not PublicNotice.objects.filter(campaign=c).exists()
    # The other store can still hand in its register once the first is approved, and then
    # the notice goes out and both stores are paid.
    _approved(world, shop, c, shop.other_store, codes[shop.other_store.pk])
    notice = notice_publish(campaign=c, actor=world.jiefang_officer, days=5)
    assert (notice.total_vouchers, notice.total_payable_fen) == (2, 2 * 6800)
    paid = notice_close(notice=notice, actor=world.jiefang_officer, now=notice.ends_at)
    assert sorted(s.payable_fen for s in paid) == [6800, 6800]
    payable = Account.objects.get(code=f"2202.M{shop.merchant.pk}")
    assert account_balance_fen(account=payable) == 0


def test_a_store_without_redemptions_needs_no_settlement(world, shop, make_campaign, redeemed):
    c, codes = redeemed  # all three at shop.store; the campaign has only that store
    c.stores.add(shop.other_store)
    campaign_transition(campaign=c, new=CampaignStatus.CLOSED, actor=None)
    settlement, _ = settlement_upload(
        campaign=c,
        store=shop.store,
        clerk=shop.supervisor,
        register=xlsx([(code, f"R{i}", "100") for i, code in enumerate(codes)]),
        invoice=PDF,
    )
    settlement_approve(settlement=settlement, actor=world.jiefang_officer, reason="核对无误")
    notice = notice_publish(campaign=c, actor=world.jiefang_officer, days=5)
    assert notice.total_vouchers == 3


def test_no_upload_once_the_notice_is_published(world, shop, redeemed):
    c, codes = redeemed
    campaign_transition(campaign=c, new=CampaignStatus.CLOSED, actor=None)
    register = [(code, f"R{i}", "100") for i, code in enumerate(codes)]
    settlement, _ = settlement_upload(
        campaign=c, store=shop.store, clerk=shop.supervisor, register=xlsx(register), invoice=PDF
    )
    settlement_approve(settlement=settlement, actor=world.jiefang_officer, reason="核对无误")
    notice_publish(campaign=c, actor=world.jiefang_officer, days=5)
    c.stores.add(shop.other_store)
    with pytest.raises(ApplicationError) as exc:
        settlement_upload(
            campaign=c,
            store=shop.other_store,
            clerk=shop.supervisor,
            register=xlsx(register),
            invoice=PDF,
        )
    assert exc.value.code == "settlement_not_accepted"
    assert Settlement.objects.filter(campaign=c).count() == 1


def test_only_a_supervisor_hands_in_the_store_s_register(world, shop, redeemed):
    """The register and invoice are the store's claim for payment, and a new upload replaces
    the last: a till clerk may not do it, a switched-off supervisor neither."""
    from gonghui.benefits.models import MerchantClerk

    c, codes = redeemed
    register = [(code, f"R{i}", "100") for i, code in enumerate(codes)]
    with pytest.raises(PermissionDenied):
        settlement_upload(
            campaign=c, store=shop.store, clerk=shop.clerk, register=xlsx(register), invoice=PDF
        )
    MerchantClerk.objects.filter(pk=shop.supervisor.pk).update(is_active=False)
    shop.supervisor.refresh_from_db()
    with pytest.raises(PermissionDenied):
        settlement_upload(
            campaign=c,
            store=shop.store,
            clerk=shop.supervisor,
            register=xlsx(register),
            invoice=PDF,
        )
    assert Settlement.objects.count() == 0
