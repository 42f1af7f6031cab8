"""Database connections are reused across requests (a new connection per request costs ~10×)."""

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client


def test_connections_are_persistent_by_default():
    assert settings.DATABASES["default"]["CONN_MAX_AGE"] >= 60


@pytest.mark.django_db(transaction=True)
def test_one_connection_serves_consecutive_requests():
    client = Client()
    client.get("/healthz")
    connection.ensure_connection()
    first = id(connection.connection)
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert connection.connection is not None
    assert id(connection.connection) == first
