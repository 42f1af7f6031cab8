"""``prepared.compact``: the hot statements stay short enough for psycopg's conversion cache."""

from __future__ import annotations

import re

import pytest
from psycopg import _queries

from gonghui.benefits import grab_sql, redeem_sql
from gonghui.core.prepared import compact


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT  1\n\t FROM x", "SELECT 1 FROM x"),
        ("  SELECT 1  ", "SELECT 1"),
        ("SELECT ' @  \n x '  ||  y", "SELECT ' @  \n x ' || y"),
        ("SELECT 'it''s   so'   , 'a'", "SELECT 'it''s   so' , 'a'"),
        ("SELECT %(a)s::int8[],\n       %(b)s", "SELECT %(a)s::int8[], %(b)s"),
        ("", ""),
    ],
)
def test_compact_keeps_literals_and_squeezes_the_rest(sql, expected):
    assert compact(sql) == expected


@pytest.mark.parametrize("statement", [redeem_sql._STATEMENT, grab_sql._STATEMENT])
def test_hot_statements_fit_the_conversion_cache(statement):
    """Longer than this, psycopg parses the statement's placeholders again on every scan."""
    assert len(statement.encode()) <= _queries.MAX_CACHED_STATEMENT_LENGTH
    outside_literals = re.sub(r"'(?:[^']|'')*'", "''", statement)
    assert "  " not in outside_literals and "\n" not in outside_literals
