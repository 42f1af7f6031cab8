"""Voucher grab: N members race for Q vouchers over HTTP against the production server.

``gonghui bench grab --members N --quota Q --concurrency C`` makes a fresh campaign and N eligible
members in the configured database, starts gunicorn (the production WSGI server, gthread workers)
on a free port, and runs a load client in another process: C keep-alive connections, one grab
POST per member in random order. In the same run, on the same server, the client hits a trivial
JSON view (``/benefits/ping``) as the baseline. It prints JSON: requests, throughput_rps, p50_ms,
p99_ms, vouchers_issued, distinct_winners, oversold (must be 0), baseline_rps and more.

Each grab carries the member's grab ticket (what the campaign page hands out) in a header and no
cookies, as the page's fetch does. A second baseline sends each member's signed-cookie session to
the trivial view (the server runs with ``GONGHUI_SESSION_ENGINE=...signed_cookies``): what any
signed-in member request costs before a view runs.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from gonghui.bench import positive_int

SIGNED_COOKIES = "django.contrib.sessions.backends.signed_cookies"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--members", type=positive_int, default=20_000)
    parser.add_argument("--quota", type=positive_int, default=2_000)
    parser.add_argument("--concurrency", type=positive_int, default=64)
    add_server_arguments(parser)


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=positive_int, default=2, help="gunicorn worker processes")
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=4,
        help="threads per worker (= database connections)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the data the bench made")


# --------------------------------------------------------------------------------------------
# the server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    static_root: str | None = None

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.static_root:
            shutil.rmtree(self.static_root, ignore_errors=True)


def _database_url(db: Any) -> str:
    """The URL of the database this process uses (its test database, under the test runner), so
    the server and the bench always read and write the same rows."""
    from urllib.parse import quote

    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = quote(str(db.get("USER") or ""), safe="")
    password = quote(str(db.get("PASSWORD") or ""), safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{quote(str(db['NAME']), safe='')}"


def server_start(
    *,
    workers: int,
    threads: int,
    extra_env: dict[str, str] | None = None,
    pages: bool = False,
    settings_module: str = "gonghui.settings",
) -> Server:
    """gunicorn with the production configuration and this process's settings (same database, same
    keys), signed-cookie sessions. With ``pages``, ``collectstatic`` runs first into a temporary
    directory, as in production, so the server can render pages (the JSON views need no files).
    ``settings_module`` is the platform's settings unless a bench routes a view of its own
    (``gonghui.bench.server_settings``)."""
    from django.conf import settings

    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "SECRET_KEY": settings.SECRET_KEY,
        "GONGHUI_FIELD_KEY": ",".join(settings.GONGHUI_FIELD_KEY),
        "GONGHUI_INDEX_KEY": settings.GONGHUI_INDEX_KEY,
        "GONGHUI_SESSION_ENGINE": SIGNED_COOKIES,
        "GONGHUI_GRAB_RATE_PER_ADDRESS": "100000000",  # every bench client shares one address
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_HTTPS": "0",
        "DEBUG": "0",
        "LOG_LEVEL": "ERROR",
        **(extra_env or {}),
    }
    env["DATABASE_URL"] = _database_url(settings.DATABASES["default"])
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        env["GONGHUI_VAR_DIR"] = str(settings.VAR_DIR)
    static_root = None
    if pages:
        static_root = tempfile.mkdtemp(prefix="gonghui-bench-static-")
        env["GONGHUI_STATIC_ROOT"] = static_root
        subprocess.run(
            [sys.executable, "-m", "gonghui", "collectstatic", "--noinput", "-v0"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        "python:gonghui.gunicorn_conf",  # the production settings (gthread, backlog, keep-alive)
        "gonghui.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server(process, port, static_root)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited while starting")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError("gunicorn did not answer /healthz within 60 s")


# --------------------------------------------------------------------------------------------
# the load client (runs in a forked process; standard library only)


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""


def _client_worker(port: int, calls: list[Call], concurrency: int, out: Any) -> None:
    lock = threading.Lock()
    position = [0]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    bodies: list[str] = []

    def next_call() -> Call | None:
        with lock:
            if position[0] >= len(calls):
                return None
            call = calls[position[0]]
            position[0] += 1
            return call

    def loop() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[float] = []
        codes: dict[int, int] = {}
        while (call := next_call()) is not None:
            for attempt in range(3):
                start = time.perf_counter()
                try:
                    conn.request(call.method, call.path, body=call.body, headers=call.headers)
                    response = conn.getresponse()
                    text = response.read()
                    break
                except (http.client.HTTPException, OSError):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    if attempt == 2:
                        raise
            mine.append(time.perf_counter() - start)
            codes[response.status] = codes.get(response.status, 0) + 1
            if response.status >= 500 and len(bodies) < 3:
                bodies.append(text[:300].decode(errors="replace"))
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.close()
        with lock:
            latencies.extend(mine)
            for k, v in codes.items():
                statuses[k] = statuses.get(k, 0) + v

    threads = [threading.Thread(target=loop) for _ in range(concurrency)]
    started = time.perf_counter()
    cpu_started = time.process_time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    out.send(
        {
            "latencies": latencies,
            "statuses": statuses,
            "elapsed": elapsed,
            "errors": bodies,
            "cpu": cpu,
        }
    )
    out.close()


_PROCESS_GROUPS = {
    # the bench's gunicorn (started as "python -m gunicorn"), any other gunicorn
    "gunicorn": lambda command: " -m gunicorn " in command or command.startswith("gunicorn"),
    # the postmaster and every PostgreSQL process (backends, WAL writer, checkpointer, ...)
    "postgres": lambda command: command.startswith("postgres:") or "/bin/postgres " in command,
}


def cpu_seconds_of(*names: str) -> dict[str, float] | None:
    """CPU seconds (user + system) used so far by each named group of processes (Linux /proc;
    None elsewhere). Processes are read as they are now."""
    proc = "/proc"
    if not os.path.isdir(proc):
        return None
    tick = os.sysconf("SC_CLK_TCK")
    totals = dict.fromkeys(names, 0.0)
    for pid in os.listdir(proc):
        if not pid.isdigit():
            continue
        try:
            with open(f"{proc}/{pid}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"{proc}/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        for name in names:
            if _PROCESS_GROUPS[name](command):
                totals[name] += (int(fields[11]) + int(fields[12])) / tick
                break
    return totals


def run_in_child(target: Any, *args: Any) -> Any:
    """Run ``target(*args, sender)`` in a forked process; return what it sends back."""
    from django.db import connections

    connections.close_all()  # never share a database socket with the forked child
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=target, args=(*args, sender))
    child.start()
    sender.close()
    result = receiver.recv()
    child.join()
    return result


def load(port: int, calls: list[Call], concurrency: int) -> dict[str, Any]:
    """Run ``calls`` with ``concurrency`` connections from a separate process; summarise."""
    cpu_before = cpu_seconds_of("gunicorn", "postgres")
    result = run_in_child(_client_worker, port, calls, concurrency)
    cpu_after = cpu_seconds_of("gunicorn", "postgres")
    lat = sorted(result["latencies"])
    cpu_ms: dict[str, float] | None = None
    if cpu_before is not None and cpu_after is not None and lat:
        # CPU per request of the server processes, the database server (every PostgreSQL
        # process: backends, WAL writer, checkpointer) and the load client.
        cpu_ms = {
            "server": round((cpu_after["gunicorn"] - cpu_before["gunicorn"]) * 1000 / len(lat), 3),
            "database": round(
                (cpu_after["postgres"] - cpu_before["postgres"]) * 1000 / len(lat), 3
            ),
            "client": round(result["cpu"] * 1000 / len(lat), 3),
        }

    def pct(p: float) -> float:
        return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 2) if lat else 0.0

    return {
        "requests": len(lat),
        "seconds": round(result["elapsed"], 3),
        "throughput_rps": round(len(lat) / result["elapsed"], 1) if result["elapsed"] else 0.0,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "statuses": {str(k): v for k, v in sorted(result["statuses"].items())},
        "server_errors": result["errors"],
        "cpu_ms_per_request": cpu_ms,
    }


def ratio(rate: float, baseline: float) -> float | None:
    return round(rate / baseline, 3) if baseline else None


def baseline_calls(n: int) -> list[Call]:
    return [Call("GET", "/benefits/ping", {"Host": "127.0.0.1"})] * n


def session_cookie(data: dict[str, Any]) -> str:
    from importlib import import_module

    store = import_module(SIGNED_COOKIES).SessionStore()
    for key, value in data.items():
        store[key] = value
    store.save()
    return str(store.session_key)


def grab_path(fx: Fixture) -> str:
    return f"/benefits/campaigns/{fx.campaign.pk}/grab"


def grab_headers(fx: Fixture, member_id: int, *, key_prefix: str) -> dict[str, str]:
    """What the campaign page's fetch sends: the member's grab ticket, no cookies, and the page's
    own language (its ``<html lang>``, the platform's default for a member without the cookie)."""
    from django.conf import settings

    from gonghui.benefits.services import grab_ticket_issue
    from gonghui.members.models import Member

    return {
        "Accept": "application/json",
        "Accept-Language": settings.LANGUAGE_CODE,
        "Content-Length": "0",
        "X-Grab-Ticket": grab_ticket_issue(member=Member(pk=member_id), campaign=fx.campaign),
        "Idempotency-Key": f"{key_prefix}-{member_id}",
    }


def form_headers(cookie: str, csrf: str) -> dict[str, str]:
    return {
        "Host": "127.0.0.1",
        "Cookie": f"sessionid={cookie}; csrftoken={csrf}",
        "X-CSRFToken": csrf,
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
    }


# --------------------------------------------------------------------------------------------
# data


@dataclass
class Fixture:
    root: Any
    base: Any
    merchant: Any
    store: Any
    campaign: Any
    member_ids: list[int]


def fixture_make(*, members: int, quota: int, tag: str) -> Fixture:
    import datetime as dt

    from django.utils import timezone

    from gonghui.benefits.models import CampaignStatus
    from gonghui.benefits.services import (
        campaign_create,
        campaign_transition,
        merchant_create,
        store_create,
    )
    from gonghui.benefits.testing import bulk_members
    from gonghui.orgs.models import OrgKind
    from gonghui.orgs.services import org_create

    root = org_create(
        actor=None, parent=None, kind=OrgKind.CITY_FEDERATION, name=f"压测{tag}总工会"
    )
    base = org_create(actor=None, parent=root, kind=OrgKind.BASE_UNION, name=f"压测{tag}工会委员会")
    merchant = merchant_create(
        actor=None,
        org=root,
        name=f"压测书店{tag}",
        settlement_account_name="压测书店",
        settlement_bank="中原银行",
        settlement_account_no="4100001234567890",
    )
    store = store_create(actor=None, merchant=merchant, name="压测门店")
    now = timezone.now()
    campaign = campaign_create(
        actor=None,
        org=root,
        merchant=merchant,
        stores=[store],
        name=f"压测券{tag}",
        face_value_fen=10000,
        subsidy_fen=6800,
        member_share_fen=1000,
        concession_fen=2200,
        quota=quota,
        card_banks=["中原银行", "中国邮政储蓄银行"],
        release_at=now - dt.timedelta(seconds=1),
        redeem_from=now - dt.timedelta(seconds=1),
        redeem_until=now + dt.timedelta(days=1),
    )
    campaign_transition(campaign=campaign, new=CampaignStatus.SCHEDULED, actor=None)
    campaign_transition(campaign=campaign, new=CampaignStatus.OPEN, actor=None)
    ids = bulk_members(org=base, count=members, tag=f"bench-{tag}")
    from django.db import connection

    if connection.vendor == "postgresql":
        # Fresh bulk rows: give the planner statistics, as autovacuum would in a real database.
        with connection.cursor() as cursor:
            cursor.execute(
                "ANALYZE members_member, members_membercard, benefits_voucher, benefits_campaign"
            )
    return Fixture(root, base, merchant, store, campaign, ids)


def fixture_cleanup(fx: Fixture, *, extra_users: list[int] | None = None) -> bool:
    """Remove what the bench made (audit and ledger lines stay: they are append-only)."""
    from django.db import transaction

    from gonghui.accounts.models import User
    from gonghui.benefits.models import (
        Campaign,
        CampaignStatusChange,
        MerchantClerk,
        Redemption,
        Registration,
        Store,
        Voucher,
        VoucherStatusChange,
    )
    from gonghui.ledger.models import Account
    from gonghui.members.models import Member, MemberCard, Membership
    from gonghui.orgs.models import Org

    try:
        with transaction.atomic():
            vouchers = Voucher.objects.filter(campaign=fx.campaign)
            Redemption.objects.filter(voucher__in=vouchers).delete()
            VoucherStatusChange.objects.filter(voucher__in=vouchers).delete()
            vouchers.delete()
            Registration.objects.filter(campaign=fx.campaign).delete()
            CampaignStatusChange.objects.filter(campaign=fx.campaign).delete()
            Campaign.objects.filter(pk=fx.campaign.pk).delete()
            MerchantClerk.objects.filter(merchant=fx.merchant).delete()
            User.objects.filter(pk__in=extra_users or []).delete()
            Store.objects.filter(merchant=fx.merchant).delete()
            MemberCard.objects.filter(member__org=fx.base).delete()
            Membership.objects.filter(member__org=fx.base).delete()
            Member.objects.filter(org=fx.base).delete()
            Org.objects.filter(pk=fx.base.pk).delete()
            fx.merchant.delete()
            # The union's books are append-only: an org with ledger accounts stays.
            if not Account.objects.filter(org=fx.root).exists():
                Org.objects.filter(pk=fx.root.pk).delete()
        return True
    except Exception:  # a kept ledger line (PROTECT) or a changed schema: leave it, say so
        return False


# --------------------------------------------------------------------------------------------


def run(options: dict[str, Any]) -> str:
    from django.db import connection

    from gonghui.accounts.middleware import MEMBER_SESSION_KEY
    from gonghui.benefits.models import Campaign, Voucher

    members, quota, concurrency = options["members"], options["quota"], options["concurrency"]
    if members < 1 or quota < 1 or concurrency < 1:
        raise ValueError("--members, --quota and --concurrency must be at least 1")
    tag = uuid.uuid4().hex[:8]
    t0 = time.perf_counter()
    fx = fixture_make(members=members, quota=quota, tag=tag)
    calls = [
        Call(
            "POST",
            grab_path(fx),
            {"Host": "127.0.0.1", **grab_headers(fx, pk, key_prefix="bench")},
        )
        for pk in fx.member_ids
    ]
    random.Random(0).shuffle(calls)
    csrf = secrets.token_hex(16)
    member_cookies = [
        form_headers(session_cookie({MEMBER_SESSION_KEY: pk}), csrf) for pk in fx.member_ids
    ]
    setup_s = time.perf_counter() - t0
    server = server_start(workers=options["workers"], threads=options["threads"])
    try:
        load(server.port, baseline_calls(min(2000, members)), concurrency)  # warm-up
        baseline = load(server.port, baseline_calls(members), concurrency)
        # The same trivial view with each member's session cookie: what any signed-in member
        # request costs before the view runs (session, member row), for comparison.
        member_baseline = load(
            server.port,
            [Call("GET", "/benefits/ping", headers) for headers in member_cookies],
            concurrency,
        )
        grab = load(server.port, calls, concurrency)
    finally:
        server.stop()
    vouchers = Voucher.objects.filter(campaign=fx.campaign)
    issued = vouchers.count()
    distinct = vouchers.values("member_id").distinct().count()
    remaining = Campaign.objects.get(pk=fx.campaign.pk).remaining
    report = {
        "bench": "grab",
        "database": connection.vendor,
        "members": members,
        "quota": quota,
        "concurrency": concurrency,
        "workers": options["workers"],
        "threads": options["threads"],
        "redis_fast_path": bool(os.environ.get("REDIS_URL")),
        "requests": grab["requests"],
        "throughput_rps": grab["throughput_rps"],
        "p50_ms": grab["p50_ms"],
        "p99_ms": grab["p99_ms"],
        "statuses": grab["statuses"],
        "vouchers_issued": issued,
        "distinct_winners": distinct,
        "remaining": remaining,
        "oversold": max(0, issued - quota) + (issued - distinct),
        "baseline_rps": baseline["throughput_rps"],
        "baseline_p50_ms": baseline["p50_ms"],
        "baseline_p99_ms": baseline["p99_ms"],
        "ratio_vs_baseline": ratio(grab["throughput_rps"], baseline["throughput_rps"]),
        "baseline_member_rps": member_baseline["throughput_rps"],
        "baseline_member_p99_ms": member_baseline["p99_ms"],
        "ratio_vs_member_baseline": ratio(
            grab["throughput_rps"], member_baseline["throughput_rps"]
        ),
        # Where the machine's CPU went, per request, in each run (server, database, client).
        "cpu_ms_per_request": grab["cpu_ms_per_request"],
        "baseline_cpu_ms_per_request": baseline["cpu_ms_per_request"],
        "setup_s": round(setup_s, 2),
    }
    if grab["server_errors"]:
        report["server_errors"] = grab["server_errors"]
    if not options.get("keep"):
        report["cleaned_up"] = fixture_cleanup(fx)
    else:
        report["campaign_id"] = fx.campaign.pk
    return json.dumps(report, ensure_ascii=False)
