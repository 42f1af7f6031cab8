"""Redis in front of the grab: one Lua script checks the member's count and takes one from stock.

The database stays authoritative: every voucher Redis lets through is still written by the
guarded decrement in ``grab_in_database``. Redis only turns away the crowd (sold out, already
have one) without touching the database. If Redis loses its state (restart, flush), the next grab
finds the ``ready`` key missing and rebuilds stock and holders from the database (``rebuild``);
``reconcile`` does the same on demand (e.g. from ``benefits_tick``). Because the database decides,
a stale Redis can at worst send a request on to the database, never create a voucher too many.
Redis's count can also be too low (a claim it gave out and never got back), and "sold out" is
remembered for good (``hot``): so Redis's "none left" is checked against the database (one
query, until the process knows it is sold out) before anything says "sold out".

The keys expire (``KEY_TTL``), so a finished campaign leaves nothing behind in Redis. The
``ready`` key goes an hour before stock and holders: a live campaign's next grab then finds it
missing and rebuilds all three from the database, and never reads stock or holders half gone.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

import redis
from django.conf import settings
from django.db.models import Count

from gonghui.benefits import hot
from gonghui.benefits.models import Campaign, Voucher
from gonghui.members.models import Member

log = logging.getLogger(__name__)

KEY_TTL = 7 * 86400  # seconds, as the sold-out and winner flags (``hot``)
READY_EARLY = 3600  # the ready key expires this much before stock and holders

# KEYS: stock, holders (hash member -> vouchers held), ready. ARGV: member id, per-member limit.
# Returns -2: state missing (rebuild); -1: member at limit; 0: sold out; n > 0: taken, n was left.
# The first holder of a campaign makes the holders hash: it gets the stock key's time to live.
GRAB_LUA = """
if redis.call('EXISTS', KEYS[3]) == 0 then return -2 end
local have = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if have >= tonumber(ARGV[2]) then return -1 end
local stock = tonumber(redis.call('GET', KEYS[1]) or '0')
if stock <= 0 then return 0 end
redis.call('DECR', KEYS[1])
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
local ttl = redis.call('TTL', KEYS[1])
if ttl > 0 and redis.call('TTL', KEYS[2]) < 0 then redis.call('EXPIRE', KEYS[2], ttl) end
return stock
"""

# Give back what the script took when the database did not write a voucher.
RELEASE_LUA = """
if redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
redis.call('INCR', KEYS[1])
local have = redis.call('HINCRBY', KEYS[2], ARGV[1], -1)
if have <= 0 then redis.call('HDEL', KEYS[2], ARGV[1]) end
return 1
"""


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    timeout = settings.REDIS_TIMEOUT_SECONDS
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


def client() -> redis.Redis:
    return _client(settings.REDIS_URL)


def keys(campaign: Campaign) -> list[str]:
    base = f"gonghui:grab:{hot.campaign_key(campaign)}"
    return [f"{base}:stock", f"{base}:holders", f"{base}:ready"]


def rebuild(campaign: Campaign, *, r: redis.Redis | None = None) -> None:
    """Set Redis stock and holders from the database (the source of truth)."""
    r = r or client()
    stock_key, holders_key, ready_key = keys(campaign)
    remaining = Campaign.objects.get(pk=campaign.pk).remaining
    holders = {
        str(row["member_id"]): row["n"]
        for row in Voucher.objects.filter(campaign_id=campaign.pk)
        .values("member_id")
        .annotate(n=Count("id"))
    }
    pipe = r.pipeline(transaction=True)
    pipe.delete(holders_key)
    if holders:
        pipe.hset(holders_key, mapping=holders)  # type: ignore[arg-type]
        pipe.expire(holders_key, KEY_TTL)
    pipe.set(stock_key, remaining, ex=KEY_TTL)
    pipe.set(ready_key, 1, ex=KEY_TTL - READY_EARLY)
    pipe.execute()
    log.info("grab fast path rebuilt for campaign %s: %s left", campaign.pk, remaining)


reconcile = rebuild


def _rebuild_once(campaign: Campaign, *, r: redis.Redis) -> None:
    """Rebuild, unless another grab is at it (for up to ten seconds)."""
    if r.set(f"{keys(campaign)[2]}:lock", 1, nx=True, ex=10):
        rebuild(campaign, r=r)


def _run(script: str, campaign: Campaign, member_id: int, *, r: redis.Redis) -> int:
    return int(r.eval(script, 3, *keys(campaign), member_id, campaign.per_member_limit))  # type: ignore[arg-type]


def grab(*, campaign: Campaign, member: Member, request_key: str) -> Any:
    from gonghui.benefits.services import (
        GrabOutcome,
        _sold_out,
        campaign_has_stock,
        campaign_mark_sold_out,
        grab_in_database,
    )

    r = client()
    try:
        taken = _run(GRAB_LUA, campaign, member.pk, r=r)
        if taken == -2:
            _rebuild_once(campaign, r=r)
            taken = _run(GRAB_LUA, campaign, member.pk, r=r)
    except redis.RedisError:
        log.warning("grab fast path unavailable; answering from the database", exc_info=True)
        return grab_in_database(campaign=campaign, member=member, request_key=request_key)
    if taken == 0:
        # Redis's count can be too low: a claim it gave out and never got back (a process that
        # died before the database, a reply lost on the way) stays taken until ``reconcile``.
        # "Sold out" is remembered for good, so only the database may say it.
        if not campaign_has_stock(campaign=campaign):
            campaign_mark_sold_out(campaign=campaign)
            return _sold_out()
        result = grab_in_database(campaign=campaign, member=member, request_key=request_key)
        if result.outcome == GrabOutcome.WON:
            try:
                _rebuild_once(campaign, r=r)  # Redis was short: count again from the database
            except redis.RedisError:
                log.warning("could not rebuild the grab fast path", exc_info=True)
        return result
    if taken < 0:
        # At the limit according to Redis (or state still missing): the database answers.
        return grab_in_database(campaign=campaign, member=member, request_key=request_key)
    result = grab_in_database(campaign=campaign, member=member, request_key=request_key)
    if result.outcome != GrabOutcome.WON:
        try:
            if result.outcome == GrabOutcome.SOLD_OUT:
                r.set(keys(campaign)[0], 0, keepttl=True)
            else:
                _run(RELEASE_LUA, campaign, member.pk, r=r)
        except redis.RedisError:
            log.warning("could not give back a fast-path claim", exc_info=True)
    return result
