"""A small streaming reader for the first sheet of an .xlsx file.

openpyxl's read-only mode builds a cell object per cell and reads ~10–30k rows/s. Here the sheet
XML is decompressed in chunks and scanned with regular expressions (cut at ``</row>``), which is
several times faster than even expat callbacks; a sheet the scanner does not handle (namespace
prefixes, CDATA, comments) is read with expat instead (``iter_rows_expat``), and both give the same
rows (tested). Memory is bounded by the chunk and by the shared-strings table (Excel stores each
distinct text once there), which is kept compact: UTF-8 bytes plus an offset array.

Values are raw: text, int/float for numbers (dates stay Excel serial numbers; the validation knows
which column is a date), bool, and for a formula cell the formula text prefixed with "=", so it
can be refused.
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
from typing import IO, Any
from xml.parsers import expat

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CHUNK = 256 * 1024
MAX_ROW_BYTES = 16 * 1024 * 1024
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
_CELL_REF_ANY = re.compile(r"""\br\s*=\s*["']([^"']*)["']""")
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


def _attribute(attrs: str, name: str, pattern: re.Pattern[str]) -> str | None:
    """An attribute value; plain string search for the usual `` name="…"`` form."""
    key = f' {name}="'
    at = attrs.find(key)
    if at >= 0:
        start = at + len(key)
        return attrs[start : attrs.find('"', start)]
    if name + "=" not in attrs and name + " " not in attrs:
        return None
    found = pattern.search(attrs)
    return found[1] if found else None


def _cell_value(kind: str, inner: str, shared: SharedStrings) -> Any:
    if "<f" in inner:
        formula = _FORMULA.search(inner)
        if formula is not None:
            return "=" + _unescape(formula[1] or "")
    if kind == "inlineStr":
        if inner.startswith("<is><t>") and inner.endswith("</t></is>") and inner.count("<t") == 1:
            return _unescape(inner[7:-9])
        return _unescape("".join(_TEXT.findall(inner)))
    if inner.startswith("<v>") and inner.endswith("</v>"):
        raw = _unescape(inner[3:-4])
    else:
        found = _VALUE.search(inner)
        raw = _unescape(found[1]) if found else ""
    if kind == "s":
        try:
            return shared[int(raw)]
        except (ValueError, IndexError):
            return None
    if kind in _TEXT_KINDS:
        return raw
    if kind == "b":
        return raw == "1"
    return _number(raw) if raw else None


_TEXT_KINDS = frozenset(("str", "e", "d", "inlineStr"))


def _scan_row_general(body: str, shared: SharedStrings) -> list[Any]:
    row: list[Any] = []
    next_col = 0
    for attrs, inner in _CELL.findall(body):
        ref = _attribute(attrs, "r", _CELL_REF_ANY)
        if ref:
            letters = ref.rstrip("0123456789")
            col = _column_of(letters) if letters.isalpha() and letters.isupper() else next_col
        else:
            col = next_col
        next_col = col + 1
        if col > 200:
            continue
        kind = _attribute(attrs, "t", _CELL_TYPE) or "n"
        if inner:
            value = _cell_value(kind, inner, shared)
        else:
            value = "" if kind in _TEXT_KINDS else None
        if len(row) <= col:
            row.extend([None] * (col + 1 - len(row)))
        row[col] = value
    return row


# The usual cell: ``<c r="B7" s="3" t="s"><v>12</v></c>`` / ``<c r="B7" t="inlineStr"><is><t>…</t>
# </is></c>``: reference letters, type, other attributes, inline text, value, anything else.
_CELL_FAST = re.compile(
    r'<c(?: r="([A-Z]{1,3})\d*")?(?: s="\d+")?(?: t="(\w+)")?((?:\s[^>]*?)?)'
    r"(?:/>|>(?:<is><t>([^<&\r]*)</t></is>|<v>([^<&\r]*)</v>|(.*?))</c>)",
    re.S,
)


def _scan_row(body: str, shared: SharedStrings) -> list[Any]:
    cells = _CELL_FAST.findall(body)
    row: list[Any] = []
    next_col = 0
    for letters, kind, extra, itext, vtext, other in cells:
        if extra and ("r=" in extra or "t=" in extra or "r =" in extra or "t =" in extra):
            return _scan_row_general(body, shared)  # attributes in an unusual order
        col = _column_of(letters) if letters else next_col
        next_col = col + 1
        if col > 200:
            continue
        value: Any
        if itext and kind == "inlineStr":
            value = itext
        elif vtext:
            if kind == "s":
                try:
                    value = shared[int(vtext)]
                except (ValueError, IndexError):
                    value = None
            elif not kind or kind == "n":
                value = _number(vtext)
            else:
                value = _cell_value(kind, f"<v>{vtext}</v>", shared)
        elif itext:
            value = _cell_value(kind or "n", f"<is><t>{itext}</t></is>", shared)
        elif other:
            value = _cell_value(kind or "n", other, shared)
        else:
            value = "" if kind in _TEXT_KINDS else None
        if len(row) <= col:
            row.extend([None] * (col + 1 - len(row)))
        row[col] = value
    return row


class _NeedsExpat(Exception):
    """The scanner met XML it does not handle (CDATA, comments); expat takes over."""


def _scan_rows(handle: IO[bytes], head: bytes, shared: SharedStrings) -> Iterator[list[Any]]:
    buffer = head
    number = 0
    done = False
    while not done:
        chunk = handle.read(CHUNK)
        if chunk:
            buffer += chunk
            cut = buffer.rfind(_ROW_END)
            if cut < 0:
                if len(buffer) > MAX_ROW_BYTES:  # no row is this long: a broken or hostile file
                    raise XlsxError("row too long")
                continue
            cut += len(_ROW_END)
        else:
            done = True
            cut = len(buffer)
        text = buffer[:cut].decode()
        buffer = buffer[cut:]
        if any(marker in text for marker in _UNSAFE):
            raise _NeedsExpat()
        for attrs, body in _ROW.findall(text):
            found = _attribute(attrs, "r", _ROW_NUMBER)
            row_number = int(found) if found and found.isdigit() else number + 1
            while number + 1 < row_number:  # keep Excel's row numbers: pad missing rows
                number += 1
                yield []
            number = row_number
            yield _scan_row(body, shared) if body else []
