"""Who may call /api/v1/: programs with a bearer token, and signed-in staff from the console.

A member's phone session is not a staff identity: it gets 401 like anyone else. A staff session
that still owes its two-factor code is treated as not signed in (the middleware that enforces the
code leaves /api/ alone, so this check must live here).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

from gonghui.accounts.models import User
from gonghui.accounts.roles import Capability
from gonghui.accounts.services import api_token_authenticate
from gonghui.core.errors import PermissionDenied


def _usable_staff(user: Any) -> bool:
    return bool(
        user is not None
        and getattr(user, "is_authenticated", False)
        and getattr(user, "is_active", False)
        and getattr(user, "is_staff", False)
    )


class TokenAuth(HttpBearer):
    """``Authorization: Bearer <secret>``; the secret is checked by the accounts service."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = api_token_authenticate(secret=token.strip())
        if not _usable_staff(user):
            return None
        return user


class StaffSessionAuth(SessionAuth):
    """The console's own session; ninja checks the CSRF token on unsafe methods."""

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        user = getattr(request, "user", None)
        if not _usable_staff(user):
            return None
        if getattr(user, "require_two_factor", False) and not user.is_verified():  # type: ignore[union-attr]
            return None
        return user  # type: ignore[return-value]


# Ids beyond this would overflow the database's integer types; refuse them as bad input.
MAX_ID = 2**62

# Token first: a program's POST carries no CSRF cookie and must not be refused by the CSRF check.
api_auth = [TokenAuth(), StaffSessionAuth()]


def api_actor(request: HttpRequest) -> User:
    """The authenticated staff user of an API request."""
    return request.auth  # type: ignore[attr-defined, no-any-return]


def api_require(request: HttpRequest, capability: str) -> User:
    """The actor, if it holds ``capability``; otherwise 403."""
    actor = api_actor(request)
    if not actor.can(capability):
        raise PermissionDenied()
    return actor


def api_viewer(request: HttpRequest) -> User:
    return api_require(request, Capability.VIEW)
