from __future__ import annotations

import segno
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from gonghui.accounts.forms import TotpForm
from gonghui.accounts.models import User
from gonghui.accounts.services import totp_confirm, totp_disable, totp_start
from gonghui.core.errors import PermissionDenied


def landing_url(user: object) -> str:
    """Where a signed-in user lands when no page was asked for: a merchant clerk, who has no
    organisation and no console, on the redeem page; staff on the console."""
    if getattr(user, "org_id", None) is None:
        from gonghui.benefits.selectors import clerk_for_user
        from gonghui.core.errors import ApplicationError

        try:
            clerk_for_user(user)
        except ApplicationError:  # not a clerk, or one switched off: no till to land on
            pass
        else:
            return reverse("merchant:redeem")
    return reverse("console:home")


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        return landing_url(self.request.user)


class LogoutView(auth_views.LogoutView):
    pass


def _safe_next(request: HttpRequest, default: str = "/console/") -> str:
    target = request.POST.get("next") or request.GET.get("next") or default
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


def _verified(user: User) -> bool:
    """django-otp's middleware adds ``is_verified`` to the request's user at run time."""
    return bool(getattr(user, "is_verified", lambda: False)())


@login_required
def verify(request: HttpRequest) -> HttpResponse:
    """Second step of sign-in for users with two-factor on."""
    form = TotpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        for device in TOTPDevice.objects.devices_for_user(request.user, confirmed=True):
            if device.verify_token(form.cleaned_data["token"]):
                otp_login(request, device)
                return redirect(_safe_next(request))
        form.add_error("token", _("The code is wrong. Use the current code from your app."))
    return render(request, "accounts/verify.html", {"form": form, "next": _safe_next(request)})


@login_required
def two_factor(request: HttpRequest) -> HttpResponse:
    """Turn on TOTP: show a QR code for an authenticator app, confirm with one code."""
    user = request.user
    assert isinstance(user, User)
    form = TotpForm(request.POST or None)
    action = request.POST.get("action")
    if request.method == "POST" and action == "disable" and not _verified(user):
        raise PermissionDenied()
    if request.method == "POST" and action == "disable":
        totp_disable(actor=user, user=user)
        messages.success(request, _("Two-factor sign-in is off."))
        return redirect("accounts:two_factor")
    device = totp_start(user=user)
    if user.require_two_factor and device.confirmed and not _verified(user):
        return redirect(f"{reverse('accounts:verify')}?next={_safe_next(request)}")
    if request.method == "POST" and form.is_valid():
        if totp_confirm(actor=user, user=user, device=device, token=form.cleaned_data["token"]):
            otp_login(request, device)
            messages.success(request, _("Two-factor sign-in is on."))
            return redirect(_safe_next(request, default=reverse("accounts:two_factor")))
        form.add_error("token", _("The code is wrong. Use the current code from your app."))
    qr_svg = (
        segno.make(device.config_url, error="m").svg_inline(scale=4) if not device.confirmed else ""
    )
    return render(
        request,
        "accounts/two_factor.html",
        {
            "form": form,
            "device": device,
            "qr_svg": qr_svg,
            "enabled": device.confirmed,
            "required": user.require_two_factor,
        },
    )
