from __future__ import annotations

import segno
from cryptography.exceptions import InvalidTag
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from gonghui.accounts.decorators import staff_required
from gonghui.accounts.forms import ApiTokenForm, TotpForm
from gonghui.accounts.models import ApiToken, User
from gonghui.accounts.roles import Capability
from gonghui.accounts.selectors import (
    api_token_active_count,
    api_token_get_own,
    api_token_list_own,
)
from gonghui.accounts.services import (
    api_token_create,
    api_token_revoke,
    totp_confirm,
    totp_disable,
    totp_start,
)
from gonghui.core import crypto
from gonghui.core.errors import ApplicationError, PermissionDenied
from gonghui.core.forms import apply_error


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


# --- API tokens --------------------------------------------------------------------------------

# Between the creating POST and the page that shows the secret (one redirect), the secret waits
# in the session, encrypted with the field key so that no session store holds it in clear; the
# page takes it out as it shows it.
NEW_TOKEN_SESSION_KEY = "gonghui_new_api_token"  # noqa: S105 (a session key name, no secret)
TOKENS_PER_PAGE = 50


@sensitive_variables("secret")
def _take_new_secret(request: HttpRequest, user: User) -> tuple[ApiToken, str] | None:
    """The token just made and its secret, once: taken out of the session as it is read."""
    held = request.session.pop(NEW_TOKEN_SESSION_KEY, None)
    if not isinstance(held, dict) or not isinstance(held.get("id"), int):
        return None
    token = api_token_list_own(actor=user).filter(pk=held["id"], revoked_at__isnull=True).first()
    if token is None:
        return None
    try:
        secret = crypto.decrypt(str(held.get("secret", "")))
    except (ValueError, InvalidTag):  # the field key changed in between: lost, not shown
        return None
    return token, secret


# Staff who can open the console, and only they: the API lets nobody else in (see
# ``api_token_usable``), so a merchant clerk is sent back to the till and a member to sign-in.
@staff_required(Capability.VIEW, pass_user=True)
@require_http_methods(["GET", "POST"])
@never_cache
@sensitive_variables("secret")
def tokens(request: HttpRequest, user: User) -> HttpResponse:
    """The user's own API tokens: the list, a form to create one, a revoke button on each."""
    form = ApiTokenForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            token, secret = api_token_create(actor=user, user=user, name=form.cleaned_data["name"])
        except ApplicationError as exc:
            if exc.status != 400:
                raise
            apply_error(form, exc)
        else:
            request.session[NEW_TOKEN_SESSION_KEY] = {
                "id": token.pk,
                "secret": crypto.encrypt(secret),
            }
            return redirect("accounts:tokens")
    new = _take_new_secret(request, user) if request.method == "GET" else None
    page = Paginator(api_token_list_own(actor=user), TOKENS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "accounts/tokens.html",
        {
            "form": form,
            "page": page,
            "new_token": new[0] if new else None,
            "new_secret": new[1] if new else "",
            "active_count": api_token_active_count(actor=user),
            "cap": settings.GONGHUI_API_TOKENS_PER_USER,
        },
        status=400 if form.is_bound and form.errors else 200,
    )


@staff_required(Capability.VIEW, pass_user=True)
@require_POST
def token_revoke(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    token = api_token_get_own(actor=user, pk=pk)
    try:
        api_token_revoke(actor=user, token=token)
    except ApplicationError as exc:
        if exc.status != 400:
            raise
        messages.error(request, str(exc.message))
    else:
        messages.success(
            request,
            _("The token “%(name)s” was revoked: programs that use it are refused from now on.")
            % {"name": token.name},
        )
    return redirect("accounts:tokens")
