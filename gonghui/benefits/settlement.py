"""Settlement: the store's register and invoice, reconciliation, approval, public notice, payment.

Flow: ``settlement_upload`` (store) → ``settlement_reconcile`` (platform, also on upload) →
``settlement_approve`` (union staff; the campaign moves closed → settling) → ``notice_publish`` →
``objection_submit`` / ``objection_resolve`` → ``notice_close``: with no open objection the payment
order (redeemed vouchers × subsidy) is posted to the ledger and the campaign is settled.
"""

from __future__ import annotations

import datetime as dt
import io
import unicodedata
import zipfile
from collections.abc import Iterator
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
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell

from gonghui.audit.models import AuditAction
from gonghui.audit.services import audit_record
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
from gonghui.members.sensitive import clean_name, clean_phone

REGISTER_HEADERS = ["券码", "小票号", "消费金额(元)", "核销时间"]
MAX_REGISTER_BYTES = 10 * 1024 * 1024
MAX_INVOICE_BYTES = 10 * 1024 * 1024
MAX_REGISTER_ROWS = 200_000
MAX_TITLE_ROWS = 5  # title lines a register may carry above its headings
# What the xlsx (a zip) unpacks to. Its parts are read whole, so their size, not the upload's,
# bounds the work; a register at the row limit unpacks to about 60 MB.
MAX_REGISTER_UNPACKED_BYTES = 100 * 1024 * 1024
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


def _rows(data: bytes) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """The first sheet's rows, numbered from 1 (the headings), at most ``MAX_REGISTER_ROWS``
    below the headings. Every row counts, blank ones too: a sheet of millions of blank (or
    styled) rows would otherwise be read to its end, however long that takes."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            # The sizes the archive declares; reading a part never unpacks more than that.
            unpacked = sum(part.file_size for part in archive.infolist())
    except Exception as exc:  # not a zip, or a broken one
        raise _not_xlsx() from exc
    if unpacked > MAX_REGISTER_UNPACKED_BYTES:
        raise _too_large()
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not xlsx
        raise _not_xlsx() from exc
    try:
        if not wb.worksheets:
            raise _not_xlsx()
        ws = wb.worksheets[0]
        # The sheet's own statement of its size (its dimension), read before any row: most
        # spreadsheet programs write it, so a sheet far too long is refused before it is parsed.
        declared = ws.max_row
        if declared is not None and declared - 1 > MAX_REGISTER_ROWS:
            raise _too_many_rows(declared - 1)
        # Some programs write no dimension or a wrong one, and openpyxl stops at the stated last
        # row: read to the real end instead, and count.
        ws.reset_dimensions()
        for row_no, raw in enumerate(ws.iter_rows(values_only=True), start=1):
            if row_no > MAX_REGISTER_ROWS + 1:
                raise _too_many_rows(None)
            yield row_no, raw
    finally:
        wb.close()


def _code_text(value: Any) -> str:
    """A code or receipt cell as text. A spreadsheet keeps digits typed into a cell that is not
    text as a number (``123456789012345`` or ``1.23456789012345E14``); 15 digits are kept exactly,
    so the number is the code (and ``20230424.0`` is the receipt ``20230424``)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


# What a store writes on the totals row at the foot of its register (in the code or receipt
# column), compared after NFKC, without spaces, a trailing colon or case.
_TOTALS_LABELS = {"合计", "总计", "小计", "共计", "累计", "total", "totals", "sum"}


def _is_totals_row(cells: list[str]) -> bool:
    return any(
        "".join(unicodedata.normalize("NFKC", cell).split()).rstrip(":").lower() in _TOTALS_LABELS
        for cell in cells[:2]
    )


def _amount_text(value: Any) -> str:
    """An amount cell as text. A number the spreadsheet worked out is stored to 17 digits
    (``=3*42.7`` as ``128.10000000000002``): within a millionth of a fen it is that fen, read
    through text, never a float; anything else (a third decimal) is left for the check to refuse."""
    if isinstance(value, float) and abs(value * 100 - round(value * 100)) < 1e-6:
        return f"{value:.2f}"
    return "" if value is None else str(value)


def _heading_key(text: str) -> str:
    """A heading as compared: NFKC (``消费金额（元）`` typed with full-width brackets is the
    template's ``消费金额(元)``), without spaces."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def _check_headings(cells: list[str]) -> None:
    """The headings row (the first, below any title) names the template's columns (the time column is not read, so not checked);
    a wrong one is named with the heading it should have."""
    for index, expected in enumerate(REGISTER_HEADERS[:3]):
        found = cells[index] if index < len(cells) else ""
        if _heading_key(found) == _heading_key(expected):
            continue
        column = "ABCD"[index]
        if found:
            message = _("Column %(column)s should be headed “%(expected)s”; it is “%(found)s”.") % {
                "column": column,
                "expected": expected,
                "found": found[:40],
            }
        else:
            message = _("Column %(column)s should be headed “%(expected)s”; it is empty.") % {
                "column": column,
                "expected": expected,
            }
        raise ApplicationError(message, code="register_headers", field="register")


def settlement_parse_register(data: bytes) -> tuple[list[RegisterRow], list[RowError]]:
    """Read the register row by row (streaming); bad rows are reported with their row number.
    A register without a row to settle (the untouched template: its example row is skipped) is
    refused, so it cannot pass as a reconciled settlement of nothing."""
    if len(data) > MAX_REGISTER_BYTES:
        raise _too_large()
    rows: list[RegisterRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    header_ok = False
    titles = 0
    for row_no, raw in _rows(data):
        cells = [("" if c is None else str(c)).strip() for c in raw[:4]]
        if not header_ok:
            # Above the headings a store may have left blank rows and a title or two
            # ("新华书店核销登记表", a date): a row with one filled cell that is not the first
            # heading. Past a few of those, the row is taken for the headings and named.
            filled = [c for c in cells if c]
            if not filled:
                continue
            first = _heading_key(cells[0]) == _heading_key(REGISTER_HEADERS[0])
            if len(filled) == 1 and not first and titles < MAX_TITLE_ROWS:
                titles += 1
                continue
            _check_headings(cells)
            header_ok = True
            continue
        if not any(cells) or _is_totals_row(cells):
            continue
        code = cells[0] if cells else ""
        receipt = _code_text(raw[1]).strip() if len(raw) > 1 and raw[1] is not None else ""
        if code.startswith("（示例"):
            continue
        if not code:
            errors.append(RowError(row_no, _("The voucher code is missing.")))
            continue
        try:
            code = clean_voucher_code(_code_text(raw[0]))
        except ApplicationError as exc:
            errors.append(RowError(row_no, str(exc.message)))
            continue
        if code in seen:
            errors.append(
                RowError(row_no, _("This code is already on row %(n)d.") % {"n": seen[code]})
            )
            continue
        try:
            amount = yuan_to_fen(_amount_text(raw[2]) if len(raw) > 2 else "")
        except ApplicationError as exc:
            errors.append(RowError(row_no, str(exc.message)))
            continue
        if len(receipt) > 40:
            errors.append(RowError(row_no, _("The receipt number is too long.")))
            continue
        seen[code] = row_no
        rows.append(RegisterRow(row_no, code, receipt, amount))
    if not header_ok:
        raise ApplicationError(_("The register is empty."), code="register_empty", field="register")
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
            extra={"rows": [(e.row_no, e.message) for e in errors]},
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
        return outcome


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
    """The reconciliation as a workbook. Text is written as text: a receipt number the store
    typed as ``=HYPERLINK(…)`` must not become a live formula in the union's spreadsheet. Amounts
    are numbers (yuan, two decimals), so the sheet can be summed."""
    wb = Workbook(write_only=True)
    summary = wb.create_sheet("汇总")
    detail = wb.create_sheet("明细")

    def row(ws: Any, values: list[Any]) -> None:
        cells = []
        for value in values:
            cell = WriteOnlyCell(ws, value=value)
            if isinstance(value, str):
                cell.data_type = "s"
            elif isinstance(value, Decimal):
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
