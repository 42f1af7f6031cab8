"""``gonghui check --deploy`` asks a real Redis whether it may evict the grab's keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core import checks
from django.test import override_settings

from gonghui.benefits import fastpath
from gonghui.benefits.tests.test_fastpath_restart import RedisServer, _free_port


def _deploy_ids() -> list[str]:
    found = checks.run_checks(include_deployment_checks=True, tags=["gonghui"])
    return [m.id for m in found if m.id and m.id.startswith("gonghui.")]


@pytest.fixture
def fresh_client() -> Iterator[None]:
    fastpath._client.cache_clear()
    yield
    fastpath._client.cache_clear()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ((), []),  # redis-server's default: noeviction
        (("--maxmemory-policy", "allkeys-lru"), ["gonghui.E001"]),
        (("--maxmemory-policy", "volatile-ttl"), ["gonghui.E001"]),
        (("--rename-command", "CONFIG", ""), ["gonghui.W002"]),  # as managed services do
    ],
)
def test_redis_eviction_policy(
    tmp_path: Path, fresh_client: None, options: tuple[str, ...], expected: list[str]
) -> None:
    server = RedisServer(tmp_path, *options)
    server.start()
    try:
        with override_settings(REDIS_URL=server.url):
            assert _deploy_ids() == expected
    finally:
        server.kill()


def test_unreachable_redis_is_a_warning_and_no_redis_no_message(fresh_client: None) -> None:
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{_free_port()}/0"):
        assert _deploy_ids() == ["gonghui.W003"]
    with override_settings(REDIS_URL=""):
        assert _deploy_ids() == []
