"""The Redis fast path while its Redis dies and comes back, under a crowd (PostgreSQL only).

Each test starts a Redis server of its own (``/usr/bin/redis-server`` on a free port), points
the platform's Redis settings (``REDIS_URL`` and the shared cache) at it, and kills it with
SIGKILL part-way through a crowd of grabs sent through the grab door by real threads. The grabs
go on while it is down (the database answers) and after a fresh server starts on the same port;
then ``benefits_tick`` reconciles, and the database and Redis must agree on every voucher.
"""

from __future__ import annotations

import io
import itertools
import random
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from django.core.management import call_command
from django.db import connection, connections
from django.db.models import Count
from django.test import Client, override_settings
from django.urls import reverse

from gonghui.benefits import fastpath, hot
from gonghui.benefits.models import Campaign, Voucher
from gonghui.benefits.services import GrabOutcome, grab_ticket_issue, voucher_grab
from gonghui.benefits.testing import bulk_members
from gonghui.members.models import Member

REDIS_SERVER = "/usr/bin/redis-server"

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the crowd needs PostgreSQL (DATABASE_URL)"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A redis-server process of the test's own. ``kill`` is SIGKILL (no goodbye, no save);
    ``start`` again uses the same port and directory, so a snapshot left there (``SAVE``) is what
    the fresh server loads, as a server restarted from stale persistence would."""

    def __init__(self, directory: Path, *args: str) -> None:
        self.args = args  # more of redis-server's options
        self.port = _free_port()
        self.directory = directory
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                *self.args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        probe = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 20  # a wait for start-up, not an assertion on time
        while True:
            try:
                if probe.ping():
                    break
            except redis.BusyLoadingError:
                pass
            except redis.ConnectionError:
                if self.process.poll() is not None:
                    raise RuntimeError("redis-server exited at start") from None
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.01)
        probe.close()

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": server.url,
            "KEY_PREFIX": "gonghui",
        }
    }
    try:
        with override_settings(REDIS_URL=server.url, GONGHUI_GRAB_FASTPATH=True, CACHES=caches):
            yield server
    finally:
        if server.process is not None:
            server.kill()


@dataclass(frozen=True)
class Answer:
    member_id: int
    request_key: str
    status: int
    outcome: str
    voucher_id: int | None
    began: int  # the order in which requests began and ended, over all threads
    ended: int


def _door(campaign: Campaign, member_id: int, request_key: str, client: Client) -> Any:
    ticket = grab_ticket_issue(member=Member(pk=member_id), campaign=campaign)
    return client.post(
        reverse("benefits:grab", args=[campaign.pk]),
        headers={"X-Grab-Ticket": ticket, "Idempotency-Key": request_key},
        # one address per member, as a crowd of phones (the per-address limit is not tested here)
        REMOTE_ADDR=f"10.{member_id >> 16 & 255}.{member_id >> 8 & 255}.{member_id & 255}",
    )


def _crowd(
    campaign: Campaign,
    requests: list[tuple[int, str]],
    *,
    threads: int,
    chaos: dict[int, Any],
) -> list[Answer]:
    """Send ``requests`` (member, request key) through the grab door from ``threads`` threads.
    ``chaos`` maps a number of answered requests to what happens to Redis then (run by the
    thread whose answer reached that number, while the others go on)."""
    answers: list[Answer] = []
    lock = threading.Lock()
    order = itertools.count()
    answered = itertools.count(1)
    barrier = threading.Barrier(threads)
    chunks = [requests[i::threads] for i in range(threads)]
    failures: list[BaseException] = []

    def run(chunk: list[tuple[int, str]]) -> None:
        client = Client(raise_request_exception=False)
        mine: list[Answer] = []
        try:
            barrier.wait()
            for member_id, request_key in chunk:
                began = next(order)
                response = _door(campaign, member_id, request_key, client)
                ended = next(order)
                body = response.json() if response.status_code != 500 else {}
                mine.append(
                    Answer(
                        member_id=member_id,
                        request_key=request_key,
                        status=response.status_code,
                        outcome=body.get("outcome", f"http-{response.status_code}"),
                        voucher_id=body.get("voucher_id"),
                        began=began,
                        ended=ended,
                    )
                )
                action = chaos.get(next(answered))
                if action is not None:
                    action()
        except BaseException as exc:  # surfaced below, not lost in a thread
            failures.append(exc)
        finally:
            connections.close_all()
            with lock:
                answers.extend(mine)

    pool = [threading.Thread(target=run, args=(chunk,)) for chunk in chunks]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert not failures, failures
    return answers


def _assert_consistent(
    campaign: Campaign, answers: list[Answer], *, members: int, server: RedisServer
) -> None:
    campaign.refresh_from_db()
    vouchers = Voucher.objects.filter(campaign=campaign)
    held = dict(vouchers.values_list("member_id", "pk"))
    counts = Counter(answer.outcome for answer in answers)
    # Every grab got an answer, none of them an error: the database answers while Redis is down.
    assert set(counts) <= {GrabOutcome.WON, GrabOutcome.ALREADY, GrabOutcome.SOLD_OUT}, counts
    assert vouchers.count() == min(campaign.quota, members)
    assert not vouchers.values("member_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert campaign.remaining == campaign.quota - vouchers.count()
    # Whoever was told "won" holds that voucher; whoever holds one was told "won" once.
    won = [a for a in answers if a.outcome == GrabOutcome.WON]
    assert len(won) == len(held)
    for a in won:
        assert held[a.member_id] == a.voucher_id
    # "Already" (a double tap) names the member's own voucher.
    for a in answers:
        if a.outcome == GrabOutcome.ALREADY:
            assert held[a.member_id] == a.voucher_id
    # No "sold out" while stock remained: stock only goes down, so a grab that began after a
    # "sold out" answer and still won proves that answer wrong.
    first_sold_out = min(
        (a.ended for a in answers if a.outcome == GrabOutcome.SOLD_OUT), default=None
    )
    if first_sold_out is not None:
        late_winners = [a for a in won if a.began > first_sold_out]
        assert not late_winners, f"{len(late_winners)} won after a sold-out answer"
    # The clock's reconcile; then Redis agrees with the database.
    _tick()
    r = server.client()
    stock, holders, ready = fastpath.keys(campaign)
    assert int(r.get(stock)) == campaign.remaining
    assert {int(k): int(v) for k, v in r.hgetall(holders).items()} == dict.fromkeys(held, 1)
    assert r.exists(ready)


def _tick() -> None:
    call_command("benefits_tick", stdout=io.StringIO())


def _ask_again(campaign: Campaign, answers: list[Answer]) -> None:
    """Every member who holds a voucher sends the same request again (a phone that lost the
    answer): it names the same voucher. Those who got none are told "sold out"."""
    held = dict(Voucher.objects.filter(campaign=campaign).values_list("member_id", "pk"))
    client = Client(raise_request_exception=False)
    first = {a.member_id: a for a in sorted(answers, key=lambda a: a.began)}
    for member_id, voucher_id in held.items():
        body = _door(campaign, member_id, first[member_id].request_key, client).json()
        assert (body["outcome"], body["voucher_id"]) == (GrabOutcome.ALREADY, voucher_id)
    for member_id in [m for m in first if m not in held][:20]:
        body = _door(campaign, member_id, first[member_id].request_key, client).json()
        assert (body["outcome"], body["voucher_id"]) == (GrabOutcome.SOLD_OUT, None)


def _setup(world: Any, make_campaign: Any, *, members: int, quota: int, double_taps: int):
    campaign = make_campaign(quota=quota)
    ids = bulk_members(org=world.jiefang_base, count=members, tag=f"restart{campaign.pk}")
    requests = [(m, f"tap-{m}") for m in ids] + [(m, f"tap-{m}") for m in ids[:double_taps]]
    random.Random(11).shuffle(requests)
    return campaign, requests


@postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_redis_killed_and_restarted_empty_mid_campaign(world, make_campaign, redis_server):
    """2,000 members, 300 vouchers, 32 threads. Redis dies after the 100th answer and a fresh,
    empty one starts after the 200th; the campaign sells out after it is back."""
    members, quota = 2_000, 300
    campaign, requests = _setup(world, make_campaign, members=members, quota=quota, double_taps=200)
    answers = _crowd(
        campaign,
        requests,
        threads=32,
        chaos={100: redis_server.kill, 200: redis_server.start},
    )
    assert len(answers) == len(requests)
    _assert_consistent(campaign, answers, members=members, server=redis_server)
    _ask_again(campaign, answers)
    # Redis restarts again, empty, after the sell-out: this process still knows "sold out", the
    # winner markers are gone; winners asking again still get their vouchers.
    redis_server.kill()
    redis_server.start()
    _ask_again(campaign, answers)


@postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_redis_restarted_from_a_stale_snapshot_the_database_decides(
    world, make_campaign, redis_server
):
    """Redis saves a snapshot after the 60th answer, dies after the 150th and comes back from
    that snapshot after the 200th: it believes in stock (and fewer holders) the database no
    longer has. The database decides every voucher all the same."""
    members, quota = 2_000, 300
    campaign, requests = _setup(world, make_campaign, members=members, quota=quota, double_taps=200)

    stock_key = fastpath.keys(campaign)[0]
    seen: dict[str, int] = {}

    def save() -> None:
        r = redis_server.client()
        r.save()
        seen["saved"] = int(r.get(stock_key))

    def kill() -> None:
        redis_server.kill()
        seen["database"] = Campaign.objects.get(pk=campaign.pk).remaining

    def start() -> None:
        redis_server.start()
        seen["loaded"] = int(redis_server.client().exists(stock_key))

    answers = _crowd(campaign, requests, threads=32, chaos={60: save, 150: kill, 200: start})
    assert len(answers) == len(requests)
    # Redis came back from the snapshot, which had more stock than the database by then.
    assert seen["loaded"] == 1 and seen["saved"] > seen["database"]
    _assert_consistent(campaign, answers, members=members, server=redis_server)
    _ask_again(campaign, answers)


@pytest.mark.django_db
def test_a_claim_redis_never_got_back_does_not_end_the_campaign(
    redis_server, make_campaign, carded
):
    """Two grabs took their claim from Redis and died before the database (a process killed, a
    reply lost): Redis counts 0 left while the database has 2. The next grabs still get them, and
    Redis counts again from the database."""
    c = make_campaign(quota=2)
    stock, holders, ready = fastpath.keys(c)
    fastpath.rebuild(c)
    r = redis_server.client()
    for member_id in (999998, 999999):
        r.eval(fastpath.GRAB_LUA, 3, stock, holders, ready, member_id, 1)
    assert int(r.get(stock)) == 0
    first, second = carded(), carded()
    assert voucher_grab(campaign=c, member=first).outcome == GrabOutcome.WON
    assert int(r.get(stock)) == 1 and not r.hexists(holders, "999999")  # rebuilt
    assert voucher_grab(campaign=c, member=second).outcome == GrabOutcome.WON
    hot.reset_local()  # another process: Redis's word, then the database's
    assert voucher_grab(campaign=c, member=carded()).outcome == GrabOutcome.SOLD_OUT
    assert voucher_grab(campaign=c, member=first).outcome == GrabOutcome.ALREADY
    c.refresh_from_db()
    assert c.remaining == 0 and Voucher.objects.filter(campaign=c).count() == 2


@pytest.mark.django_db
def test_after_a_restart_past_the_sell_out_winners_still_get_their_vouchers(
    redis_server, make_campaign, carded, django_assert_num_queries
):
    """Redis restarts after the sell-out: this process still knows "sold out", the winner
    markers are gone. The winner asking again is told the voucher (the database is asked while
    the shared flag is missing); the flag and markers are then written again, and the crowd's
    "sold out" costs no query again."""
    c = make_campaign(quota=1)
    winner, late = carded(), carded()
    won = voucher_grab(campaign=c, member=winner, request_key="w")
    assert won.outcome == GrabOutcome.WON
    assert voucher_grab(campaign=c, member=late).outcome == GrabOutcome.SOLD_OUT
    redis_server.kill()
    redis_server.start()
    again = voucher_grab(campaign=c, member=winner.pk, request_key="w")
    assert again.outcome == GrabOutcome.ALREADY and again.voucher.pk == won.voucher.pk
    with django_assert_num_queries(0):
        assert voucher_grab(campaign=c, member=late.pk).outcome == GrabOutcome.SOLD_OUT
    with django_assert_num_queries(1):  # the voucher named by the marker
        assert voucher_grab(campaign=c, member=winner.pk).voucher.pk == won.voucher.pk
