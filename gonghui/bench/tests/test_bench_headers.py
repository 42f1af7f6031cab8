"""The bench's grab request is the campaign page's: same headers, so it measures what members send."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from gonghui.bench.grab import fixture_make, grab_headers, grab_path

PAGE = (
    Path(__file__).resolve().parents[2] / "benefits/templates/benefits/mobile/campaign_detail.html"
)


@pytest.mark.django_db
def test_grab_headers_are_the_pages() -> None:
    fx = fixture_make(members=1, quota=1, tag="hdr")
    headers = grab_headers(fx, fx.member_ids[0], key_prefix="t")
    # The page's fetch names its <html lang> (zh-hans for a member without the language cookie).
    script = PAGE.read_text(encoding="utf-8")
    assert '"Accept-Language":document.documentElement.lang' in script
    assert headers["Accept-Language"] == "zh-hans"
    assert headers["Accept"] == "application/json" and "Cookie" not in headers
    assert headers["Idempotency-Key"] == f"t-{fx.member_ids[0]}" and headers["X-Grab-Ticket"]
    meta = {
        "HTTP_" + name.upper().replace("-", "_"): value
        for name, value in headers.items()
        if name != "Content-Length"
    }
    r = Client().post(grab_path(fx), **meta)
    assert r.status_code == 201, r.content
    assert r["Content-Language"] == "zh-hans"
