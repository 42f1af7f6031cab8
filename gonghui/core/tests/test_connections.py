"""Database connections are reused across requests (a new connection per request costs ~10×).

Django's test client disconnects the signal that closes connections after a request, so the
behaviour itself is exercised by the HTTP benches; here the configuration is pinned.
"""

from django.conf import settings


def test_connections_are_persistent_by_default():
    db = settings.DATABASES["default"]
    assert db["CONN_MAX_AGE"] >= 60
