"""Normalising and validating Chinese identity numbers, division codes and social credit codes.

python-stdnum does the checksums; the rules here add what a union clerk meets in practice:
full-width digits and spaces from Chinese input methods, a lower-case x, retired administrative
division codes (an ID keeps the code it was issued under), HK/Macao/Taiwan residence permits
(810000/820000/830000), and Excel's habit of turning an 18-digit number into ``4.10802E+17``.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from django.utils import timezone
from django.utils.translation import gettext as _
from stdnum import numdb
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError as StdnumError

from gonghui.core.errors import ApplicationError

RESIDENCE_PERMIT_PREFIXES = {"810000": "HK", "820000": "MO", "830000": "TW"}
_SCIENTIFIC = re.compile(r"^\d(\.\d+)?[eE]\+?\d+$")


def normalise(raw: object) -> str:
    """Full-width to half-width (NFKC), drop all whitespace and separators, upper-case."""
    text = unicodedata.normalize("NFKC", str(raw if raw is not None else ""))
    return re.sub(r"[\s\-_]", "", text).upper()


@lru_cache(maxsize=8192)  # a pure lookup; an import checks the same few codes a million times
def division_exists(code: str) -> bool:
    """True if a 6-digit GB/T 2260 code was ever assigned (current or retired)."""
    if len(code) != 6 or not code.isdigit():
        return False
    results = numdb.get("cn/loc").info(code)
    return any(props for _part, props in results if "county" in props)


def validate_division_code(raw: object) -> str:
    code = normalise(raw)
    if not code:
        raise ApplicationError(_("Enter the administrative division code."), code="division_empty")
    if not code.isdigit() or len(code) not in (6, 9, 12):
        raise ApplicationError(
            _(
                "The administrative division code must be 6 digits (county) or 9/12 digits (township)."
            ),
            code="division_format",
        )
    if not division_exists(code[:6]):
        raise ApplicationError(
            _("%(code)s is not a GB/T 2260 administrative division code.") % {"code": code[:6]},
            code="division_unknown",
        )
    return code


@dataclass(frozen=True)
class IdNumber:
    number: str
    birth_date: dt.date
    gender: str  # "M" or "F"
    kind: str  # "resident" or "HK"/"MO"/"TW" residence permit


def looks_mangled_by_excel(raw: object) -> bool:
    if isinstance(raw, float):
        return True
    text = normalise(raw)
    return bool(_SCIENTIFIC.match(text)) or (
        text.isdigit() and 15 <= len(text) < 18 and text.endswith("00")
    )


def validate_id_number(raw: object) -> IdNumber:
    """Return the normalised number with birth date and gender, or raise ApplicationError."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise ApplicationError(_("Enter the identity number."), code="id_empty", field="id_number")
    if looks_mangled_by_excel(raw):
        raise ApplicationError(
            _(
                "The identity number was turned into a number by Excel (%(value)s) and its last "
                "digits are lost. Format the column as Text, type the numbers again, and re-import."
            )
            % {"value": str(raw)[:30]},
            code="id_excel_number",
            field="id_number",
        )
    number = normalise(raw)
    if len(number) != 18:
        raise ApplicationError(
            _("The identity number must have 18 characters; this one has %(n)d.")
            % {"n": len(number)},
            code="id_length",
            field="id_number",
        )
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise ApplicationError(
            _("The identity number may contain only digits and a final X."),
            code="id_format",
            field="id_number",
        )
    if number[17] != ric.calc_check_digit(number) and number.endswith("000"):
        # Excel keeps 15 significant digits: 410802199001011234 becomes 410802199001011000.
        raise ApplicationError(
            _(
                "The identity number ends in 000 and fails its check: Excel has probably cut its "
                "last digits. Format the column as Text, type the numbers again, and re-import."
            ),
            code="id_excel_number",
            field="id_number",
        )
    if number[17] != ric.calc_check_digit(number):
        raise ApplicationError(
            _("The identity number's check digit is wrong; please check every digit."),
            code="id_checksum",
            field="id_number",
        )
    try:
        birth = ric.get_birth_date(number)
    except StdnumError:
        raise ApplicationError(
            _("The identity number contains an impossible birth date."),
            code="id_birth_date",
            field="id_number",
        ) from None
    today = timezone.localdate()
    if birth > today or birth.year < 1900:
        raise ApplicationError(
            _("The identity number contains an impossible birth date."),
            code="id_birth_date",
            field="id_number",
        )
    kind = RESIDENCE_PERMIT_PREFIXES.get(number[:6], "resident")
    if kind == "resident" and not division_exists(number[:6]):
        raise ApplicationError(
            _("The identity number's first six digits are not an administrative division code."),
            code="id_region",
            field="id_number",
        )
    gender = "M" if int(number[16]) % 2 else "F"
    return IdNumber(number=number, birth_date=birth, gender=gender, kind=kind)


@dataclass(frozen=True)
class UsccResult:
    code: str
    checksum_ok: bool


def validate_uscc(raw: object) -> UsccResult:
    """A format error is a hard stop; a checksum failure is returned as a warning."""
    code = normalise(raw)
    if len(code) != 18 or not re.fullmatch(r"[0-9A-HJ-NPQRTUWXY]{18}", code):
        raise ApplicationError(
            _(
                "The unified social credit code must be 18 characters of digits and capital letters."
            ),
            code="uscc_format",
            field="uscc",
        )
    try:
        uscc.validate(code)
    except StdnumError:
        return UsccResult(code=code, checksum_ok=False)
    return UsccResult(code=code, checksum_ok=True)
