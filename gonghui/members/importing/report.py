"""The downloadable error report (xlsx) and the downloadable import template."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from gonghui.members.importing.columns import COLUMNS, TEMPLATE_EXAMPLE_ID, choice_examples
from gonghui.members.importing.validation import RowError

KEEP_IN_MEMORY = 200  # the first errors are kept for the job page and for callers
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: Any) -> Any:
    """Keep spreadsheet programs from running a value as a formula (CSV/formula injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def text_cell(sheet: WriteOnlyWorksheet, value: Any) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=safe_text(value))
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


class ErrorReport:
    """Collects bad rows as they are found and streams them into an xlsx (write-only)."""

    def __init__(self) -> None:
        self.count = 0  # bad rows (a row may have several errors, which come together)
        self.errors = 0
        self._last_row = -1
        self.first: list[RowError] = []
        self.workbook: Workbook | None = None
        self.sheet: Any = None

    def _open(self) -> None:
        self.workbook = Workbook(write_only=True)
        self.sheet = self.workbook.create_sheet(_("Errors"))
        bold = Font(bold=True)
        header = []
        for text in (_("Row"), _("Column"), _("Value"), _("Reason")):
            cell = WriteOnlyCell(self.sheet, value=text)
            cell.font = bold
            header.append(cell)
        self.sheet.append(header)

    def add(self, errors: list[RowError]) -> None:
        for error in errors:
            if self.workbook is None:
                self._open()
            self.errors += 1
            if error.row != self._last_row:
                self.count += 1
                self._last_row = error.row
            if len(self.first) < KEEP_IN_MEMORY:
                self.first.append(error)
            self.sheet.append(
                [
                    error.row,
                    text_cell(self.sheet, error.column_header),
                    text_cell(self.sheet, error.value),
                    text_cell(self.sheet, error.message),
                ]
            )

    def save(self) -> Path | None:
        if self.workbook is None:
            return None
        handle = tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False)  # noqa: SIM115
        handle.close()
        self.workbook.save(handle.name)
        self.workbook = None
        return Path(handle.name)


def template_workbook(path: Path | str) -> None:
    """The import template: Chinese headers, one synthetic example row, ID column as text."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "会员"
    bold = Font(bold=True)
    example = {
        "name": "张三",
        "id_number": TEMPLATE_EXAMPLE_ID,  # synthetic, refused by the import
        "phone": "13800000000",
        "employer": "焦作示例有限公司",
        "category": "新就业形态劳动者",
        "new_form_kind": "快递员",
        "education": "大专",
        "political_status": "群众",
        "joined_on": dt.date(2024, 3, 1),
        "card_number": "",
    }
    for index, column in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=1, column=index, value=column.template_header)
        cell.font = bold
        value = example[column.key]
        data = sheet.cell(row=2, column=index, value=value or None)
        letter = cell.column_letter
        sheet.column_dimensions[letter].width = (
            22 if column.key in ("id_number", "employer") else 14
        )
        if column.key in ("id_number", "card_number", "phone"):
            sheet.column_dimensions[letter].number_format = "@"
            data.number_format = "@"
            for row in range(3, 1002):
                sheet.cell(row=row, column=index).number_format = "@"
        if column.key == "joined_on":
            data.number_format = "yyyy-mm-dd"
    notes = workbook.create_sheet("填写说明")
    notes.append(["列", "说明"])
    notes.append(["姓名*、身份证号*", "必填。"])
    notes.append(
        ["身份证号", "18位,末位X可大写或小写;请保持本列为“文本”格式,否则Excel会丢失末尾数字。"]
    )
    for key in ("category", "new_form_kind", "education", "political_status"):
        header = next(c.header for c in COLUMNS if c.key == key)
        notes.append([header, "、".join(choice_examples(key))])
    notes.append(["入会日期", "如 2024-03-01;不填则为导入当天。"])
    workbook.save(path)
