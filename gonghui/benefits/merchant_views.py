"""Merchant pages under /merchant/: the redeem page (camera scan or typed code), recent
redemptions, a supervisor's reversal, and settlement (the register template, the store's
register and invoice handed in by a supervisor, and how it compares with the union's records).

Clerks sign in at /accounts/login/ and see only their own merchant's stores and redemptions;
any other redemption is one boring "not found". The services check store, window, status and
concurrent scans.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from gonghui.benefits import page_selectors_member as pages
from gonghui.benefits.console_forms import SettlementUploadForm
from gonghui.benefits.member_forms import RedeemForm, ReverseForm
from gonghui.benefits.models import CampaignStatus, MerchantClerk, Redemption, Store
from gonghui.benefits.selectors import (
    clerk_campaign_list,
    clerk_for_user,
    clerk_redemption_list,
    redemption_totals,
)
from gonghui.benefits.services import (
    clean_day,
    clean_receipt_no,
    clean_voucher_code,
    mask_name,
    redemption_reverse,
    scan_ticket_issue,
    voucher_redeem,
    yuan_to_fen,
)
from gonghui.benefits.settlement import (
    MAX_INVOICE_BYTES,
    MAX_REGISTER_BYTES,
    RECONCILE_LABELS,
    settlement_register_template,
    settlement_upload,
)
from gonghui.benefits.views import redemption_message
from gonghui.core.errors import ApplicationError, PermissionDenied

View = Callable[..., HttpResponse]
RECENT = 30
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def clerk_required(view: View) -> View:
    """Signed-in merchant clerks only: anonymous → sign-in; any other user → not found.

    A refusal inside a clerk's page (a redemption not found, a reversal by a plain clerk) is
    shown in the merchant's own frame, not in the staff console's, whose menu a clerk cannot
    use."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            query = urlencode({"next": request.get_full_path()})
            return redirect(f"{reverse('accounts:login')}?{query}")
        clerk = clerk_for_user(request.user)
        try:
            response = view(request, clerk, *args, **kwargs)
        except ApplicationError as error:
            response = render(
                request,
                "benefits/merchant/error.html",
                {"clerk": clerk, "error": error},
                status=error.status,
            )
        response["Cache-Control"] = "private, no-store"
        return response

    return wrapped


@require_http_methods(["GET", "POST"])
@clerk_required
def redeem(request: HttpRequest, clerk: MerchantClerk) -> HttpResponse:
    stores = list(pages.clerk_stores(clerk=clerk))
    last_store_id = pages.clerk_last_store_id(clerk=clerk) if len(stores) > 1 else None
    form = RedeemForm(request.POST or None, stores=stores, last_store_id=last_store_id)
    status = 200
    if request.method == "POST":
        status = 400
        redemption = _redeem_posted(form, clerk=clerk, stores=stores)
        if redemption is not None:
            messages.success(request, redemption_message(redemption))
            return redirect("merchant:redemption", pk=redemption.pk)
        form.focus_first_error()
    return render(
        request,
        "benefits/merchant/redeem.html",
        {
            "form": form,
            "clerk": clerk,
            "stores": stores,
            "scan_ticket": scan_ticket_issue(clerk=clerk),
        },
        status=status,
    )


def _redeem_posted(
    form: RedeemForm, *, clerk: MerchantClerk, stores: list[Store]
) -> Redemption | None:
    """Every field's own check first, so one answer names everything to fix (the service stops
    at the first), then the redemption itself."""
    form.is_valid()  # only to fill cleaned_data; every check is the service's
    data = form.cleaned_data
    raw_store = data.get("store", "")
    store: Store | None = None
    try:
        store = (
            stores[0]
            if len(stores) == 1 and not raw_store
            else pages.clerk_store_get(clerk=clerk, pk=raw_store)
        )
    except ApplicationError:
        form.add_error("store", _("Choose one of your stores."))
    amount_fen = 0
    try:
        clean_voucher_code(data.get("code", ""))
    except ApplicationError as error:
        form.apply_error(error)
    try:
        clean_receipt_no(data.get("receipt_no", ""))
    except ApplicationError as error:
        form.apply_error(error)
    try:
        amount_fen = yuan_to_fen(data.get("amount", ""), field="amount")
    except ApplicationError as error:
        form.apply_error(error)
    if form.errors or store is None:
        return None
    try:
        return voucher_redeem(
            code=data.get("code", ""),
            store=store,
            clerk=clerk,
            receipt_no=data.get("receipt_no", ""),
            amount_fen=amount_fen,
        )
    except ApplicationError as error:
        form.apply_error(error)
        return None


def _redemption_page(
    request: HttpRequest,
    clerk: MerchantClerk,
    redemption: Redemption,
    *,
    form: ReverseForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    window = settings.GONGHUI_REDEMPTION_REVERSAL_MINUTES
    campaign = redemption.voucher.campaign
    # Why a supervisor sees no reversal form (the service's own messages and rules).
    blocked = ""
    if clerk.is_supervisor and redemption.reversed_at is None:
        if (timezone.now() - redemption.at).total_seconds() > window * 60:
            blocked = _("A redemption can be reversed only within %(n)d minutes.") % {"n": window}
        elif campaign.status != CampaignStatus.OPEN:
            blocked = _("This campaign is closed.")
    may_reverse = clerk.is_supervisor and redemption.reversed_at is None and not blocked
    return render(
        request,
        "benefits/merchant/redemption.html",
        {
            "clerk": clerk,
            "r": redemption,
            "campaign": campaign,
            "member_name": mask_name(redemption.voucher.member.name),
            "may_reverse": may_reverse,
            "reverse_blocked": "" if error else blocked,
            "reverse_error": error,
            "window": window,
            "form": form or ReverseForm(),
        },
        status=status,
    )


@require_GET
@clerk_required
def redemption_detail(request: HttpRequest, clerk: MerchantClerk, pk: int) -> HttpResponse:
    return _redemption_page(request, clerk, pages.clerk_redemption_get(clerk=clerk, pk=pk))


@require_http_methods(["GET", "POST"])
@clerk_required
def redemption_reverse_view(request: HttpRequest, clerk: MerchantClerk, pk: int) -> HttpResponse:
    redemption = pages.clerk_redemption_get(clerk=clerk, pk=pk)
    if request.method == "GET":
        # The address a refused reversal leaves in the bar, reloaded: back to the redemption.
        return redirect("merchant:redemption", pk=redemption.pk)
    form = ReverseForm(request.POST)
    form.is_valid()
    try:
        redemption_reverse(
            redemption=redemption, supervisor=clerk, reason=form.cleaned_data.get("reason", "")
        )
    except ApplicationError as error:
        if error.status == 403:
            raise PermissionDenied(_("Only a supervisor may reverse a redemption.")) from None
        if error.field == "reason":
            form.add_error("reason", str(error.message))
            return _redemption_page(request, clerk, redemption, form=form, status=400)
        # Too late, campaign closed, reversed meanwhile: said on the page even though the
        # form is no longer offered, over the redemption as it now stands.
        redemption = pages.clerk_redemption_get(clerk=clerk, pk=pk)
        return _redemption_page(request, clerk, redemption, error=str(error.message), status=400)
    messages.success(request, _("The redemption was reversed; the voucher can be used again."))
    return redirect("merchant:redemption", pk=redemption.pk)


@require_GET
@clerk_required
def redemption_list(request: HttpRequest, clerk: MerchantClerk) -> HttpResponse:
    stores = list(pages.clerk_stores(clerk=clerk))
    query = request.GET.get("q", "")[:40]
    raw_store = request.GET.get("store", "")
    store_id = next((s.pk for s in stores if str(s.pk) == raw_store), None)
    # A store running two campaigns settles each apart: the clerk counts one campaign's vouchers.
    campaigns = list(clerk_campaign_list(clerk=clerk).only("pk", "name"))
    raw_campaign = request.GET.get("campaign", "")
    campaign_id = next((c.pk for c in campaigns if str(c.pk) == raw_campaign), None)
    raw_day = request.GET.get("day", "")[:20]
    day_error = None
    try:
        day = clean_day(raw_day)
    except ApplicationError as error:
        day, day_error = None, error.message  # the list stays unfiltered by day, and says why
    found = clerk_redemption_list(
        clerk=clerk, query=query, store_id=store_id, day=day, campaign_id=campaign_id
    ).select_related("voucher__member")
    page = Paginator(found, RECENT).get_page(request.GET.get("page"))
    rows = [(r, mask_name(r.voucher.member.name)) for r in page]
    return render(
        request,
        "benefits/merchant/redemption_list.html",
        {
            "clerk": clerk,
            "rows": rows,
            "page": page,
            "stores": stores,
            "several_stores": len(stores) > 1 or len({r.store_id for r, _n in rows}) > 1,
            "campaigns": campaigns,
            "campaign_id": campaign_id,
            "several_campaigns": campaign_id is None
            and (len(campaigns) > 1 or len({r.voucher.campaign_id for r, _n in rows}) > 1),
            "query": query,
            "store_id": store_id,
            "day": day,
            "day_typed": raw_day if day_error else (day.isoformat() if day else ""),
            "day_error": day_error,
            "today": timezone.localdate().isoformat(),
            "totals": redemption_totals(found),
            "filtered": bool(query.strip() or store_id or day or campaign_id),
            # The filters again, for the page links.
            "kept": urlencode(
                [
                    (name, value)
                    for name, value in (
                        ("q", query),
                        ("campaign", campaign_id or ""),
                        ("store", store_id or ""),
                        ("day", day.isoformat() if day else ""),
                    )
                    if value
                ]
            ),
        },
    )


@require_GET
@clerk_required
def session_alive(request: HttpRequest, clerk: MerchantClerk) -> HttpResponse:
    """204 while the clerk is signed in (and the session's idle clock starts again); else the
    sign-in redirect. The settlement page asks before it sends a register, so a sign-in that ran
    out does not take the chosen files with it to the sign-in page."""
    return HttpResponse(status=204)


# ---------------------------------------------------------------- settlement


def _settlement_page(
    request: HttpRequest,
    clerk: MerchantClerk,
    *,
    failed: tuple[int, int] | None = None,
    form: SettlementUploadForm | None = None,
    row_errors: list[Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "benefits/merchant/settlement.html",
        {
            "clerk": clerk,
            "campaigns": pages.clerk_settlement_campaigns(clerk=clerk),
            "failed": failed,
            "failed_form": form,
            "row_errors": row_errors or [],
            "labels": RECONCILE_LABELS,
            "max_register_bytes": MAX_REGISTER_BYTES,
            "max_invoice_bytes": MAX_INVOICE_BYTES,
        },
        status=status,
    )


@require_GET
@clerk_required
def settlement(request: HttpRequest, clerk: MerchantClerk) -> HttpResponse:
    return _settlement_page(request, clerk)


@require_GET
@clerk_required
def register_template(request: HttpRequest, clerk: MerchantClerk) -> HttpResponse:
    response = HttpResponse(settlement_register_template(), content_type=XLSX)
    response["Content-Disposition"] = 'attachment; filename="register.xlsx"'
    return response


@require_http_methods(["GET", "POST"])
@clerk_required
def settlement_upload_view(
    request: HttpRequest, clerk: MerchantClerk, pk: int, store: int
) -> HttpResponse:
    campaign, store_obj = pages.clerk_campaign_store_get(
        clerk=clerk, campaign_pk=pk, store_pk=store
    )
    if request.method == "GET":  # the address a refused upload leaves in the bar, reloaded
        return redirect("merchant:settlement")
    if not clerk.is_supervisor:
        raise PermissionDenied(_("Only a supervisor may hand in the settlement register."))
    form = SettlementUploadForm(request.POST, request.FILES)
    row_errors: list[Any] = []
    if form.is_valid():
        try:
            settlement_upload(
                clerk=clerk,
                campaign=campaign,
                store=store_obj,
                register=form.cleaned_data["register"],
                invoice=form.cleaned_data["invoice"],
            )
        except ApplicationError as error:
            if error.status == 403:
                raise
            form.add_application_error(error)
            row_errors = list(error.extra.get("rows", []))  # type: ignore[call-overload]
        else:
            messages.success(
                request,
                _("The register was handed in and compared with the union's records."),
            )
            return redirect(f"{reverse('merchant:settlement')}#settle-{campaign.pk}-{store_obj.pk}")
    return _settlement_page(
        request,
        clerk,
        failed=(campaign.pk, store_obj.pk),
        form=form,
        row_errors=row_errors[:200],
        status=400,
    )
