"""The store's register as real offices and attackers make it: built here as real files (openpyxl,
and raw parts zipped by hand for what openpyxl never writes: shared strings as Excel and WPS
write them, hidden sheets, formulas without results, malformed numbers, DTDs, lying sizes)."""

from __future__ import annotations

import io
import re
import struct
import zipfile
from typing import Any
from xml.sax.saxutils import escape

import pytest
from django.core.files.base import ContentFile
from django.utils import translation
from openpyxl import Workbook, load_workbook

from gonghui.benefits import register_xlsx
from gonghui.benefits import settlement as settlement_module
from gonghui.benefits.models import Settlement, SettlementLine
from gonghui.benefits.settlement import (
    settlement_compare,
    settlement_parse_register,
    settlement_report_xlsx,
    settlement_upload,
)
from gonghui.core.errors import ApplicationError

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
HEADINGS = ["券码", "小票号", "消费金额(元)", "核销时间"]
C1, C2, C3 = "123456789012347", "300000000000007", "123456789012362"
PDF = ContentFile(b"%PDF-1.4\n%fake invoice\n", name="invoice.pdf")


# ------------------------------------------------------------------ building files
def xlsx(rows: list[Any], headers: list[Any] | None = HEADINGS, *, title: str = "") -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    if title:
        ws.append([title])
    if headers:
        ws.append(headers)
    for row in rows:
        ws.append(list(row))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def s(text: str) -> str:
    """A cell as Excel writes text: a shared string (the index is filled in by ``book``)."""
    return "\x00s" + text


def cell_xml(ref: str, value: Any, strings: list[str]) -> str:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith("\x00s"):
        strings.append(value[2:])
        return f'<c r="{ref}" t="s"><v>{len(strings) - 1}</v></c>'
    if isinstance(value, str) and value.startswith("<"):
        return value.replace("@@", ref)  # raw cell XML, for what no program writes
    return f'<c r="{ref}"><v>{value}</v></c>'


def sheet_xml(rows: list[list[Any]], strings: list[str], *, dimension: str = "", prolog="") -> str:
    body = []
    for r, row in enumerate(rows, start=1):
        if isinstance(row, str):  # a raw row, for what no program writes
            body.append(row)
            continue
        cells = "".join(cell_xml(f"{'ABCDEFGH'[i]}{r}", v, strings) for i, v in enumerate(row))
        body.append(f'<row r="{r}">{cells}</row>')
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return f'{DECL}{prolog}<worksheet xmlns="{NS}">{dim}<sheetData>{"".join(body)}</sheetData></worksheet>'


def book(
    sheets: list[tuple[str, list[list[Any]]]] | None = None,
    *,
    hidden: tuple[str, ...] = (),
    sst_prolog: str = "",
    sheet_prolog: str = "",
    strings_xml: str | None = None,
    extra: dict[str, bytes] | None = None,
) -> bytes:
    """A workbook as Excel writes it: shared strings, an XML declaration, relationship ids."""
    if sheets is None:
        sheets = [("核销登记", [[s(h) for h in HEADINGS], [s(C1), s("R1"), s("100.00")]])]
    strings: list[str] = []
    sheet_parts = [sheet_xml(rows, strings, prolog=sheet_prolog) for _name, rows in sheets]
    if strings_xml is None:
        items = "".join(f"<si><t>{escape(t)}</t></si>" for t in strings)
        strings_xml = f'{DECL}{sst_prolog}<sst xmlns="{NS}">{items}</sst>'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006/relationships"
    entries = "".join(
        f'<sheet name="{escape(name)}" sheetId="{i}" r:id="rId{i}"'
        + (' state="hidden"' if name in hidden else "")
        + "/>"
        for i, (name, _rows) in enumerate(sheets, start=1)
    )
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="{rel}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(sheets) + 1)
    )
    rels += f'<Relationship Id="rIdS" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/>'
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", f"{DECL}<Types/>")
        z.writestr(
            "_rels/.rels",
            f'{DECL}<Relationships xmlns="{pkg}"><Relationship Id="rId1" '
            f'Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        z.writestr(
            "xl/workbook.xml",
            f'{DECL}<workbook xmlns="{NS}" xmlns:r="{rel}"><sheets>{entries}</sheets></workbook>',
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            f'{DECL}<Relationships xmlns="{pkg}">{rels}</Relationships>',
        )
        for i, part in enumerate(sheet_parts, start=1):
            z.writestr(f"xl/worksheets/sheet{i}.xml", part)
        z.writestr("xl/sharedStrings.xml", strings_xml)
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return out.getvalue()


def register_rows(*rows: list[Any]) -> bytes:
    return book([("核销登记", [[s(h) for h in HEADINGS], *rows])])


def parse(data: bytes) -> tuple[list[Any], list[Any]]:
    with translation.override("en"):
        return settlement_parse_register(data)


def refusal(data: bytes) -> ApplicationError:
    with translation.override("en"), pytest.raises(ApplicationError) as exc:
        settlement_parse_register(data)
    return exc.value


# ------------------------------------------------------------------ what clerks do
def test_amounts_as_clerks_type_them():
    rows, errors = parse(
        xlsx(
            [
                (C1, "R1", "100.00"),
                (C2, "R2", "¥100"),
                (C3, "R3", "100元"),
                ("100000000000009", "R4", "1,000.00"),
                ("100000000000017", "R5", "１００"),
                ("100000000000025", "R6", "￥100.00"),
                ("100000000000033", "R7", "RMB 100"),
                ("100000000000041", "R8", "人民币100元"),
                ("100000000000058", "R9", 128.5),  # a number (shown as currency or not)
                ("100000000000066", "R10", 100),
            ]
        )
    )
    assert errors == []
    assert [r.amount_fen for r in rows] == [10000] * 3 + [100000] + [10000] * 4 + [12850, 10000]


def test_columns_found_by_their_headings_in_any_order_among_others():
    rows, errors = parse(
        xlsx(
            [("备注", "R1", C1, "x", "100"), (None, "R2", C2, None, "28.50")],
            headers=["备注", "小票号", "券码", "收银员", "消费金额（元）"],
            title="新华书店塔南路图书大厦 四月核销登记",
        )
    )
    assert errors == []
    assert [(r.row_no, r.code, r.receipt_no, r.amount_fen) for r in rows] == [
        (3, C1, "R1", 10000),
        (4, C2, "R2", 2850),
    ]


def test_a_heading_twice_is_refused_with_both_columns():
    error = refusal(xlsx([], headers=["券码", "小票号", "消费金额(元)", "券码"]))
    assert (error.code, str(error.message)) == (
        "register_headers",
        "Columns A and D are both headed “券码”; keep one.",
    )


def test_row_errors_name_the_row_and_the_column_as_the_sheet_has_them():
    _rows, errors = parse(
        xlsx(
            [("R1", C1, "10"), ("R2", "", "10"), ("R3", C1, "abc"), ("R4", C1, "10")],
            headers=["小票号", "券码", "消费金额(元)"],
        )
    )
    assert [(e.row_no, e.column) for e in errors] == [
        (3, "B 券码"),
        (4, "C 消费金额(元)"),
        (5, "B 券码"),
    ]
    assert errors[2].message == "This code is already on row 2."


def test_a_notes_sheet_before_the_register_is_passed_over():
    data = book(
        [
            ("填表说明", [[s("每张券一行，金额以元为单位")], [s("请勿修改表头")]]),
            ("核销登记", [[s(h) for h in HEADINGS], [s(C1), s("R1"), 100]]),
        ]
    )
    rows, errors = parse(data)
    assert ([r.code for r in rows], errors) == ([C1], [])


def test_a_hidden_sheet_is_never_read():
    """The store hands in what it sees: rows on a hidden first sheet are no claim."""
    data = book(
        [
            ("hidden", [[s(h) for h in HEADINGS], [s("100000000000009"), s("X1"), 9999]]),
            ("核销登记", [[s(h) for h in HEADINGS], [s(C1), s("R1"), 100]]),
        ],
        hidden=("hidden",),
    )
    rows, errors = parse(data)
    assert ([(r.code, r.amount_fen) for r in rows], errors) == ([(C1, 10000)], [])
    assert refusal(book([("h", [[s(h) for h in HEADINGS]])], hidden=("h",))).code == (
        "register_format"
    )


def test_two_register_sheets_are_refused():
    sheet = [[s(h) for h in HEADINGS], [s(C1), s("R1"), 100]]
    error = refusal(book([("四月", sheet), ("五月", sheet)]))
    assert (error.code, str(error.message)) == (
        "register_sheets",
        "The sheets “四月” and “五月” both have the register's headings; hand in a workbook "
        "with one register sheet.",
    )


FORMULA_NO_RESULT = (
    "The cell holds a formula whose result was not saved with the file. Open the file in Excel "
    "or WPS, save it and upload it again."
)


def test_formulas_are_read_by_their_saved_result_and_named_without_one():
    data = register_rows(
        [s(C1), s("R1"), '<c r="@@"><f>50+50</f><v>100</v></c>'],
        [s(C2), s("R2"), '<c r="@@"><f>50+50</f></c>'],
        [
            '<c r="@@" t="str"><f>"1234567890"&amp;"12362"</f><v>123456789012362</v></c>',
            s("R3"),
            5,
        ],
        [s("100000000000009"), s("R4"), '<c r="@@" t="e"><v>#REF!</v></c>'],
    )
    rows, errors = parse(data)
    assert [(r.row_no, r.code, r.amount_fen) for r in rows] == [(2, C1, 10000), (4, C3, 500)]
    assert [(e.row_no, e.column, e.message) for e in errors] == [
        (3, "C 消费金额(元)", FORMULA_NO_RESULT),
        (5, "C 消费金额(元)", "The cell shows the spreadsheet error #REF!."),
    ]
    # openpyxl writes a formula with an empty result: the same
    ws_formula = xlsx([(C1, "R1", "=50+50")])
    assert parse(ws_formula)[1][0].message == FORMULA_NO_RESULT


def test_codes_a_spreadsheet_made_numbers_of():
    rows, errors = parse(
        register_rows(
            [123456789012347, s("R1"), 1],
            [3.00000000000007e14, s("R2"), 1],
            [s("1.23457E+14"), s("R3"), 1],
            [123457000000000, s("R4"), 1],  # shown as 1.23457E+14, saved as CSV, opened again
        )
    )
    assert [r.code for r in rows] == [C1, C2]
    assert [e.row_no for e in errors] == [4, 5]
    assert all("lost its last digits" in e.message for e in errors)
    assert "(1.23457E+14)" in errors[0].message


@pytest.mark.parametrize(
    "totals",
    [
        [None, None, 128.5],  # unlabelled: the sum of the amounts above
        [None, None, 128.5, s("合计")],  # the label in another column
        [s("合 计："), None, None],
    ],
)
def test_a_totals_row_in_any_form_is_not_a_voucher(totals):
    rows, errors = parse(register_rows([s(C1), s("R1"), 100], [s(C2), s("R2"), 28.5], [], totals))
    assert ([r.code for r in rows], errors) == ([C1, C2], [])


def test_a_row_without_a_code_whose_amount_is_not_the_total_is_named():
    _rows, errors = parse(register_rows([s(C1), s("R1"), 100], [None, None, 99]))
    assert [(e.row_no, e.column, e.message) for e in errors] == [
        (3, "A 券码", "The voucher code is missing.")
    ]


@pytest.mark.parametrize(
    "receipt",
    [
        "R_x0007_1",  # a control character, as Excel escapes it
        "R\u202e1",  # a right-to-left override
        "R1\u200b",  # a zero-width space
    ],
)
def test_receipts_with_control_or_invisible_characters_are_refused(receipt):
    _rows, errors = parse(register_rows([s(C1), s(receipt), 100]))
    assert [(e.row_no, e.column, e.message) for e in errors] == [
        (2, "B 小票号", "The receipt number contains control or invisible characters.")
    ]


# ------------------------------------------------------------------ not an xlsx
def ole(*streams: str) -> bytes:
    """The start of an OLE compound file (an .xls, a WPS .et, an encrypted xlsx) whose directory
    names ``streams``."""
    names = b"".join(name.encode("utf-16-le") + b"\x00\x00" for name in streams)
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + names + b"\x00" * 1024


@pytest.mark.parametrize(
    ("data", "code", "words"),
    [
        (b"", "register_empty_file", "empty"),
        (ole("Workbook", "SummaryInformation"), "register_old_format", ".xls"),
        (ole("EncryptionInfo", "EncryptedPackage"), "register_encrypted", "password"),
        ("券码,小票号,消费金额(元)\n123,R1,100\n".encode(), "register_text", "CSV"),
        ("券码,小票号,消费金额(元)\n123,R1,100\n".encode("gbk"), "register_text", "CSV"),
        (b"<html><table><tr><td>1</td></tr></table></html>", "register_text", "web page"),
        ("券码\t小票号\n".encode("utf-16"), "register_text", "CSV"),  # Excel's "Unicode text"
        (b"%PDF-1.7\n\x00\x01", "register_format", "template"),
        (b"\x00\xff" * 100, "register_format", "template"),
    ],
)
def test_what_a_file_that_is_no_xlsx_is_and_what_to_do(data, code, words):
    error = refusal(data)
    assert (error.code, error.field) == (code, "register")
    assert words in str(error.message)


def test_a_workbook_with_macros_is_refused():
    data = book(extra={"xl/vbaProject.bin": ole("VBA", "PROJECT")})
    assert refusal(data).code == "register_macros"


# ------------------------------------------------------------------ malformed parts
@pytest.mark.parametrize(
    "amount",
    [
        '<c r="@@"><v>1E999</v></c>',  # infinity once read
        '<c r="@@"><v>nan.0</v></c>',
        '<c r="@@"><v>abc</v></c>',
        '<c r="@@"><v>' + "9" * 5000 + "</v></c>",  # past Python's int-from-text limit
    ],
)
def test_a_malformed_number_is_a_row_error_not_a_crash(amount):
    _rows, errors = parse(register_rows([s(C1), s("R1"), amount]))
    assert [(e.row_no, e.column, e.message) for e in errors] == [
        (2, "C 消费金额(元)", "The cell holds a number the spreadsheet cannot show.")
    ]


def test_odd_cell_types_are_read_as_text_or_refused_by_the_column_s_check():
    _rows, errors = parse(
        register_rows(
            [s(C1), s("R1"), '<c r="@@" t="d"><v>not-a-date</v></c>'],
            [s(C2), s("R2"), '<c r="@@" t="b"><v>1</v></c>'],
        )
    )
    assert [(e.row_no, e.column) for e in errors] == [(2, "C 消费金额(元)"), (3, "C 消费金额(元)")]


@pytest.mark.parametrize(
    ("cell", "row"),
    [
        ('<c r="@@" t="s"><v>99999</v></c>', 2),  # no such shared string
        ('<c r="@@" t="s"><v>-1</v></c>', 2),  # Python would read the last one
        ('<c r="!!" t="s"><v>0</v></c>', 2),
        ('<c r="B7"><v>1</v></c>', 2),  # a cell of another row
    ],
)
def test_a_damaged_sheet_is_refused_with_the_row(cell, row):
    error = refusal(register_rows([s(C1), cell, 100]))
    assert error.code == "register_damaged"
    assert f"near row {row}" in str(error.message)


def test_broken_xml_is_refused_as_damaged():
    data = register_rows([s(C1), s("R1"), 100])
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            part = src.read(name)
            dst.writestr(name, part[: len(part) // 2] if name.endswith("sheet1.xml") else part)
    assert refusal(out.getvalue()).code == "register_damaged"


LAUGHS = (
    '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
    + "".join(
        f'<!ENTITY {n} "{("&" + p + ";") * 10}">'
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "]>"
)
XXE = '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'


@pytest.mark.parametrize(
    ("where", "prolog"),
    [("sst", LAUGHS), ("sst", XXE), ("sheet", LAUGHS), ("sheet", XXE)],
)
def test_a_document_type_is_refused_before_any_entity(where, prolog):
    rows = [
        [s(h) for h in HEADINGS],
        [s(C1), '<c r="@@" t="inlineStr"><is><t>&e;</t></is></c>', 1],
    ]
    if where == "sst":
        data = book([("r", rows)], sst_prolog=prolog)
    else:
        data = book([("r", rows)], sheet_prolog=prolog)
    error = refusal(data)
    assert error.code in {"register_format", "register_damaged"}
    assert "root:" not in str(error.message)


def _declared_size(data: bytes, part: str, size: int) -> bytes:
    """The archive with ``part``'s declared unpacked size rewritten (a zip bomb's lie)."""
    buf = bytearray(data)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(part)
    struct.pack_into("<I", buf, info.header_offset + 22, size)
    i = data.find(b"PK\x01\x02")
    while i >= 0:
        n = struct.unpack("<H", data[i + 28 : i + 30])[0]
        if data[i + 46 : i + 46 + n] == part.encode():
            struct.pack_into("<I", buf, i + 24, size)
        i = data.find(b"PK\x01\x02", i + 4)
    return bytes(buf)


def test_a_part_that_unpacks_to_more_than_it_declares_is_damaged(monkeypatch):
    """A zip bomb under a small declared size: unpacking stops at the size declared, and the
    part fails its check; the whole is never held."""
    filler = '<c r="@@" t="inlineStr"><is><t>' + " " * 2_000_000 + "</t></is></c>"
    data = _declared_size(register_rows([s(C1), filler, 1]), "xl/worksheets/sheet1.xml", 300)
    assert refusal(data).code in {"register_damaged", "register_format"}


def test_sizes_declared_past_the_limit_are_refused_unread(monkeypatch):
    monkeypatch.setattr(settlement_module, "MAX_REGISTER_UNPACKED_BYTES", 10**9)
    data = _declared_size(register_rows([s(C1), s("R1"), 1]), "xl/sharedStrings.xml", 2**31)
    monkeypatch.setattr(settlement_module, "MAX_REGISTER_UNPACKED_BYTES", 100 * 1024 * 1024)
    assert refusal(data).code == "register_too_large"


# ------------------------------------------------------------------ hostile sizes
def test_a_shared_strings_table_past_its_limit_is_refused(monkeypatch):
    """Millions of tiny shared strings (a 360 KB upload held 650 MB for minutes in openpyxl)
    are counted as they are read and refused at the limit."""
    monkeypatch.setattr(settlement_module, "MAX_REGISTER_STRINGS", 50)
    items = "".join(f"<si><t>{h}</t></si>" for h in [*HEADINGS, C1, "R1", "100.00"])
    items += "<si/>" * 100
    data = book(strings_xml=f'{DECL}<sst xmlns="{NS}">{items}</sst>')
    assert refusal(data).code == "register_too_large"
    monkeypatch.setattr(settlement_module, "MAX_REGISTER_STRINGS", 500)
    rows, _errors = parse(book(strings_xml=f'{DECL}<sst xmlns="{NS}">{items}</sst>'))
    assert [r.code for r in rows] == [C1]


def test_very_long_text_is_kept_short_and_named(monkeypatch):
    monkeypatch.setattr(settlement_module, "MAX_CELL_TEXT", 100)
    long_receipt = "R" * 5000
    _rows, errors = parse(register_rows([s(C1), s(long_receipt), 1], [s("X" * 5000), s("R2"), 1]))
    assert [(e.row_no, e.column, e.message) for e in errors] == [
        (2, "B 小票号", "The receipt number is too long."),
        (3, "A 券码", "This is not a voucher code."),
    ]
    archive = zipfile.ZipFile(io.BytesIO(register_rows([s(C1), s(long_receipt), 1])))
    wb = register_xlsx.open_workbook(archive, max_strings=100, max_text=100, max_columns=8)
    long = [t for t in wb.strings if isinstance(t, register_xlsx.LongText)]
    assert [(len(t.head), t.length) for t in long] == [(100, 5000)]


def test_cells_far_to_the_right_are_not_read_and_rows_are_not_padded():
    """One cell in column XFD a row made openpyxl build 16,384 cells a row."""
    far = '<c r="XFDREF"><v>1</v></c>'
    rows_xml = [[s(h) for h in HEADINGS], [s(C1), s("R1"), 100, far.replace("XFDREF", "XFD2")]]
    data = book([("r", rows_xml)])
    archive = zipfile.ZipFile(io.BytesIO(data))
    wb = register_xlsx.open_workbook(archive, max_strings=100, max_text=100, max_columns=64)
    widths = [len(cells) for _row, cells in wb.rows(wb.sheets[0], max_rows=10)]
    assert widths == [4, 3]
    assert [r.code for r in parse(data)[0]] == [C1]


def test_ten_thousand_columns_are_read_to_the_limit():
    wide = [
        [s(h) for h in HEADINGS]
        + [f'<c r="{register_xlsx.column_letter(c)}1"><v>{c}</v></c>' for c in range(5, 10_001)]
    ]
    # the helper names cells A-H; wider cells carry their own reference
    strings: list[str] = []
    row1 = "".join(cell_xml(f"{'ABCD'[i]}1", v, strings) for i, v in enumerate(wide[0][:4]))
    row1 += "".join(wide[0][4:])
    row2 = "".join(
        cell_xml(f"{'ABC'[i]}2", v, strings) for i, v in enumerate([s(C1), s("R1"), 100])
    )
    sheet = f'{DECL}<worksheet xmlns="{NS}"><sheetData><row r="1">{row1}</row><row r="2">{row2}</row></sheetData></worksheet>'
    data = book()
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    items = "".join(f"<si><t>{t}</t></si>" for t in strings)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            if name.endswith("sheet1.xml"):
                dst.writestr(name, sheet)
            elif name.endswith("sharedStrings.xml"):
                dst.writestr(name, f'{DECL}<sst xmlns="{NS}">{items}</sst>')
            else:
                dst.writestr(name, src.read(name))
    rows, errors = parse(out.getvalue())
    assert ([r.code for r in rows], errors) == ([C1], [])


def test_a_stray_cell_a_million_rows_down_is_refused_at_the_limit(monkeypatch):
    monkeypatch.setattr(settlement_module, "MAX_REGISTER_ROWS", 50)
    data = book(
        [
            (
                "r",
                [[s(h) for h in HEADINGS], [s(C1), s("R1"), 1]]
                + [[]] * 10
                + [['<c r="A1048576"><v>1</v></c>'.replace("A1048576", "A13")]],
            )
        ]
    )
    assert [r.code for r in parse(data)[0]] == [C1]
    far = register_rows([s(C1), s("R1"), 1], '<row r="1048576"><c r="A1048576"><v>1</v></c></row>')
    assert refusal(far).code == "register_rows"


def _sheets_sharing_one_part(count: int, sheet: bytes) -> bytes:
    """``count`` sheets listed in the workbook, every one naming the same part."""
    data = book([("r", [[]])])
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            part = src.read(info.filename)
            if info.filename == "xl/workbook.xml":
                entries = "".join(
                    f'<sheet name="s{i}" sheetId="{i}" r:id="rId1"/>' for i in range(1, count + 1)
                )
                part = re.sub(rb"<sheets>.*</sheets>", f"<sheets>{entries}</sheets>".encode(), part)
            elif info.filename == "xl/worksheets/sheet1.xml":
                part = sheet
            dst.writestr(info.filename, part)
    return out.getvalue()


def test_sheets_naming_one_part_are_refused_before_it_is_read_again(monkeypatch):
    """A workbook listing the same part as a thousand sheets: each part is read once at most,
    so the unpacked-size limit bounds the work (a few MB of blank cells, read a thousand times,
    would keep a worker busy for many minutes)."""
    blank = f'{DECL}<worksheet xmlns="{NS}"><sheetData><row r="1">' + '<c r="A1"/>' * 1000
    data = _sheets_sharing_one_part(1000, (blank + "</row></sheetData></worksheet>").encode())
    opened: list[str] = []
    real = register_xlsx.Workbook._part

    def counting(self: Any, path: str) -> Any:
        opened.append(path)
        return real(self, path)

    monkeypatch.setattr(register_xlsx.Workbook, "_part", counting)
    assert refusal(data).code == "register_format"
    assert opened.count("xl/worksheets/sheet1.xml") <= 1


# ------------------------------------------------------------------ the upload and the report
def test_a_refused_file_stores_nothing(shop, make_campaign):
    campaign = make_campaign()
    for data in (b"", ole("Workbook"), register_rows([s(C1), '<c r="@@" t="s"><v>99</v></c>', 1])):
        with pytest.raises(ApplicationError):
            settlement_upload(
                campaign=campaign,
                store=shop.store,
                register=ContentFile(data, name="r.xlsx"),
                invoice=PDF,
                clerk=shop.supervisor,
            )
    assert Settlement.objects.count() == 0 and SettlementLine.objects.count() == 0


@pytest.mark.parametrize(
    "receipt",
    ['=HYPERLINK("http://evil.example/","点我")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3"],
)
def test_the_report_neutralises_formula_text_from_the_register(shop, make_campaign, receipt):
    campaign = make_campaign()
    settlement, _errors = settlement_upload(
        campaign=campaign,
        store=shop.store,
        register=ContentFile(register_rows([s(C1), s(receipt), 100]), name="r.xlsx"),
        invoice=PDF,
        clerk=shop.supervisor,
    )
    result = settlement_compare(settlement=settlement)
    report = load_workbook(io.BytesIO(settlement_report_xlsx(settlement=settlement, result=result)))
    cell = report["明细"]["D2"]
    assert (cell.value, cell.data_type) == ("'" + receipt, "s")


def test_an_amount_given_in_fen_is_pointed_out(shop, make_campaign, carded):
    from gonghui.benefits.services import voucher_grab, voucher_redeem

    campaign = make_campaign()
    voucher = voucher_grab(campaign=campaign, member=carded()).voucher
    voucher_redeem(
        code=voucher.code, store=shop.store, clerk=shop.clerk, receipt_no="R1", amount_fen=12850
    )
    settlement, _errors = settlement_upload(
        campaign=campaign,
        store=shop.store,
        register=ContentFile(register_rows([s(voucher.code), s("R1"), 12850]), name="r.xlsx"),
        invoice=PDF,
        clerk=shop.supervisor,
    )
    with translation.override("en"):
        (line,) = settlement_compare(settlement=settlement).lines
        assert line.status == "amount_differs" and line.amount_in_fen
        assert (
            line.label == "Amounts differ；the register seems to give this amount in fen, not yuan"
        )
