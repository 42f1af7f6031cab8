"""Database connections are reused across requests (a new connection per request costs ~10×).

Django's test client disconnects the signal that closes connections after a request, so the
behaviour itself is exercised by the HTTP benches; here the configuration is pinned.
"""

from django.conf import settings


def test_connections_are_persistent_by_default():
    db = settings.DATABASES["default"]
    assert db["CONN_MAX_AGE"] >= 60


def _settings_in_subprocess(env: dict[str, str], expr: str) -> str:
    import os
    import subprocess
    import sys

    code = f"import django; django.setup(); from django.conf import settings; print({expr})"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "gonghui.settings", "DEBUG": "1", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def test_postgres_prepares_only_what_asks_to_be_prepared():
    url = {"DATABASE_URL": "postgres://u@127.0.0.1:5432/x"}
    expr = "settings.DATABASES['default']['OPTIONS'].get('prepare_threshold')"
    assert _settings_in_subprocess(url, expr) == str(2**31 - 1)
    assert _settings_in_subprocess({**url, "DATABASE_PREPARED_STATEMENTS": "0"}, expr) == "None"


def test_the_shared_cache_gives_up_on_a_redis_that_does_not_answer():
    """A Redis host that takes the connection and then says nothing (a hung server, a network
    fault that drops packets) must not hold a member's grab for the operating system's TCP
    timeout: the cache's connections time out like the fast path's own client, and the hot
    paths then answer without it (``benefits.hot``)."""
    import os
    import socket
    import subprocess
    import sys

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # connections complete in the kernel's backlog; nothing is ever read
    port = silent.getsockname()[1]
    try:
        code = (
            "import django, redis; django.setup(); from django.core.cache import cache\n"
            "from django.conf import settings\n"
            "kwargs = cache._cache.get_client().connection_pool.connection_kwargs\n"
            "print(kwargs['socket_timeout'], kwargs['socket_connect_timeout'],"
            " settings.REDIS_TIMEOUT_SECONDS)\n"
            "try:\n    cache.get('x')\nexcept redis.TimeoutError:\n    print('timed out')\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code],
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "gonghui.settings",
                "DEBUG": "1",
                "REDIS_URL": f"redis://127.0.0.1:{port}/0",
            },
            capture_output=True,
            text=True,
            timeout=120,  # the test fails (not hangs) when the cache waits on without a limit
        )
    finally:
        silent.close()
    assert result.stdout.split("\n")[:2] == ["2 2 2", "timed out"], result.stderr[-2000:]
