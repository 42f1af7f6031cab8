"""Member pages under /m/: sign-in by phone and code, my membership, join by QR code.

They open inside WeChat on cheap phones: plain forms, no JavaScript needed.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from gonghui.accounts.middleware import MEMBER_SESSION_KEY
from gonghui.accounts.selectors import signin_code_wait_seconds
from gonghui.accounts.services import signin_code_request, signin_code_verify
from gonghui.audit.context import client_ip
from gonghui.core.errors import ApplicationError
from gonghui.core.forms import apply_error
from gonghui.core.ratelimit import window_count
from gonghui.members import selectors
from gonghui.members.forms import CodeForm, JoinForm, PhoneForm
from gonghui.members.sensitive import clean_phone
from gonghui.members.services import join_application_submit
from gonghui.orgs.selectors import org_by_join_token

JOIN_FIELDS = ("name", "id_number", "phone", "employer", "category", "new_form_kind")


def _join_limit() -> int:
    return int(settings.GONGHUI_JOIN_SUBMISSIONS_PER_HOUR)


# --- Sign-in ---------------------------------------------------------------------------------


def _next(request: HttpRequest) -> str:
    """Where to go after signing in: a member page on this site, else the member home."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/m/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}
    ):
        return target
    return reverse("mobile:home")


@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    """Step 1: the phone asks for a code. Step 2: the code signs the member in."""
    if getattr(request, "member", None) is not None:
        return redirect(_next(request))
    step = request.POST.get("step", "") if request.method == "POST" else ""
    if step == "verify":
        code_form = CodeForm(request.POST)
        if code_form.is_valid():
            try:
                member = signin_code_verify(
                    phone=code_form.cleaned_data["phone"], code=code_form.cleaned_data["code"]
                )
            except ApplicationError as error:
                code_form.add_error("code", str(error.message))
            else:
                # A new session id on sign-in: a session fixed before sign-in is worth nothing.
                request.session.cycle_key()
                request.session[MEMBER_SESSION_KEY] = member.pk
                return redirect(_next(request))
        return _code_step(request, code_form, status=400)
    if step in ("request", "resend"):
        phone_form = PhoneForm(request.POST)
        if phone_form.is_valid():
            phone = phone_form.cleaned_data["phone"]
            try:
                signin_code_request(phone=phone, ip_address=client_ip(request))
            except ApplicationError as error:
                # Asked again too soon (the page was reloaded, say): the code sent a moment ago
                # is still good, so go on to the step that takes it.
                if error.code == "code_too_soon" or (step == "resend" and error.field != "phone"):
                    form = CodeForm(initial={"phone": _as_number(phone)})
                    return _code_step(request, form, error=str(error.message), status=429)
                apply_error(phone_form, error)
            else:
                return _code_step(
                    request, CodeForm(initial={"phone": _as_number(phone)}), sent=True
                )
        return render(
            request,
            "members/mobile/login.html",
            {"form": phone_form, "next": _next(request)},
            status=400,
        )
    return render(
        request, "members/mobile/login.html", {"form": PhoneForm(), "next": _next(request)}
    )


def _as_number(phone: str) -> str:
    """The number as it is (13800000000), not as typed (１３８ 0000 0000), where it is one."""
    try:
        return clean_phone(phone)
    except ApplicationError:
        return phone


def _code_step(
    request: HttpRequest,
    form: CodeForm,
    *,
    sent: bool = False,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    phone = _as_number(form["phone"].value() or "")
    return render(
        request,
        "members/mobile/login_code.html",
        {
            "form": form,
            "phone": phone,
            "sent": sent,
            "error": error,
            "next": _next(request),
            # The resend button counts this down: a tap before then would only be refused.
            "resend_wait": signin_code_wait_seconds(phone=phone) if phone.isdigit() else 0,
        },
        status=status,
    )


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    request.session.pop(MEMBER_SESSION_KEY, None)
    request.session.cycle_key()
    messages.info(request, _("You have signed out."))
    return redirect("mobile:login")


# --- My membership -----------------------------------------------------------------------------


def home(request: HttpRequest) -> HttpResponse:
    member = getattr(request, "member", None)
    if member is None:
        return redirect("mobile:login")
    profile = selectors.member_profile(actor=member, pk=member.pk)
    response = render(request, "members/mobile/home.html", {"profile": profile})
    response["Cache-Control"] = "private, no-store"
    return response


# --- Join by QR code -----------------------------------------------------------------------------


def _over_join_limit(request: HttpRequest) -> bool:
    """Count every submission from one address for an hour, in the cache every process shares
    (Redis, or the database's cache table without it; there two racing submissions may count as
    one, which a limit on spam can afford)."""
    count = window_count(
        caches["default"], f"gonghui:join-submit:{client_ip(request) or 'unknown'}", window=3600
    )
    return count > _join_limit()


@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, token: str) -> HttpResponse:
    org = org_by_join_token(token=token)
    form = JoinForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if _over_join_limit(request):
            form.add_error(
                None, _("Too many applications from your network. Please try again in an hour.")
            )
            status = 429
        elif form.is_valid():
            try:
                join_application_submit(org=org, **{f: form.cleaned_data[f] for f in JOIN_FIELDS})
            except ApplicationError as error:
                apply_error(form, error)
            else:
                return redirect("mobile:join_done", token=token)
    return render(request, "members/mobile/join.html", {"form": form, "org": org}, status=status)


def join_done(request: HttpRequest, token: str) -> HttpResponse:
    org = org_by_join_token(token=token)
    return render(request, "members/mobile/join_done.html", {"org": org})
