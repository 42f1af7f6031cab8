"""A small streaming reader for the first sheet of an .xlsx file (expat over the zipped XML).

openpyxl's read-only mode builds a cell object per cell and reads ~10–30k rows/s; this reader
hands expat's events straight to lists and reads several times faster, in memory bounded by the
shared-strings table (Excel stores each distinct text once there). It returns raw values: text,
int/float for numbers (dates stay Excel serial numbers; the validation knows which column is a
date), bool, and for a formula cell the formula text prefixed with "=", so it can be refused.
"""

from __future__ import annotations

import html
import posixpath
import re
import zipfile
import zlib
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO
from xml.parsers import expat

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CHUNK = 256 * 1024
_COLUMN = re.compile(r"[A-Z]+")


class XlsxError(Exception):
    pass


def _local(name: str) -> str:
    return name.rsplit(" ", 1)[-1]


def _first_sheet_path(zf: zipfile.ZipFile) -> str:
    names = set(zf.namelist())
    try:
        workbook = zf.read("xl/workbook.xml")
        rels = zf.read("xl/_rels/workbook.xml.rels")
    except KeyError:
        if "xl/worksheets/sheet1.xml" in names:
            return "xl/worksheets/sheet1.xml"
        raise XlsxError("no worksheet") from None
    sheet_rid: list[str] = []
    targets: dict[str, str] = {}

    def wb_start(name: str, attrs: dict[str, str]) -> None:
        if _local(name) == "sheet" and not sheet_rid:
            sheet_rid.append(attrs.get(f"{REL_NS} id", ""))

    def rel_start(name: str, attrs: dict[str, str]) -> None:
        if _local(name) == "Relationship":
            targets[attrs.get("Id", "")] = attrs.get("Target", "")

    for data, handler in ((workbook, wb_start), (rels, rel_start)):
        parser = expat.ParserCreate(namespace_separator=" ")
        parser.StartElementHandler = handler
        parser.Parse(data, True)
    target = targets.get(sheet_rid[0], "") if sheet_rid else ""
    if not target:
        raise XlsxError("no worksheet")
    path = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
    path = posixpath.normpath(path)
    if path not in names:
        raise XlsxError("worksheet missing")
    return path


class SharedStrings:
    """The shared-strings table, compact: one UTF-8 buffer and an offset array.

    A file typed in Excel stores every distinct text once here, so a million-row sheet has a few
    million entries (names, identity numbers, phones). As Python ``str`` objects in a list that is
    ~70 bytes each; here it is the UTF-8 text plus 8 bytes of offset, decoded on access.
    """

    def __init__(self) -> None:
        self.data = bytearray()
        self.offsets = array("Q", [0])

    def append(self, text: str) -> None:
        self.data += text.encode()
        self.offsets.append(len(self.data))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index: int) -> str:
        if index < 0:
            raise IndexError(index)
        offsets = self.offsets
        return self.data[offsets[index] : offsets[index + 1]].decode()

    def nbytes(self) -> int:
        return len(self.data) + self.offsets.itemsize * len(self.offsets)


def _shared_strings(zf: zipfile.ZipFile) -> SharedStrings:
    strings = SharedStrings()
    try:
        handle = zf.open("xl/sharedStrings.xml")
    except KeyError:
        return strings
    parts: list[str] = []
    state = {"in_t": False, "in_phonetic": 0}

    def start(name: str, attrs: dict[str, str]) -> None:
        tag = _local(name)
        if tag == "si":
            parts.clear()
        elif tag == "t" and not state["in_phonetic"]:
            state["in_t"] = True
        elif tag == "rPh":
            state["in_phonetic"] += 1

    def end(name: str) -> None:
        tag = _local(name)
        if tag == "si":
            strings.append("".join(parts))
        elif tag == "t":
            state["in_t"] = False
        elif tag == "rPh":
            state["in_phonetic"] -= 1

    def text(data: str) -> None:
        if state["in_t"]:
            parts.append(data)

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    with handle:
        parser.ParseFile(handle)
    return strings


def _column_index(ref: str) -> int:
    letters = _COLUMN.match(ref)
    if not letters:
        return -1
    index = 0
    for ch in letters.group():
        index = index * 26 + (ord(ch) - 64)
    return index - 1


def iter_rows(path: Path) -> Iterator[list[Any]]:
    """Rows of the first sheet as lists of raw values; empty rows are yielded as [] in place.

    The sheet is scanned with regular expressions (``_scan_rows``), several times faster than
    expat callbacks; a sheet that uses namespace prefixes or CDATA is parsed with expat.
    """
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise XlsxError(str(exc)) from None
    with zf:
        try:
            sheet_path = _first_sheet_path(zf)
            shared = _shared_strings(zf)
        except (KeyError, expat.ExpatError, zipfile.BadZipFile) as exc:
            raise XlsxError(str(exc)) from None
        emitted = 0
        try:
            with zf.open(sheet_path) as handle:
                head = handle.read(CHUNK)
                if _PLAIN_SHEET.search(head):
                    for row in _scan_rows(handle, head, shared):
                        yield row
                        emitted += 1
                    return
        except _NeedsExpat:
            pass
        except (zipfile.BadZipFile, OSError, EOFError, UnicodeDecodeError, zlib.error) as exc:
            raise XlsxError(str(exc)) from None
    for number, row in enumerate(iter_rows_expat(path)):
        if number >= emitted:  # rows the scanner already gave are not given twice
            yield row


def iter_rows_expat(path: Path) -> Iterator[list[Any]]:
    """``iter_rows`` through expat: any well-formed sheet (prefixes, CDATA, comments)."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise XlsxError(str(exc)) from None
    with zf:
        try:
            sheet_path = _first_sheet_path(zf)
            shared = _shared_strings(zf)
        except (KeyError, expat.ExpatError, zipfile.BadZipFile) as exc:
            raise XlsxError(str(exc)) from None
        ready: list[list[Any]] = []
        row: list[Any] = []
        cell: dict[str, Any] = {"type": "n", "col": -1, "text": [], "formula": None, "mode": ""}
        state = {"row": 0, "next_col": 0}

        def start(name: str, attrs: dict[str, str]) -> None:
            tag = _local(name)
            if tag == "c":
                ref = attrs.get("r")
                cell["col"] = _column_index(ref) if ref else state["next_col"]
                cell["type"] = attrs.get("t", "n")
                cell["text"] = []
                cell["formula"] = None
                cell["mode"] = ""
            elif tag == "v":
                cell["mode"] = "v"
            elif tag == "t":
                cell["mode"] = "t"
            elif tag == "f":
                cell["mode"] = "f"
                cell["formula"] = []
            elif tag == "row":
                number = int(attrs.get("r") or state["row"] + 1)
                while state["row"] + 1 < number:  # keep Excel's row numbers: pad missing rows
                    state["row"] += 1
                    ready.append([])
                state["row"] = number
                state["next_col"] = 0
                row.clear()

        def end(name: str) -> None:
            tag = _local(name)
            if tag in ("v", "t", "f"):
                cell["mode"] = ""
            elif tag == "c":
                col = cell["col"]
                state["next_col"] = col + 1
                if col < 0 or col > 200:
                    return
                raw = "".join(cell["text"])
                kind = cell["type"]
                value: Any
                if cell["formula"] is not None:
                    value = "=" + "".join(cell["formula"])
                elif kind == "s":
                    try:
                        value = shared[int(raw)]
                    except (ValueError, IndexError):
                        value = None
                elif kind in ("inlineStr", "str", "e", "d"):
                    value = raw
                elif kind == "b":
                    value = raw == "1"
                elif raw == "":
                    value = None
                else:
                    try:
                        value = float(raw) if ("." in raw or "E" in raw or "e" in raw) else int(raw)
                    except ValueError:
                        value = raw
                if len(row) <= col:
                    row.extend([None] * (col + 1 - len(row)))
                row[col] = value
            elif tag == "row":
                ready.append(list(row))

        def text(data: str) -> None:
            mode = cell["mode"]
            if mode == "v" or mode == "t":
                cell["text"].append(data)
            elif mode == "f":
                cell["formula"].append(data)

        parser = expat.ParserCreate(namespace_separator=" ")
        parser.buffer_text = True
        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CharacterDataHandler = text
        try:
            with zf.open(sheet_path) as handle:
                while True:
                    chunk = handle.read(CHUNK)
                    parser.Parse(chunk, not chunk)
                    if ready:
                        yield from ready
                        ready.clear()
                    if not chunk:
                        break
        except (expat.ExpatError, zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise XlsxError(str(exc)) from None


# -- the fast path: a regular-expression scan of the sheet XML -----------------------------------
# An unprefixed <worksheet …> root (what Excel, WPS, LibreOffice and openpyxl write).
_PLAIN_SHEET = re.compile(rb"<worksheet[\s>]")
_ROW = re.compile(r"<row\b([^>]*?)(?:/>|>(.*?)</row>)", re.S)
_CELL = re.compile(r"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
_ROW_NUMBER = re.compile(r"""\br\s*=\s*["'](\d+)["']""")
_CELL_REF = re.compile(r"""\br\s*=\s*["']([A-Z]+)""")
_CELL_TYPE = re.compile(r"""\bt\s*=\s*["'](\w+)["']""")
_VALUE = re.compile(r"<v(?:\s[^>]*)?>(.*?)</v>", re.S)
_TEXT = re.compile(r"<t(?:\s[^>]*)?>(.*?)</t>", re.S)
_FORMULA = re.compile(r"<f\b[^>]*?(?:/>|>(.*?)</f>)", re.S)
_UNSAFE = ("<![CDATA[", "<!--")
_ROW_END = b"</row>"


def _unescape(text: str) -> str:
    if "&" in text:
        text = html.unescape(text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")  # XML line-end handling
    return text


def _number(raw: str) -> Any:
    try:
        return float(raw) if ("." in raw or "E" in raw or "e" in raw) else int(raw)
    except ValueError:
        return raw


_column_cache: dict[str, int] = {}


def _column_of(letters: str) -> int:
    index = _column_cache.get(letters)
    if index is None:
        index = 0
        for ch in letters:
            index = index * 26 + (ord(ch) - 64)
        index -= 1
        if len(_column_cache) < 1024:
            _column_cache[letters] = index
    return index


def _scan_row(body: str, shared: SharedStrings) -> list[Any]:
    row: list[Any] = []
    next_col = 0
    for match in _CELL.finditer(body):
        attrs, inner = match.groups()
        ref = _CELL_REF.search(attrs)
        col = _column_of(ref[1]) if ref else next_col
        next_col = col + 1
        if col > 200:
            continue
        kind_match = _CELL_TYPE.search(attrs)
        kind = kind_match[1] if kind_match else "n"
        value: Any = None
        if inner:
            formula = _FORMULA.search(inner) if "<f" in inner else None
            if formula is not None:
                value = "=" + _unescape(formula[1] or "")
            elif kind == "inlineStr":
                value = _unescape("".join(_TEXT.findall(inner)))
            else:
                found = _VALUE.search(inner)
                raw = _unescape(found[1]) if found else ""
                if kind == "s":
                    try:
                        value = shared[int(raw)]
                    except (ValueError, IndexError):
                        value = None
                elif kind in ("str", "e", "d", "inlineStr"):
                    value = raw
                elif kind == "b":
                    value = raw == "1"
                elif raw:
                    value = _number(raw)
        elif kind in ("str", "e", "d", "inlineStr"):
            value = ""
        if len(row) <= col:
            row.extend([None] * (col + 1 - len(row)))
        row[col] = value
    return row


class _NeedsExpat(Exception):
    """The scanner met XML it does not handle (CDATA, comments); expat takes over."""


def _scan_rows(handle: BinaryIO, head: bytes, shared: SharedStrings) -> Iterator[list[Any]]:
    buffer = head
    number = 0
    done = False
    while not done:
        chunk = handle.read(CHUNK)
        if chunk:
            buffer += chunk
            cut = buffer.rfind(_ROW_END)
            if cut < 0:
                continue
            cut += len(_ROW_END)
        else:
            done = True
            cut = len(buffer)
        text = buffer[:cut].decode()
        buffer = buffer[cut:]
        if any(marker in text for marker in _UNSAFE):
            raise _NeedsExpat()
        for match in _ROW.finditer(text):
            attrs, body = match.groups()
            found = _ROW_NUMBER.search(attrs)
            row_number = int(found[1]) if found else number + 1
            while number + 1 < row_number:  # keep Excel's row numbers: pad missing rows
                number += 1
                yield []
            number = row_number
            yield _scan_row(body, shared) if body else []
