"""One statement, prepared once per database connection, for the few hot paths that need it.

Django's psycopg cursors bind parameters on the client and are never prepared; a large statement
(the voucher scan, the winning grab) then pays its parse and plan on every call. ``fetchone``
runs it on a server-binding psycopg cursor with ``prepare=True`` instead (PostgreSQL only; the
settings let exactly such explicit requests be prepared, see ``DATABASE_PREPARED_STATEMENTS``).

* Every integer, alone or in a list (an array), goes as int8: psycopg would type a small number int2, the plan prepared with that
  type would overflow on arithmetic with a large one, and each size would prepare a variant.
* Inside a caller's transaction the statement runs in a savepoint, so a failure (a unique
  violation, say) stays local; in autocommit it is its own transaction, with no BEGIN/COMMIT.
* Driver errors come out as Django's (``IntegrityError`` and the rest), as from any ORM call.
* psycopg remembers how it converted a statement's placeholders only for statements of up to
  4,096 bytes; a longer one is parsed again on every call (a tenth of a scan's server time).
  ``compact`` keeps a hot statement's text under that.
"""

from __future__ import annotations

import re
from contextlib import nullcontext
from typing import Any

from django.db import connection, transaction

_LITERAL_OR_SPACE = re.compile(r"('(?:[^']|'')*')|\s+")


def compact(sql: str) -> str:
    """``sql`` with each run of white space outside quoted literals made one space."""
    return _LITERAL_OR_SPACE.sub(lambda m: m.group(1) or " ", sql).strip()


def fetchone(sql: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
    """The first row of ``sql`` run with ``params`` (psycopg ``%(name)s`` placeholders)."""
    rows = fetchall(sql, params, limit=1)
    return rows[0] if rows else None


def fetchall(
    sql: str, params: dict[str, Any], *, limit: int | None = None
) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` run with ``params``; a list of integers goes as an int8 array."""
    import psycopg

    bound = {name: _int8(value) for name, value in params.items()}
    connection.ensure_connection()
    with transaction.atomic() if connection.in_atomic_block else nullcontext():
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, bound, prepare=True)
            rows = cursor.fetchall() if limit is None else cursor.fetchmany(limit)
    return [tuple(row) for row in rows]


def _int8(value: Any) -> Any:
    from psycopg.types.numeric import Int8

    if isinstance(value, int) and not isinstance(value, bool):
        return Int8(value)
    if (
        isinstance(value, list)
        and value
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return [Int8(v) for v in value]
    return value
