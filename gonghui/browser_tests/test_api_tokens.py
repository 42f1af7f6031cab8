"""The API tokens page in a real browser: the copy button copies the new token, and the revoke
button asks first ("Cancel" revokes nothing)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from gonghui.accounts.models import ApiToken
from gonghui.browser_tests.test_staff import sign_in
from gonghui.conftest import World

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_copy_the_new_token_then_revoke_it_after_a_second_thought(
    live_server: Any, world: World, desktop: Any, screenshot: Any
) -> None:
    page = desktop
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    sign_in(page, live_server.url, "jiefang_staff")
    page.goto(f"{live_server.url}/console/")
    page.locator('a[href="/accounts/tokens/"]').click()
    page.wait_for_url(f"{live_server.url}/accounts/tokens/")
    page.fill("input[name=name]", "人事系统同步")
    page.locator("form.inline button[type=submit]").click()
    page.wait_for_selector("#new-secret")
    secret = page.input_value("#new-secret")
    assert secret.startswith("gh_")
    copy = page.locator("button[data-copy]")
    assert copy.is_visible()  # hidden until the script runs
    copy.click()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    screenshot(page, "api-token-created")
    assert (
        Client().get("/api/v1/orgs", headers={"Authorization": f"Bearer {secret}"}).status_code
        == 200
    )

    # Cancel in the browser's dialog sends nothing; OK revokes.
    page.reload()
    assert page.locator("#new-secret").count() == 0
    revoke = page.locator("#tokens button[type=submit]")
    page.evaluate("window.stillHere = true")
    page.once("dialog", lambda dialog: dialog.dismiss())
    revoke.click()  # Playwright waits for a navigation the click starts, had it started one
    assert page.evaluate("window.stillHere === true")
    assert ApiToken.objects.get().revoked_at is None
    page.once("dialog", lambda dialog: dialog.accept())
    revoke.click()
    page.wait_for_load_state()
    page.wait_for_selector(".messages li.success")
    assert ApiToken.objects.get().revoked_at is not None
    assert (
        Client().get("/api/v1/orgs", headers={"Authorization": f"Bearer {secret}"}).status_code
        == 401
    )
