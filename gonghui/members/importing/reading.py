"""Streaming readers for the member import: xlsx (openpyxl read-only) and CSV (UTF-8 or GBK).

Neither reader holds the file in memory: openpyxl's read-only mode parses the sheet XML as it
goes, and the CSV reader decodes line by line. Both yield ``(row_number, {column_key: value})``
with the row number as the clerk sees it in Excel (the header is row 1 when it is the first row).
"""

from __future__ import annotations

import codecs
import csv
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from gonghui.core.errors import ApplicationError
from gonghui.members.importing.columns import COLUMNS, HEADER_LOOKUP, header_key

XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls (and .et) format
ACCEPTED_SUFFIXES = {".xlsx", ".csv"}
HEADER_SEARCH_ROWS = 10  # a title line or two above the header is common in hand-made sheets

Row = tuple[int, dict[str, Any]]


def file_error(message: str, code: str) -> ApplicationError:
    return ApplicationError(message, code=code, field="file")


def check_file(path: Path, name: str) -> str:
    """Return "xlsx" or "csv", or raise with a message the clerk can act on."""
    suffix = Path(name).suffix.lower()
    size = path.stat().st_size
    limit = settings.GONGHUI_IMPORT_MAX_BYTES
    if size > limit:
        raise file_error(
            _("The file is %(size)d MB; the largest file accepted is %(limit)d MB. Split it.")
            % {"size": size // (1024 * 1024), "limit": limit // (1024 * 1024)},
            "file_too_big",
        )
    if size == 0:
        raise file_error(_("The file is empty."), "file_empty")
    with path.open("rb") as fh:
        head = fh.read(8)
    if suffix == ".xls" or head.startswith(OLE_MAGIC):
        raise file_error(
            _(
                "This is an old Excel .xls file. Open it in Excel or WPS, save it as .xlsx, "
                "and upload that."
            ),
            "file_xls",
        )
    if suffix not in ACCEPTED_SUFFIXES:
        raise file_error(
            _("Upload an Excel .xlsx file or a .csv file; %(name)s is neither.")
            % {"name": Path(name).name[:80]},
            "file_type",
        )
    if suffix == ".xlsx":
        if not head.startswith(XLSX_MAGIC) or not zipfile.is_zipfile(path):
            raise file_error(
                _("The file is named .xlsx but is not an Excel workbook."), "file_corrupt"
            )
        return "xlsx"
    if head.startswith(XLSX_MAGIC) or b"\x00" in head:
        raise file_error(_("The file is named .csv but is not a text file."), "file_corrupt")
    return "csv"


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) if the bytes decode as UTF-8, else GB18030 (a superset of GBK)."""
    with path.open("rb") as fh:
        sample = fh.read(1024 * 1024)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=False)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


def _cell(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _header_map(cells: tuple[Any, ...] | list[Any]) -> dict[int, str]:
    found: dict[int, str] = {}
    for index, cell in enumerate(cells):
        key = HEADER_LOOKUP.get(header_key(cell))
        if key and key not in found.values():
            found[index] = key
    return found


def _rows(raw: Iterator[tuple[Any, ...] | list[Any]]) -> Iterator[Row]:
    header: dict[int, str] | None = None
    best: dict[int, str] = {}
    for number, cells in enumerate(raw, start=1):
        if header is None:
            candidate = _header_map(cells)
            if len(candidate) > len(best):
                best = candidate
            if {"name", "id_number"} <= set(candidate.values()):
                header = candidate
                continue
            if number >= HEADER_SEARCH_ROWS:
                break
            continue
        values = {key: _cell(cells[i]) for i, key in header.items() if i < len(cells)}
        if any(v is not None for v in values.values()):
            yield number, values
    if header is None:
        present = set(best.values())
        missing = [c.header for c in COLUMNS if c.required and c.key not in present]
        if not best and not missing:
            missing = [c.header for c in COLUMNS if c.required]
        raise file_error(
            _(
                "The header row is missing the required column(s) %(columns)s. Download the "
                "template and keep its first row."
            )
            % {"columns": "、".join(missing)},
            "header_missing",
        )


@contextmanager
def open_rows(path: Path, name: str) -> Iterator[Iterator[Row]]:
    """Context manager giving an iterator of data rows; raises ApplicationError for a bad file."""
    kind = check_file(path, name)
    if kind == "xlsx":
        yield _xlsx_rows(path)
        return
    encoding = detect_encoding(path)
    with path.open("r", encoding=encoding, newline="") as fh:
        yield _csv_rows(fh)


def _xlsx_rows(path: Path) -> Iterator[Row]:
    from gonghui.members.importing.xlsx import XlsxError, iter_rows

    try:
        yield from _rows(iter_rows(path))
    except XlsxError:
        raise file_error(
            _("The workbook cannot be read; it may be damaged or password-protected."),
            "file_corrupt",
        ) from None


def _csv_rows(fh: Any) -> Iterator[Row]:
    try:
        yield from _rows(csv.reader(fh))
    except UnicodeDecodeError:
        raise file_error(
            _("The CSV file is neither UTF-8 nor GBK text. Save it again as “CSV UTF-8”."),
            "file_encoding",
        ) from None
    except csv.Error:
        raise file_error(_("The CSV file is malformed."), "file_corrupt") from None
