"""Staff pages of voucher campaigns under /console/benefits/: campaigns, dashboard, settlement.

Views parse, call one selector or service, render. Reading needs the VIEW capability and shows
only campaigns of the user's subtree (the selectors scope on ``campaign.org``); every write needs
``manage_benefits`` here and again in the service (``require_manager``), so a crafted POST cannot
do what the page would not offer. A campaign outside the subtree is one boring 404.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.forms import ModelChoiceField
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from gonghui.accounts.decorators import View, staff_required
from gonghui.accounts.models import User
from gonghui.accounts.roles import Capability
from gonghui.benefits import page_selectors_console as pages
from gonghui.benefits import selectors
from gonghui.benefits.console_forms import (
    ApproveForm,
    CampaignFilterForm,
    CampaignForm,
    CancelForm,
    CloseForm,
    NoticePublishForm,
    ResolveForm,
    SettlementUploadForm,
)
from gonghui.benefits.exporting import campaign_figures_export
from gonghui.benefits.figures import CampaignFigures, campaign_breakdown, campaign_figures
from gonghui.benefits.models import (
    MANAGE_BENEFITS,
    Campaign,
    CampaignStatus,
    Distribution,
    Settlement,
    SettlementStatus,
)
from gonghui.benefits.services import (
    campaign_cancel,
    campaign_close,
    campaign_create,
    campaign_schedule,
    campaign_unschedule,
    campaign_update,
    lottery_commit_seed,
    lottery_draw,
)
from gonghui.benefits.settlement import (
    RECONCILE_LABELS,
    notice_close,
    notice_publish,
    objection_resolve,
    settlement_approve,
    settlement_compare,
    settlement_register_template,
    settlement_report_xlsx,
    settlement_upload,
    settlement_uploads_open,
)
from gonghui.core.errors import ApplicationError, NotFound

CAMPAIGNS_PER_PAGE = 50
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def reader() -> Callable[[View], View]:
    return staff_required(Capability.VIEW, pass_user=True)


def manager() -> Callable[[View], View]:
    return staff_required(MANAGE_BENEFITS, pass_user=True)


def _user_error(exc: ApplicationError) -> None:
    """Only the user's mistakes (400) are shown in the page; 403/404 go to the middleware."""
    if exc.status != 400:
        raise exc


def _xlsx(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# ---------------------------------------------------------------- campaigns


@reader()
def campaign_list(request: HttpRequest, user: User) -> HttpResponse:
    form = CampaignFilterForm(
        request.GET,
        orgs=pages.visible_orgs(actor=user),
        org_choices=pages.campaign_filter_orgs(actor=user),
    )
    page = None
    if form.is_valid():
        qs = pages.console_campaign_list(
            actor=user,
            status=form.cleaned_data["status"],
            distribution=form.cleaned_data["kind"],
            query=form.cleaned_data["q"],
            org=form.cleaned_data["org"],
        )
        page = Paginator(qs, CAMPAIGNS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "benefits/console/campaign_list.html",
        {"form": form, "page": page, "can_manage": user.can(MANAGE_BENEFITS)},
        status=200 if page is not None else 400,
    )


def _campaign_form(request: HttpRequest, user: User, campaign: Campaign | None) -> CampaignForm:
    return CampaignForm(
        request.POST or None,
        orgs=pages.visible_orgs(actor=user),
        merchants=pages.visible_merchants(actor=user),
        stores=pages.visible_stores(actor=user),
        banks=pages.card_bank_names(),
        campaign=campaign,
        initial=CampaignForm.initial_for(campaign) if campaign else None,
    )


def _render_form(
    request: HttpRequest, form: CampaignForm, campaign: Campaign | None
) -> HttpResponse:
    status = 400 if form.is_bound and form.errors else 200
    merchant_field = form.fields["merchant"]
    assert isinstance(merchant_field, ModelChoiceField)
    return render(
        request,
        "benefits/console/campaign_form.html",
        {
            "form": form,
            "campaign": campaign,
            "no_merchants": campaign is None
            and merchant_field.queryset is not None
            and not merchant_field.queryset.exists(),
        },
        status=status,
    )


@manager()
@require_http_methods(["GET", "POST"])
def campaign_new(request: HttpRequest, user: User) -> HttpResponse:
    form = _campaign_form(request, user, None)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = campaign_create(
                actor=user,
                org=form.cleaned_data["org"],
                merchant=form.cleaned_data["merchant"],
                stores=list(form.cleaned_data["stores"] or []),
                **form.service_fields(),
            )
        except ApplicationError as exc:
            _user_error(exc)
            form.add_application_error(exc)
        else:
            messages.success(request, _("The campaign was created as a draft."))
            return redirect("benefits_console:detail", pk=campaign.pk)
    return _render_form(request, form, None)


@manager()
@require_http_methods(["GET", "POST"])
def campaign_edit(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get(actor=user, pk=pk)
    if request.method == "GET" and campaign.status != CampaignStatus.DRAFT:
        # A form that can never be saved is worse than none: say why on the campaign's page.
        messages.error(request, _("Only a draft campaign can be changed."))
        return redirect("benefits_console:detail", pk=campaign.pk)
    form = _campaign_form(request, user, campaign)
    if request.method == "POST" and form.is_valid():
        try:
            campaign_update(actor=user, campaign=campaign, **form.service_fields())
        except ApplicationError as exc:
            _user_error(exc)
            form.add_application_error(exc)
        else:
            messages.success(request, _("The campaign was saved."))
            return redirect("benefits_console:detail", pk=campaign.pk)
    return _render_form(request, form, campaign)


def _local(value: dt.datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _confirmations(campaign: Campaign, figures: CampaignFigures) -> dict[str, str]:
    """What each irreversible action asks before it is sent (``data-confirm``), naming what it
    does to members and money."""
    held = figures.open
    return {
        "schedule": _(
            "Schedule this campaign? Members see it now, and it opens by itself at %(t)s."
        )
        % {"t": _local(campaign.release_at)},
        "unschedule": _(
            "Take this campaign back to draft? Members no longer see it, and it will not open "
            "until it is scheduled again."
        ),
        "cancel": _("Cancel this campaign? This cannot be undone.")
        if not held
        else ngettext(
            "Cancel this campaign? The %(n)d voucher members hold will be void. This cannot be "
            "undone.",
            "Cancel this campaign? The %(n)d vouchers members hold will be void. This cannot be "
            "undone.",
            held,
        )
        % {"n": held},
        "close": _("Close this campaign now? Redemption stops at once. This cannot be undone.")
        if not held
        else ngettext(
            "Close this campaign now? Redemption stops at once and the %(n)d voucher not yet "
            "used expires. This cannot be undone.",
            "Close this campaign now? Redemption stops at once and the %(n)d vouchers not yet "
            "used expire. This cannot be undone.",
            held,
        )
        % {"n": held},
        "draw": _(
            "Run the draw now? The winners are chosen and the seed is published. This cannot "
            "be undone."
        ),
    }


def _render_detail(
    request: HttpRequest,
    user: User,
    campaign: Campaign,
    *,
    cancel_form: CancelForm | None = None,
    close_form: CloseForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    can_manage = user.can(MANAGE_BENEFITS)
    now = timezone.now()
    figures = campaign_figures(actor=user, campaign=campaign)
    is_open = campaign.status == CampaignStatus.OPEN
    # Used vouchers are owed to the store: such a campaign is closed and settled, not cancelled.
    used = is_open and pages.campaign_has_redemptions(actor=user, campaign=campaign)
    is_lottery = campaign.distribution == Distribution.LOTTERY
    return render(
        request,
        "benefits/console/campaign_detail.html",
        {
            "campaign": campaign,
            "history": pages.campaign_history(actor=user, campaign=campaign),
            "categories": pages.campaign_category_labels(campaign=campaign),
            "figures": figures,
            "stores": campaign.stores.order_by("name"),
            "can_manage": can_manage,
            "cancel_form": cancel_form or CancelForm(),
            "close_form": close_form or CloseForm(),
            "error": error,
            "is_lottery": is_lottery,
            "can_edit": can_manage and campaign.status == CampaignStatus.DRAFT,
            "can_schedule": can_manage and campaign.status == CampaignStatus.DRAFT,
            "can_unschedule": can_manage
            and campaign.status == CampaignStatus.SCHEDULED
            and now < campaign.release_at,
            "can_cancel": can_manage
            and not used
            and campaign.status
            in {CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.OPEN},
            # Offered where cancelling is not; shown again with its errors after a refused try.
            "can_close": can_manage and is_open and (used or close_form is not None),
            "cancel_refused": can_manage and used,
            "can_draw": can_manage
            and is_lottery
            and is_open
            and bool(campaign.seed_hash)
            and not campaign.drawn_at,
            "draw_waits": campaign.registration_closes_at is not None
            and now < campaign.registration_closes_at,
            "confirm": _confirmations(campaign, figures),
            "can_settle": can_manage
            and campaign.status
            in {
                CampaignStatus.OPEN,
                CampaignStatus.CLOSED,
                CampaignStatus.SETTLING,
                CampaignStatus.SETTLED,
            },
        },
        status=status,
    )


@reader()
def campaign_detail(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get(actor=user, pk=pk)
    return _render_detail(request, user, campaign)


@reader()
def campaign_dashboard(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get(actor=user, pk=pk)
    org = request.GET.get("org")
    return render(
        request,
        "benefits/console/campaign_dashboard.html",
        {
            "campaign": campaign,
            "figures": campaign_figures(actor=user, campaign=campaign),
            "breakdown": campaign_breakdown(actor=user, campaign=campaign, org=org),
            "org_param": org or "",
            "can_settle": user.can(MANAGE_BENEFITS),  # the settlement pages are a manager's
        },
    )


@reader()
def campaign_dashboard_export(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    """The dashboard's figures as a workbook, at the union level the dashboard shows."""
    campaign = selectors.campaign_get(actor=user, pk=pk)
    data = campaign_figures_export(actor=user, campaign=campaign, org=request.GET.get("org"))
    return _xlsx(data, f"campaign-{campaign.pk}-figures.xlsx")


def _action(
    request: HttpRequest, user: User, pk: int, run: Callable[[Campaign], str]
) -> HttpResponse:
    """Run one campaign action; its refusal is shown on the detail page (400)."""
    campaign = selectors.campaign_get(actor=user, pk=pk)
    try:
        message = run(campaign)
    except ApplicationError as exc:
        _user_error(exc)
        campaign.refresh_from_db()
        return _render_detail(request, user, campaign, error=str(exc.message), status=400)
    messages.success(request, message)
    return redirect("benefits_console:detail", pk=campaign.pk)


@manager()
@require_POST
def campaign_schedule_view(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get(actor=user, pk=pk)
    if campaign.status == CampaignStatus.SCHEDULED:
        # A double click sends the form twice: the second finds the work done, not an error.
        messages.info(request, _("The campaign is scheduled; it opens at its release time."))
        return redirect("benefits_console:detail", pk=campaign.pk)

    def run(campaign: Campaign) -> str:
        campaign_schedule(campaign=campaign, actor=user)
        return _("The campaign is scheduled; it opens at its release time.")

    return _action(request, user, pk, run)


@manager()
@require_POST
def campaign_unschedule_view(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get(actor=user, pk=pk)
    if campaign.status == CampaignStatus.DRAFT:
        # A double click: the second finds the work done.
        messages.info(request, _("The campaign is a draft again; change it and schedule it."))
        return redirect("benefits_console:detail", pk=campaign.pk)

    def run(campaign: Campaign) -> str:
        campaign_unschedule(campaign=campaign, actor=user)
        return _("The campaign is a draft again; change it and schedule it.")

    return _action(request, user, pk, run)


def _reasoned_action(
    request: HttpRequest,
    user: User,
    pk: int,
    *,
    form_class: type[CancelForm] | type[CloseForm],
    run: Callable[[Campaign, str], str],
) -> HttpResponse:
    """Run a campaign action that needs a typed reason (cancel, close now). A refusal about the
    reason is shown under the reason; any other (the form may not even be offered) above all."""
    campaign = selectors.campaign_get(actor=user, pk=pk)
    form = form_class(request.POST)
    error = ""
    if form.is_valid():
        try:
            message = run(campaign, form.cleaned_data["reason"])
        except ApplicationError as exc:
            _user_error(exc)
            if exc.field:
                form.add_application_error(exc)
            else:
                error = str(exc.message)
        else:
            messages.success(request, message)
            return redirect("benefits_console:detail", pk=campaign.pk)
    campaign.refresh_from_db()
    return _render_detail(
        request,
        user,
        campaign,
        cancel_form=form if isinstance(form, CancelForm) else None,
        close_form=form if isinstance(form, CloseForm) else None,
        error=error,
        status=400,
    )


@manager()
@require_POST
def campaign_cancel_view(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    def run(campaign: Campaign, reason: str) -> str:
        campaign_cancel(campaign=campaign, actor=user, reason=reason)
        return _("The campaign was cancelled.")

    return _reasoned_action(request, user, pk, form_class=CancelForm, run=run)


@manager()
@require_POST
def campaign_close_view(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    def run(campaign: Campaign, reason: str) -> str:
        campaign_close(campaign=campaign, actor=user, reason=reason)
        return _("The campaign is closed; settle it with its stores now.")

    return _reasoned_action(request, user, pk, form_class=CloseForm, run=run)


@manager()
@require_POST
def lottery_seed_view(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get(actor=user, pk=pk)
    if campaign.seed_hash and campaign.distribution == Distribution.LOTTERY:
        # A double click sends the form twice: the second finds the seed committed, not an error.
        messages.info(
            request,
            _("The seed is committed. Its hash, published now: %(h)s") % {"h": campaign.seed_hash},
        )
        return redirect("benefits_console:detail", pk=campaign.pk)

    def run(campaign: Campaign) -> str:
        lottery_commit_seed(campaign=campaign, actor=user)
        campaign.refresh_from_db()
        return _("The seed is committed. Its hash, published now: %(h)s") % {
            "h": campaign.seed_hash
        }

    return _action(request, user, pk, run)


@manager()
@require_POST
def lottery_draw_view(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get(actor=user, pk=pk)
    if campaign.drawn_at is not None:
        # A double click: the second finds the draw done (and it never runs twice).
        messages.info(request, _("The draw has run. The seed is now public."))
        return redirect("benefits_console:detail", pk=campaign.pk)

    def run(campaign: Campaign) -> str:
        winners = lottery_draw(campaign=campaign, actor=user)
        return _("The draw has run: %(n)d winners. The seed is now public.") % {"n": len(winners)}

    return _action(request, user, pk, run)


# ---------------------------------------------------------------- settlement


def _render_settlement(
    request: HttpRequest,
    user: User,
    campaign: Campaign,
    *,
    upload_store: int | None = None,
    upload_form: SettlementUploadForm | None = None,
    row_errors: list[Any] | None = None,
    publish_form: NoticePublishForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    rows = pages.campaign_settlement_rows(actor=user, campaign=campaign)
    # What the notice's close posted: the transfer finance makes to the merchant's account.
    paid = [r for r in rows if r.settlement and r.settlement.status == SettlementStatus.PAID]
    return render(
        request,
        "benefits/console/settlement.html",
        {
            "campaign": campaign,
            "rows": rows,
            "paid": paid,
            "paid_fen": sum(r.settlement.payable_fen for r in paid if r.settlement),
            "notice": pages.notice_for_campaign(actor=user, campaign=campaign),
            "upload_store": upload_store,
            "upload_form": upload_form or SettlementUploadForm(),
            "row_errors": row_errors or [],
            "publish_form": publish_form
            or NoticePublishForm(initial={"days": campaign.notice_days}),
            "error": error,
            "uploads_open": settlement_uploads_open(campaign),
            "can_publish": campaign.status == CampaignStatus.SETTLING,
        },
        status=status,
    )


@manager()
def settlement_overview(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get(actor=user, pk=pk)
    return _render_settlement(request, user, campaign)


@manager()
def register_template(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get(actor=user, pk=pk)
    return _xlsx(settlement_register_template(), f"register-{campaign.pk}.xlsx")


@manager()
@require_POST
def settlement_upload_view(request: HttpRequest, user: User, pk: int, store: int) -> HttpResponse:
    campaign = selectors.campaign_get(actor=user, pk=pk)
    store_obj = pages.campaign_store_get(actor=user, campaign=campaign, store_pk=store)
    form = SettlementUploadForm(request.POST, request.FILES)
    row_errors: list[Any] = []
    if form.is_valid():
        try:
            settlement, _rows = settlement_upload(
                staff=user,
                campaign=campaign,
                store=store_obj,
                register=form.cleaned_data["register"],
                invoice=form.cleaned_data["invoice"],
            )
        except ApplicationError as exc:
            _user_error(exc)
            form.add_application_error(exc)
            row_errors = list(exc.extra.get("rows", []))  # type: ignore[call-overload]
        else:
            messages.success(request, _("The register was uploaded and reconciled."))
            return redirect("benefits_console:settlement_detail", pk=settlement.pk)
    return _render_settlement(
        request,
        user,
        campaign,
        upload_store=store_obj.pk,
        upload_form=form,
        row_errors=row_errors[:200],
        status=400,
    )


def _campaign_settles(settlement: Settlement) -> bool:
    """Approval waits for the redemption window to close (the service says so too)."""
    return settlement.campaign.status in {CampaignStatus.CLOSED, CampaignStatus.SETTLING}


def _render_settlement_detail(
    request: HttpRequest,
    user: User,
    settlement: Settlement,
    *,
    approve_form: ApproveForm | None = None,
    status: int = 200,
) -> HttpResponse:
    # The figures are the comparison the table shows, worked out now: the counts and payable
    # stored at upload go stale when a redemption is reversed, and approval reconciles afresh.
    result = settlement_compare(settlement=settlement)
    reconciled = settlement.status == SettlementStatus.RECONCILED
    return render(
        request,
        "benefits/console/settlement_detail.html",
        {
            "settlement": settlement,
            "campaign": settlement.campaign,
            "result": result,
            "counts": result.counts,
            "live_figures": settlement.status
            in {SettlementStatus.UPLOADED, SettlementStatus.RECONCILED},
            "labels": RECONCILE_LABELS,
            "uploader": pages.uploader_label(settlement),
            "can_approve": reconciled and _campaign_settles(settlement),
            "approve_later": reconciled and not _campaign_settles(settlement),
            "approve_form": approve_form or ApproveForm(differences=result.differences),
        },
        status=status,
    )


@manager()
def settlement_detail(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    settlement = pages.settlement_get(actor=user, pk=pk)
    return _render_settlement_detail(request, user, settlement)


@manager()
def settlement_report(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    settlement = pages.settlement_get(actor=user, pk=pk)
    result = settlement_compare(settlement=settlement)
    return _xlsx(
        settlement_report_xlsx(settlement=settlement, result=result),
        f"reconciliation-{settlement.campaign_id}-{settlement.store_id}.xlsx",
    )


@manager()
def settlement_file(request: HttpRequest, user: User, pk: int, kind: str) -> FileResponse:
    """The store's register or invoice, behind the staff gate (never a public media URL)."""
    settlement = pages.settlement_get(actor=user, pk=pk)
    if kind not in {"register", "invoice"}:
        raise NotFound()
    stored = getattr(settlement, kind)
    if not stored:
        raise NotFound()
    name = stored.name.rsplit("/", 1)[-1]
    return FileResponse(stored.open("rb"), as_attachment=True, filename=name)


@manager()
@require_POST
def settlement_approve_view(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    settlement = pages.settlement_get(actor=user, pk=pk)
    # Differences between the register and our records are approved knowingly, with a reason
    # the audit line keeps. Only asked where approval can happen at all: elsewhere the service
    # says why it cannot.
    approvable = settlement.status == SettlementStatus.RECONCILED and _campaign_settles(settlement)
    differences = settlement_compare(settlement=settlement).differences if approvable else 0
    form = ApproveForm(request.POST, differences=differences)
    if not form.is_valid():
        return _render_settlement_detail(request, user, settlement, approve_form=form, status=400)
    try:
        settlement_approve(settlement=settlement, actor=user, reason=form.cleaned_data["reason"])
    except ApplicationError as exc:
        _user_error(exc)
        return _render_settlement(
            request, user, settlement.campaign, error=str(exc.message), status=400
        )
    messages.success(request, _("The settlement was approved."))
    return redirect("benefits_console:settlement", pk=settlement.campaign_id)


@manager()
@require_POST
def notice_publish_view(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get(actor=user, pk=pk)
    form = NoticePublishForm(request.POST)
    if form.is_valid():
        try:
            notice_publish(campaign=campaign, actor=user, days=form.cleaned_data["days"])
        except ApplicationError as exc:
            _user_error(exc)
            form.add_application_error(exc)
        else:
            messages.success(request, _("The public notice is published."))
            return redirect("benefits_console:settlement", pk=campaign.pk)
    campaign.refresh_from_db()
    return _render_settlement(request, user, campaign, publish_form=form, status=400)


def _render_objections(
    request: HttpRequest,
    user: User,
    campaign: Campaign,
    *,
    failed: int | None = None,
    failed_form: ResolveForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    notice = pages.notice_for_campaign(actor=user, campaign=campaign)
    objections = pages.notice_objections(actor=user, notice=notice) if notice else []
    return render(
        request,
        "benefits/console/objections.html",
        {
            "campaign": campaign,
            "notice": notice,
            "objections": objections,
            "failed": failed,
            "failed_form": failed_form,
            "form": ResolveForm(),
            "error": error,
            "notice_running": notice is not None and timezone.now() < notice.ends_at,
        },
        status=status,
    )


@manager()
def notice_objections(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get(actor=user, pk=pk)
    return _render_objections(request, user, campaign)


@manager()
@require_POST
def objection_resolve_view(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    objection = pages.objection_get(actor=user, pk=pk)
    campaign = selectors.campaign_get(actor=user, pk=objection.notice.campaign_id)
    form = ResolveForm(request.POST)
    if form.is_valid():
        try:
            objection_resolve(
                objection=objection, actor=user, resolution=form.cleaned_data["resolution"]
            )
        except ApplicationError as exc:
            _user_error(exc)
            form.add_application_error(exc)
        else:
            messages.success(request, _("The objection is resolved."))
            return redirect("benefits_console:objections", pk=campaign.pk)
    return _render_objections(
        request, user, campaign, failed=objection.pk, failed_form=form, status=400
    )


@manager()
@require_POST
def notice_close_view(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get(actor=user, pk=pk)
    notice = pages.notice_for_campaign(actor=user, campaign=campaign)
    if notice is None:
        return _render_objections(
            request, user, campaign, error=_("The notice is not published yet."), status=400
        )
    try:
        paid = notice_close(notice=notice, actor=user)
    except ApplicationError as exc:
        _user_error(exc)
        return _render_objections(request, user, campaign, error=str(exc.message), status=400)
    messages.success(
        request,
        _("The notice is closed; %(n)d payment orders were posted and the campaign is settled.")
        % {"n": len(paid)},
    )
    return redirect("benefits_console:detail", pk=campaign.pk)
