"""Row validation for the member import: one raw row in, one staged row or a list of errors out.

Reuses the rules every other door uses (``seal_id_number``, ``clean_profile``, ``seal_card``), so
an imported member passes exactly the checks a member registered by hand passes.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from stdnum.cn import ric

from gonghui.core import crypto
from gonghui.core.errors import ApplicationError
from gonghui.core.idnumbers import (
    RESIDENCE_PERMIT_PREFIXES,
    IdNumber,
    division_exists,
    normalise,
    validate_id_number,
)
from gonghui.members.importing.columns import (
    COLUMN_BY_KEY,
    TEMPLATE_EXAMPLE_ID,
    choice_examples,
    choice_lookup,
    header_key,
)
from gonghui.members.models import WorkerCategory
from gonghui.members.sensitive import (
    clean_name,
    clean_phone,
    name_initials,
    seal_card,
    seal_parsed_id,
)
from gonghui.members.services import clean_profile

# The staging row: the order of STAGE_COLUMNS in writing.py.
StagedRow = tuple[Any, ...]

_DATE_TEXT = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_DATE_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
EXCEL_EPOCH = dt.date(1899, 12, 30)
FORMULA_PREFIXES = ("=", "+=", "-=", "@")
_PLAIN_ID = re.compile(r"\d{17}[\dXx]", re.ASCII)
CACHE_LIMIT = 10_000  # entries per memo table: bounded however many distinct values a file has


def plain_id_number(raw: Any, today: dt.date) -> IdNumber | None:
    """``validate_id_number`` for the common cell, 18 plain ASCII characters, in a few µs.

    Returns None for anything else or anything wrong; the caller then asks ``validate_id_number``,
    which gives the same answer for a good number and the precise error for a bad one.
    """
    if type(raw) is not str or len(raw) != 18 or not _PLAIN_ID.fullmatch(raw):
        return None
    number = raw.upper()
    if number[17] != ric.calc_check_digit(number):
        return None
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None
    if birth > today or birth.year < 1900:
        return None
    kind = RESIDENCE_PERMIT_PREFIXES.get(number[:6], "resident")
    if kind == "resident" and not division_exists(number[:6]):
        return None
    return IdNumber(
        number=number, birth_date=birth, gender="M" if int(number[16]) % 2 else "F", kind=kind
    )


@dataclass(frozen=True)
class RowError:
    row: int
    column: str  # column key
    value: str  # safe to show: identity and card numbers already masked
    code: str
    message: str

    @property
    def column_header(self) -> str:
        column = COLUMN_BY_KEY.get(self.column)
        return column.header if column else ""


def shown_value(key: str, value: Any) -> str:
    """The value as the error report shows it: identity and card numbers masked."""
    if value is None:
        return ""
    text = str(value)
    if key in ("id_number", "card_number"):
        cleaned = normalise(text)
        return crypto.mask(cleaned) if key == "id_number" else crypto.mask(cleaned, head=6)
    return text[:100]


def _text(value: Any) -> str:
    """A cell as text; whole-number floats (Excel's phone numbers) lose their ``.0``."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).strip()


def parse_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and 1 <= value < 2958466:
        # An Excel date cell is a serial day number (1900 system, with Excel's 1900 leap bug).
        return EXCEL_EPOCH + dt.timedelta(days=int(value))
    text = _text(value)
    match = _DATE_TEXT.match(text) or _DATE_COMPACT.match(text)
    if match:
        try:
            return dt.date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            pass
    raise ApplicationError(
        _("Write the date as 2024-03-01 (year-month-day)."), code="date_format", field="joined_on"
    )


class CardBins:
    """Longest-prefix BIN lookup over the (small) CardBin table, loaded once per import."""

    def __init__(self, bins: dict[str, tuple[str, bool]]):
        self.bins = bins
        self.lengths = sorted({len(p) for p in bins}, reverse=True)

    @classmethod
    def load(cls) -> CardBins:
        from gonghui.members.models import CardBin

        return cls({b.prefix: (b.bank_name, b.is_member_card) for b in CardBin.objects.all()})

    def lookup(self, number: str) -> tuple[str, bool]:
        for n in self.lengths:
            hit = self.bins.get(number[:n])
            if hit:
                return hit
        return ("", False)


class RowValidator:
    """Validates and seals rows one by one; remembers ID and card numbers to catch duplicates."""

    def __init__(self, *, bins: CardBins | None = None, today: dt.date | None = None):
        self.bins = bins or CardBins({})
        self.today = today or timezone.localdate()
        self.seen_ids: dict[bytes, int] = {}
        self.seen_cards: dict[bytes, int] = {}
        self.lookups = {key: choice_lookup(key) for key in ("category", "new_form_kind")}
        self.lookups["education"] = choice_lookup("education")
        self.lookups["political_status"] = choice_lookup("political_status")
        self._choices: dict[tuple[str, Any], str] = {}
        self._kinds: set[tuple[str, str]] = set()

    def _choice(self, key: str, value: Any) -> str:
        if value is None:
            return ""
        memo = (key, value)
        code = self._choices.get(memo)
        if code is None:
            code = self._choice_uncached(key, value)
            if len(self._choices) < CACHE_LIMIT:
                self._choices[memo] = code
        return code

    def _choice_uncached(self, key: str, value: Any) -> str:
        text = _text(value)
        if not text:
            return ""
        code = self.lookups[key].get(header_key(text))
        if code is None:
            raise ApplicationError(
                _("“%(value)s” is not one of: %(choices)s.")
                % {"value": text[:30], "choices": "、".join(choice_examples(key))},
                code=f"{key}_invalid",
                field=key,
            )
        return code

    def validate(self, row: int, values: dict[str, Any]) -> tuple[StagedRow | None, list[RowError]]:
        errors: list[RowError] = []

        def fail(key: str, exc: ApplicationError) -> None:
            field = exc.field if exc.field in COLUMN_BY_KEY else key
            errors.append(
                RowError(row, field, shown_value(field, values.get(field)), exc.code, str(exc))
            )

        for key, value in values.items():
            if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
                fail(
                    key,
                    ApplicationError(
                        _("Cells may not hold formulas; paste the values instead."),
                        code="formula",
                        field=key,
                    ),
                )
        if errors:
            return None, errors

        sealed = None
        raw_id = values.get("id_number")
        try:
            parsed = plain_id_number(raw_id, self.today) or validate_id_number(raw_id)
            if parsed.number == TEMPLATE_EXAMPLE_ID:
                raise ApplicationError(
                    _("This is the template's example row (张三); delete it before importing."),
                    code="example_row",
                    field="id_number",
                )
            sealed = seal_parsed_id(parsed)
        except ApplicationError as exc:
            fail("id_number", exc)

        # clean_profile's rules, field by field (each field reports its own error).
        profile: dict[str, Any] = {}
        try:
            profile["name"] = clean_name(_text(values.get("name")))
            profile["name_initials"] = name_initials(profile["name"])
        except ApplicationError as exc:
            fail("name", exc)
        try:
            profile["phone"] = clean_phone(_text(values.get("phone")), required=False)
        except ApplicationError as exc:
            fail("phone", exc)
        try:
            employer = _text(values.get("employer"))
            profile["employer"] = (
                clean_profile({"employer": employer})["employer"] if employer else ""
            )
        except ApplicationError as exc:
            fail("employer", exc)
        for key in ("category", "new_form_kind", "education", "political_status"):
            try:
                profile[key] = self._choice(key, values.get(key))
            except ApplicationError as exc:
                fail(key, exc)
        category = profile.get("category", "")
        kind = profile.get("new_form_kind", "")
        if "category" in profile and "new_form_kind" in profile:
            if not category and kind:
                category = WorkerCategory.NEW_FORM_WORKER
            try:
                if category and (category, kind) not in self._kinds:
                    clean_profile({"category": category, "new_form_kind": kind})
                    self._kinds.add((category, kind))
            except ApplicationError as exc:
                fail(exc.field or "new_form_kind", exc)

        joined_on = None
        if values.get("joined_on") is not None:
            try:
                joined_on = parse_date(values["joined_on"])
                if joined_on > self.today:
                    raise ApplicationError(
                        _("The joining date cannot be in the future."),
                        code="joined_future",
                        field="joined_on",
                    )
                if joined_on.year < 1925:
                    raise ApplicationError(
                        _("The joining date is too early."), code="joined_early", field="joined_on"
                    )
            except ApplicationError as exc:
                fail("joined_on", exc)

        card = None
        if values.get("card_number") is not None:
            try:
                card = seal_card(_text(values["card_number"]))
            except ApplicationError as exc:
                fail("card_number", exc)

        if sealed is not None:
            digest = bytes.fromhex(sealed.hash)
            first = self.seen_ids.get(digest)
            if first is not None:
                errors.append(
                    RowError(
                        row,
                        "id_number",
                        sealed.masked,
                        "id_duplicate_in_file",
                        _("This identity number already appears in row %(row)d of the file.")
                        % {"row": first},
                    )
                )
            elif not errors:
                self.seen_ids[digest] = row
        if card is not None and not errors:
            digest = bytes.fromhex(card.hash)
            first = self.seen_cards.get(digest)
            if first is not None:
                errors.append(
                    RowError(
                        row,
                        "card_number",
                        card.masked,
                        "card_duplicate_in_file",
                        _("This card number already appears in row %(row)d of the file.")
                        % {"row": first},
                    )
                )
            else:
                self.seen_cards[digest] = row
        if errors or sealed is None:
            return None, errors

        bank, is_member_card = self.bins.lookup(card.number) if card else ("", False)
        staged: StagedRow = (
            row,
            profile["name"],
            profile["name_initials"],
            sealed.enc,
            sealed.hash,
            sealed.masked,
            sealed.tail,
            sealed.parsed.kind,
            sealed.parsed.gender,
            sealed.parsed.birth_date,
            profile.get("phone") or None,
            profile.get("employer") or None,
            category or None,
            kind if category else None,
            profile.get("education") or None,
            profile.get("political_status") or None,
            joined_on,
            card.enc if card else None,
            card.hash if card else None,
            card.masked if card else None,
            bank if card else None,
            is_member_card if card else None,
            card.luhn_ok if card else None,
        )
        return staged, []
