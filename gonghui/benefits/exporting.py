"""The campaign dashboard's figures as an xlsx workbook: a summary, by store, by day, by union.

Figures only (counts and yuan), no person; still every export is scoped like the dashboard (the
campaign and the union level must be the actor's to see) and audited, as exports are here.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from gonghui.accounts.roles import Capability
from gonghui.audit.models import AuditAction
from gonghui.audit.services import audit_record
from gonghui.benefits.figures import campaign_breakdown, campaign_figures
from gonghui.benefits.models import Campaign
from gonghui.core.errors import PermissionDenied
from gonghui.members.importing.report import text_cell


def _yuan(fen: int) -> Decimal:
    return Decimal(fen) / 100


def _row(sheet: WriteOnlyWorksheet, values: list[Any]) -> None:
    """Text as text (a store named ``=HYPERLINK(…)`` stays words), yuan with two decimals."""
    cells: list[Any] = []
    for value in values:
        if isinstance(value, str):
            cells.append(text_cell(sheet, value))
            continue
        cell = WriteOnlyCell(sheet, value=value)
        if isinstance(value, Decimal):
            cell.number_format = "0.00"
        cells.append(cell)
    sheet.append(cells)


@transaction.atomic
def campaign_figures_export(
    *, actor: Any, campaign: Campaign, org: int | str | None = None
) -> bytes:
    """The workbook of ``campaign``'s figures, by union at the level below ``org`` (default the
    campaign's union), as the dashboard shows them. One audit line per export."""
    if not getattr(actor, "can", lambda _c: False)(Capability.VIEW):
        raise PermissionDenied()
    figures = campaign_figures(actor=actor, campaign=campaign)
    breakdown = campaign_breakdown(actor=actor, campaign=campaign, org=org)
    book = Workbook(write_only=True)

    summary = book.create_sheet(_("Summary"))
    _row(summary, [_("Campaign"), campaign.name])
    _row(summary, [_("Organising union"), campaign.org.name])
    for label, value in (
        (_("Vouchers"), figures.quota),
        (_("Handed out"), figures.handed_out),
        (_("Redeemed"), figures.redeemed),
        (_("Not yet used"), figures.open),
        (_("Expired"), figures.expired),
        (_("Cancelled"), figures.cancelled),
        (_("Reversed redemptions (not counted as redeemed)"), figures.reversed),
        (_("Lottery registrations"), figures.registrations),
    ):
        _row(summary, [label, value])
    _row(
        summary,
        [_("Redemption rate (redeemed ÷ handed out)"), round(figures.redemption_rate, 4)],
    )
    _row(summary, [_("Subsidy accrued (yuan)"), _yuan(figures.subsidy_accrued_fen)])
    _row(summary, [_("Subsidy paid (yuan)"), _yuan(figures.subsidy_paid_fen)])
    _row(summary, [_("Subsidy payable (yuan)"), _yuan(figures.subsidy_payable_fen)])

    stores = book.create_sheet(_("By store"))
    _row(stores, [_("Store"), _("Redeemed"), _("Subsidy (yuan)")])
    for s in breakdown.by_store:
        _row(stores, [s.name, s.redeemed, _yuan(s.subsidy_fen)])

    days = book.create_sheet(_("By day"))
    _row(days, [_("Day"), _("Redeemed")])
    for d in breakdown.by_day:
        _row(days, [d.day.isoformat(), d.redeemed])

    unions = book.create_sheet(_("By union"))
    _row(unions, [_("Union"), _("Redeemed")])
    for o in breakdown.by_org:
        _row(unions, [o.name, o.redeemed])

    buf = io.BytesIO()
    book.save(buf)
    level = breakdown.level
    audit_record(
        actor=actor,
        action=AuditAction.EXPORT,
        obj=campaign,
        org=campaign.org,
        changes={"figures": True, "level": level.pk if level is not None else None},
    )
    return buf.getvalue()
