"""Window counters in a Django cache, for the limits on abuse (objections, join forms, grabs).

Each fixed window has its own key (the window's number is part of it). The count a limit is held
to is the sliding estimate: this window's count plus the last window's, weighted by how much of
the last window still lies within ``window`` seconds of now. So a burst across the boundary of two
windows is not let through twice (with plain fixed windows, two quick requests a moment apart
could fall in two windows and each count as the first). A key lives to the end of the window
after its own, so that it can be read as "the last window". Redis and the local-memory cache keep a key's time to live when they increment
it; Django's generic ``incr`` (the database cache's, the default without Redis) is a get and a
set with the cache's default timeout, 5 minutes, which would end an hour's window early and let
a flood through. There the time to live is set again after each count. The count of the database
cache is not atomic: two racing requests may count as one, which a limit on spam can afford.
"""

from __future__ import annotations

import time

from django.core.cache.backends.base import BaseCache


def window_count(cache: BaseCache, bucket: str, *, window: int, now: float | None = None) -> float:
    """Count one event in ``bucket``; return the events of the last ``window`` seconds (this
    window's count plus the overlapping share of the last window's), this one included."""
    now = time.time() if now is None else now
    number = int(now // window)
    key = f"{bucket}:w{window}:{number}"
    ttl = max(1, int((number + 2) * window - now) + 1)
    if cache.add(key, 1, timeout=ttl):
        count = 1
    else:
        try:
            count = int(cache.incr(key))
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=ttl)
            count = 1
        else:
            if type(cache).incr is BaseCache.incr:
                cache.touch(key, timeout=ttl)
    last = cache.get(f"{bucket}:w{window}:{number - 1}")
    if not last:
        return count
    overlap = 1 - (now - number * window) / window
    return count + int(last) * overlap
