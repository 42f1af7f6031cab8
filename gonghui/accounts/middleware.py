from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

MEMBER_SESSION_KEY = "gonghui_member_id"


class MemberSessionMiddleware:
    """Binds ``request.member`` for a member signed in with phone and code (or None)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.member = None  # type: ignore[attr-defined]
        member_id = request.session.get(MEMBER_SESSION_KEY)
        if member_id is not None:
            from gonghui.members.models import Member, MemberStatus

            member = (
                Member.objects.select_related("org")
                .filter(pk=member_id, status=MemberStatus.ACTIVE)
                .first()
            )
            if member is None:
                request.session.pop(MEMBER_SESSION_KEY, None)
            else:
                member._acting = True  # type: ignore[attr-defined]
                request.member = member  # type: ignore[attr-defined]
        return self.get_response(request)


class StaffTwoFactorMiddleware:
    """A staff user with two-factor sign-in on must confirm an authenticator code before anything
    else; until then only the verification and sign-out pages answer."""

    ALLOWED = ("accounts:verify", "accounts:logout", "accounts:login", "accounts:two_factor")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and getattr(user, "require_two_factor", False)
            and not user.is_verified()
            and not request.path.startswith(("/static/", "/api/"))
            and request.path not in {reverse(name) for name in self.ALLOWED}
        ):
            from django_otp.plugins.otp_totp.models import TOTPDevice

            # Required by an administrator but never set up: set it up first, then verify.
            has_device = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
            target = "accounts:verify" if has_device else "accounts:two_factor"
            return redirect(f"{reverse(target)}?next={request.path}")
        return self.get_response(request)
