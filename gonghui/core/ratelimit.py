"""Fixed-window counters in a Django cache, for the limits on abuse (objections, join forms, grabs).

Each window has its own key (the window's number is part of it), made with the time to live left
in that window. Redis and the local-memory cache keep a key's time to live when they increment
it; Django's generic ``incr`` (the database cache's, the default without Redis) is a get and a
set with the cache's default timeout, 5 minutes, which would end an hour's window early and let
a flood through. There the time to live is set again after each count. The count of the database
cache is not atomic: two racing requests may count as one, which a limit on spam can afford.
"""

from __future__ import annotations

import time

from django.core.cache.backends.base import BaseCache


def window_count(cache: BaseCache, bucket: str, *, window: int, now: float | None = None) -> int:
    """Count one event in ``bucket``'s current window of ``window`` seconds; return the count."""
    now = time.time() if now is None else now
    number = int(now // window)
    key = f"{bucket}:w{window}:{number}"
    ttl = max(1, int((number + 1) * window - now) + 1)
    if cache.add(key, 1, timeout=ttl):
        return 1
    try:
        count = int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=ttl)
        return 1
    if type(cache).incr is BaseCache.incr:
        cache.touch(key, timeout=ttl)
    return count
