"""Spike: thousands of members press 抢券 at the same moment, each on a connection of its own.

``gonghui bench spike --members N --quota Q`` makes a fresh open campaign with Q vouchers and N
eligible members, starts gunicorn with the production configuration (``gonghui.gunicorn_conf``),
and from another process opens N connections at once, one per member, as N phones would: each sends
its grab (ticket header, ``Connection: close``) and waits up to ``--timeout`` seconds for the
answer. While the burst runs, a probe in this process loads the campaign page as a signed-in member
every 100 ms: the page must stay up. In the same run, on the same server, the baseline is the same
burst of N connections to the trivial JSON view.

Latency counts from the moment the burst starts, so it includes waiting in the kernel's connection
queue. It prints JSON: answered, failed (by kind), statuses, p50/p99/max, vouchers_issued,
distinct_winners, oversold (must be 0), the page probe and the baseline burst.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import threading
import time
import uuid
from typing import Any

from gonghui.bench import positive_int
from gonghui.bench.grab import (
    add_server_arguments,
    baseline_calls,
    fixture_cleanup,
    fixture_make,
    grab_headers,
    grab_path,
    load,
    run_in_child,
    server_start,
    session_cookie,
)
from gonghui.core.limits import raise_open_file_limit


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--members", type=positive_int, default=12_000)
    parser.add_argument("--quota", type=positive_int, default=2_000)
    parser.add_argument(
        "--timeout", type=positive_int, default=60, help="seconds a phone waits for its answer"
    )
    add_server_arguments(parser)


# --------------------------------------------------------------------------------------------
# the burst client (runs in a forked process; standard library only)


def _burst_worker(port: int, requests: list[bytes], timeout: float, out: Any) -> None:
    import asyncio

    async def one(raw: bytes, started: float) -> tuple[str, float]:
        loop = asyncio.get_running_loop()
        writer = None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(raw)
                data = await reader.read()  # the server closes after its answer
            outcome = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/1.") else "empty"
        except TimeoutError:
            outcome = "timeout"
        except ConnectionRefusedError:
            outcome = "refused"
        except ConnectionResetError:
            outcome = "reset"
        except OSError as exc:
            outcome = f"oserror-{exc.errno}"
        finally:
            if writer is not None:
                writer.close()
        return outcome, loop.time() - started

    async def burst() -> tuple[list[tuple[str, float]], float]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        results = await asyncio.gather(*(one(raw, started) for raw in requests))
        return results, loop.time() - started

    cpu_started = time.process_time()
    results, elapsed = asyncio.run(burst())
    out.send({"results": results, "elapsed": elapsed, "cpu": time.process_time() - cpu_started})
    out.close()


def burst(port: int, requests: list[bytes], timeout: float) -> dict[str, Any]:
    """Send every request at once, each on a new connection, from a separate process."""
    result = run_in_child(_burst_worker, port, requests, timeout)
    statuses: dict[str, int] = {}
    failed: dict[str, int] = {}
    answered: list[float] = []
    for outcome, seconds in result["results"]:
        if outcome.isdigit():
            statuses[outcome] = statuses.get(outcome, 0) + 1
            answered.append(seconds)
        else:
            failed[outcome] = failed.get(outcome, 0) + 1
    answered.sort()

    def pct(p: float) -> float:
        if not answered:
            return 0.0
        return round(answered[min(len(answered) - 1, int(p * len(answered)))] * 1000, 1)

    return {
        "connections": len(requests),
        "answered": len(answered),
        "failed": sum(failed.values()),
        "failures": failed,
        "statuses": dict(sorted(statuses.items())),
        "seconds": round(result["elapsed"], 3),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": round(answered[-1] * 1000, 1) if answered else 0.0,
        "client_cpu_s": round(result["cpu"], 3),
    }


class PageProbe(threading.Thread):
    """Loads one page every ``interval`` seconds on a fresh connection until stopped."""

    def __init__(self, port: int, path: str, headers: dict[str, str], interval: float = 0.1):
        super().__init__(daemon=True)
        self.port, self.path, self.headers, self.interval = port, path, headers, interval
        self.stopping = threading.Event()
        self.latencies: list[float] = []
        self.failures: dict[str, int] = {}

    def run(self) -> None:
        while not self.stopping.is_set():
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                conn.request("GET", self.path, headers=self.headers)
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    self.latencies.append(time.perf_counter() - started)
                else:
                    key = str(response.status)
                    self.failures[key] = self.failures.get(key, 0) + 1
            except (OSError, http.client.HTTPException) as exc:
                key = type(exc).__name__
                self.failures[key] = self.failures.get(key, 0) + 1
            finally:
                conn.close()
            self.stopping.wait(max(0.0, self.interval - (time.perf_counter() - started)))

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        return {
            "loads": len(lat) + sum(self.failures.values()),
            "ok": len(lat),
            "failures": self.failures,
            "p50_ms": round(lat[len(lat) // 2] * 1000, 1) if lat else 0.0,
            "max_ms": round(lat[-1] * 1000, 1) if lat else 0.0,
        }


def _request(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def run(options: dict[str, Any]) -> str:
    from django.db import connection

    from gonghui.accounts.middleware import MEMBER_SESSION_KEY
    from gonghui.benefits.models import Campaign, Voucher

    members, quota, timeout = options["members"], options["quota"], options["timeout"]
    # The client holds one socket per member; the server processes inherit this limit.
    file_limit = raise_open_file_limit(members + 512)
    if file_limit < members + 64:
        raise ValueError(
            f"the open-file limit ({file_limit}) is too low for {members} connections; "
            "raise it (ulimit -n) or lower --members"
        )
    tag = uuid.uuid4().hex[:8]
    t0 = time.perf_counter()
    fx = fixture_make(members=members, quota=quota, tag=tag)
    grabs = [
        _request("POST", grab_path(fx), grab_headers(fx, pk, key_prefix="spike"))
        for pk in fx.member_ids
    ]
    random.Random(0).shuffle(grabs)
    trivial = [_request("GET", "/benefits/ping", {})] * members
    page = f"/m/benefits/campaigns/{fx.campaign.pk}/"
    page_headers = {
        "Host": "127.0.0.1",
        "Cookie": f"sessionid={session_cookie({MEMBER_SESSION_KEY: fx.member_ids[0]})}",
    }
    setup_s = time.perf_counter() - t0
    server = server_start(workers=options["workers"], threads=options["threads"], pages=True)
    try:
        load(server.port, baseline_calls(min(2000, members)), 16)  # warm-up
        baseline = burst(server.port, trivial, timeout)
        time.sleep(1)  # let the kernel's queues drain
        probe = PageProbe(server.port, page, page_headers)
        probe.start()
        time.sleep(0.5)  # the page answers before the spike too
        spike = burst(server.port, grabs, timeout)
        time.sleep(0.5)
        probe.stopping.set()
        probe.join()
    finally:
        server.stop()
    vouchers = Voucher.objects.filter(campaign=fx.campaign)
    issued = vouchers.count()
    distinct = vouchers.values("member_id").distinct().count()
    report: dict[str, Any] = {
        "bench": "spike",
        "database": connection.vendor,
        "members": members,
        "quota": quota,
        "workers": options["workers"],
        "threads": options["threads"],
        **{k: v for k, v in spike.items() if k != "client_cpu_s"},
        "vouchers_issued": issued,
        "distinct_winners": distinct,
        "remaining": Campaign.objects.get(pk=fx.campaign.pk).remaining,
        "oversold": max(0, issued - quota) + (issued - distinct),
        "page_probe": probe.summary(),
        "baseline": {k: v for k, v in baseline.items() if k != "client_cpu_s"},
        "setup_s": round(setup_s, 2),
    }
    if not options.get("keep"):
        report["cleaned_up"] = fixture_cleanup(fx)
    else:
        report["campaign_id"] = fx.campaign.pk
    return json.dumps(report, ensure_ascii=False)
