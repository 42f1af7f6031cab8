"""Identity numbers and division codes (gonghui.core.idnumbers)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from stdnum.cn import ric

from gonghui.core.errors import ApplicationError
from gonghui.core.idnumbers import (
    division_exists,
    normalise,
    validate_division_code,
    validate_id_number,
)


def make(region: str, birth: str = "19900101", order: str = "123") -> str:
    body = f"{region}{birth}{order}"
    return body + ric.calc_check_digit(body + "0")


VALID = make("410802")  # 41080219900101123 + check digit
VALID_X = next(
    n for n in (make("410802", order=f"{i:03d}") for i in range(1000)) if n.endswith("X")
)


def code_of(raw: object) -> str:
    with pytest.raises(ApplicationError) as exc:
        validate_id_number(raw)
    return exc.value.code


def test_valid_number_gives_birth_date_and_gender() -> None:
    parsed = validate_id_number(VALID)
    assert parsed.number == VALID
    assert parsed.birth_date == dt.date(1990, 1, 1)
    assert parsed.gender == "M"  # 3 is odd
    assert parsed.kind == "resident"
    assert validate_id_number(make("410803", order="124")).gender == "F"


def test_full_width_digits_spaces_and_lower_case_x() -> None:
    full_width = VALID.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert validate_id_number(full_width).number == VALID
    assert validate_id_number(f" {VALID[:6]} {VALID[6:14]}\u3000{VALID[14:]}\t").number == VALID
    assert validate_id_number(VALID_X.lower()).number == VALID_X
    assert validate_id_number(VALID_X[:-1] + "ｘ").number == VALID_X
    assert validate_id_number(f"{VALID[:6]}-{VALID[6:]}").number == VALID


def test_normalise() -> None:
    assert normalise("４１０ ８０２x") == "410802X"
    assert normalise(None) == ""


def test_retired_division_code_is_accepted() -> None:
    # cn/loc.dat: 410124 county="[1983-1991]巩县" (now 巩义市 410181); IDs keep the old code.
    assert division_exists("410124")
    assert validate_id_number(make("410124", "19800215")).number.startswith("410124")
    # 320811 "[1983-2016]清浦区", merged away in 2016.
    assert validate_id_number(make("320811")).kind == "resident"


@pytest.mark.parametrize(("prefix", "kind"), [("810000", "HK"), ("820000", "MO"), ("830000", "TW")])
def test_residence_permits(prefix: str, kind: str) -> None:
    number = make(prefix)
    assert validate_id_number(number).kind == kind
    wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
    assert code_of(wrong) == "id_checksum"


@pytest.mark.parametrize("raw", [4.10802e17, "4.10802E+17", "4.10802e17", "４.１０８０２E+17"])
def test_excel_scientific_notation(raw: object) -> None:
    assert code_of(raw) == "id_excel_number"


def test_excel_lost_digits() -> None:
    # Excel keeps 15 significant digits: 410802199001011234 becomes 410802199001011000.
    assert code_of("410802199001011000") == "id_excel_number"
    assert code_of(410802199001011000) == "id_excel_number"
    assert code_of("4108021990010100") == "id_excel_number"  # 16 digits ending 00


def test_wrong_checksum() -> None:
    wrong = VALID[:-1] + str((int(VALID[-1]) + 1) % 10 if VALID[-1] != "X" else 0)
    assert code_of(wrong) == "id_checksum"


def test_impossible_birth_date() -> None:
    assert code_of(make("410802", "19900230")) == "id_birth_date"
    assert code_of(make("410802", "19901301")) == "id_birth_date"
    future = timezone.localdate().year + 1
    assert code_of(make("410802", f"{future}0101")) == "id_birth_date"
    assert code_of(make("410802", "18991231")) == "id_birth_date"


@pytest.mark.parametrize("region", ["410899", "999999", "000000"])
def test_unknown_region(region: str) -> None:
    assert code_of(make(region)) == "id_region"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (None, "id_empty"),
        ("", "id_empty"),
        ("   ", "id_empty"),
        ("41080219900101123", "id_length"),
        (VALID + "1", "id_length"),
        ("4" * 500, "id_length"),
        ("41080219900101123Y", "id_format"),
        ("<script>alert(1)</", "id_format"),
        ("' OR 1=1 --       ", "id_length"),
        ("41080X199001011234", "id_format"),
    ],
)
def test_bad_input(raw: object, code: str) -> None:
    assert code_of(raw) == code


def test_error_message_is_translated_and_names_the_field() -> None:
    with pytest.raises(ApplicationError) as exc:
        validate_id_number(VALID[:-1] + "0" if VALID[-1] != "0" else VALID[:-1] + "1")
    assert exc.value.field == "id_number"
    assert "校验" in str(exc.value.message) or "check digit" in str(exc.value.message)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("410802", "410802"), ("４１０８０２", "410802"), ("410802001", "410802001")],
)
def test_division_code_ok(raw: str, expected: str) -> None:
    assert validate_division_code(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "division_empty"),
        ("4108", "division_format"),
        ("41080a", "division_format"),
        ("<script>", "division_format"),
        ("410899", "division_unknown"),
    ],
)
def test_division_code_bad(raw: str, code: str) -> None:
    with pytest.raises(ApplicationError) as exc:
        validate_division_code(raw)
    assert exc.value.code == code
