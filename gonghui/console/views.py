"""The staff console: dashboard, organisation pages with join QR codes, audit log viewer.

Views parse, call one selector or service, render. Scoping lives in the selectors; the services
check capabilities again, so a crafted POST cannot do what the page would not offer.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import segno
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from gonghui.accounts.decorators import View, staff_required
from gonghui.accounts.models import User
from gonghui.accounts.roles import Capability
from gonghui.audit.selectors import audit_list
from gonghui.core.errors import ApplicationError
from gonghui.orgs.models import ALLOWED_CHILDREN, Org, OrgStatus
from gonghui.orgs.selectors import org_ancestors, org_children, org_get, org_move_targets
from gonghui.orgs.services import (
    org_create,
    org_dissolve,
    org_move,
    org_rotate_join_token,
    org_update,
)

from . import selectors
from .forms import AuditFilterForm, DissolveForm, MoveForm, OrgFilterForm, OrgForm, YearForm

ORGS_PER_PAGE = 50
AUDIT_PER_PAGE = 50


def staff_view(capability: str = Capability.VIEW) -> Callable[[View], View]:
    """Console views receive the checked staff user as their second argument."""
    return staff_required(capability, pass_user=True)


# ---------------------------------------------------------------- dashboard


@staff_view()
def home(request: HttpRequest, user: User) -> HttpResponse:
    form = YearForm(request.GET)
    year = form.cleaned_data["year"] if form.is_valid() else timezone.localdate().year
    board = selectors.dashboard(actor=user, year=year)
    return render(
        request,
        "console/home.html",
        {
            "board": board,
            "form": form,
            "years": selectors.dashboard_years(),
            "org_chart": [(row.label, row.value) for row in board.by_org],
            "category_chart": [(row.label, row.value) for row in board.by_category],
            "kind_chart": [(row.label, row.value) for row in board.by_new_form_kind],
            "coverage_chart": [(c.label, round(c.rate * 100)) for c in board.coverage if c.total],
        },
    )


# ---------------------------------------------------------------- organisations


@staff_view()
def orgs(request: HttpRequest, user: User) -> HttpResponse:
    form = OrgFilterForm(request.GET)
    page = None
    if form.is_valid():
        qs = selectors.org_list_with_member_counts(
            actor=user,
            query=form.cleaned_data["q"],
            kind=form.cleaned_data["kind"],
            status=form.cleaned_data["status"],
        )
        page = Paginator(qs, ORGS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "console/org_list.html",
        {
            "form": form,
            "page": page,
            "base_depth": user.org.depth if user.org else 0,
            "can_edit": user.can(Capability.EDIT_ORGS),
        },
        status=200 if page is not None else 400,
    )


@staff_view()
def org_detail(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    org = org_get(actor=user, pk=pk)
    return render(
        request,
        "console/org_detail.html",
        {
            "org": org,
            "ancestors": org_ancestors(actor=user, org=org),
            "children": org_children(actor=user, org=org),
            "member_count": selectors.org_member_count(actor=user, org=org),
            "can_edit": user.can(Capability.EDIT_ORGS),
            "can_have_children": bool(ALLOWED_CHILDREN.get(org.kind)),
        },
    )


def _render_org_form(
    request: HttpRequest, form: OrgForm, *, org: Org | None, parent: Org | None, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "console/org_form.html",
        {"form": form, "org": org, "parent": parent},
        status=status,
    )


@staff_view(Capability.EDIT_ORGS)
@require_http_methods(["GET", "POST"])
def org_new(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    parent = org_get(actor=user, pk=pk)
    kinds = sorted(ALLOWED_CHILDREN.get(parent.kind, set()))
    if not kinds or parent.status != OrgStatus.ACTIVE:
        raise ApplicationError(
            _("This organisation cannot have sub-organisations."), code="no_children"
        )
    form = OrgForm(request.POST or None, kinds=kinds)
    if request.method == "POST" and form.is_valid():
        try:
            org = org_create(
                actor=user,
                parent=parent,
                uscc_override_reason=form.cleaned_data["uscc_override_reason"],
                **form.service_fields(),
            )
        except ApplicationError as exc:
            if exc.status != 400:
                raise
            form.add_application_error(exc)
        else:
            messages.success(request, _("The organisation was created."))
            return redirect("console:org_detail", pk=org.pk)
    status = 400 if form.is_bound and form.errors else 200
    return _render_org_form(request, form, org=None, parent=parent, status=status)


@staff_view(Capability.EDIT_ORGS)
@require_http_methods(["GET", "POST"])
def org_edit(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    org = org_get(actor=user, pk=pk)
    kinds = {org.kind} | (ALLOWED_CHILDREN.get(org.parent.kind, set()) if org.parent else set())
    form = OrgForm(request.POST or None, kinds=sorted(kinds), initial=OrgForm.initial_for(org))
    if request.method == "POST" and form.is_valid():
        try:
            org_update(
                actor=user,
                org=org,
                uscc_override_reason=form.cleaned_data["uscc_override_reason"],
                **form.service_fields(),
            )
        except ApplicationError as exc:
            if exc.status != 400:
                raise
            form.add_application_error(exc)
        else:
            messages.success(request, _("The organisation was saved."))
            return redirect("console:org_detail", pk=org.pk)
    status = 400 if form.is_bound and form.errors else 200
    return _render_org_form(request, form, org=org, parent=org.parent, status=status)


@staff_view(Capability.EDIT_ORGS)
@require_http_methods(["GET", "POST"])
def org_move_view(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    org = org_get(actor=user, pk=pk)
    form = MoveForm(request.POST or None, targets=org_move_targets(actor=user, org=org))
    if request.method == "POST" and form.is_valid():
        try:
            org_move(
                actor=user,
                org=org,
                new_parent=form.cleaned_data["new_parent"],
                reason=form.cleaned_data["reason"],
            )
        except ApplicationError as exc:
            if exc.status != 400:
                raise
            form.add_application_error(exc)
        else:
            messages.success(request, _("The organisation was moved."))
            return redirect("console:org_detail", pk=org.pk)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "console/org_move.html", {"form": form, "org": org}, status=status)


@staff_view(Capability.EDIT_ORGS)
@require_http_methods(["GET", "POST"])
def org_dissolve_view(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    org = org_get(actor=user, pk=pk)
    form = DissolveForm(request.POST or None, initial={"on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            org_dissolve(
                actor=user, org=org, on=form.cleaned_data["on"], reason=form.cleaned_data["reason"]
            )
        except ApplicationError as exc:
            if exc.status != 400:
                raise
            form.add_application_error(exc)
        else:
            messages.success(request, _("The organisation was dissolved."))
            return redirect("console:org_detail", pk=org.pk)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "console/org_dissolve.html", {"form": form, "org": org}, status=status)


# ---------------------------------------------------------------- join QR codes


def join_url(request: HttpRequest, org: Org) -> str:
    """The absolute address of the member join page that the union's QR code opens."""
    try:
        path = reverse("mobile:join", args=[org.join_token])
    except NoReverseMatch:  # the member pages may not be mounted in every deployment
        path = f"/m/join/{org.join_token}/"
    base = getattr(settings, "GONGHUI_PUBLIC_BASE_URL", "")
    if base:
        return base.rstrip("/") + path
    return request.build_absolute_uri(path)


def _qr_org(user: User, pk: int) -> Org:
    org = org_get(actor=user, pk=pk)
    if not org.holds_members or not org.join_token or org.status != OrgStatus.ACTIVE:
        raise ApplicationError(
            _("Only active base unions have a join QR code."), code="no_join_code"
        )
    return org


@staff_view()
def org_join_qr_png(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    org = _qr_org(user, pk)
    buffer = io.BytesIO()
    segno.make(join_url(request, org), error="m").save(buffer, kind="png", scale=10, border=4)
    response = HttpResponse(buffer.getvalue(), content_type="image/png")
    response["Cache-Control"] = "no-store"  # a rotated code must not linger in caches
    response["Content-Disposition"] = f'inline; filename="join-qr-{org.pk}.png"'
    return response


@staff_view()
def org_join_qr(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    org = _qr_org(user, pk)
    url = join_url(request, org)
    # segno draws modules only (no text from the URL), so the markup is safe to inline.
    svg = segno.make(url, error="m").svg_inline(scale=8, border=2, omitsize=True)
    response = render(
        request,
        "console/org_join_qr.html",
        {
            "org": org,
            "join_url": url,
            "qr_svg": mark_safe(svg),  # noqa: S308
            "can_edit": user.can(Capability.EDIT_ORGS),
        },
    )
    response["Cache-Control"] = "no-store"
    return response


@staff_view(Capability.EDIT_ORGS)
@require_POST
def org_join_qr_rotate(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    org = _qr_org(user, pk)
    org_rotate_join_token(actor=user, org=org)
    messages.success(request, _("A new join code was made. Posters printed before no longer work."))
    return redirect("console:org_join_qr", pk=org.pk)


# ---------------------------------------------------------------- audit log


@staff_view(Capability.VIEW_AUDIT)
def audit(request: HttpRequest, user: User) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    page: Any = None
    if form.is_valid():
        qs = audit_list(actor=user, filters=form.filters())
        page = Paginator(qs, AUDIT_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "console/audit_list.html",
        {"form": form, "page": page},
        status=200 if form.is_valid() else 400,
    )
