"""Staff pages for members under /console/members/: thin views over members.selectors/services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from gonghui.accounts.decorators import staff_required
from gonghui.accounts.roles import Capability
from gonghui.core.errors import ApplicationError, NotFound, PermissionDenied
from gonghui.core.forms import apply_error
from gonghui.members import selectors, services
from gonghui.members.forms import (
    CardForm,
    JoinDecisionForm,
    JoinStatusFilterForm,
    LeaveForm,
    MemberCreateForm,
    MemberFilterForm,
    ProfileForm,
    RejoinForm,
    RevealForm,
    TransferForm,
)
from gonghui.members.models import JoinStatus, Member
from gonghui.orgs.selectors import org_list, org_member_holding

PAGE_SIZE = 50
PROFILE_FIELDS = (
    "name",
    "phone",
    "employer",
    "category",
    "new_form_kind",
    "education",
    "political_status",
)

View = Callable[..., HttpResponse]


def _reraise_access(error: ApplicationError) -> None:
    """Not-found and forbidden go to the error middleware; only input errors stay on the form."""
    if isinstance(error, NotFound | PermissionDenied):
        raise error


def _export_url(request: HttpRequest) -> str | None:
    try:
        url = reverse("members:export")
    except NoReverseMatch:
        return None
    query = request.GET.copy()
    query.pop("page", None)
    return f"{url}?{query.urlencode()}" if query else url


# --- List ------------------------------------------------------------------------------------


@staff_required()
def member_list(request: HttpRequest) -> HttpResponse:
    actor = request.user
    form = MemberFilterForm(
        request.GET,
        orgs=org_list(actor=actor),
        years=selectors.member_join_years(actor=actor),
    )
    values = form.valid_values()
    filters = selectors.MemberFilters(
        query=values.get("q") or "",
        org=values.get("org"),
        category=values.get("category") or "",
        new_form_kind=values.get("new_form_kind") or "",
        status=values.get("status") or "",
        join_year=values.get("year"),
    )
    page = Paginator(selectors.member_list(actor=actor, filters=filters), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "export_url": _export_url(request),
        "can_edit": actor.can(Capability.EDIT_MEMBERS),  # type: ignore[union-attr]
        "can_import": actor.can(Capability.IMPORT_MEMBERS),  # type: ignore[union-attr]
        "can_export": actor.can(Capability.EXPORT_MEMBERS),  # type: ignore[union-attr]
    }
    htmx = getattr(request, "htmx", None)
    partial = htmx is not None and bool(htmx) and not (htmx.boosted or htmx.history_restore_request)
    template = "members/_member_results.html" if partial else "members/member_list.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


# --- Create and edit ---------------------------------------------------------------------------


@staff_required(Capability.EDIT_MEMBERS)
@require_http_methods(["GET", "POST"])
def member_create(request: HttpRequest) -> HttpResponse:
    orgs = org_member_holding(actor=request.user)
    form = MemberCreateForm(request.POST or None, orgs=orgs)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            member = services.member_register(
                actor=request.user,
                org=data["org"],
                id_number=data["id_number"],
                joined_on=data["joined_on"],
                card_number=data["card_number"] or None,
                **{f: data[f] for f in PROFILE_FIELDS},
            )
        except ApplicationError as error:
            _reraise_access(error)
            apply_error(form, error)
        else:
            if member.memberships.filter(ended_on__isnull=False).exists():
                note = _("%(name)s had left before and is a member again.")
            else:
                note = _("Member %(name)s registered.")
            messages.success(request, note % {"name": member.name})
            return redirect("members:detail", pk=member.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "members/member_form.html", {"form": form, "member": None}, status=status
    )


@staff_required(Capability.EDIT_MEMBERS)
@require_http_methods(["GET", "POST"])
def member_edit(request: HttpRequest, pk: int) -> HttpResponse:
    member = selectors.member_get(actor=request.user, pk=pk)
    initial = {f: getattr(member, f) for f in PROFILE_FIELDS}
    form = ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.member_update(
                actor=request.user,
                member=member,
                **{f: form.cleaned_data[f] for f in PROFILE_FIELDS},
            )
        except ApplicationError as error:
            _reraise_access(error)
            apply_error(form, error)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("members:detail", pk=member.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "members/member_form.html", {"form": form, "member": member}, status=status
    )


# --- Detail and its actions --------------------------------------------------------------------


def _detail(
    request: HttpRequest,
    member_pk: int,
    *,
    status: int = 200,
    revealed: dict[str, str] | None = None,
    **forms: Any,
) -> HttpResponse:
    actor = request.user
    profile = selectors.member_profile(actor=actor, pk=member_pk)
    member = profile.member
    transfer_orgs = org_member_holding(actor=actor).exclude(pk=member.org_id)
    context = {
        "profile": profile,
        "member": member,
        "transfer_form": forms.get("transfer_form") or TransferForm(orgs=transfer_orgs),
        "leave_form": forms.get("leave_form") or LeaveForm(),
        "rejoin_form": forms.get("rejoin_form")
        or RejoinForm(orgs=org_member_holding(actor=actor), initial={"org": member.org_id}),
        "card_form": forms.get("card_form") or CardForm(),
        "reveal_form": forms.get("reveal_form") or RevealForm(),
        "revealed": revealed,
        "can_edit": actor.can(Capability.EDIT_MEMBERS),  # type: ignore[union-attr]
        "can_reveal": actor.can(Capability.REVEAL_SENSITIVE),  # type: ignore[union-attr]
        "open": forms.get("open", ""),
    }
    response = render(request, "members/member_detail.html", context, status=status)
    if revealed:
        # The plaintext is on this one response only: never cached, never in the URL or session.
        response["Cache-Control"] = "no-store"
    return response


@staff_required()
def member_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, pk)


def _member_for_write(request: HttpRequest, pk: int) -> Member:
    return selectors.member_get(actor=request.user, pk=pk)


def _membership_action(
    request: HttpRequest,
    member: Member,
    form: forms.Form,
    *,
    name: str,
    service: Callable[..., Any],
    done: str,
    fields: dict[str, str] | None = None,
) -> HttpResponse:
    """A move of the member's membership from the detail page: the form's fields are the
    service's arguments. Done: back to the page with ``done``. Refused: the page again (400),
    open at the ``name`` form with the reason on it."""
    if form.is_valid():
        try:
            service(actor=request.user, member=member, **form.cleaned_data)
        except ApplicationError as error:
            _reraise_access(error)
            apply_error(form, error, fields=fields)
        else:
            messages.success(request, done)
            return redirect("members:detail", pk=member.pk)
    shown: dict[str, Any] = {f"{name}_form": form}
    return _detail(request, member.pk, status=400, open=name, **shown)


@staff_required(Capability.EDIT_MEMBERS)
@require_POST
def member_transfer(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member_for_write(request, pk)
    form = TransferForm(
        request.POST, orgs=org_member_holding(actor=request.user).exclude(pk=member.org_id)
    )
    return _membership_action(
        request,
        member,
        form,
        name="transfer",
        service=services.member_transfer,
        done=_("Member transferred."),
        fields={"org": "to_org"},
    )


@staff_required(Capability.EDIT_MEMBERS)
@require_POST
def member_leave(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member_for_write(request, pk)
    return _membership_action(
        request,
        member,
        LeaveForm(request.POST),
        name="leave",
        service=services.member_leave,
        done=_("The member has left the union."),
    )


@staff_required(Capability.EDIT_MEMBERS)
@require_POST
def member_rejoin(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member_for_write(request, pk)
    return _membership_action(
        request,
        member,
        RejoinForm(request.POST, orgs=org_member_holding(actor=request.user)),
        name="rejoin",
        service=services.member_rejoin,
        done=_("%(name)s is a member again.") % {"name": member.name},
    )


@staff_required(Capability.EDIT_MEMBERS)
@require_POST
def member_card(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member_for_write(request, pk)
    form = CardForm(request.POST)
    if form.is_valid():
        try:
            card = services.member_card_set(
                actor=request.user, member=member, card_number=form.cleaned_data["card_number"]
            )
        except ApplicationError as error:
            _reraise_access(error)
            apply_error(form, error)
        else:
            messages.success(request, _("Card number saved."))
            if not card.is_member_card:
                messages.warning(request, _("This card is not a union member card."))
            if not card.luhn_ok:
                messages.warning(
                    request, _("The card number fails the bank check digit; please check it.")
                )
            return redirect("members:detail", pk=member.pk)
    return _detail(request, member.pk, status=400, card_form=form, open="card")


@staff_required(Capability.REVEAL_SENSITIVE)
@require_POST
def member_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member_for_write(request, pk)
    form = RevealForm(request.POST)
    if form.is_valid():
        try:
            value = services.member_reveal(
                actor=request.user,
                member=member,
                field=form.cleaned_data["field"],
                reason=form.cleaned_data["reason"],
            )
        except ApplicationError as error:
            _reraise_access(error)
            apply_error(form, error)
        else:
            return _detail(request, member.pk, revealed={form.cleaned_data["field"]: value})
    return _detail(request, member.pk, status=400, reveal_form=form, open="reveal")


# --- Join applications -------------------------------------------------------------------------


@staff_required(Capability.APPROVE_JOINS)
def join_applications(request: HttpRequest) -> HttpResponse:
    form = JoinStatusFilterForm(request.GET or {"status": JoinStatus.PENDING})
    status = form.cleaned_data["status"] if form.is_valid() else JoinStatus.PENDING
    applications = selectors.join_application_list(actor=request.user, status=status)
    page = Paginator(applications, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "members/join_applications.html",
        {"form": form, "page": page, "query": query.urlencode(), "status": status},
    )


@staff_required(Capability.APPROVE_JOINS)
@require_POST
def join_application_decide(request: HttpRequest, pk: int) -> HttpResponse:
    application = selectors.join_application_get(actor=request.user, pk=pk)
    form = JoinDecisionForm(request.POST)
    back = reverse("members:join_applications")
    if not form.is_valid():
        messages.error(request, _("Choose approve or reject."))
        return redirect(back)
    try:
        services.join_application_transition(
            actor=request.user,
            application=application,
            to=form.cleaned_data["decision"],
            reason=form.cleaned_data["reason"],
        )
    except ApplicationError as error:
        _reraise_access(error)
        messages.error(request, f"{application.name}: {error.message}")
    else:
        if form.cleaned_data["decision"] == JoinStatus.APPROVED:
            messages.success(request, _("%(name)s is now a member.") % {"name": application.name})
        else:
            messages.success(
                request, _("The application of %(name)s was rejected.") % {"name": application.name}
            )
    return redirect(back)
