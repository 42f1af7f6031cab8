"""The Redis fast path against a real Redis (REDIS_URL_FOR_TESTS, e.g. redis://127.0.0.1:6379/15)."""

from __future__ import annotations

import os

import pytest
from django.test import override_settings

from gonghui.benefits import fastpath
from gonghui.benefits.models import Voucher
from gonghui.benefits.services import GrabOutcome, voucher_grab

REDIS_URL = os.environ.get("REDIS_URL_FOR_TESTS", "")

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not REDIS_URL, reason="set REDIS_URL_FOR_TESTS to run against a real Redis"),
]


@pytest.fixture
def redis_on():
    with override_settings(REDIS_URL=REDIS_URL, GONGHUI_GRAB_FASTPATH=True):
        r = fastpath.client()
        r.flushdb()
        yield r
        r.flushdb()


def test_fast_path_grabs_and_answers_sold_out_from_redis(redis_on, make_campaign, carded):
    c = make_campaign(quota=2)
    a, b, late = carded(), carded(), carded()
    assert voucher_grab(campaign=c, member=a).outcome == GrabOutcome.WON
    stock, holders, _ready = fastpath.keys(c)
    assert int(redis_on.get(stock)) == 1 and redis_on.hget(holders, str(a.pk)) == b"1"
    assert voucher_grab(campaign=c, member=a).outcome == GrabOutcome.ALREADY
    assert voucher_grab(campaign=c, member=b).outcome == GrabOutcome.WON
    from gonghui.benefits import hot

    hot.reset_local()  # forget the process flag: Redis itself must say "sold out"
    result = voucher_grab(campaign=c, member=late)
    assert result.outcome == GrabOutcome.SOLD_OUT
    c.refresh_from_db()
    assert c.remaining == 0 and Voucher.objects.filter(campaign=c).count() == 2


def test_redis_restart_mid_campaign_rebuilds_from_the_database(redis_on, make_campaign, carded):
    c = make_campaign(quota=3)
    first = carded()
    v1 = voucher_grab(campaign=c, member=first).voucher
    redis_on.flushdb()  # Redis restarted without persistence: stock and holders are gone
    again = voucher_grab(campaign=c, member=first)
    assert again.outcome == GrabOutcome.ALREADY and again.voucher.pk == v1.pk
    stock, holders, ready = fastpath.keys(c)
    winners = [carded(), carded()]
    for m in winners:
        assert voucher_grab(campaign=c, member=m).outcome == GrabOutcome.WON
    assert int(redis_on.get(stock)) == 0
    assert voucher_grab(campaign=c, member=carded()).outcome == GrabOutcome.SOLD_OUT
    c.refresh_from_db()
    assert c.remaining == 0 and Voucher.objects.filter(campaign=c).count() == 3


def test_a_lost_claim_is_given_back_by_reconcile(redis_on, make_campaign, carded):
    """A process that died between Redis and the database leaves stock too low; reconcile
    restores it from the database, so no voucher is lost."""
    c = make_campaign(quota=2)
    stock, holders, ready = fastpath.keys(c)
    fastpath.rebuild(c)
    redis_on.eval(fastpath.GRAB_LUA, 3, stock, holders, ready, 999999, 1)  # claim, then "crash"
    assert int(redis_on.get(stock)) == 1
    fastpath.reconcile(c)
    assert int(redis_on.get(stock)) == 2 and not redis_on.hexists(holders, "999999")
    for _ in range(2):
        assert voucher_grab(campaign=c, member=carded()).outcome == GrabOutcome.WON


def test_database_decides_when_redis_is_wrong(redis_on, make_campaign, carded):
    c = make_campaign(quota=1)
    stock, *_ = fastpath.keys(c)
    fastpath.rebuild(c)
    redis_on.set(stock, 50)  # Redis believes there is much more stock than there is
    results = [voucher_grab(campaign=c, member=carded()).outcome for _ in range(3)]
    assert results.count(GrabOutcome.WON) == 1
    assert Voucher.objects.filter(campaign=c).count() == 1


def test_redis_down_falls_back_to_the_database(make_campaign, carded):
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0", GONGHUI_GRAB_FASTPATH=True):
        c = make_campaign(quota=1)
        assert voucher_grab(campaign=c, member=carded()).outcome == GrabOutcome.WON


def test_the_keys_expire_and_a_live_campaign_rebuilds_when_ready_goes(
    redis_on, make_campaign, carded
):
    """Nothing is left in Redis for ever; ``ready`` goes first, so a grab never reads stock or
    holders half gone, and the database rebuilds them."""
    c = make_campaign(quota=3)
    stock, holders, ready = fastpath.keys(c)
    first = carded()
    assert voucher_grab(campaign=c, member=first).outcome == GrabOutcome.WON
    ttl = {key: redis_on.ttl(key) for key in (stock, holders, ready)}
    assert fastpath.KEY_TTL - 60 < ttl[stock] <= fastpath.KEY_TTL
    assert fastpath.KEY_TTL - 60 < ttl[holders] <= fastpath.KEY_TTL  # made by the first grab
    assert ttl[ready] <= fastpath.KEY_TTL - fastpath.READY_EARLY < ttl[stock]
    redis_on.delete(ready, f"{ready}:lock")  # as when its time is up (the rebuild lock long gone)
    assert voucher_grab(campaign=c, member=first).outcome == GrabOutcome.ALREADY
    assert voucher_grab(campaign=c, member=carded()).outcome == GrabOutcome.WON
    assert int(redis_on.get(stock)) == 1 and redis_on.ttl(ready) > 0
    assert voucher_grab(campaign=c, member=carded()).outcome == GrabOutcome.WON
    from gonghui.benefits import hot

    hot.reset_local()
    assert voucher_grab(campaign=c, member=carded()).outcome == GrabOutcome.SOLD_OUT
    # sold out keeps the stock key's time to live
    assert 0 < redis_on.ttl(stock) <= fastpath.KEY_TTL
    assert Voucher.objects.filter(campaign=c).count() == 3
