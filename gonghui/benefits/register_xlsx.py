"""A bounded reader for the store's register (xlsx): the cells it needs, nothing else.

openpyxl reads a workbook's shared strings and styles whole into Python objects before the
first row (a 360 KB upload of five million short strings held 650 MB for nearly three minutes),
pads every row out to its last cell (one cell in column XFD per row: 16,384 cells a row, 33 s of
CPU for a 1 MB file), and lets malformed numbers, references and XML escape as exceptions. This
reader streams the parts with expat, refuses a DTD (so no entity expansion or external entity),
keeps at most ``max_columns`` cells a row and a bounded prefix of each text, and turns anything
malformed into one ``RegisterDamaged`` with the row it was reading.
"""

from __future__ import annotations

import math
import posixpath
import re
import zipfile
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any
from xml.parsers import expat

CHUNK = 64 * 1024
MAX_SHEET_ROW = 1_048_576  # the last row a sheet can have
MAX_SHEET_COLUMN = 16_384  # XFD


# What zipfile, expat and the number parsers raise for a malformed part: a bad CRC or a part
# longer than it says, a compression method or encryption zipfile cannot read, broken XML.
_BROKEN = (
    expat.ExpatError,
    zipfile.BadZipFile,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
)


class RegisterDamaged(Exception):
    """The file is a zip but not a readable workbook; ``row`` is the sheet row being read."""

    def __init__(self, reason: str, row: int | None = None) -> None:
        super().__init__(reason)
        self.row = row


class TooManyStrings(Exception):
    pass


class TooManyRows(Exception):
    """``rows``: what the sheet's dimension states (rows below the first), else None."""

    def __init__(self, rows: int | None) -> None:
        super().__init__(rows)
        self.rows = rows


# Cell values that are not plain text, numbers or booleans.
@dataclass(frozen=True)
class FormulaWithoutValue:
    """A formula whose result the file does not carry (written by a program, never calculated)."""


@dataclass(frozen=True)
class ErrorValue:
    text: str  # "#REF!", "#VALUE!"…


@dataclass(frozen=True)
class LongText:
    """Text longer than the reader keeps; ``head`` is its start, ``length`` its full length."""

    head: str
    length: int


@dataclass(frozen=True)
class BadNumber:
    text: str


CellValue = (
    str | int | float | bool | None | FormulaWithoutValue | ErrorValue | LongText | BadNumber
)


@dataclass(frozen=True)
class Sheet:
    name: str
    visible: bool
    path: str


_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_REF = re.compile(r"([A-Z]{1,3})(\d{1,7})")
_INT = re.compile(r"[-+]?\d{1,20}")
_FLOAT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d{1,3})?")


def _unescape(text: str) -> str:
    """Excel writes characters XML cannot carry (control characters) as ``_xHHHH_``; a literal
    ``_x`` is written ``_x005F_x``."""
    if "_x" not in text:
        return text
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def column_letter(index: int) -> str:
    letters = ""
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


_LOCAL_NAMES: dict[str, str] = {}


def _local(name: str) -> str:
    """A tag's or attribute's name without its namespace (a workbook may use the transitional or
    the strict namespace, with or without a prefix). Names repeat: looked up once each."""
    local = _LOCAL_NAMES.get(name)
    if local is None:
        local = name.rsplit("}", 1)[-1]
        if len(_LOCAL_NAMES) < 1000:  # a hostile file's invented names do not grow it forever
            _LOCAL_NAMES[name] = local
    return local


def _parser() -> Any:
    parser = expat.ParserCreate(namespace_separator="}")

    def no_dtd(*_args: Any) -> None:
        raise RegisterDamaged("dtd")

    # A workbook has no document type; one is only there to declare entities (a billion laughs,
    # an external file). Refuse it before any entity is declared.
    parser.StartDoctypeDeclHandler = no_dtd
    parser.EntityDeclHandler = no_dtd
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True
    return parser


def _feed(parser: Any, stream: IO[bytes], pending: deque[Any] | None = None) -> Iterator[Any]:
    """Feed a part to ``parser`` in chunks, yielding what its handlers left in ``pending``."""
    while True:
        chunk = stream.read(CHUNK)
        parser.Parse(chunk, not chunk)
        while pending:
            yield pending.popleft()
        if not chunk:
            return


class Workbook:
    def __init__(
        self, archive: zipfile.ZipFile, *, max_strings: int, max_text: int, max_columns: int
    ) -> None:
        self.archive = archive
        self.max_text = max_text
        self.max_columns = max_columns
        self.sheets: list[Sheet] = []
        self.strings: list[str | LongText] = []
        book = self._office_document()
        rels = self._relationships(book)
        self._read_sheets(book, rels)
        shared = [t for kind, t in rels.values() if kind.endswith("/sharedStrings")]
        if shared:
            self._read_strings(shared[0], max_strings)

    # ------------------------------------------------------------------ structure
    def _part(self, path: str) -> IO[bytes]:
        try:
            return self.archive.open(path)
        except KeyError:
            raise RegisterDamaged(f"no part {path}") from None

    def _elements(self, path: str) -> Iterator[tuple[str, dict[str, str]]]:
        """Every start tag of a small part (workbook, relationships): local name, attributes
        by local name."""
        parser = _parser()
        pending: deque[Any] = deque()
        parser.StartElementHandler = lambda name, attrs: pending.append(
            (_local(name), {_local(k): v for k, v in attrs.items()})
        )
        with self._part(path) as stream:
            yield from _feed(parser, stream, pending)

    def _office_document(self) -> str:
        for tag, attrs in self._elements("_rels/.rels"):
            if tag == "Relationship" and attrs.get("Type", "").endswith("/officeDocument"):
                return attrs.get("Target", "").lstrip("/")
        raise RegisterDamaged("no workbook")

    def _relationships(self, book: str) -> dict[str, tuple[str, str]]:
        folder, name = posixpath.split(book)
        rels: dict[str, tuple[str, str]] = {}
        for tag, attrs in self._elements(posixpath.join(folder, "_rels", name + ".rels")):
            if tag != "Relationship" or attrs.get("TargetMode") == "External":
                continue
            target = attrs.get("Target", "")
            path = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
            rels[attrs.get("Id", "")] = (attrs.get("Type", ""), posixpath.normpath(path))
        return rels

    def _read_sheets(self, book: str, rels: dict[str, tuple[str, str]]) -> None:
        paths: set[str] = set()
        for tag, attrs in self._elements(book):
            if tag != "sheet":
                continue
            kind, path = rels.get(attrs.get("id", ""), ("", ""))
            if not kind.endswith("/worksheet"):
                continue  # a chart sheet, a dialog sheet: no cells
            if path in paths:
                # Each sheet has its own part. A workbook naming one part as many sheets would
                # have it read again for each: work the unpacked-size limit no longer bounds.
                raise RegisterDamaged(f"two sheets in part {path[:60]!r}")
            paths.add(path)
            self.sheets.append(
                Sheet(
                    name=attrs.get("name", ""),
                    visible=attrs.get("state", "visible") == "visible",
                    path=path,
                )
            )

    def _read_strings(self, path: str, max_strings: int) -> None:
        """The shared strings, each cut to ``max_text`` characters (the length kept), and no
        more than ``max_strings`` of them."""
        reader = _StringsReader(self.strings, max_strings=max_strings, max_text=self.max_text)
        parser = _parser()
        parser.StartElementHandler = reader.start
        parser.EndElementHandler = reader.end
        parser.CharacterDataHandler = reader.chars
        with self._part(path) as stream:
            for _ in _feed(parser, stream):
                pass

    # ------------------------------------------------------------------ rows
    def rows(self, sheet: Sheet, *, max_rows: int) -> Iterator[tuple[int, list[CellValue]]]:
        """The sheet's rows that have cells, as (row number, values of columns 1…max_columns),
        in order. Refuses a sheet that states, or reaches, more than ``max_rows`` rows."""
        reader = _SheetReader(self, max_rows=max_rows)
        parser = _parser()
        parser.StartElementHandler = reader.start
        parser.EndElementHandler = reader.end
        parser.CharacterDataHandler = reader.chars
        with self._part(sheet.path) as stream:
            try:
                yield from _feed(parser, stream, reader.done)
            except (RegisterDamaged, TooManyRows):
                raise
            except _BROKEN as exc:
                raise RegisterDamaged(str(exc), reader.row) from exc


def _text(parts: list[str], length: int, max_text: int) -> str | LongText:
    text = _unescape("".join(parts))
    if length > max_text:
        return LongText(text[:max_text], length)
    return text


class _StringsReader:
    def __init__(self, strings: list[str | LongText], *, max_strings: int, max_text: int) -> None:
        self.strings = strings
        self.max_strings = max_strings
        self.max_text = max_text
        self.rph = 0
        self.in_t = False
        self.parts: list[str] = []
        self.length = 0

    def start(self, name: str, _attrs: dict[str, str]) -> None:
        tag = _local(name)
        if tag == "si":
            self.parts = []
            self.length = 0
        elif tag == "rPh":  # a phonetic guide (furigana), not part of the text
            self.rph += 1
        elif tag == "t" and not self.rph:
            self.in_t = True

    def end(self, name: str) -> None:
        tag = _local(name)
        if tag == "si":
            if len(self.strings) >= self.max_strings:
                raise TooManyStrings()
            self.strings.append(_text(self.parts, self.length, self.max_text))
        elif tag == "rPh":
            self.rph -= 1
        elif tag == "t":
            self.in_t = False

    def chars(self, data: str) -> None:
        if self.in_t:
            if self.length < self.max_text:
                self.parts.append(data)
            self.length += len(data)


class _SheetReader:
    def __init__(self, book: Workbook, *, max_rows: int) -> None:
        self.book = book
        self.max_rows = max_rows
        self.max_columns = book.max_columns
        self.done: deque[tuple[int, list[CellValue]]] = deque()
        self.row = 0
        self.cells: list[CellValue] = []
        self.column = 0
        self.kind = "n"
        self.collect: str | None = None  # "v", "t" (inline string), or None
        self.parts: list[str] = []
        self.length = 0
        self.value_parts: list[str] | None = None
        self.inline: list[str] | None = None
        self.inline_length = 0
        self.formula = False
        self.rph = 0

    def start(self, name: str, attrs: dict[str, str]) -> None:
        tag = _local(name)
        if tag == "c":
            ref = attrs.get("r")
            if ref is not None:
                m = _REF.fullmatch(ref)
                if not m or int(m.group(2)) != self.row:
                    raise RegisterDamaged(f"cell reference {ref[:20]!r}", self.row)
                self.column = column_index(m.group(1))
            else:
                self.column += 1
            if not 1 <= self.column <= MAX_SHEET_COLUMN:
                raise RegisterDamaged("column out of range", self.row)
            self.kind = attrs.get("t", "n")
            self.value_parts = None
            self.inline = None
            self.inline_length = 0
            self.formula = False
        elif tag == "row":
            raw = attrs.get("r")
            if raw is None:
                row = self.row + 1
            elif raw.isascii() and raw.isdigit() and len(raw) <= 7:
                row = int(raw)
            else:
                raise RegisterDamaged(f"row number {raw[:20]!r}", self.row)
            if row <= self.row or row > MAX_SHEET_ROW:
                raise RegisterDamaged(f"row number {row}", self.row)
            if row > self.max_rows + 1:
                raise TooManyRows(None)
            self.row = row
            self.cells = []
            self.column = 0
        elif tag == "v":
            self.collect = "v"
            self.parts = []
            self.length = 0
        elif tag == "f":
            self.formula = True
        elif tag == "is":
            self.inline = []
            self.inline_length = 0
        elif tag == "rPh":
            self.rph += 1
        elif tag == "t" and self.inline is not None and not self.rph:
            self.collect = "t"
        elif tag == "dimension":
            # The sheet's statement of its size, before any row: refuse a sheet far too long
            # before it is read (most programs write it; a wrong one is caught by the count).
            m = re.fullmatch(r"[A-Z]{1,3}\d{1,7}(?::[A-Z]{1,3}(\d{1,7}))?", attrs.get("ref", ""))
            if m and m.group(1) and int(m.group(1)) - 1 > self.max_rows:
                raise TooManyRows(int(m.group(1)) - 1)

    def chars(self, data: str) -> None:
        if self.collect == "v":
            if self.length < self.book.max_text:
                self.parts.append(data)
            self.length += len(data)
        elif self.collect == "t" and self.inline is not None:
            if self.inline_length < self.book.max_text:
                self.inline.append(data)
            self.inline_length += len(data)

    def end(self, name: str) -> None:
        tag = _local(name)
        if tag == "v":
            self.collect = None
            self.value_parts = self.parts
        elif tag == "t":
            if self.collect == "t":
                self.collect = None
        elif tag == "rPh":
            self.rph -= 1
        elif tag == "c":
            if self.column <= self.max_columns:
                value = self._value()
                if value is not None:
                    self.cells.extend([None] * (self.column - len(self.cells)))
                    self.cells[self.column - 1] = value
        elif tag == "row":
            if self.cells:
                self.done.append((self.row, self.cells))

    def _value(self) -> CellValue:
        kind = self.kind
        if kind == "inlineStr":
            if self.inline is None:
                return None
            return _text(self.inline, self.inline_length, self.book.max_text)
        if self.value_parts is None:
            return FormulaWithoutValue() if self.formula else None
        if self.length > self.book.max_text and kind in {"str", "e", "d"}:
            return LongText("".join(self.value_parts)[: self.book.max_text], self.length)
        text = "".join(self.value_parts)
        if self.formula and not text.strip():
            return FormulaWithoutValue()
        if kind == "s":
            if (
                not (text.isascii() and text.isdigit())
                or len(text) > 9
                or int(text) >= len(self.book.strings)
            ):
                raise RegisterDamaged(f"shared string {text[:20]!r}", self.row)
            return self.book.strings[int(text)]
        if kind == "n":
            return _number(text.strip())
        if kind == "b":
            return text.strip() == "1"
        if kind == "e":
            return ErrorValue(text.strip()[:20])
        return _unescape(text)  # "str" (a formula's text result), "d" (an ISO date), unknown


def _number(text: str) -> int | float | BadNumber | None:
    if not text:
        return None
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        number = float(text)
        if math.isfinite(number):
            return number
    return BadNumber(text[:30])


def sniff(data: bytes) -> str:
    """What an upload is, by its first bytes: "zip" (an xlsx, or another zip), "encrypted" (an
    xlsx saved with a password: an OLE file holding the encrypted package), "ole" (an old .xls,
    WPS .et or another Office file), "text" (a CSV, or a web page saved as .xls), "empty", or
    "other"."""
    if not data:
        return "empty"
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return "zip"
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        # The stream names of an encrypted OOXML package, in the OLE directory (UTF-16).
        if "EncryptedPackage".encode("utf-16-le") in data:
            return "encrypted"
        return "ole"
    if data.startswith((b"%PDF", b"\x89PNG", b"\xff\xd8\xff")):
        return "other"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text" (UTF-16)
        return "text"
    head = data[:4096]
    if b"\x00" not in head:
        for encoding in ("utf-8", "gb18030"):
            try:
                head.decode(encoding)
            except UnicodeDecodeError as exc:
                if exc.start < len(head) - 4:  # not just a character cut at 4096 bytes
                    continue
            return "text"
    return "other"


def open_workbook(
    archive: zipfile.ZipFile, *, max_strings: int, max_text: int, max_columns: int
) -> Workbook:
    """The workbook in ``archive``; RegisterDamaged for anything that is not one."""
    try:
        return Workbook(
            archive, max_strings=max_strings, max_text=max_text, max_columns=max_columns
        )
    except (RegisterDamaged, TooManyStrings):
        raise
    except _BROKEN as exc:
        raise RegisterDamaged(str(exc)) from exc
