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
