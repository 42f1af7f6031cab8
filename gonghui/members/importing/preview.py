"""The first bad rows of a finished import, read back from its error report for the job page."""

from __future__ import annotations

from dataclasses import dataclass

from openpyxl import load_workbook

from gonghui.members.models import ImportJob

PREVIEW_ROWS = 100


@dataclass(frozen=True)
class ErrorLine:
    row: object
    column: str
    value: str
    reason: str


def import_error_preview(*, job: ImportJob, limit: int = PREVIEW_ROWS) -> list[ErrorLine]:
    """Up to ``limit`` error lines (row, column, masked value, reason); [] when there are none."""
    if not job.error_file:
        return []
    lines: list[ErrorLine] = []
    with job.error_file.open("rb") as handle:
        workbook = load_workbook(handle, read_only=True, data_only=True)
        try:
            sheet = workbook.worksheets[0]
            for values in sheet.iter_rows(min_row=2, max_col=4, values_only=True):
                if len(lines) >= limit:
                    break
                row, column, value, reason = (*values, None, None, None, None)[:4]
                lines.append(
                    ErrorLine(
                        row=row,
                        column=str(column or ""),
                        value=str(value or "").removeprefix("'"),
                        reason=str(reason or ""),
                    )
                )
        finally:
            workbook.close()
    return lines
