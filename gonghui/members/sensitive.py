"""Sensitive numbers of members: identity numbers and card numbers, encrypted, indexed, masked."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from django.utils.translation import gettext as _
from pypinyin import Style, lazy_pinyin

from gonghui.core import crypto
from gonghui.core.errors import ApplicationError
from gonghui.core.idnumbers import IdNumber, normalise, validate_id_number

ID_PURPOSE = "id_number"
CARD_PURPOSE = "card_number"


@dataclass(frozen=True)
class SealedId:
    parsed: IdNumber
    enc: str
    hash: str
    masked: str
    tail: str


def seal_id_number(raw: object) -> SealedId:
    return seal_parsed_id(validate_id_number(raw))


def seal_parsed_id(parsed: IdNumber) -> SealedId:
    """Encrypt, index and mask an identity number that ``validate_id_number`` accepted."""
    number = parsed.number
    return SealedId(
        parsed=parsed,
        enc=crypto.encrypt(number),
        hash=crypto.blind_index(number, purpose=ID_PURPOSE),
        masked=crypto.mask(number),
        tail=number[-4:],
    )


def id_hash(raw: object) -> str:
    return crypto.blind_index(normalise(raw), purpose=ID_PURPOSE)


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


@dataclass(frozen=True)
class SealedCard:
    number: str
    enc: str
    hash: str
    masked: str
    luhn_ok: bool


def normalise_card(raw: object) -> str:
    number = normalise(raw)
    if not number:
        raise ApplicationError(_("Enter the card number."), code="card_empty", field="card_number")
    if not number.isdigit():
        raise ApplicationError(
            _("The card number may contain only digits."), code="card_format", field="card_number"
        )
    if not 12 <= len(number) <= 19:
        raise ApplicationError(
            _("A bank card number has 12 to 19 digits; this one has %(n)d.") % {"n": len(number)},
            code="card_length",
            field="card_number",
        )
    return number


def seal_card(raw: object) -> SealedCard:
    number = normalise_card(raw)
    return SealedCard(
        number=number,
        enc=crypto.encrypt(number),
        hash=crypto.blind_index(number, purpose=CARD_PURPOSE),
        masked=crypto.mask(number, head=6, tail=4),
        luhn_ok=luhn_ok(number),
    )


def card_hash(raw: object) -> str:
    return crypto.blind_index(normalise(raw), purpose=CARD_PURPOSE)


@lru_cache(maxsize=65536)
def _char_initial(ch: str) -> str:
    if ch.isascii():
        return ch.lower() if ch.isalnum() else ""
    letters = lazy_pinyin(ch, style=Style.FIRST_LETTER, errors="ignore")
    return letters[0].lower() if letters else ""


def name_initials(name: str) -> str:
    """张三丰 -> zsf. Per-character cache: names repeat their characters a great deal."""
    return "".join(_char_initial(ch) for ch in name)


def clean_name(raw: object) -> str:
    name = unicodedata.normalize("NFKC", str(raw or "")).strip()
    name = " ".join(name.split())
    if not name:
        raise ApplicationError(_("Enter the name."), code="name_empty", field="name")
    if len(name) > 50:
        raise ApplicationError(
            _("The name may have at most 50 characters."), code="name_long", field="name"
        )
    if any(unicodedata.category(c).startswith(("C", "S")) or c in "<>\"'&;{}" for c in name):
        raise ApplicationError(
            _("The name contains characters that are not allowed."), code="name_chars", field="name"
        )
    return name


def clean_phone(raw: object, *, required: bool = True) -> str:
    phone = normalise(raw).removeprefix("+86")
    if not phone:
        if required:
            raise ApplicationError(_("Enter the mobile number."), code="phone_empty", field="phone")
        return ""
    if not (len(phone) == 11 and phone.isdigit() and phone[0] == "1" and phone[1] in "3456789"):
        raise ApplicationError(
            _("Enter an 11-digit mainland mobile number starting with 1."),
            code="phone_format",
            field="phone",
        )
    return phone
