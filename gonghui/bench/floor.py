"""The floor of a scan: the cheapest durable write a view can make, on the same server.

``gonghui bench redeem`` also measures, in the same run, a view that does nothing but what no
scan can do without: read one code from a form POST, mark it used with one guarded
``UPDATE … WHERE used_at IS NULL RETURNING`` (its own committed transaction, through the same
prepared-statement path as the scan on PostgreSQL) and answer in JSON. No clerk, store, window or
minimum is checked, and no redemption, status row, ledger entry or audit line is written. What
this view reaches against the trivial view bounds what any real scan on this server and machine
can reach.

The view is not in the platform's URLs. Only the bench's own server, started with
``gonghui.bench.server_settings``, routes ``/bench/floor`` to it, and it touches only its own
scratch table, made and dropped by the bench (``floor_codes_make``, ``floor_cleanup``).
"""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from gonghui.core import prepared

TABLE = "gonghui_bench_floor"
PATH = "/bench/floor"
_MARK = prepared.compact(
    f"UPDATE {TABLE} SET used_at = CURRENT_TIMESTAMP"
    " WHERE code = %(code)s AND used_at IS NULL RETURNING code"
)


@csrf_exempt  # the bench's own server only, no session
@require_POST
def floor(request: HttpRequest) -> JsonResponse:
    code = request.POST.get("code", "")
    if connection.vendor == "postgresql":
        row = prepared.fetchone(_MARK, {"code": code})
    else:
        with connection.cursor() as cursor:
            cursor.execute(_MARK.replace("%(code)s", "%s"), [code])
            row = cursor.fetchone()
    if row is None:
        return JsonResponse({"outcome": "refused"}, status=400)
    return JsonResponse({"outcome": "redeemed", "code": row[0]}, status=201)


def floor_codes_make(prefix: str, n: int) -> list[str]:
    """``n`` unused codes starting with ``prefix`` in the scratch table (made if need be)."""
    codes = [f"{prefix}{i:07d}" for i in range(n)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE}"
            " (code varchar(64) PRIMARY KEY, used_at timestamp with time zone NULL)"
        )
        cursor.executemany(f"INSERT INTO {TABLE} (code) VALUES (%s)", [[c] for c in codes])
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {TABLE}")
    return codes


def floor_used(prefix: str) -> int:
    """How many of the codes starting with ``prefix`` are marked used."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {TABLE} WHERE code LIKE %s AND used_at IS NOT NULL",
            [prefix + "%"],
        )
        return int(cursor.fetchone()[0])


def floor_cleanup(prefix: str) -> None:
    """Remove the codes starting with ``prefix``; drop the table when no other run's are left."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE code LIKE %s", [prefix + "%"])
        cursor.execute(f"SELECT count(*) FROM {TABLE}")
        if int(cursor.fetchone()[0]) == 0:
            cursor.execute(f"DROP TABLE {TABLE}")
