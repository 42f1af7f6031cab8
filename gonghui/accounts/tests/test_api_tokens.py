"""API tokens: the limits in the service and the database, and the page a staff user makes,
sees and revokes their own tokens on (/accounts/tokens/)."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext

from gonghui.accounts.models import ApiToken, User
from gonghui.accounts.services import (
    api_token_authenticate,
    api_token_create,
    api_token_revoke,
)
from gonghui.accounts.views import NEW_TOKEN_SESSION_KEY
from gonghui.audit.models import AuditEvent
from gonghui.conftest import PASSWORD
from gonghui.core.errors import ApplicationError, PermissionDenied

TOKENS = "/accounts/tokens/"
API_ORGS = "/api/v1/orgs"

NAME_REQUIRED = "Give the token a name of at most 60 characters."
NAME_LONG = "At most %(n)d characters."
NAME_CHARS = "The text contains characters that are not allowed."
NAME_TAKEN = (
    "An active token already has this name. Choose another name, or revoke the old token first."
)
CAP = (
    "You already have %(n)d active tokens, the most allowed. Revoke one that is no longer used, "
    "then create the new one."
)
USELESS = (
    "API tokens are for staff who can use the console; a token for this account would be "
    "refused by the API."
)
ALREADY_REVOKED = "This token was already revoked."
REVOKED = "The token “%(name)s” was revoked: programs that use it are refused from now on."
NOT_AGAIN = "Copy it now: it will not be shown again."


def zh(message: str, **params: Any) -> str:
    """The message as the page shows it (translated, escaped)."""
    text = gettext(message)
    return escape(text % params if params else text)


def page(response: Any) -> str:
    return response.content.decode()


def secret_on(response: Any) -> str | None:
    found = re.search(r'id="new-secret" value="([^"]*)"', page(response))
    return found.group(1) if found else None


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def state() -> tuple[list[dict[str, Any]], int]:
    """Everything a token page write could touch: every token row and the audit log's length."""
    return list(ApiToken.objects.order_by("pk").values()), AuditEvent.objects.count()


@pytest.fixture
def clerk_user(world: Any) -> User:
    from gonghui.benefits.services import merchant_clerk_create, merchant_create

    merchant = merchant_create(
        actor=world.jiefang_officer,
        org=world.jiefang,
        name="塔南路新华书店图书大厦",
        settlement_account_name="焦作市新华书店有限公司",
        settlement_bank="中原银行焦作分行",
        settlement_account_no="410000123456789012",
    )
    clerk = merchant_clerk_create(
        actor=None, merchant=merchant, username="xinhua_clerk", password="Clerk-pass-2026"
    )
    return clerk.user


# --- the service and the database ---------------------------------------------------------------


def test_token_is_only_for_accounts_the_api_lets_in(world, clerk_user):
    # A merchant clerk is no staff user: the API's bearer check would refuse its token.
    before = state()
    with pytest.raises(ApplicationError) as exc:
        api_token_create(actor=None, user=clerk_user, name="till")
    assert exc.value.code == "token_useless"
    assert str(exc.value.message) == gettext(USELESS)
    # Staff without any role can open no console page and call no API operation.
    bare = User.objects.create_user(
        username="no_roles", password=PASSWORD, org=world.jiefang, is_staff=True
    )
    with pytest.raises(ApplicationError) as exc:
        api_token_create(actor=bare, user=bare, name="x")
    assert exc.value.code == "token_useless"
    inactive = world.jiefang_viewer
    inactive.is_active = False
    inactive.save()
    with pytest.raises(ApplicationError):
        api_token_create(actor=None, user=inactive, name="x")
    assert state() == before


def test_another_union_cannot_make_or_revoke_my_token(world):
    before = state()
    with pytest.raises(PermissionDenied):
        api_token_create(actor=world.zhongzhan_officer, user=world.jiefang_officer, name="x")
    token, _secret = api_token_create(actor=None, user=world.jiefang_officer, name="x")
    before = state()
    with pytest.raises(PermissionDenied):
        api_token_revoke(actor=world.zhongzhan_officer, token=token)
    assert state() == before


def test_active_names_are_unique_per_user_in_the_database(world):
    officer, viewer = world.jiefang_officer, world.jiefang_viewer
    api_token_create(actor=None, user=officer, name="OA sync")
    api_token_create(actor=None, user=viewer, name="OA sync")  # another user's: fine
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiToken.objects.create(user=officer, name="oa SYNC", prefix="gh_x", key_hash="1" * 64)
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiToken.objects.create(user=officer, name="", prefix="gh_y", key_hash="2" * 64)
    # A revoked token frees its name.
    ApiToken.objects.create(
        user=officer,
        name="OA sync",
        prefix="gh_z",
        key_hash="3" * 64,
        revoked_at=timezone.now(),
    )


def test_revoking_twice_is_told_and_audited_once(world):
    token, secret = api_token_create(actor=None, user=world.jiefang_officer, name="x")
    api_token_revoke(actor=None, token=token)
    assert api_token_authenticate(secret=secret) is None
    count = AuditEvent.objects.count()
    with pytest.raises(ApplicationError) as exc:
        api_token_revoke(actor=world.jiefang_officer, token=ApiToken.objects.get(pk=token.pk))
    assert exc.value.code == "token_revoked"
    assert AuditEvent.objects.count() == count


# --- who is offered the page ----------------------------------------------------------------------


def test_the_page_is_for_staff_who_can_use_the_api(world, login, clerk_user):
    assert login(world.jiefang_viewer).get(TOKENS).status_code == 200
    assert login(world.city_admin).get(TOKENS).status_code == 200
    # Anonymous and a member's phone session: to the staff sign-in.
    for client in (Client(), login(member=world.jiefang_member)):
        response = client.get(TOKENS)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    # A merchant clerk goes back to the till; a POST makes nothing either.
    clerk = login(clerk_user)
    response = clerk.get(TOKENS)
    assert response.status_code == 302 and response["Location"] == "/merchant/"
    before = state()
    assert clerk.post(TOKENS, {"name": "till"}).status_code == 302
    assert state() == before
    # Staff without a role: no console, no API, no tokens.
    bare = User.objects.create_user(
        username="no_roles", password=PASSWORD, org=world.jiefang, is_staff=True
    )
    assert login(bare).get(TOKENS).status_code == 403
    assert login(bare).post(TOKENS, {"name": "x"}).status_code == 403
    assert state() == before


def test_the_user_menu_links_to_the_page(world, login, clerk_user):
    assert f'href="{TOKENS}"' in page(login(world.jiefang_viewer).get("/console/"))
    assert f'href="{TOKENS}"' not in page(login(clerk_user).get("/merchant/"))


def test_a_staff_user_owing_a_two_factor_code_must_give_it_first(world, login):
    world.jiefang_officer.require_two_factor = True
    world.jiefang_officer.save()
    client = login(world.jiefang_officer)
    before = state()
    response = client.post(TOKENS, {"name": "sync"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/two-factor/")
    assert state() == before


# --- the list ------------------------------------------------------------------------------------


def test_list_shows_own_tokens_newest_first_and_nobody_elses(world, login):
    officer = world.jiefang_officer
    old, _s = api_token_create(actor=None, user=officer, name="旧的同步")
    new, secret = api_token_create(actor=None, user=officer, name="OA同步")
    ApiToken.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timezone.timedelta(days=3)
    )
    api_token_revoke(actor=officer, token=old)
    api_token_authenticate(secret=secret)
    api_token_create(actor=None, user=world.jiefang_viewer, name="别人的令牌")
    # The city's admin may manage the officer's account, but this page shows only its own.
    api_token_create(actor=None, user=world.city_admin, name="市总的令牌")
    body = page(login(officer).get(TOKENS))
    assert body.index("OA同步") < body.index("旧的同步")
    assert f"{new.prefix}…" in body and f"{old.prefix}…" in body
    assert "别人的令牌" not in body and "市总的令牌" not in body
    assert zh("Active") in body and zh("Never") in body
    revoked_at = timezone.localtime(ApiToken.objects.get(pk=old.pk).revoked_at)
    assert zh("Revoked %(at)s", at=f"{revoked_at:%Y-%m-%d %H:%M}") in body
    # One revoke button, for the active token only.
    assert f"/accounts/tokens/{new.pk}/revoke/" in body
    assert f"/accounts/tokens/{old.pk}/revoke/" not in body
    # No secret and no hash on the list.
    assert secret not in body and new.key_hash not in body
    assert page(login(world.city_admin).get(TOKENS)).count(">市总的令牌</td>") == 1


def test_the_page_says_how_many_tokens_there_are_and_may_be(world, login, settings):
    settings.GONGHUI_API_TOKENS_PER_USER = 4
    api_token_create(actor=None, user=world.jiefang_officer, name="a")
    body = page(login(world.jiefang_officer).get(TOKENS))
    assert zh("%(n)s of at most %(cap)s active tokens.", n=1, cap=4) in body
    assert zh("You have no API tokens yet.") in page(login(world.jiefang_viewer).get(TOKENS))


# --- creating ------------------------------------------------------------------------------------


def test_create_shows_the_secret_once_and_it_works_against_the_api(world, login, caplog):
    caplog.set_level(logging.DEBUG)
    client = login(world.jiefang_officer)
    response = client.post(TOKENS, {"name": "  人事系统  同步 "})
    # POST-redirect-GET to the page itself: nothing of the secret in the address.
    assert response.status_code == 302 and response["Location"] == TOKENS
    token = ApiToken.objects.get(user=world.jiefang_officer)
    assert token.name == "人事系统 同步"
    # Between the POST and the page, the session holds it encrypted only.
    held = client.session[NEW_TOKEN_SESSION_KEY]
    assert held["id"] == token.pk and not held["secret"].startswith("gh_")

    shown = client.get(TOKENS)
    secret = secret_on(shown)
    assert secret and secret.startswith("gh_") and secret[:8] == token.prefix
    assert zh(NOT_AGAIN) in page(shown)
    assert "no-store" in shown["Cache-Control"]
    # Shown once: not on the next visit, and gone from the session and every stored session.
    again = client.get(TOKENS)
    assert secret_on(again) is None and secret not in page(again)
    assert NEW_TOKEN_SESSION_KEY not in client.session
    assert all(
        NEW_TOKEN_SESSION_KEY not in s.get_decoded() and secret not in str(s.get_decoded())
        for s in Session.objects.all()
    )

    # It works as the officer against a real endpoint, and says when it was last used.
    api = Client().get(API_ORGS, headers=bearer(secret))
    assert api.status_code == 200
    assert "解放区总工会" in {org["name"] for org in api.json()["items"]}
    assert ApiToken.objects.get(pk=token.pk).last_used_at is not None
    # One audit line, with the prefix and never the secret; no log line carries it either.
    line = AuditEvent.objects.get(object_type="accounts.apitoken", object_id=str(token.pk))
    assert line.actor_id == world.jiefang_officer.pk and line.action == "create"
    assert line.changes == {"token": [None, token.prefix]}
    assert secret not in str(line.changes) + line.object_repr
    assert secret not in caplog.text and token.key_hash not in caplog.text


def test_the_secret_is_shown_only_to_its_owner(world, login):
    client = login(world.jiefang_officer)
    client.post(TOKENS, {"name": "sync"})
    held = client.session[NEW_TOKEN_SESSION_KEY]
    # Someone else's session carrying the same slot (copied by whatever means) shows nothing.
    other = login(world.jiefang_viewer)
    session = other.session
    session[NEW_TOKEN_SESSION_KEY] = held
    session.save()
    assert secret_on(other.get(TOKENS)) is None
    # A token revoked before its page was opened is not shown either.
    ApiToken.objects.update(revoked_at=timezone.now())
    assert secret_on(client.get(TOKENS)) is None


@pytest.mark.parametrize(
    ("typed", "message", "params"),
    [
        ("", NAME_REQUIRED, {}),
        ("   \u3000 ", NAME_REQUIRED, {}),
        ("长" * 61, NAME_LONG, {"n": 60}),
        ("x" * 100_000, NAME_LONG, {"n": 60}),
        ("OA\x00sync", NAME_CHARS, {}),
        ("OA\x1b[2Jsync", NAME_CHARS, {}),
        ("OA\u202esync", NAME_CHARS, {}),  # right-to-left override
        ("OA\u200bsync", NAME_CHARS, {}),  # zero-width space
        ("OA\ue000", NAME_CHARS, {}),  # private use
    ],
)
def test_a_refused_name_changes_nothing_and_keeps_what_was_typed(
    world, login, typed, message, params
):
    client = login(world.jiefang_officer)
    before = state()
    response = client.post(TOKENS, {"name": typed})
    assert response.status_code == 400
    assert zh(message, **params) in page(response)
    assert state() == before
    assert NEW_TOKEN_SESSION_KEY not in client.session
    if typed.strip() and len(typed) < 1000:
        assert f'value="{escape(typed)}"' in page(response)


def test_full_width_names_read_as_ascii_and_case_is_ignored(world, login):
    client = login(world.jiefang_officer)
    assert client.post(TOKENS, {"name": "ＯＡ　同步２"}).status_code == 302
    assert ApiToken.objects.get().name == "OA 同步2"
    client.get(TOKENS)  # the secret page
    before = state()
    for typed in ("OA 同步2", "oa 同步2", "ｏａ 同步２", " OA  同步2 "):
        response = client.post(TOKENS, {"name": typed})
        assert response.status_code == 400
        assert zh(NAME_TAKEN) in page(response)
        assert f'value="{escape(typed)}"' in page(response)
    assert state() == before
    # Another user may use the same name.
    assert login(world.jiefang_viewer).post(TOKENS, {"name": "OA 同步2"}).status_code == 302


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        "'; DROP TABLE accounts_apitoken; --",
        "{{ request.session }}",
        "../../etc/passwd",
    ],
)
def test_hostile_names_are_kept_as_text_and_shown_escaped(world, login, hostile):
    client = login(world.jiefang_officer)
    assert client.post(TOKENS, {"name": hostile}).status_code == 302
    assert ApiToken.objects.get().name == hostile
    body = page(client.get(TOKENS))
    assert escape(hostile) in body
    if escape(hostile) != hostile:
        assert hostile not in body


def test_the_cap_on_active_tokens(world, login, settings):
    settings.GONGHUI_API_TOKENS_PER_USER = 2
    client = login(world.jiefang_officer)
    assert client.post(TOKENS, {"name": "one"}).status_code == 302
    assert client.post(TOKENS, {"name": "two"}).status_code == 302
    before = state()
    response = client.post(TOKENS, {"name": "three"})
    assert response.status_code == 400
    assert zh(CAP, n=2) in page(response)
    assert 'value="three"' in page(response)
    assert state() == before
    # Revoked tokens do not count: revoke one and there is room again.
    client.post(f"/accounts/tokens/{ApiToken.objects.get(name='one').pk}/revoke/")
    assert client.post(TOKENS, {"name": "three"}).status_code == 302
    assert ApiToken.objects.filter(revoked_at__isnull=True).count() == 2


def test_forms_without_the_csrf_token_are_refused(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.jiefang_officer, backend="django.contrib.auth.backends.ModelBackend")
    token, _secret = api_token_create(actor=None, user=world.jiefang_officer, name="x")
    before = state()
    assert client.post(TOKENS, {"name": "sync"}).status_code == 403
    assert client.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 403
    assert state() == before
    # With the token from the page the same create goes through.
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page(client.get(TOKENS)))
    assert csrf is not None
    response = client.post(TOKENS, {"name": "sync", "csrfmiddlewaretoken": csrf.group(1)})
    assert response.status_code == 302
    assert ApiToken.objects.filter(name="sync").exists()


# --- revoking ------------------------------------------------------------------------------------


def test_revoke_makes_the_token_fail_with_401(world, login):
    client = login(world.jiefang_officer)
    client.post(TOKENS, {"name": "sync"})
    secret = secret_on(client.get(TOKENS))
    assert secret
    token = ApiToken.objects.get()
    assert Client().get(API_ORGS, headers=bearer(secret)).status_code == 200
    # The button asks first.
    body = page(client.get(TOKENS))
    assert "data-confirm=" in body
    response = client.post(f"/accounts/tokens/{token.pk}/revoke/")
    assert response.status_code == 302 and response["Location"] == TOKENS
    assert zh(REVOKED, name="sync") in page(client.get(TOKENS))
    answer = Client().get(API_ORGS, headers=bearer(secret))
    assert answer.status_code == 401 and answer.json()["code"] == "unauthenticated"
    line = AuditEvent.objects.filter(object_type="accounts.apitoken", action="revoke").get()
    assert line.actor_id == world.jiefang_officer.pk
    assert line.changes == {"token": [token.prefix, None]}
    # A second press (a double click, a second tab) is told, and changes nothing.
    before = state()
    client.post(f"/accounts/tokens/{token.pk}/revoke/")
    assert zh(ALREADY_REVOKED) in page(client.get(TOKENS))
    assert state() == before


def test_another_users_token_is_not_found(world, login):
    theirs, secret = api_token_create(actor=None, user=world.jiefang_viewer, name="theirs")
    before = state()
    # Not even the city's administrator, who manages staff, revokes it here.
    for user in (world.jiefang_officer, world.city_admin):
        response = login(user).post(f"/accounts/tokens/{theirs.pk}/revoke/")
        assert response.status_code == 404
        assert "theirs" not in page(response)
    assert state() == before
    assert Client().get(API_ORGS, headers=bearer(secret)).status_code == 200


@pytest.mark.parametrize("pk", ["999999", "99999999999999999999999999", "0"])
def test_revoke_of_no_such_token_is_not_found(world, login, pk):
    before = state()
    assert login(world.jiefang_officer).post(f"/accounts/tokens/{pk}/revoke/").status_code == 404
    assert state() == before


def test_revoke_address_is_not_a_page(world, login):
    token, _secret = api_token_create(actor=None, user=world.jiefang_officer, name="x")
    before = state()
    response = login(world.jiefang_officer).get(f"/accounts/tokens/{token.pk}/revoke/")
    assert response.status_code == 405
    assert state() == before
    for path in ("/accounts/tokens/abc/revoke/", "/accounts/tokens/-1/revoke/"):
        assert login(world.jiefang_officer).post(path).status_code == 404
