"""Every page names the site's icon, and the icon is a static file (no /favicon.ico 404s)."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders
from django.test import Client


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/m/login/", "/public/"])
def test_pages_name_the_icon(path: str) -> None:
    body = Client().get(path).content.decode()
    assert '<link rel="icon" href="/static/gonghui/icon.svg" type="image/svg+xml">' in body
    icon = finders.find("gonghui/icon.svg")
    assert icon and open(icon, encoding="utf-8").read().startswith("<svg")
