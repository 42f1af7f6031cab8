"""Hot-path state kept off the database: sold-out flags, winner markers, rate-limit counters.

Sold out is monotonic (stock is never given back), so a process-local flag can never be wrong once
set; the shared cache (Redis with REDIS_URL) spreads it to the other processes. Without Redis the
counters live in this process (a per-process limit; the database cache would cost a query each).
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache

from gonghui.core.ratelimit import window_count

_local_sold_out: set[str] = set()
_local_scan_paused: dict[int, float] = {}  # clerk id -> monotonic time the pause ends
_local_cache = LocMemCache("gonghui-benefits-hot", {"OPTIONS": {"MAX_ENTRIES": 100_000}})


def shared_cache() -> BaseCache:
    """The cache shared by all processes when Redis is configured, else this process's own."""
    if settings.REDIS_URL:
        return caches["default"]
    return _local_cache


def campaign_key(campaign: Any) -> str:
    # The creation time makes the key unique even where a database reuses a rolled-back id.
    stamp = int(campaign.created_at.timestamp() * 1_000_000) if campaign.created_at else 0
    return f"{campaign.pk}-{stamp}"


def sold_out(key: str) -> bool:
    if key in _local_sold_out:
        return True
    if shared_cache().get(f"benefits:soldout:{key}"):
        _local_sold_out.add(key)
        return True
    return False


def mark_sold_out(key: str) -> None:
    _local_sold_out.add(key)
    shared_cache().set(f"benefits:soldout:{key}", 1, timeout=7 * 86400)


def mark_winner(key: str, member_id: int, voucher_id: int) -> None:
    shared_cache().set(f"benefits:won:{key}:{member_id}", voucher_id, timeout=7 * 86400)


def known_winner(key: str, member_id: int) -> int | None:
    value = shared_cache().get(f"benefits:won:{key}:{member_id}")
    return int(value) if value else None


def hit_all(buckets: dict[str, int], *, window: int) -> bool:
    """Count one request in each bucket (name -> limit); False when any is over its limit.

    With Redis: one pipelined round trip for all buckets (SET NX EX then INCR per bucket)."""
    if not settings.REDIS_URL:
        return all([hit(name, limit=limit, window=window) for name, limit in buckets.items()])
    from gonghui.benefits.fastpath import client

    pipe = client().pipeline(transaction=False)
    for name in buckets:
        key = f"gonghui:benefits:rate:{name}"
        pipe.set(key, 0, ex=window, nx=True)
        pipe.incr(key)
    counts = pipe.execute()[1::2]
    return all(int(n) <= limit for n, limit in zip(counts, buckets.values(), strict=True))


def hit(bucket: str, *, limit: int, window: int) -> bool:
    """Count one request in ``bucket``'s fixed window; False when over ``limit``."""
    return window_count(shared_cache(), f"benefits:rate:{bucket}", window=window) <= limit


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
