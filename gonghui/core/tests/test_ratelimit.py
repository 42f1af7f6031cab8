"""Window counters keep their window on every cache the platform runs on, and a burst across
two windows' boundary is counted as one burst."""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from unittest import mock

import pytest
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.locmem import LocMemCache

from gonghui.core.ratelimit import window_count

HOUR = 3600


@pytest.fixture
def db_cache(transactional_db):
    table = f"ratelimit_test_{uuid.uuid4().hex[:8]}"
    cache = DatabaseCache(table, {})
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {table} (cache_key varchar(255) PRIMARY KEY, value text NOT NULL,"
            " expires timestamp with time zone NOT NULL)"
        )
    yield cache
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {table}")


def _six_minutes_later():
    """The database cache's clock (it reads expiry against ``timezone.now``), 6 minutes on."""
    later = dt.datetime.fromtimestamp(time.time() + 360, tz=dt.UTC)
    return mock.patch("django.core.cache.backends.db.tz_now", return_value=later)


def test_the_database_cache_keeps_an_hour_window_past_its_default_timeout(db_cache):
    """Django's generic incr re-sets a key with the default 5-minute timeout: without setting the
    time to live again, the 6th objection of an hour would be counted as the 1st."""
    # The window's number comes from ``now`` (a minute into some hour, so 6 minutes on is the same
    # window); the cache's expiry runs on the real clock.
    start = (time.time() // HOUR) * HOUR + 60
    counts = [window_count(db_cache, "objection:1.2.3.4", window=HOUR, now=start) for _ in range(5)]
    assert counts == [1, 2, 3, 4, 5]
    with _six_minutes_later():
        assert window_count(db_cache, "objection:1.2.3.4", window=HOUR, now=start + 360) == 6
        # another address has its own count
        assert window_count(db_cache, "objection:5.6.7.8", window=HOUR, now=start + 360) == 1


def test_the_last_window_weighs_in_by_its_overlap(db_cache):
    """Three counted a minute into one hour: a minute into the next, 59/60 of that hour is still
    within the last hour, so the count is 1 + 3 × 59/60; an hour later only that one weighs in."""
    start = (time.time() // HOUR) * HOUR + 60
    for _ in range(3):
        window_count(db_cache, "join:9.9.9.9", window=HOUR, now=start)
    assert window_count(db_cache, "join:9.9.9.9", window=HOUR, now=start + HOUR) == pytest.approx(
        1 + 3 * 59 / 60
    )
    assert window_count(db_cache, "join:9.9.9.9", window=HOUR, now=start + 2 * HOUR) == (
        pytest.approx(1 + 59 / 60)
    )


@pytest.mark.parametrize("gap", [0.001, 0.05, 1.0])
def test_two_quick_requests_across_a_boundary_count_as_two(gap):
    """With a limit of one, a second request a moment after the first is over the limit even when
    a window ends between them (fixed windows alone would count each as the first)."""
    cache = LocMemCache(f"t-{uuid.uuid4().hex}", {})
    end = (time.time() // 10) * 10 + 10  # the next boundary of a 10-second window
    assert window_count(cache, "grab:m1", window=10, now=end - gap / 2) == 1
    assert window_count(cache, "grab:m1", window=10, now=end + gap / 2) > 1


def test_local_memory_counts_and_expires_with_its_window():
    cache = LocMemCache(f"t-{uuid.uuid4().hex}", {})
    start = (time.time() // 60) * 60 + 1
    assert [window_count(cache, "b", window=60, now=start) for _ in range(3)] == [1, 2, 3]
    assert window_count(cache, "b", window=60, now=start + 60) == pytest.approx(1 + 3 * 59 / 60)
    assert window_count(cache, "b", window=60, now=start + 120) == pytest.approx(1 + 59 / 60)
    assert window_count(cache, "c", window=60, now=start + 120) == 1  # a bucket of its own


@pytest.mark.redis
@pytest.mark.skipif(not os.environ.get("REDIS_URL_FOR_TESTS"), reason="set REDIS_URL_FOR_TESTS")
def test_redis_keeps_the_window_time_to_live():
    from django.core.cache.backends.redis import RedisCache

    cache = RedisCache(os.environ["REDIS_URL_FOR_TESTS"], {"KEY_PREFIX": f"t{uuid.uuid4().hex}"})
    bucket = "objection:1.2.3.4"
    now = time.time()
    assert [window_count(cache, bucket, window=HOUR, now=now) for _ in range(3)] == [1, 2, 3]
    number = int(now // HOUR)
    key = cache.make_and_validate_key(f"{bucket}:w{HOUR}:{number}")
    ttl = cache._cache.get_client(key).ttl(key)
    # the rest of the window and the next (where it is the last window), not reset by incr
    expected = int((number + 2) * HOUR - now) + 1
    assert expected - 5 <= ttl <= expected
    cache.delete(f"{bucket}:w{HOUR}:{number}")
