"""Fen shown as yuan: grouped on member and clerk pages, plain in console tables."""

from __future__ import annotations

import pytest

from gonghui.benefits.services import fen_yuan
from gonghui.benefits.templatetags.benefits_console_tags import yuan


@pytest.mark.parametrize(
    ("fen", "grouped", "plain"),
    [
        (0, "0.00", "0.00"),
        (5, "0.05", "0.05"),
        (10_000, "100.00", "100.00"),
        (123_456, "1,234.56", "1234.56"),
        (-6_800, "-68.00", "-68.00"),
        (10**11 + 1, "1,000,000,000.01", "1000000000.01"),
        ("12345", "123.45", "123.45"),
        (None, "", ""),
        ("", "", ""),
        ("12.5", "", ""),
        ("<script>", "", ""),
    ],
)
def test_fen_as_yuan(fen, grouped, plain):
    assert fen_yuan(fen) == grouped
    assert fen_yuan(fen, grouped=False) == yuan(fen) == plain
