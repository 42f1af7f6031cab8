"""Voucher redemption: clerks scan N codes over HTTP, plus a crowd scanning one code at once.

``gonghui bench redeem --vouchers N --concurrency C [--same-code K]`` makes a campaign with N
issued vouchers and a merchant clerk, starts gunicorn, and from another process POSTs one scan per
voucher to ``/benefits/redeem`` (C connections), mixed with K scans of one extra code. Each scan
is what the merchant page's fetch sends: the form fields and the page's scan ticket, no cookies. Baseline:
the trivial JSON view on the same server in the same run. Prints JSON: requests, throughput_rps,
p50_ms, p99_ms, redeemed, double_redeemed (must be 0), same_code_successes (must be 1),
baseline_rps.

The server also routes the floor view (``gonghui.bench.floor``; the platform's settings and URLs
otherwise): after the scans, as many POSTs each mark one scratch code used with one guarded UPDATE
and nothing else. ``floor_vs_baseline`` is what the cheapest durable write a view can make
reaches on this machine, the ceiling for any real scan.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import time
import urllib.parse
import uuid
from typing import Any

from gonghui.bench import positive_int
from gonghui.bench.floor import PATH as FLOOR_PATH
from gonghui.bench.floor import floor_cleanup, floor_codes_make, floor_used
from gonghui.bench.grab import (
    Call,
    add_server_arguments,
    baseline_calls,
    fixture_cleanup,
    fixture_make,
    load,
    ratio,
    server_start,
)

WARM_UP = 200  # scans before the measured run, on vouchers of their own


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vouchers", type=positive_int, default=2_000)
    parser.add_argument("--concurrency", type=positive_int, default=64)
    parser.add_argument(
        "--same-code", type=positive_int, default=50, help="scans racing for one code"
    )
    add_server_arguments(parser)


def run(options: dict[str, Any]) -> str:
    from django.db import connection
    from django.db.models import Count

    from gonghui.benefits.models import CampaignStock, Redemption, Voucher
    from gonghui.benefits.services import (
        merchant_clerk_create,
        new_voucher_code,
        scan_ticket_issue,
        scan_ticket_read,
    )

    n, concurrency, same = options["vouchers"], options["concurrency"], options["same_code"]
    if n < 1 or concurrency < 1 or same < 0:
        raise ValueError("--vouchers and --concurrency must be at least 1")
    tag = uuid.uuid4().hex[:8]
    t0 = time.perf_counter()
    warm = min(WARM_UP, n)
    # Vouchers: warm-up, the measured scans (n + one contested), and n more for the service-only
    # run that follows the HTTP run.
    total = warm + n + 1 + n
    fx = fixture_make(members=total, quota=total, tag=tag)
    Voucher.objects.bulk_create(
        [
            Voucher(campaign=fx.campaign, member_id=pk, code=new_voucher_code())
            for pk in fx.member_ids
        ],
        batch_size=2000,
    )
    CampaignStock.objects.filter(campaign=fx.campaign).update(remaining=0)
    if connection.vendor == "postgresql":
        # The vouchers were bulk-made after the fixture's ANALYZE: give the planner their
        # statistics, as autovacuum would in a real database (a stale plan scans every voucher).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE benefits_voucher")
    clerk = merchant_clerk_create(
        actor=None,
        merchant=fx.merchant,
        username=f"bench_clerk_{tag}",
        password=secrets.token_urlsafe(16),
    )
    user = clerk.user
    # What the merchant page's fetch sends: the page's scan ticket, no cookies.
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
        "X-Scan-Ticket": scan_ticket_issue(clerk=clerk),
    }
    codes = list(Voucher.objects.filter(campaign=fx.campaign).values_list("code", flat=True))
    warm_codes, codes, direct_codes = (
        codes[:warm],
        codes[warm : warm + n + 1],
        codes[warm + n + 1 :],
    )
    contested, singles = codes[0], codes[1:]

    def scan(code: str, i: int) -> Call:
        body = urllib.parse.urlencode(
            {"code": code, "store": fx.store.pk, "receipt_no": f"B{i}", "amount_fen": 10000 + i}
        ).encode()
        return Call("POST", "/benefits/redeem", headers, body)

    calls = [scan(code, i) for i, code in enumerate(singles)]
    calls += [scan(contested, 1_000_000 + i) for i in range(same)]
    random.Random(0).shuffle(calls)
    floor_prefix = f"F{tag}-"
    floor_codes = floor_codes_make(floor_prefix, warm + n)
    setup_s = time.perf_counter() - t0
    # The platform's settings with the floor view routed too (nothing else differs).
    server = server_start(
        workers=options["workers"],
        threads=options["threads"],
        settings_module="gonghui.bench.server_settings",
    )
    try:
        load(server.port, baseline_calls(min(2000, len(calls))), concurrency)  # warm-up
        baseline = load(server.port, baseline_calls(len(calls)), concurrency)
        # Warm the scan path too (each server thread's connection prepares the statement once);
        # these vouchers are not counted below.
        load(server.port, [scan(code, -1 - i) for i, code in enumerate(warm_codes)], concurrency)
        result = load(server.port, calls, concurrency)
        load(server.port, floor_calls(floor_codes[:warm]), concurrency)  # warm-up
        floor = load(server.port, floor_calls(floor_codes[warm:]), concurrency)
        floor_marked = floor_used(floor_prefix) - warm
    finally:
        server.stop()
        floor_cleanup(floor_prefix)
    direct = service_only(
        codes=direct_codes,
        store_id=fx.store.pk,
        auth=scan_ticket_read(headers["X-Scan-Ticket"]),
        threads=options["workers"] * options["threads"],
    )
    live = Redemption.objects.filter(
        voucher__campaign=fx.campaign, reversed_at__isnull=True, voucher__code__in=codes
    )
    double = live.values("voucher_id").annotate(n=Count("id")).filter(n__gt=1).count()
    report = {
        "bench": "redeem",
        "database": connection.vendor,
        "vouchers": n,
        "same_code_scans": same,
        "concurrency": concurrency,
        "workers": options["workers"],
        "threads": options["threads"],
        "requests": result["requests"],
        "throughput_rps": result["throughput_rps"],
        "p50_ms": result["p50_ms"],
        "p99_ms": result["p99_ms"],
        "statuses": result["statuses"],
        "redeemed": live.count(),
        "double_redeemed": double,
        "same_code_successes": live.filter(voucher__code=contested).count(),
        "baseline_rps": baseline["throughput_rps"],
        "baseline_p50_ms": baseline["p50_ms"],
        "baseline_p99_ms": baseline["p99_ms"],
        "ratio_vs_baseline": ratio(result["throughput_rps"], baseline["throughput_rps"]),
        # Where the machine's CPU went, per request, in each run (server, database, client).
        "cpu_ms_per_request": result["cpu_ms_per_request"],
        "baseline_cpu_ms_per_request": baseline["cpu_ms_per_request"],
        # The same scans through the service in this process, no HTTP, as many database
        # connections as the server has threads: what the database and the statement allow.
        "service_only_rps": direct["throughput_rps"],
        "service_only_redeemed": direct["redeemed"],
        "service_only_vs_baseline": ratio(direct["throughput_rps"], baseline["throughput_rps"]),
        # How many scans shared a statement there, on average (1.0: none did, e.g. on SQLite).
        "service_only_scans_per_statement": direct["scans_per_statement"],
        # The cheapest durable write a view can make (one guarded UPDATE, nothing checked, nothing
        # recorded), as many times as there are scans, on the same server after them.
        "floor_rps": floor["throughput_rps"],
        "floor_p99_ms": floor["p99_ms"],
        "floor_marked": floor_marked,
        "floor_vs_baseline": ratio(floor["throughput_rps"], baseline["throughput_rps"]),
        "floor_cpu_ms_per_request": floor["cpu_ms_per_request"],
        "setup_s": round(setup_s, 2),
    }
    if result["server_errors"]:
        report["server_errors"] = result["server_errors"]
    if not options.get("keep"):
        report["cleaned_up"] = fixture_cleanup(fx, extra_users=[user.pk])
    return json.dumps(report, ensure_ascii=False)


def floor_calls(codes: list[str]) -> list[Call]:
    """One floor POST per scratch code (``gonghui.bench.floor``)."""
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    return [
        Call("POST", FLOOR_PATH, headers, urllib.parse.urlencode({"code": code}).encode())
        for code in codes
    ]


def service_only(*, codes: list[str], store_id: int, auth: Any, threads: int) -> dict[str, Any]:
    """``voucher_redeem`` for each code from ``threads`` threads (one connection each)."""
    import threading

    from django.db import connections

    from gonghui.benefits import redeem_sql
    from gonghui.benefits.services import voucher_redeem

    stats = redeem_sql._combiner.stats
    batches, items = stats.batches, stats.items
    done: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads + 1)

    def work(chunk: list[str]) -> None:
        ok = 0
        try:
            barrier.wait()
            for i, code in enumerate(chunk):
                voucher_redeem(
                    code=code, store=store_id, clerk=auth, receipt_no=f"D{i}", amount_fen=10000
                )
                ok += 1
        finally:
            connections.close_all()
            with lock:
                done.append(ok)

    pool = [threading.Thread(target=work, args=(codes[i::threads],)) for i in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    redeemed = sum(done)
    batches, items = stats.batches - batches, stats.items - items
    return {
        "redeemed": redeemed,
        "throughput_rps": round(redeemed / elapsed, 1) if elapsed else 0,
        "scans_per_statement": round(items / batches, 2) if batches else 1.0,
    }
