"""Reads for sign-in: how long a member waits before another code may be sent."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from gonghui.accounts.models import SignInCode


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
