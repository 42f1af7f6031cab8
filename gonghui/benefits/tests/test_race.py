"""Real threads, real connections, committed transactions: the grab and the scan under a crowd.

PostgreSQL runs the issue's numbers (20,000 members for 2,000 vouchers; 50 scans of one code);
SQLite, which serialises writers, runs a smaller crowd to show the same guarantees hold there.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections

from gonghui.benefits import hot
from gonghui.benefits.models import Redemption, Voucher, VoucherStatus
from gonghui.benefits.services import GrabOutcome, voucher_grab, voucher_redeem
from gonghui.benefits.testing import bulk_members
from gonghui.core.errors import ApplicationError
from gonghui.members.models import Member

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the full-size race needs PostgreSQL (DATABASE_URL)"
)


def crowd(jobs: list[Any], work: Callable[[Any], Any], *, threads: int) -> list[Any]:
    """Run ``work`` over ``jobs`` in ``threads`` threads that start together; each thread has its
    own database connection and closes it at the end."""
    results: list[Any] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads)
    chunks = [jobs[i::threads] for i in range(threads)]

    def run(chunk: list[Any]) -> None:
        mine = []
        try:
            barrier.wait()
            for job in chunk:
                try:
                    mine.append(work(job))
                except ApplicationError as exc:
                    mine.append(exc.code)
        finally:
            connections.close_all()
            with lock:
                results.extend(mine)

    pool = [threading.Thread(target=run, args=(chunk,)) for chunk in chunks]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return results


def _grab_race(make_campaign, world, *, members: int, quota: int, threads: int, double_taps: int):
    campaign = make_campaign(quota=quota)
    ids = bulk_members(org=world.jiefang_base, count=members, tag=f"race{campaign.pk}")
    by_id = {m.pk: m for m in Member.objects.select_related("org").filter(pk__in=ids)}
    requests = ids + ids[:double_taps]  # some members tap twice, from different threads
    random.Random(7).shuffle(requests)

    def work(member_id: int) -> tuple[int, str, int | None]:
        result = voucher_grab(
            campaign=campaign, member=by_id[member_id], request_key=f"tap-{member_id}"
        )
        return member_id, result.outcome, result.voucher.pk if result.voucher else None

    results = crowd(requests, work, threads=threads)
    campaign.refresh_from_db()
    vouchers = Voucher.objects.filter(campaign=campaign)
    assert len(results) == len(requests)
    assert vouchers.count() == quota
    assert vouchers.values("member_id").distinct().count() == quota
    assert campaign.remaining == 0
    outcomes = Counter(outcome for _m, outcome, _v in results)
    assert outcomes[GrabOutcome.WON] == quota
    assert set(outcomes) <= {GrabOutcome.WON, GrabOutcome.ALREADY, GrabOutcome.SOLD_OUT}
    # a double tap never made a second voucher: every answer with a voucher names the member's one
    mine = dict(vouchers.values_list("member_id", "pk"))
    for member_id, _outcome, voucher_id in results:
        if voucher_id is not None:
            assert mine[member_id] == voucher_id
    return outcomes


@postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_20000_members_grab_2000_vouchers(world, make_campaign):
    _grab_race(make_campaign, world, members=20_000, quota=2_000, threads=32, double_taps=2_000)


@postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_every_grab_reaches_the_database(world, make_campaign, monkeypatch):
    """The same race with the sold-out flag switched off: the guarded UPDATE alone holds the line."""
    monkeypatch.setattr(hot, "sold_out", lambda key: False)
    _grab_race(make_campaign, world, members=1_500, quota=300, threads=32, double_taps=300)


@pytest.mark.django_db(transaction=True)
def test_sqlite_or_postgres_small_crowd(world, make_campaign, monkeypatch):
    monkeypatch.setattr(hot, "sold_out", lambda key: False)
    _grab_race(make_campaign, world, members=120, quota=40, threads=6, double_taps=40)


def _redeem_race(make_campaign, world, shop, *, threads: int) -> None:
    campaign = make_campaign()
    [member_id] = bulk_members(org=world.jiefang_base, count=1, tag=f"scan{campaign.pk}")
    member = Member.objects.select_related("org").get(pk=member_id)
    voucher = voucher_grab(campaign=campaign, member=member).voucher
    assert voucher is not None

    def work(i: int) -> str:
        voucher_redeem(
            code=voucher.code,
            store=shop.store,
            clerk=shop.clerk,
            receipt_no=f"R{i}",
            amount_fen=100 + i,
        )
        return "ok"

    results = crowd(list(range(threads)), work, threads=threads)
    assert Counter(results) == {"ok": 1, "already_used": threads - 1}
    assert Redemption.objects.filter(voucher=voucher).count() == 1
    voucher.refresh_from_db()
    assert voucher.status == VoucherStatus.USED


@postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_50_scans_of_one_code_one_success(world, shop, make_campaign):
    _redeem_race(make_campaign, world, shop, threads=50)


@pytest.mark.django_db(transaction=True)
def test_sqlite_or_postgres_8_scans_of_one_code_one_success(world, shop, make_campaign):
    _redeem_race(make_campaign, world, shop, threads=8)


def _repeat_race(make_campaign, world, shop, *, threads: int) -> None:
    """One clerk's one sale sent ``threads`` times at once (a browser's retry, a double press
    on a slow line): one redemption, and every answer is that redemption."""
    campaign = make_campaign()
    [member_id] = bulk_members(org=world.jiefang_base, count=1, tag=f"again{campaign.pk}")
    member = Member.objects.select_related("org").get(pk=member_id)
    voucher = voucher_grab(campaign=campaign, member=member).voucher
    assert voucher is not None

    def work(i: int) -> tuple[int, bool]:
        r = voucher_redeem(
            code=voucher.code, store=shop.store, clerk=shop.clerk, receipt_no="R1", amount_fen=1
        )
        return r.pk, r.repeated

    results = crowd(list(range(threads)), work, threads=threads)
    only = Redemption.objects.get(voucher=voucher)
    assert sorted(results) == [(only.pk, False)] + [(only.pk, True)] * (threads - 1)


@postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_one_sale_sent_20_times_at_once_is_one_redemption(world, shop, make_campaign):
    _repeat_race(make_campaign, world, shop, threads=20)


@pytest.mark.django_db(transaction=True)
def test_sqlite_or_postgres_one_sale_sent_6_times_at_once(world, shop, make_campaign):
    _repeat_race(make_campaign, world, shop, threads=6)


@postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_cancel_waits_for_a_grab_in_flight(world, make_campaign):
    """A grab has taken stock and not yet committed its voucher when staff cancel the campaign:
    the cancel waits for it and cancels that voucher too; no open voucher outlives the campaign."""
    import time

    from django.db import transaction

    from gonghui.benefits.models import Campaign, CampaignStatus
    from gonghui.benefits.services import campaign_cancel

    campaign = make_campaign(quota=5)
    [member_id] = bulk_members(org=world.jiefang_base, count=1, tag=f"cancel{campaign.pk}")
    member = Member.objects.select_related("org").get(pk=member_id)
    grabbed, release, cancelled = threading.Event(), threading.Event(), threading.Event()
    outcome: list[Any] = []

    def grab() -> None:
        try:
            with transaction.atomic():
                outcome.append(voucher_grab(campaign=campaign, member=member).outcome)
                grabbed.set()
                release.wait(10)
        finally:
            connections.close_all()

    def cancel() -> None:
        try:
            campaign_cancel(
                campaign=Campaign.objects.get(pk=campaign.pk),
                actor=world.jiefang_officer,
                reason="场地取消",
            )
            cancelled.set()
        finally:
            connections.close_all()

    a = threading.Thread(target=grab)
    a.start()
    assert grabbed.wait(10)
    c = threading.Thread(target=cancel)
    c.start()
    time.sleep(0.5)
    assert not cancelled.is_set()  # waiting for the grab's stock row
    release.set()
    a.join(10)
    c.join(10)
    assert cancelled.is_set() and outcome == [GrabOutcome.WON]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.CANCELLED
    assert list(Voucher.objects.filter(campaign=campaign).values_list("status", flat=True)) == [
        VoucherStatus.CANCELLED
    ]
    late = voucher_grab(campaign=campaign, member=bulk_member(world, campaign))
    assert late.outcome != GrabOutcome.WON


def _scan_in_flight(campaign: Any, shop: Any, voucher: Any) -> tuple[Any, Any, Any]:
    """A thread that has redeemed ``voucher`` in a transaction it has not committed yet:
    (thread, scanned, release); the scan commits once ``release`` is set."""
    from django.db import transaction

    scanned, release = threading.Event(), threading.Event()

    def scan() -> None:
        try:
            with transaction.atomic():
                voucher_redeem(
                    code=voucher.code,
                    store=shop.store,
                    clerk=shop.clerk,
                    receipt_no="R-RACE",
                    amount_fen=10_000,
                )
                scanned.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=scan)
    thread.start()
    assert scanned.wait(10)
    return thread, scanned, release


def _history(voucher: Any) -> list[tuple[str, str]]:
    from gonghui.benefits.models import VoucherStatusChange

    return list(
        VoucherStatusChange.objects.filter(voucher=voucher).order_by("pk").values_list("old", "new")
    )


@postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_close_now_while_a_scan_commits(world, shop, make_campaign):
    """Staff close a campaign while a clerk's scan of one of its vouchers is still being written:
    the close waits for that voucher; it stays used, with no "open → expired" line in its history,
    and only the other open voucher expires."""
    import time

    from gonghui.benefits.models import Campaign
    from gonghui.benefits.services import campaign_close, subsidy_accounts

    campaign = make_campaign(quota=5)
    ids = bulk_members(org=world.jiefang_base, count=2, tag=f"close{campaign.pk}")
    members = Member.objects.select_related("org").filter(pk__in=ids).order_by("pk")
    scanned_voucher, other = [voucher_grab(campaign=campaign, member=m).voucher for m in members]
    subsidy_accounts(campaign)
    thread, _scanned, release = _scan_in_flight(campaign, shop, scanned_voucher)
    closed = threading.Event()

    def close() -> None:
        try:
            campaign_close(
                campaign=Campaign.objects.get(pk=campaign.pk),
                actor=world.jiefang_officer,
                reason="书店停业",
            )
            closed.set()
        finally:
            connections.close_all()

    c = threading.Thread(target=close)
    c.start()
    time.sleep(0.5)
    assert not closed.is_set()  # waiting for the scan's voucher
    release.set()
    thread.join(10)
    c.join(10)
    assert closed.is_set()
    scanned_voucher.refresh_from_db()
    other.refresh_from_db()
    assert (scanned_voucher.status, other.status) == (VoucherStatus.USED, VoucherStatus.EXPIRED)
    assert _history(scanned_voucher)[-1:] == [("open", "used")]
    assert ("open", "expired") not in _history(scanned_voucher)
    assert _history(other)[-1] == ("open", "expired")


@postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_cancel_while_a_scan_commits_is_refused(world, shop, make_campaign, monkeypatch):
    """Staff cancel a campaign while its first scan is still being written (so the question "has
    any voucher been used?" was answered no): the cancel waits for the voucher, sees the use and
    is refused as a cancel after a use is; nothing of it stays (campaign open, stock, vouchers)."""
    from gonghui.benefits import services
    from gonghui.benefits.models import Campaign, CampaignStatus, CampaignStock
    from gonghui.benefits.services import campaign_cancel, subsidy_accounts

    campaign = make_campaign(quota=5)
    ids = bulk_members(org=world.jiefang_base, count=2, tag=f"cancelscan{campaign.pk}")
    members = Member.objects.select_related("org").filter(pk__in=ids).order_by("pk")
    scanned_voucher, other = [voucher_grab(campaign=campaign, member=m).voucher for m in members]
    subsidy_accounts(campaign)
    stock_before = sorted(
        CampaignStock.objects.filter(campaign=campaign).values_list("pk", "remaining")
    )
    thread, _scanned, release = _scan_in_flight(campaign, shop, scanned_voucher)
    errors: list[str] = []
    loaded = Campaign.objects.get(pk=campaign.pk)
    # The first question is answered before the scan commits, as when staff press at that moment.
    real = services._refuse_if_used
    calls = iter(range(10))

    def refuse_then_release(c: Any) -> None:
        real(c)
        if next(calls) == 0:
            release.set()  # the scan commits while the cancel goes on

    def cancel() -> None:
        try:
            campaign_cancel(campaign=loaded, actor=world.jiefang_officer, reason="场地取消")
        except ApplicationError as exc:
            errors.append(exc.code)
        finally:
            connections.close_all()

    monkeypatch.setattr(services, "_refuse_if_used", refuse_then_release)
    c = threading.Thread(target=cancel)
    c.start()
    c.join(10)
    thread.join(10)
    assert errors == ["campaign_has_redemptions"]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.OPEN and loaded.status == CampaignStatus.OPEN
    assert (
        sorted(CampaignStock.objects.filter(campaign=campaign).values_list("pk", "remaining"))
        == stock_before
    )
    scanned_voucher.refresh_from_db()
    other.refresh_from_db()
    assert (scanned_voucher.status, other.status) == (VoucherStatus.USED, VoucherStatus.OPEN)
    assert ("open", "cancelled") not in _history(scanned_voucher) + _history(other)


def bulk_member(world: Any, campaign: Any) -> Member:
    [pk] = bulk_members(org=world.jiefang_base, count=1, tag=f"late{campaign.pk}")
    return Member.objects.select_related("org").get(pk=pk)


@postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_waiting_scans_share_one_statement(world, shop, make_campaign):
    """While one scan's statement waits (here on a row lock another transaction holds), the scans
    other threads of the process make queue up and go together in the next statement. Each gets
    its own answer; two scans of one code in that batch make one use; every scan has its own
    balanced ledger transaction and an audit line naming it."""
    import time

    from django.db import transaction

    from gonghui.audit.models import AuditEvent
    from gonghui.benefits import redeem_sql
    from gonghui.benefits.services import subsidy_accounts
    from gonghui.ledger.models import Entry, Transaction

    campaign = make_campaign(quota=12)
    ids = bulk_members(org=world.jiefang_base, count=12, tag=f"batch{campaign.pk}")
    members = Member.objects.select_related("org").filter(pk__in=ids).order_by("pk")
    vouchers = [voucher_grab(campaign=campaign, member=m).voucher for m in members]
    subsidy_accounts(campaign)
    first, rest = vouchers[0], vouchers[1:]
    combiner = redeem_sql._combiner
    sizes_before = dict(combiner.stats.sizes)
    locked, release = threading.Event(), threading.Event()
    results: dict[str, list[str]] = {}
    lock = threading.Lock()

    def hold() -> None:
        try:
            with transaction.atomic():
                Voucher.objects.select_for_update().get(pk=first.pk)
                locked.set()
                release.wait(20)
        finally:
            connections.close_all()

    def scan(label: str, code: str, receipt: str) -> None:
        try:
            voucher_redeem(
                code=code, store=shop.store, clerk=shop.clerk, receipt_no=receipt, amount_fen=900
            )
            outcome = "ok"
        except ApplicationError as exc:
            outcome = exc.code
        finally:
            connections.close_all()
        with lock:
            results.setdefault(label, []).append(outcome)

    def wait_for(condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 20
        while not condition():
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.01)

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(20)
    leader = threading.Thread(target=scan, args=("first", first.code, "L-1"))
    leader.start()
    wait_for(lambda: combiner._running == 1)  # the leader's statement waits for the row lock
    jobs = [("rest", v.code, f"B-{i}") for i, v in enumerate(rest)]
    jobs.append(("again", rest[0].code, "B-dup"))
    pool = [threading.Thread(target=scan, args=job) for job in jobs]
    for t in pool:
        t.start()
    wait_for(lambda: len(combiner._queue) == len(jobs))
    release.set()
    for t in [holder, leader, *pool]:
        t.join(30)
    assert results["first"] == ["ok"]
    assert Counter(results["rest"] + results["again"]) == {"ok": 11, "already_used": 1}
    assert combiner.stats.sizes.get(len(jobs), 0) == sizes_before.get(len(jobs), 0) + 1
    redemptions = Redemption.objects.filter(voucher__campaign=campaign)
    assert redemptions.count() == 12
    assert redemptions.values("voucher_id").distinct().count() == 12
    for r in redemptions:
        txn = Transaction.objects.get(reference=f"benefits.redemption:{r.pk}")
        amounts = sorted(Entry.objects.filter(transaction=txn).values_list("amount_fen", flat=True))
        assert amounts == [-campaign.subsidy_fen, campaign.subsidy_fen]
        line = AuditEvent.objects.get(object_type="benefits.redemption", object_id=str(r.pk))
        assert line.changes["ledger_transaction"] == txn.pk
        assert line.changes["receipt_no"] == r.receipt_no
    assert Voucher.objects.filter(campaign=campaign, status=VoucherStatus.USED).count() == 12


@postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_scan_batch_1_gives_each_scan_its_own_statement(world, shop, make_campaign):
    from django.test import override_settings

    from gonghui.benefits import redeem_sql

    campaign = make_campaign(quota=2)
    ids = bulk_members(org=world.jiefang_base, count=2, tag=f"single{campaign.pk}")
    members = Member.objects.select_related("org").filter(pk__in=ids).order_by("pk")
    first, second = (voucher_grab(campaign=campaign, member=m).voucher for m in members)
    stats = redeem_sql._combiner.stats
    before = stats.items
    with override_settings(GONGHUI_SCAN_BATCH=1):
        voucher_redeem(
            code=first.code, store=shop.store, clerk=shop.clerk, receipt_no="A", amount_fen=1
        )
    assert stats.items == before  # not through the combiner
    voucher_redeem(
        code=second.code, store=shop.store, clerk=shop.clerk, receipt_no="B", amount_fen=1
    )
    assert stats.items == before + 1
    assert Redemption.objects.filter(voucher__campaign=campaign).count() == 2


def _waits_for_a_lock(thread: threading.Thread) -> None:
    """Return once another connection is waiting for a lock (or ``thread`` has finished)."""
    import time

    deadline = time.monotonic() + 20
    with connection.cursor() as cursor:
        while thread.is_alive() and time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)


@postgres_only
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_an_entry_racing_the_draw_is_in_it_or_refused(world, make_campaign):
    """A member taps "register" just before the close while staff run the draw: the entry either
    took part in the draw or is refused, never written after it (it would be in the published
    list without having been drawn, and a re-run from that list would not give the winners)."""
    import datetime as dt

    from django.db import transaction
    from django.utils import timezone

    from gonghui.benefits.models import Campaign, Registration
    from gonghui.benefits.services import (
        campaign_schedule,
        lottery_commit_seed,
        lottery_draw,
        lottery_register,
    )

    now = timezone.now()
    campaign = make_campaign(
        status="draft",
        distribution="lottery",
        quota=1,
        release_at=now - dt.timedelta(hours=1),
        registration_closes_at=now + dt.timedelta(hours=1),
    )
    lottery_commit_seed(campaign=campaign, actor=world.jiefang_officer)
    campaign_schedule(campaign=campaign, actor=world.jiefang_officer)
    first, late = (
        Member.objects.select_related("org").get(pk=pk)
        for pk in bulk_members(org=world.jiefang_base, count=2, tag=f"entry{campaign.pk}")
    )
    lottery_register(campaign=campaign, member=first)
    campaign.refresh_from_db()
    closes = campaign.registration_closes_at
    read_before_the_draw = Campaign.objects.get(pk=campaign.pk)
    drawn, release = threading.Event(), threading.Event()
    answers: list[str] = []

    def draw() -> None:
        try:
            with transaction.atomic():
                lottery_draw(
                    campaign=Campaign.objects.get(pk=campaign.pk),
                    actor=world.jiefang_officer,
                    now=closes,
                )
                drawn.set()
                release.wait(20)
        finally:
            connections.close_all()

    def register() -> None:
        try:
            lottery_register(
                campaign=read_before_the_draw, member=late, now=closes - dt.timedelta(seconds=1)
            )
            answers.append("registered")
        except ApplicationError as exc:
            answers.append(exc.code)
        finally:
            connections.close_all()

    d = threading.Thread(target=draw)
    d.start()
    assert drawn.wait(20)
    r = threading.Thread(target=register)
    r.start()
    _waits_for_a_lock(r)  # the entry waits for the draw's lock on the campaign
    release.set()
    d.join(20)
    r.join(20)
    assert answers == ["registration_closed"]
    assert list(Registration.objects.filter(campaign=campaign).values_list("member_id", "won")) == [
        (first.pk, True)
    ]


@pytest.mark.django_db(transaction=True)
def test_sqlite_or_postgres_one_member_registering_from_many_taps_at_once_is_one_entry(
    world, make_campaign
):
    """A member on a slow phone taps "register" again and again, and the requests arrive
    together: one entry, and every tap answers with it; other members' entries at the same time
    are each one too."""
    import datetime as dt

    from django.utils import timezone

    from gonghui.benefits.models import Registration
    from gonghui.benefits.services import campaign_schedule, lottery_commit_seed, lottery_register

    now = timezone.now()
    campaign = make_campaign(
        status="draft",
        distribution="lottery",
        quota=3,
        release_at=now - dt.timedelta(hours=1),
        registration_closes_at=now + dt.timedelta(hours=1),
    )
    lottery_commit_seed(campaign=campaign, actor=world.jiefang_officer)
    campaign_schedule(campaign=campaign, actor=world.jiefang_officer)
    ids = bulk_members(org=world.jiefang_base, count=4, tag=f"taps{campaign.pk}")
    by_id = {m.pk: m for m in Member.objects.select_related("org").filter(pk__in=ids)}
    taps = [ids[0]] * 6 + ids[1:]

    def work(member_id: int) -> tuple[int, int]:
        return member_id, lottery_register(campaign=campaign, member=by_id[member_id]).pk

    threads = 8 if connection.vendor == "postgresql" else 3
    results = crowd(taps, work, threads=threads)
    assert len(results) == len(taps) and all(isinstance(r, tuple) for r in results), results
    entries = dict(Registration.objects.filter(campaign=campaign).values_list("member_id", "pk"))
    assert sorted(entries) == sorted(ids)
    assert sorted(results) == sorted((m, entries[m]) for m in taps)
