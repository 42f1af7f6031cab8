"""Settlement: the store's register and invoice, reconciliation, approval, public notice, payment.

Flow: ``settlement_upload`` (store) → ``settlement_reconcile`` (platform, also on upload) →
``settlement_approve`` (union staff; the campaign moves closed → settling) → ``notice_publish`` →
``objection_submit`` / ``objection_resolve`` → ``notice_close``: with no open objection the payment
order (redeemed vouchers × subsidy) is posted to the ledger and the campaign is settled.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
import zipfile
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from gonghui.audit.models import AuditAction
from gonghui.audit.services import audit_record
from gonghui.benefits import register_xlsx
from gonghui.benefits.models import (
    Campaign,
    CampaignChangeReason,
    CampaignStatus,
    MerchantClerk,
    Objection,
    ObjectionStatus,
    PublicNotice,
    Redemption,
    Settlement,
    SettlementLine,
    SettlementStatus,
    Store,
)
from gonghui.benefits.services import (
    bank_account,
    campaign_transition,
    clean_text,
    clean_voucher_code,
    require_manager,
    subsidy_accounts,
    yuan_to_fen,
)
from gonghui.core.errors import ApplicationError, PermissionDenied
from gonghui.ledger.services import ledger_post
from gonghui.members.importing.report import text_cell
from gonghui.members.sensitive import clean_name, clean_phone

REGISTER_HEADERS = ["券码", "小票号", "消费金额(元)", "核销时间"]
MAX_REGISTER_BYTES = 10 * 1024 * 1024
MAX_INVOICE_BYTES = 10 * 1024 * 1024
MAX_REGISTER_ROWS = 200_000
MAX_TITLE_ROWS = 5  # title lines a register may carry above its headings
# What the xlsx (a zip) unpacks to. Its parts are read whole, so their size, not the upload's,
# bounds the work; a register at the row limit unpacks to about 60 MB.
MAX_REGISTER_UNPACKED_BYTES = 100 * 1024 * 1024
# Columns read from each row: the register's are the first four, and a store may add a few of its
# own; cells further right (a stray one in column XFD) are not read.
MAX_REGISTER_COLUMNS = 64
# The workbook's shared texts (every distinct text in it, on any sheet): a register at the row
# limit has at most a few per row; a file of millions of tiny ones is refused, not held.
MAX_REGISTER_STRINGS = 1_200_000
# Characters kept of one cell's text: a code is 15, a receipt number 40.
MAX_CELL_TEXT = 1000
INVOICE_MAGIC = {b"%PDF": "pdf", b"\x89PNG": "png", b"\xff\xd8\xff": "jpg"}


def settlement_register_template() -> bytes:
    """The xlsx a store fills in: one row per redeemed voucher."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "核销登记"
    ws.append(REGISTER_HEADERS)
    ws.append(["（示例，请删除）123456789012347", "20230424-0001", "128.50", "2023-04-24 10:15"])
    for col, width in zip("ABCD", (30, 20, 16, 20), strict=True):
        ws.column_dimensions[col].width = width
    # Codes and receipt numbers are text: typed into a number cell, a receipt's leading zeros
    # would go, and a spreadsheet shows a long code as 1.23457E+14.
    for col in "AB":
        ws.column_dimensions[col].number_format = "@"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@dataclass
class RegisterRow:
    row_no: int
    code: str
    receipt_no: str
    amount_fen: int


@dataclass
class RowError:
    row_no: int
    message: str
    # The cell's column as the sheet names it, with the template's heading ("C 消费金额(元)");
    # empty for a problem of the whole row.
    column: str = ""


def _not_xlsx() -> ApplicationError:
    return ApplicationError(
        _("The register is not an Excel (.xlsx) file; use the template."),
        code="register_format",
        field="register",
    )


def _too_large() -> ApplicationError:
    return ApplicationError(
        _("The register file is too large."), code="register_too_large", field="register"
    )


def _too_many_rows(rows: int | None) -> ApplicationError:
    """``rows``: how many rows below the headings the sheet has; None: more than the limit."""
    limit = f"{MAX_REGISTER_ROWS:,}"
    if rows is None:
        message = _(
            "The register has more than %(limit)s rows below the headings (blank rows count "
            "too); at most %(limit)s are accepted."
        ) % {"limit": limit}
    else:
        message = _(
            "The register has %(rows)s rows below the headings (blank rows count too); at most "
            "%(limit)s are accepted."
        ) % {"rows": f"{rows:,}", "limit": limit}
    return ApplicationError(message, code="register_rows", field="register")


def _damaged(row: int | None) -> ApplicationError:
    if row:
        message = _(
            "The register is damaged near row %(row)d and cannot be read. Open it in Excel or "
            "WPS, save it as an Excel workbook (.xlsx) and upload it again."
        ) % {"row": row}
    else:
        message = _(
            "The register is damaged and cannot be read. Open it in Excel or WPS, save it as an "
            "Excel workbook (.xlsx) and upload it again."
        )
    return ApplicationError(message, code="register_damaged", field="register")


# What a register that is not an xlsx turns out to be, and what the store should do about it.
_SAVE_AS = gettext_lazy(
    "Open it in Excel or WPS, choose Save As, “Excel workbook (*.xlsx)”, and upload that file."
)
_FORMATS = {
    "empty": ("register_empty_file", gettext_lazy("The register file is empty.")),
    "encrypted": (
        "register_encrypted",
        gettext_lazy(
            "The register is protected by a password, so it cannot be read. Remove the password "
            "(Excel: File, Info, Protect Workbook; WPS: File, Document Encryption), save it and "
            "upload it again."
        ),
    ),
    "ole": (
        "register_old_format",
        gettext_lazy(
            "The register is an old-format spreadsheet (.xls, or WPS .et), renamed or saved in "
            "the old format."
        ),
    ),
    "text": (
        "register_text",
        gettext_lazy("The register is a text (CSV) file or a web page, not an Excel workbook."),
    ),
}


def _open_register(data: bytes) -> register_xlsx.Workbook:
    kind = register_xlsx.sniff(data)
    if kind in _FORMATS:
        code, message = _FORMATS[kind]
        text = str(message) if kind in {"empty", "encrypted"} else f"{message} {_SAVE_AS}"
        raise ApplicationError(text, code=code, field="register")
    if kind != "zip":
        raise _not_xlsx()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        parts = archive.infolist()
    except Exception as exc:  # a zip's first bytes and nothing readable after them
        raise _not_xlsx() from exc
    # The sizes the archive declares; reading a part never unpacks more than that (zipfile stops
    # there, and a part that holds more fails its CRC check: damaged).
    if sum(part.file_size for part in parts) > MAX_REGISTER_UNPACKED_BYTES:
        raise _too_large()
    if any(part.filename.lower().endswith("vbaproject.bin") for part in parts):
        raise ApplicationError(
            _(
                "The register contains macros. Save it as an Excel workbook (.xlsx), without "
                "macros, and upload it again."
            ),
            code="register_macros",
            field="register",
        )
    try:
        return register_xlsx.open_workbook(
            archive,
            max_strings=MAX_REGISTER_STRINGS,
            max_text=MAX_CELL_TEXT,
            max_columns=MAX_REGISTER_COLUMNS,
        )
    except register_xlsx.TooManyStrings as exc:
        raise _too_large() from exc
    except register_xlsx.RegisterDamaged as exc:
        raise _not_xlsx() from exc


_SheetRows = Generator[tuple[int, list[register_xlsx.CellValue]], None, None]


def _rows(book: register_xlsx.Workbook, sheet: register_xlsx.Sheet) -> _SheetRows:
    """The sheet's rows that have cells, numbered as in the sheet, at most ``MAX_REGISTER_ROWS``
    below the first. Every row counts, blank ones too: a sheet of millions of blank (or styled)
    rows, or one cell a million rows down, is refused at the limit, not read to its end."""
    try:
        yield from book.rows(sheet, max_rows=MAX_REGISTER_ROWS)
    except register_xlsx.TooManyRows as exc:
        raise _too_many_rows(exc.rows) from exc
    except register_xlsx.RegisterDamaged as exc:
        raise _damaged(exc.row) from exc


def _code_text(value: Any) -> str:
    """A code or receipt cell as text. A spreadsheet keeps digits typed into a cell that is not
    text as a number (``123456789012345`` or ``1.23456789012345E14``); 15 digits are kept exactly,
    so the number is the code (and ``20230424.0`` is the receipt ``20230424``)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, register_xlsx.LongText):
        return value.head
    return "" if value is None else str(value)


def _plain(value: register_xlsx.CellValue) -> str:
    """A cell as text for telling headings, titles, blank and totals rows apart."""
    if isinstance(value, register_xlsx.ErrorValue):
        return value.text
    if isinstance(value, register_xlsx.FormulaWithoutValue):
        return "="
    if isinstance(value, register_xlsx.BadNumber):
        return value.text
    return _code_text(value).strip()


# What a store writes on the totals row at the foot of its register, compared after NFKC,
# without spaces, a trailing colon or case.
_TOTALS_LABELS = {"合计", "总计", "小计", "共计", "累计", "total", "totals", "sum"}


def _is_totals_label(cell: str) -> bool:
    return "".join(unicodedata.normalize("NFKC", cell).split()).rstrip(":").lower() in (
        _TOTALS_LABELS
    )


# A code a spreadsheet showed in scientific notation and the store copied as shown
# ("1.23457E+14"): its last digits are gone.
_SCIENTIFIC = re.compile(r"\d(?:\.\d+)?[eE]\+?\d{1,3}")


def _amount_text(value: Any) -> str:
    """An amount cell as text. A number the spreadsheet worked out is stored to 17 digits
    (``=3*42.7`` as ``128.10000000000002``): within a millionth of a fen it is that fen, read
    through text, never a float; anything else (a third decimal) is left for the check to refuse.
    Text keeps what a till or a clerk writes around the number ("RMB 100", "人民币100元")."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and abs(value * 100 - round(value * 100)) < 1e-6:
        return f"{value:.2f}"
    text = "" if value is None else str(value)
    text = unicodedata.normalize("NFKC", text).strip()
    for prefix in ("RMB", "CNY", "人民币"):
        if text.upper().startswith(prefix):
            text = text[len(prefix) :].strip()
    return text.removesuffix("整")


def _heading_key(text: str) -> str:
    """A heading as compared: NFKC (``消费金额（元）`` typed with full-width brackets is the
    template's ``消费金额(元)``), without spaces."""
    return "".join(unicodedata.normalize("NFKC", text).split())


_HEADING_KEYS = [_heading_key(h) for h in REGISTER_HEADERS[:3]]


def _check_headings(cells: list[str]) -> list[int]:
    """The columns (0-based) of the code, receipt and amount, found by their headings in any
    order among other columns (the time column is not read, so not needed). Without them, the
    template's order is assumed and the first wrong heading named with the one it should have."""
    keys = [_heading_key(c) for c in cells]
    found: list[int] = []
    for expected, key in zip(REGISTER_HEADERS, _HEADING_KEYS, strict=False):
        where = [i for i, k in enumerate(keys) if k == key]
        if len(where) > 1:
            raise ApplicationError(
                _("Columns %(first)s and %(second)s are both headed “%(heading)s”; keep one.")
                % {
                    "first": register_xlsx.column_letter(where[0] + 1),
                    "second": register_xlsx.column_letter(where[1] + 1),
                    "heading": expected,
                },
                code="register_headers",
                field="register",
            )
        found.extend(where)
    if len(found) == len(_HEADING_KEYS):
        return found
    for index, expected in enumerate(REGISTER_HEADERS[:3]):
        value = cells[index] if index < len(cells) else ""
        if _heading_key(value) == _HEADING_KEYS[index]:
            continue
        column = register_xlsx.column_letter(index + 1)
        if value:
            message = _("Column %(column)s should be headed “%(expected)s”; it is “%(found)s”.") % {
                "column": column,
                "expected": expected,
                "found": _printable(value)[:40],
            }
        else:
            message = _("Column %(column)s should be headed “%(expected)s”; it is empty.") % {
                "column": column,
                "expected": expected,
            }
        raise ApplicationError(message, code="register_headers", field="register")
    raise AssertionError("unreachable: every heading matched but one was not found")


def _printable(text: str) -> str:
    """Text from the file as it may be quoted in a message: without control or format
    characters (a right-to-left override would turn the message around)."""
    return "".join(c for c in text if unicodedata.category(c) not in _UNPRINTABLE)


_UNPRINTABLE = {"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"}


def _find_headings(
    rows: Iterator[tuple[int, list[register_xlsx.CellValue]]],
) -> list[int] | None:
    """Read up to the headings row and return its columns; None for a sheet without a filled
    row. Above the headings a store may have left blank rows and a title or two
    ("新华书店核销登记表", a date): a row with one filled cell that is no heading. Past a few of
    those, the row is taken for the headings and a wrong one named."""
    titles = 0
    for _row_no, raw in rows:
        cells = [_plain(value) for value in raw]
        filled = [c for c in cells if c]
        if not filled:
            continue
        heading = any(_heading_key(c) in _HEADING_KEYS for c in filled)
        if len(filled) == 1 and not heading and titles < MAX_TITLE_ROWS:
            titles += 1
            continue
        return _check_headings(cells)
    return None


def _register_sheet(
    book: register_xlsx.Workbook,
) -> tuple[list[int], Iterator[tuple[int, list[register_xlsx.CellValue]]]]:
    """The sheet the store fills in: the visible sheet with the template's headings. A hidden
    sheet is never read (the store would hand in rows it cannot see); a sheet of notes before the
    register is passed over; two sheets with the headings are refused, as it is not clear which
    one is the register."""
    visible = [sheet for sheet in book.sheets if sheet.visible]
    if not visible:
        raise _not_xlsx()
    found: list[tuple[register_xlsx.Sheet, list[int], _SheetRows]] = []
    first_error: ApplicationError | None = None
    for sheet in visible:
        rows = _rows(book, sheet)
        try:
            columns = _find_headings(rows)
        except ApplicationError as exc:
            if exc.code != "register_headers":
                raise
            first_error = first_error or exc
            continue
        if columns is not None:
            found.append((sheet, columns, rows))
    if len(found) > 1:
        raise ApplicationError(
            _(
                "The sheets “%(first)s” and “%(second)s” both have the register's headings; "
                "hand in a workbook with one register sheet."
            )
            % {"first": _printable(found[0][0].name), "second": _printable(found[1][0].name)},
            code="register_sheets",
            field="register",
        )
    for _sheet, _columns, rows in found[1:]:
        rows.close()
    if found:
        return found[0][1], found[0][2]
    if first_error is not None:
        raise first_error
    raise ApplicationError(_("The register is empty."), code="register_empty", field="register")


def _cell_problem(value: register_xlsx.CellValue) -> str | None:
    """What is wrong with a cell whatever column it is in: a formula the file holds no result
    for, a spreadsheet error, an unreadable number."""
    if isinstance(value, register_xlsx.FormulaWithoutValue):
        return _(
            "The cell holds a formula whose result was not saved with the file. Open the file "
            "in Excel or WPS, save it and upload it again."
        )
    if isinstance(value, register_xlsx.ErrorValue):
        return _("The cell shows the spreadsheet error %(error)s.") % {
            "error": _printable(value.text)
        }
    if isinstance(value, register_xlsx.BadNumber):
        return _("The cell holds a number the spreadsheet cannot show.")
    return None


def _row_fields(
    row_no: int, raw: list[register_xlsx.CellValue], columns: list[int]
) -> RegisterRow | RowError:
    code_at, receipt_at, amount_at = columns

    def cell(index: int) -> register_xlsx.CellValue:
        return raw[index] if index < len(raw) else None

    def error(index: int, message: str) -> RowError:
        heading = REGISTER_HEADERS[columns.index(index)]
        return RowError(row_no, message, f"{register_xlsx.column_letter(index + 1)} {heading}")

    for index in columns:
        if problem := _cell_problem(cell(index)):
            return error(index, problem)
    code_value = cell(code_at)
    code_text = _code_text(code_value).strip()
    if not code_text:
        return error(code_at, _("The voucher code is missing."))
    if isinstance(code_value, register_xlsx.LongText):
        return error(code_at, _("This is not a voucher code."))
    try:
        code = clean_voucher_code(code_text)
    except ApplicationError as exc:
        digits = code_text.replace(" ", "")
        if _SCIENTIFIC.fullmatch(digits) or (
            isinstance(code_value, int | float)
            and exc.code == "code_checksum"
            and digits.endswith("00000")
        ):
            return error(
                code_at,
                _(
                    "The spreadsheet turned this code into a number (%(shown)s) and lost its "
                    "last digits. Format the column as text and type the code again."
                )
                % {"shown": _printable(code_text)[:20]},
            )
        return error(code_at, str(exc.message))
    receipt_value = cell(receipt_at)
    receipt = _code_text(receipt_value).strip()
    if isinstance(receipt_value, register_xlsx.LongText) or len(receipt) > 40:
        return error(receipt_at, _("The receipt number is too long."))
    if any(unicodedata.category(c) in _UNPRINTABLE for c in receipt):
        return error(receipt_at, _("The receipt number contains control or invisible characters."))
    try:
        amount = yuan_to_fen(_amount_text(cell(amount_at)))
    except ApplicationError as exc:
        return error(amount_at, str(exc.message))
    return RegisterRow(row_no, code, receipt, amount)


def settlement_parse_register(data: bytes) -> tuple[list[RegisterRow], list[RowError]]:
    """Read the register row by row (streaming); bad rows are reported with their row number and
    column. A register without a row to settle (the untouched template: its example row is
    skipped) is refused, so it cannot pass as a reconciled settlement of nothing."""
    if len(data) > MAX_REGISTER_BYTES:
        raise _too_large()
    book = _open_register(data)
    columns, sheet_rows = _register_sheet(book)
    code_at, receipt_at, amount_at = columns
    rows: list[RegisterRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    total_fen = 0
    for row_no, raw in sheet_rows:
        cells = [_plain(value) for value in raw]
        if not any(cells):
            continue
        code_cell = cells[code_at] if code_at < len(cells) else ""
        receipt_cell = cells[receipt_at] if receipt_at < len(cells) else ""
        if code_cell.startswith("（示例"):
            continue
        # A totals row at the foot: no code, and a label ("合计" in any column) or, unlabelled,
        # the sum of the amounts above it under the amount heading.
        if not code_cell or _is_totals_label(code_cell):
            if any(_is_totals_label(c) for c in cells):
                continue
            if not receipt_cell and rows:
                try:
                    if yuan_to_fen(_amount_text(raw[amount_at])) == total_fen:
                        continue
                except (ApplicationError, IndexError):
                    pass
        parsed = _row_fields(row_no, raw, columns)
        if isinstance(parsed, RowError):
            errors.append(parsed)
            continue
        if parsed.code in seen:
            errors.append(
                RowError(
                    row_no,
                    _("This code is already on row %(n)d.") % {"n": seen[parsed.code]},
                    f"{register_xlsx.column_letter(code_at + 1)} {REGISTER_HEADERS[0]}",
                )
            )
            continue
        seen[parsed.code] = row_no
        total_fen += parsed.amount_fen
        rows.append(parsed)
    if not rows and not errors:
        raise ApplicationError(
            _(
                "The register has no rows (the example row is ignored). Fill it in and upload it "
                "again."
            ),
            code="register_no_rows",
            field="register",
        )
    return rows, errors


def _check_invoice(invoice: UploadedFile | ContentFile) -> None:
    size = invoice.size or 0
    if size == 0:
        raise ApplicationError(_("Attach the invoice."), code="invoice_empty", field="invoice")
    if size > MAX_INVOICE_BYTES:
        raise ApplicationError(_("The invoice file is too large."), code="invoice_too_large")
    invoice.seek(0)
    head = invoice.read(8)
    invoice.seek(0)
    if not any(head.startswith(magic) for magic in INVOICE_MAGIC):
        raise ApplicationError(
            _("The invoice must be a PDF, PNG or JPEG file."),
            code="invoice_format",
            field="invoice",
        )


def settlement_uploads_open(campaign: Campaign) -> bool:
    """Whether stores may hand in (or replace) a register: while the campaign runs, after it
    closes and while it settles (one store's approval moves the campaign to settling; the other
    stores must still be able to hand theirs in), until the public notice is published."""
    if campaign.status not in {
        CampaignStatus.OPEN,
        CampaignStatus.CLOSED,
        CampaignStatus.SETTLING,
    }:
        return False
    return not PublicNotice.objects.filter(campaign_id=campaign.pk).exists()


def settlement_upload(
    *,
    campaign: Campaign,
    store: Store,
    register: UploadedFile | ContentFile,
    invoice: UploadedFile | ContentFile,
    clerk: MerchantClerk | None = None,
    staff: Any = None,
) -> tuple[Settlement, list[RowError]]:
    """A store hands in its register and invoice: uploaded by a supervisor of its merchant, or by
    union staff (benefits capability over the campaign's union) who took the files over the
    counter or by mail. Rejected whole if any row is bad (the row errors are returned in the
    exception's ``extra``); an earlier upload not yet approved is replaced."""
    if (clerk is None) == (staff is None):
        raise PermissionDenied()
    if not campaign.stores.filter(pk=store.pk).exists():
        raise PermissionDenied()
    if clerk is not None:
        # A supervisor's act: the register is the store's claim for payment and replaces the
        # last one handed in.
        if (
            not clerk.is_active
            or not clerk.is_supervisor
            or clerk.merchant_id != store.merchant_id
            or campaign.merchant_id != clerk.merchant_id
        ):
            raise PermissionDenied()
        uploader: Any = clerk
        label = clerk.audit_label
    else:
        require_manager(staff, campaign.org)
        uploader = staff
        label = f"staff:{staff.username}"
    if not settlement_uploads_open(campaign):
        raise ApplicationError(
            _(
                "Settlement files are accepted while the campaign runs and after it closes, "
                "until the public notice is published."
            ),
            code="settlement_not_accepted",
        )
    if (register.size or 0) > MAX_REGISTER_BYTES:
        raise _too_large()
    register.seek(0)
    data = register.read()
    rows, errors = settlement_parse_register(data)
    if errors:
        raise ApplicationError(
            _("%(n)d rows of the register have errors; nothing was saved.") % {"n": len(errors)},
            code="register_rows_invalid",
            extra={"rows": [(e.row_no, e.column, e.message) for e in errors]},
        )
    _check_invoice(invoice)
    with transaction.atomic():
        live = (
            Settlement.objects.select_for_update()
            .filter(campaign=campaign, store=store)
            .exclude(status=SettlementStatus.SUPERSEDED)
        )
        for old in live:
            if old.status in {SettlementStatus.APPROVED, SettlementStatus.PAID}:
                raise ApplicationError(
                    _("This store's settlement is already approved."), code="settlement_approved"
                )
        live.update(status=SettlementStatus.SUPERSEDED)
        settlement = Settlement(
            campaign=campaign,
            store=store,
            rows=len(rows),
            uploaded_by_label=label[:150],
        )
        settlement.register.save("register.xlsx", ContentFile(data), save=False)
        settlement.invoice.save(
            f"invoice.{INVOICE_MAGIC.get(_magic(invoice), 'bin')}", invoice, save=False
        )
        settlement.save()
        SettlementLine.objects.bulk_create(
            [
                SettlementLine(
                    settlement=settlement,
                    row_no=r.row_no,
                    code=r.code,
                    receipt_no=r.receipt_no,
                    amount_fen=r.amount_fen,
                )
                for r in rows
            ],
            batch_size=2000,
        )
        changes: dict[str, Any] = {"rows": len(rows)}
        if staff is not None:
            changes["on_behalf_of_store"] = store.pk
        audit_record(
            actor=uploader,
            action=AuditAction.IMPORT,
            obj=settlement,
            org=campaign.org,
            changes=changes,
        )
        settlement_reconcile(settlement=settlement, actor=None)
    return settlement, errors


def _magic(f: Any) -> bytes:
    f.seek(0)
    head = f.read(8)
    f.seek(0)
    for magic in INVOICE_MAGIC:
        if head.startswith(magic):
            return magic
    return b""


@dataclass
class ReconcileLine:
    code: str
    # matched / receipt_differs / amount_differs / missing_in_register / missing_in_platform
    status: str
    register_row: int | None = None
    receipt_no: str = ""
    register_amount_fen: int | None = None
    platform_amount_fen: int | None = None
    platform_receipt_no: str = ""
    platform_subsidy_fen: int = 0
    # Both sides have the voucher and their receipt numbers differ. Also set on a line whose
    # amounts differ (its status says that first), so neither difference hides the other.
    receipt_differs: bool = False
    # Only in the register, because its redemption at this store was reversed (the store wrote
    # down a sale it took back): said, so nobody hunts for a scan that "went missing".
    reversed_here: bool = False

    @property
    def label(self) -> str:
        """The outcome in the reader's language (a receipt difference behind an amount one too)."""
        outcome = str(RECONCILE_LABELS[self.status])
        if self.receipt_differs and self.status != "receipt_differs":
            outcome = f"{outcome}；{RECONCILE_LABELS['receipt_differs']}"
        if self.reversed_here:
            outcome = f"{outcome}；{REVERSED_HERE_LABEL}"
        if self.amount_in_fen:
            hint = _("the register seems to give this amount in fen, not yuan")
            outcome = f"{outcome}；{hint}"
        return outcome

    @property
    def amount_in_fen(self) -> bool:
        """The register's amount is a hundred times ours: the store typed fen (12850 for
        ¥128.50), an easy slip when the till prints fen. Still a difference to resolve."""
        return (
            self.status == "amount_differs"
            and bool(self.platform_amount_fen)
            and self.register_amount_fen == (self.platform_amount_fen or 0) * 100
        )


RECONCILE_STATUSES = (
    "matched",
    "missing_in_register",
    "missing_in_platform",
    "amount_differs",
    "receipt_differs",
)


@dataclass
class ReconcileResult:
    lines: list[ReconcileLine] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for line in self.lines if line.status == status)

    @property
    def counts(self) -> dict[str, int]:
        """Lines by status, every status present (for pages: ``result.counts.matched``)."""
        counts = dict.fromkeys(RECONCILE_STATUSES, 0)
        for line in self.lines:
            counts[line.status] += 1
        return counts

    @property
    def differences(self) -> int:
        """Lines where the register and the platform disagree (anything but a match)."""
        return sum(1 for line in self.lines if line.status != "matched")

    @property
    def payable_fen(self) -> int:
        """The subsidy of every live redemption of the store: paid on our records, whatever the
        register says, so a line only in the register adds nothing."""
        return sum(line.platform_subsidy_fen for line in self.lines)


def _receipt_key(receipt: str) -> str:
    """A receipt number as compared: NFKC (full-width digits are the same digits), without
    spaces, upper case (a till prints ``R-0001``, a clerk types ``r-0001``)."""
    return "".join(unicodedata.normalize("NFKC", receipt).split()).upper()


def settlement_compare(*, settlement: Settlement) -> ReconcileResult:
    """Compare the register with our live (not reversed) redemptions of this store: matched,
    missing on either side, amount or receipt differences, and the subsidy payable. A read,
    worked out afresh each time: pages and the report show it, ``settlement_reconcile`` stores
    its counts, and approval reconciles again, so what is shown is what would be approved."""
    ours = {
        code: (amount, receipt, subsidy)
        for code, amount, receipt, subsidy in Redemption.objects.filter(
            voucher__campaign_id=settlement.campaign_id,
            store_id=settlement.store_id,
            reversed_at__isnull=True,
        )
        .order_by("at", "pk")
        .values_list("voucher__code", "amount_fen", "receipt_no", "subsidy_fen")
    }
    result = ReconcileResult()
    reversed_codes: set[str] | None = None  # read only when a register line is not ours
    for row_no, code, receipt, amount in settlement.lines.order_by("row_no").values_list(
        "row_no", "code", "receipt_no", "amount_fen"
    ):
        mine = ours.pop(code, None)
        if mine is None:
            if reversed_codes is None:
                reversed_codes = set(
                    Redemption.objects.filter(
                        voucher__campaign_id=settlement.campaign_id,
                        store_id=settlement.store_id,
                        reversed_at__isnull=False,
                    ).values_list("voucher__code", flat=True)
                )
            result.lines.append(
                ReconcileLine(
                    code,
                    "missing_in_platform",
                    row_no,
                    receipt,
                    amount,
                    reversed_here=code in reversed_codes,
                )
            )
            continue
        our_amount, our_receipt, subsidy = mine
        receipt_differs = _receipt_key(receipt) != _receipt_key(our_receipt)
        if our_amount != amount:
            status = "amount_differs"
        elif receipt_differs:
            status = "receipt_differs"
        else:
            status = "matched"
        result.lines.append(
            ReconcileLine(
                code,
                status,
                row_no,
                receipt,
                amount,
                our_amount,
                our_receipt,
                subsidy,
                receipt_differs,
            )
        )
    # What is left is in our records only, in the order it was redeemed (dicts keep it).
    for code, (our_amount, our_receipt, subsidy) in ours.items():
        result.lines.append(
            ReconcileLine(
                code,
                "missing_in_register",
                platform_amount_fen=our_amount,
                platform_receipt_no=our_receipt,
                platform_subsidy_fen=subsidy,
            )
        )
    return result


def settlement_reconcile(*, settlement: Settlement, actor: Any) -> ReconcileResult:
    """Run the comparison and store its counts and the subsidy payable on the settlement: the
    record of the figures at upload (and, run again by ``settlement_approve``, at approval).
    Pages never show these stored figures; they show ``settlement_compare`` as it stands."""
    if actor is not None:
        require_manager(actor, settlement.campaign.org)
    result = settlement_compare(settlement=settlement)
    Settlement.objects.filter(
        pk=settlement.pk,
        status__in=[SettlementStatus.UPLOADED, SettlementStatus.RECONCILED],
    ).update(
        status=SettlementStatus.RECONCILED,
        matched=result.count("matched"),
        missing_in_register=result.count("missing_in_register"),
        missing_in_platform=result.count("missing_in_platform"),
        amount_differences=result.count("amount_differs"),
        receipt_differences=result.count("receipt_differs"),
        payable_fen=result.payable_fen,
    )
    settlement.refresh_from_db()
    return result


RECONCILE_LABELS = {
    "matched": gettext_lazy("Matched"),
    "missing_in_register": gettext_lazy("On the platform, not in the store's register"),
    "missing_in_platform": gettext_lazy("In the store's register, not on the platform"),
    "amount_differs": gettext_lazy("Amounts differ"),
    "receipt_differs": gettext_lazy("Receipt numbers differ"),
}
REVERSED_HERE_LABEL = gettext_lazy("its redemption at this store was reversed")


def settlement_report_xlsx(*, settlement: Settlement, result: ReconcileResult) -> bytes:
    """The reconciliation as a workbook. Text is written as text, and text a spreadsheet would
    take for a formula (``=HYPERLINK(…)``, ``+cmd|…``, ``@SUM(…)``, ``-2+3``: a receipt number
    from the store's file, a campaign's name) starts with an apostrophe, so it stays words when
    the cell is edited or the sheet is saved as CSV and opened again. Amounts are numbers (yuan,
    two decimals), so the sheet can be summed."""
    wb = Workbook(write_only=True)
    summary = wb.create_sheet("汇总")
    detail = wb.create_sheet("明细")

    def row(ws: Any, values: list[Any]) -> None:
        cells = []
        for value in values:
            if isinstance(value, str):
                cells.append(text_cell(ws, value))
                continue
            cell = WriteOnlyCell(ws, value=value)
            if isinstance(value, Decimal):
                cell.number_format = "0.00"
            cells.append(cell)
        ws.append(cells)

    def yuan(fen: int | None) -> Decimal | None:
        return None if fen is None else Decimal(fen) / 100

    row(summary, ["活动", settlement.campaign.name])
    row(summary, ["门店", settlement.store.name])
    for key, label in RECONCILE_LABELS.items():
        row(summary, [str(label), result.count(key)])
    row(summary, ["应付补贴(元)", yuan(result.payable_fen)])
    row(
        detail,
        ["券码", "结果", "登记表行号", "登记小票号", "登记金额(元)", "平台小票号", "平台金额(元)"],
    )
    for line in result.lines:
        row(
            detail,
            [
                line.code,
                line.label,
                line.register_row,
                line.receipt_no,
                yuan(line.register_amount_fen),
                line.platform_receipt_no,
                yuan(line.platform_amount_fen),
            ],
        )
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def settlement_approve(*, settlement: Settlement, actor: Any, reason: str = "") -> Settlement:
    """Union staff accept a reconciled settlement; the campaign goes closed → settling."""
    campaign = Campaign.objects.select_related("org").get(pk=settlement.campaign_id)
    require_manager(actor, campaign.org)
    if actor is None:
        raise PermissionDenied()
    if campaign.status not in {CampaignStatus.CLOSED, CampaignStatus.SETTLING}:
        raise ApplicationError(
            _("Settle after the redemption window has closed."), code="campaign_not_closed"
        )
    with transaction.atomic():
        # Reconcile again first: the register may have been uploaded while vouchers were still
        # being used or reversed. What is approved is the comparison as it stands now.
        if Settlement.objects.filter(pk=settlement.pk, status=SettlementStatus.RECONCILED).exists():
            settlement_reconcile(settlement=settlement, actor=None)
        done = Settlement.objects.filter(
            pk=settlement.pk, status=SettlementStatus.RECONCILED
        ).update(status=SettlementStatus.APPROVED, approved_by=actor, approved_at=timezone.now())
        if not done:
            raise ApplicationError(
                _("Only a reconciled settlement can be approved."), code="settlement_state"
            )
        if campaign.status == CampaignStatus.CLOSED:
            campaign_transition(
                campaign=campaign,
                new=CampaignStatus.SETTLING,
                actor=actor,
                reason_code=CampaignChangeReason.SETTLEMENT_APPROVED,
            )
        audit_record(
            actor=actor,
            action=AuditAction.TRANSITION,
            obj=settlement,
            org=campaign.org,
            changes={"status": [SettlementStatus.RECONCILED, SettlementStatus.APPROVED]},
            reason=reason,
        )
    settlement.refresh_from_db()
    return settlement


def notice_publish(
    *, campaign: Campaign, actor: Any, days: int | None = None, now: dt.datetime | None = None
) -> PublicNotice:
    require_manager(actor, campaign.org)
    campaign.refresh_from_db()
    now = now or timezone.now()
    days = campaign.notice_days if days is None else days
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 60:
        raise ApplicationError(
            _("The public notice runs 1 to 60 days."), code="notice_days_range", field="days"
        )
    if campaign.status != CampaignStatus.SETTLING:
        raise ApplicationError(
            _("Approve the stores' settlements first."), code="campaign_not_settling"
        )
    settlements = Settlement.objects.filter(campaign=campaign).exclude(
        status=SettlementStatus.SUPERSEDED
    )
    if settlements.exclude(status=SettlementStatus.APPROVED).exists():
        raise ApplicationError(
            _("Every store's settlement must be approved first."), code="settlement_pending"
        )
    # A store whose vouchers were used but which has handed in nothing would be in the notice's
    # count, and closing the notice settles the campaign: it would never be paid.
    unsettled = (
        Store.objects.filter(
            pk__in=Redemption.objects.filter(
                voucher__campaign=campaign, reversed_at__isnull=True
            ).values("store_id")
        )
        .exclude(pk__in=settlements.values("store_id"))
        .order_by("name")
        .values_list("name", flat=True)
    )
    if names := list(unsettled):
        raise ApplicationError(
            _(
                "These stores' vouchers were used but their settlement is not approved yet: "
                "%(stores)s. Upload and approve their registers first."
            )
            % {"stores": "、".join(names)},
            code="settlement_missing",
        )
    totals = Redemption.objects.filter(
        voucher__campaign=campaign, reversed_at__isnull=True
    ).aggregate(n=Count("id"), s=Sum("subsidy_fen"))
    with transaction.atomic():
        if PublicNotice.objects.filter(campaign=campaign).exists():
            raise ApplicationError(_("The notice is already published."), code="notice_exists")
        notice = PublicNotice.objects.create(
            campaign=campaign,
            starts_at=now,
            ends_at=now + dt.timedelta(days=days),
            total_vouchers=totals["n"] or 0,
            total_payable_fen=totals["s"] or 0,
        )
        audit_record(actor=actor, action=AuditAction.CREATE, obj=notice, org=campaign.org)
    return notice


def objection_submit(
    *,
    notice: PublicNotice,
    name: object,
    phone: object,
    text: object,
    now: dt.datetime | None = None,
) -> Objection:
    """Anyone may object while the notice runs (name and phone so the union can answer)."""
    now = now or timezone.now()
    if notice.closed_at is not None or not notice.starts_at <= now < notice.ends_at:
        raise ApplicationError(_("The public notice period is over."), code="notice_over")
    objection = Objection.objects.create(
        notice=notice,
        name=clean_name(name),
        phone=clean_phone(phone),
        text=clean_text(text, field="text", max_length=2000, multiline=True),
    )
    audit_record(actor=None, action=AuditAction.CREATE, obj=objection, org=notice.campaign.org)
    return objection


def objection_resolve(*, objection: Objection, actor: Any, resolution: object) -> Objection:
    require_manager(actor, objection.notice.campaign.org)
    text = clean_text(resolution, field="resolution", max_length=2000, multiline=True)
    done = Objection.objects.filter(pk=objection.pk, status=ObjectionStatus.OPEN).update(
        status=ObjectionStatus.RESOLVED, resolution=text, resolved_at=timezone.now()
    )
    if not done:
        raise ApplicationError(_("This objection is already resolved."), code="objection_state")
    audit_record(
        actor=actor,
        action=AuditAction.TRANSITION,
        obj=objection,
        org=objection.notice.campaign.org,
        changes={"status": ["open", "resolved"]},
        reason=text[:300],
    )
    objection.refresh_from_db()
    return objection


def notice_close(
    *, notice: PublicNotice, actor: Any, now: dt.datetime | None = None
) -> list[Settlement]:
    """End the notice: with no open objection, post each store's payment (redeemed vouchers ×
    subsidy: payable debited, bank credited) and mark the campaign settled."""
    campaign = Campaign.objects.select_related("org", "merchant").get(pk=notice.campaign_id)
    require_manager(actor, campaign.org)
    now = now or timezone.now()
    if now < notice.ends_at:
        raise ApplicationError(_("The public notice is still running."), code="notice_running")
    if notice.objections.filter(status=ObjectionStatus.OPEN).exists():
        raise ApplicationError(_("Resolve the open objections first."), code="objections_open")
    paid: list[Settlement] = []
    with transaction.atomic():
        closed = PublicNotice.objects.filter(pk=notice.pk, closed_at__isnull=True).update(
            closed_at=now
        )
        if not closed:
            raise ApplicationError(_("The notice is already closed."), code="notice_closed")
        _expense, payable = subsidy_accounts(campaign)
        bank = bank_account(campaign.org)
        for s in Settlement.objects.select_for_update().filter(
            campaign=campaign, status=SettlementStatus.APPROVED
        ):
            amount = (
                Redemption.objects.filter(
                    voucher__campaign=campaign, store_id=s.store_id, reversed_at__isnull=True
                ).aggregate(t=Sum("subsidy_fen"))["t"]
                or 0
            )
            txn = None
            if amount:
                txn = ledger_post(
                    entries=[(payable, amount), (bank, -amount)],
                    memo=f"支付补贴 {campaign.name} {s.store.name}"[:200],
                    reference=f"benefits.settlement:{s.pk}",
                    actor=actor,
                )
            Settlement.objects.filter(pk=s.pk).update(
                status=SettlementStatus.PAID, payable_fen=amount, ledger_transaction=txn
            )
            s.refresh_from_db()
            paid.append(s)
        campaign_transition(
            campaign=campaign,
            new=CampaignStatus.SETTLED,
            actor=actor,
            reason_code=CampaignChangeReason.NOTICE_CLOSED,
        )
    return paid
