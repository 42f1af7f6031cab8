"""Reads for sign-in (how long a member waits before another code may be sent) and API tokens."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from gonghui.accounts.models import ApiToken, SignInCode, User
from gonghui.accounts.roles import Capability
from gonghui.core.errors import NotFound


def signin_code_wait_seconds(*, phone: str, now: dt.datetime | None = None) -> int:
    """Seconds until a new code may be sent to ``phone`` (a clean number); 0 when it may now.

    Only a code the member can still use is waited for: a reloaded page must not send a second
    text while the first is on its way. A code already used, expired or locked by wrong guesses
    holds nothing back (the hourly cap still counts it)."""
    now = now or timezone.now()
    interval = settings.OTP_CODE_MIN_INTERVAL_SECONDS
    last = (
        SignInCode.objects.filter(
            phone=phone,
            used_at__isnull=True,
            expires_at__gt=now,
            attempts__lt=settings.OTP_CODE_MAX_ATTEMPTS,
            created_at__gt=now - dt.timedelta(seconds=interval),
        )
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if last is None:
        return 0
    return max(1, interval - int((now - last).total_seconds()))


# --- API tokens --------------------------------------------------------------------------------


def api_token_usable(user: Any) -> bool:
    """Whether a token of ``user`` would be of use: the API lets in active staff only
    (``gonghui.core.api_auth``) and answers every one of its operations only to holders of the
    console's view capability. A merchant clerk is no staff user, and a member is no user at
    all; a token for either would be refused, so none is offered."""
    return bool(
        isinstance(user, User) and user.is_active and user.is_staff and user.can(Capability.VIEW)
    )


def api_token_list_own(*, actor: User) -> QuerySet[ApiToken]:
    """The actor's own tokens, newest first; nobody else's, whatever the actor's roles."""
    return ApiToken.objects.filter(user=actor).order_by("-created_at", "-id")


def api_token_get_own(*, actor: User, pk: int) -> ApiToken:
    """One of the actor's own tokens; another user's is the same "not found" as none at all."""
    token = ApiToken.objects.select_related("user", "user__org").filter(pk=pk, user=actor).first()
    if token is None:
        raise NotFound()
    return token


def api_token_active_count(*, actor: User) -> int:
    return ApiToken.objects.filter(user=actor, revoked_at__isnull=True).count()


def api_token_list_system(*, owner: User | None = None) -> QuerySet[ApiToken]:
    """Every token (or one owner's), for the system's own tools (the ``api_token`` command):
    never call it with a signed-in user's request."""
    tokens = ApiToken.objects.select_related("user").order_by(
        "user__username", "-created_at", "-id"
    )
    return tokens if owner is None else tokens.filter(user=owner)
