"""Hot-path state kept off the database: sold-out flags, winner markers, rate-limit counters.

Sold out is monotonic (stock is never given back), so a process-local flag can never be wrong once
set; the shared cache (Redis with REDIS_URL) spreads it to the other processes. Without Redis the
counters live in this process (a per-process limit; the database cache would cost a query each).

Redis only makes the hot paths faster: while it is down (a restart, a network fault) each of these
answers from this process alone, as without Redis, and the grab goes on against the database. An
error here must never become the member's answer, least of all after a voucher was committed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache

from gonghui.core.ratelimit import window_count

log = logging.getLogger(__name__)
_local_sold_out: set[str] = set()
_local_scan_paused: dict[int, float] = {}  # clerk id -> monotonic time the pause ends
# The rate-limit counters without Redis (and while it is down): a bounded cache that drops the
# oldest when full, which a counter can afford.
_local_cache = LocMemCache("gonghui-benefits-hot", {"OPTIONS": {"MAX_ENTRIES": 100_000}})


class _ProcessMarks:
    """Without Redis: each campaign's sold-out flag and winner markers, in this process.

    A campaign's flag and its markers are kept and dropped together. In the counters' cache a
    10,000-member spike pushed the oldest entries out, the markers among them, while the flag
    (read on every grab) stayed: a winner's second tap was then told "all taken". Only whole
    campaigns are dropped here (the least recently used, past ``MAX_CAMPAIGNS``); a campaign
    without its flag is answered by the database, which then writes flag and markers again."""

    MAX_CAMPAIGNS = 256

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # campaign key -> (sold out, member id -> voucher id)
        self._campaigns: OrderedDict[str, tuple[bool, dict[int, int]]] = OrderedDict()

    def _entry(self, key: str) -> tuple[bool, dict[int, int]]:
        entry = self._campaigns.get(key)
        if entry is None:
            entry = self._campaigns[key] = (False, {})
            while len(self._campaigns) > self.MAX_CAMPAIGNS:
                self._campaigns.popitem(last=False)
        else:
            self._campaigns.move_to_end(key)
        return entry

    def sold_out(self, key: str, winners: Iterable[tuple[int, int]]) -> None:
        """Every winner so far, then the flag, in one step."""
        with self._lock:
            flagged, markers = self._entry(key)
            if not flagged:
                markers.update(winners)
                self._campaigns[key] = (True, markers)

    def is_sold_out(self, key: str) -> bool:
        with self._lock:
            entry = self._campaigns.get(key)
            return entry is not None and entry[0]

    def won(self, key: str, member_id: int, voucher_id: int) -> None:
        with self._lock:
            self._entry(key)[1][member_id] = voucher_id

    def winner(self, key: str, member_id: int) -> tuple[int | None, bool]:
        with self._lock:
            entry = self._campaigns.get(key)
            if entry is None:
                return None, False
            self._campaigns.move_to_end(key)
            return entry[1].get(member_id), entry[0]

    def clear(self) -> None:
        with self._lock:
            self._campaigns.clear()


_marks = _ProcessMarks()


def shared_cache() -> BaseCache:
    """The cache shared by all processes when Redis is configured, else this process's own."""
    if settings.REDIS_URL:
        return caches["default"]
    return _local_cache


def campaign_key(campaign: Any) -> str:
    # The creation time makes the key unique even where a database reuses a rolled-back id.
    stamp = int(campaign.created_at.timestamp() * 1_000_000) if campaign.created_at else 0
    return f"{campaign.pk}-{stamp}"


def _redis_down(what: str, error: redis.RedisError) -> None:
    log.warning("Redis unavailable for the %s (%s); answering from this process", what, error)


MARK_TTL = 7 * 86400  # seconds: the sold-out flag and the winner markers
FLAG_EARLIER = 600  # seconds the flag expires before the markers written with it


def _flag(key: str) -> str:
    return f"benefits:soldout:{key}"


def _marker(key: str, member_id: int) -> str:
    return f"benefits:won:{key}:{member_id}"


def sold_out(key: str) -> bool:
    if key in _local_sold_out:
        return True
    if not settings.REDIS_URL:
        return _marks.is_sold_out(key)
    try:
        flagged = shared_cache().get(_flag(key))
    except redis.RedisError as error:
        _redis_down("sold-out flag", error)
        return False  # the database answers, as it did before any flag was set
    if flagged:
        _local_sold_out.add(key)
        return True
    return False


def mark_sold_out(
    key: str, *, winners: Callable[[], Iterable[tuple[int, int]]] | None = None
) -> None:
    """Remember that the campaign is sold out, here and in the shared cache.

    The shared flag also tells every process that a member without a winner marker holds no
    voucher (``known_winner``). Markers are lost with the cache (a Redis restart) or never
    written (a winner while Redis was down), so before it sets the flag the first caller writes
    the marker of every winner so far (``winners``: (member id, voucher id) pairs, read from the
    database). That is once per campaign for as long as the cache keeps the flag."""
    _local_sold_out.add(key)
    if not settings.REDIS_URL:
        if not _marks.is_sold_out(key):
            # read before the lock is taken: other grabs need it meanwhile
            _marks.sold_out(key, list(winners()) if winners is not None else [])
        return
    cache = shared_cache()
    try:
        if cache.get(_flag(key)):
            return
        batch: dict[str, int] = {}
        for member_id, voucher_id in winners() if winners is not None else ():
            batch[_marker(key, member_id)] = voucher_id
            if len(batch) >= 1000:
                cache.set_many(batch, timeout=MARK_TTL)
                batch = {}
        if batch:
            cache.set_many(batch, timeout=MARK_TTL)
        # The flag goes a little before the markers written just above, never after them.
        cache.set(_flag(key), 1, timeout=MARK_TTL - FLAG_EARLIER)
    except redis.RedisError as error:
        _redis_down("sold-out flag", error)


def mark_winner(key: str, member_id: int, voucher_id: int) -> None:
    # Runs once the voucher is committed: failing here would tell a winner "error". A pooled
    # connection to a Redis that restarted fails once; the second try opens a new one.
    if not settings.REDIS_URL:
        _marks.won(key, member_id, voucher_id)
        return
    for attempt in (1, 2):
        try:
            shared_cache().set(_marker(key, member_id), voucher_id, timeout=MARK_TTL)
            return
        except redis.RedisError as error:
            if attempt == 2:
                _redis_down("winner marker", error)


def known_winner(key: str, member_id: int) -> tuple[int | None, bool]:
    """The voucher the member won, from the marker, and whether the cache can be believed
    when it has no marker: only while it holds the sold-out flag (``mark_sold_out`` wrote every
    marker before it). Without the flag (the cache lost it, or is down) ask the database."""
    if not settings.REDIS_URL:
        return _marks.winner(key, member_id)
    try:
        found = shared_cache().get_many([_flag(key), _marker(key, member_id)])
    except redis.RedisError as error:
        _redis_down("winner marker", error)
        return None, False
    voucher_id = found.get(_marker(key, member_id))
    if voucher_id:
        return int(voucher_id), True
    return None, bool(found.get(_flag(key)))


def hit_all(buckets: dict[str, int], *, window: int) -> bool:
    """Count one request in each bucket (name -> limit); False when any is over its limit.

    With Redis: one pipelined round trip for all buckets (SET NX EX then INCR per bucket). While
    Redis is down the buckets are counted in this process, as without Redis."""
    if settings.REDIS_URL:
        from gonghui.benefits.fastpath import client

        pipe = client().pipeline(transaction=False)
        for name in buckets:
            key = f"gonghui:benefits:rate:{name}"
            pipe.set(key, 0, ex=window, nx=True)
            pipe.incr(key)
        try:
            counts = pipe.execute()[1::2]
        except redis.RedisError as error:
            _redis_down("rate limit", error)
        else:
            return all(int(n) <= limit for n, limit in zip(counts, buckets.values(), strict=True))
    return all(
        [_count(_local_cache, name, window=window) <= limit for name, limit in buckets.items()]
    )


def _count(cache: BaseCache, bucket: str, *, window: int) -> float:
    return window_count(cache, f"benefits:rate:{bucket}", window=window)


def hit(bucket: str, *, limit: int, window: int) -> bool:
    """Count one request in ``bucket``'s fixed window; False when over ``limit``. While Redis is
    down the bucket is counted in this process."""
    try:
        return _count(shared_cache(), bucket, window=window) <= limit
    except redis.RedisError as error:
        _redis_down("rate limit", error)
        return _count(_local_cache, bucket, window=window) <= limit


def scan_paused(clerk_id: int) -> bool:
    """Whether this process has paused the clerk's scans (``scan_unknown_count``). A dict look-up:
    the scan's hot path pays nothing for it."""
    until = _local_scan_paused.get(clerk_id)
    if until is None:
        return False
    if time.monotonic() < until:
        return True
    _local_scan_paused.pop(clerk_id, None)
    return False


def scan_unknown_count(clerk_id: int, *, limit: int, window: int) -> bool:
    """Count one scan of a code that is no voucher of the clerk's merchant; False when over
    ``limit``, and the clerk's scans are then paused in this process for ``window`` seconds.

    Counted in the shared cache, paused in the process: with several processes each pauses the
    clerk at its own next refused scan past the limit, so the scans that go through pay no cache
    round trip."""
    if hit(f"scan-unknown:{clerk_id}", limit=limit, window=window):
        return True
    _local_scan_paused[clerk_id] = time.monotonic() + window
    return False


def reset_local() -> None:
    """For tests: forget this process's flags and counters."""
    _local_sold_out.clear()
    _local_scan_paused.clear()
    _local_cache.clear()
    _marks.clear()
