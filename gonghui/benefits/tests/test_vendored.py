"""The vendored QR decoder is exactly the pinned release, with its licence, and is served."""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.contrib.staticfiles import finders

JSQR = "benefits/vendor/jsqr-1.4.0/jsQR.js"
# sha256 of dist/jsQR.js in the npm package jsqr@1.4.0 (see the folder's README.md).
JSQR_SHA256 = "bc40c8a15196236b2314db0856f72ca0b49980cd5413b8c852a7349f5fee0859"


def test_jsqr_is_the_pinned_release_with_its_licence():
    found = finders.find(JSQR)
    assert found, "jsQR is not among the static files"
    path = Path(found)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == JSQR_SHA256
    assert "Apache License" in (path.parent / "LICENSE").read_text()


def test_the_merchant_page_loads_that_file():
    template = Path(__file__).parents[1] / "templates/benefits/merchant/redeem.html"
    assert f"{{% static '{JSQR}' %}}" in template.read_text()
