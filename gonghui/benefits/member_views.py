"""Member pages of voucher campaigns under /m/benefits/: list, campaign, grab, lottery, vouchers.

Plain forms that work without JavaScript inside WeChat on cheap phones; the few lines of inline
script only count down to the release time and stop a second tap. A grab carries a key made when
the page was rendered, so a double tap or a resent form returns the voucher the first one made.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.messages import get_messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from gonghui.audit.context import client_ip
from gonghui.benefits import page_selectors_member as pages
from gonghui.benefits.models import Distribution
from gonghui.benefits.selectors import member_voucher_get
from gonghui.benefits.services import (
    GrabOutcome,
    RateLimited,
    grab_rate_check,
    grab_ticket_issue,
    lottery_register,
    voucher_grab,
    voucher_qr_svg,
)
from gonghui.core.errors import ApplicationError, NotFound
from gonghui.members.models import Member

View = Callable[..., HttpResponse]


def member_required(view: View) -> View:
    """Members signed in at /m/login/ only; anyone else goes there, with the page to return to.

    A campaign or voucher the member may not see is the member pages' own "not found" page (the
    site-wide one is the staff console's, with its header and language switch)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        member = getattr(request, "member", None)
        if member is None:
            query = urlencode({"next": request.get_full_path()})
            return redirect(f"{reverse('mobile:login')}?{query}")
        try:
            response = view(request, member, *args, **kwargs)
        except NotFound:
            response = render(request, "benefits/mobile/not_found.html", {"nav": ""}, status=404)
        response["Cache-Control"] = "private, no-store"
        return response

    return wrapped


@require_GET
@member_required
def campaign_list(request: HttpRequest, member: Member) -> HttpResponse:
    campaigns = pages.member_campaigns(member=member)
    return render(
        request, "benefits/mobile/campaign_list.html", {**campaigns, **_clock(), "nav": "campaigns"}
    )


def _clock() -> dict[str, Any]:
    """The server's time for the page, and in milliseconds for the countdown's script."""
    now = timezone.now()
    return {"now": now, "now_ms": int(now.timestamp() * 1000)}


def _campaign_page(
    request: HttpRequest, member: Member, pk: int, *, error: str = "", status: int = 200
) -> HttpResponse:
    view = pages.member_campaign_get(member=member, pk=pk)
    can_grab = (
        view.campaign.distribution == Distribution.GRAB
        and view.phase in {"upcoming", "open"}
        and not view.sold_out
        and view.eligibility.ok
        and not view.has_all
    )
    return render(
        request,
        "benefits/mobile/campaign_detail.html",
        {
            "view": view,
            "campaign": view.campaign,
            # The page's button sends its grab with this ticket to the hot endpoint, without
            # cookies: no session or member row to load per tap, and the ticket outlives a
            # session that ends while the member waits for the release.
            "grab_ticket": grab_ticket_issue(member=member, campaign=view.campaign)
            if can_grab
            else "",
            # One key per rendering of the page: every tap of this page's button is one request.
            "request_key": secrets.token_urlsafe(16),
            **_clock(),
            "error": error,
            # An ineligible member is told where to turn: the union, and the card on file.
            "card_problem": view.eligibility.code in {"card_missing", "card_bank"},
            "proof_url": _proof_url(view.campaign.pk),
            "nav": "campaigns",
        },
        status=status,
    )


def _proof_url(pk: int) -> str:
    """The public proof page of a lottery (the public pages may not be wired yet)."""
    try:
        return reverse("public:campaign", args=[pk])
    except NoReverseMatch:
        return f"/public/campaigns/{pk}/"


@require_GET
@member_required
def campaign_detail(request: HttpRequest, member: Member, pk: int) -> HttpResponse:
    return _campaign_page(request, member, pk)


# The grab's answers without a voucher, shown on the result page after the redirect.
_REFUSALS = frozenset(
    {
        GrabOutcome.SOLD_OUT,
        GrabOutcome.NOT_ELIGIBLE,
        GrabOutcome.LIMIT,
        GrabOutcome.NOT_OPEN,
        GrabOutcome.CLOSED,
        "rate_limited",
        "error",
    }
)


def _result_tag(pk: int) -> str:
    """Marks the flash that carries a grab's answer to the result page of this campaign."""
    return f"grab-result grab-{pk}"


@require_http_methods(["GET", "POST"])
@member_required
def campaign_grab(request: HttpRequest, member: Member, pk: int) -> HttpResponse:
    """The grab without script (the page's script goes to the hot endpoint instead).

    Post/redirect/get: the answer is carried in a one-time flash to a page fetched by GET, so a
    reload or the back button never sends the grab again. A voucher is answered with its own
    page, read from the database for this member; the flash only says what happened, and a
    forged one can show no voucher (the result page has none to show)."""
    if request.method != "POST":
        return _grab_result(request, member, pk)
    view = pages.member_campaign_get(member=member, pk=pk)
    request_key = request.POST.get("request_key", "")
    outcome, message, voucher = "error", "", None
    try:
        grab_rate_check(member_id=member.pk, address=client_ip(request) or "")
        result = voucher_grab(campaign=view.campaign, member=member, request_key=request_key)
    except RateLimited as error:
        outcome, message = "rate_limited", str(error.message)
    except ApplicationError as error:
        message = str(error.message)
    else:
        outcome, message, voucher = result.outcome, result.message, result.voucher
    if voucher is not None:
        # The same request again (double tap, resent form) gets the first answer: "you got it".
        if outcome == GrabOutcome.WON or (request_key and voucher.request_key == request_key):
            messages.success(request, _("You got a voucher."))
        else:
            messages.info(request, _("You already have a voucher of this campaign."))
        return _see_other(reverse("benefits_m:voucher", args=[voucher.pk]))
    messages.error(request, message, extra_tags=f"{_result_tag(view.campaign.pk)} {outcome}")
    return _see_other(reverse("benefits_m:grab", args=[view.campaign.pk]))


def _see_other(url: str) -> HttpResponseRedirect:
    """303: the browser fetches the answer by GET, whatever the method that led there."""
    return HttpResponseRedirect(url, status=303)


def _grab_result(request: HttpRequest, member: Member, pk: int) -> HttpResponse:
    """The answer of a grab just posted, once. Without one (a reload, history, a restored tab,
    sign-in's "next" after the session ran out mid-tap) the campaign page says where the member
    stands now."""
    tag = _result_tag(pk)
    answer, others = None, []
    for flash in get_messages(request):
        words = flash.extra_tags.split()
        if answer is None and words[:-1] == tag.split() and words[-1] in _REFUSALS:
            answer = (words[-1], str(flash.message))
        else:
            others.append(flash)
    if answer is None:
        for flash in others:  # not this page's to show: kept for the page the member goes to
            messages.add_message(request, flash.level, flash.message, flash.extra_tags)
        return redirect("benefits_m:campaign", pk=pk)
    outcome, message = answer
    view = pages.member_campaign_get(member=member, pk=pk)
    return render(
        request,
        "benefits/mobile/grab_result.html",
        {
            "campaign": view.campaign,
            "outcome": outcome,
            "message": message,
            # The answer is in the card; any other flash stays in the list above it.
            "messages": others,
            "nav": "campaigns",
        },
    )


@require_http_methods(["GET", "POST"])
@member_required
def campaign_register(request: HttpRequest, member: Member, pk: int) -> HttpResponse:
    if request.method != "POST":
        return redirect("benefits_m:campaign", pk=pk)
    view = pages.member_campaign_get(member=member, pk=pk)
    try:
        lottery_register(campaign=view.campaign, member=member)
    except ApplicationError as error:
        return _campaign_page(request, member, pk, error=str(error.message), status=400)
    if view.registration is not None:
        # A second tap, a resent form, another tab: the entry the first one made stands.
        messages.info(request, _("You were already registered for this draw."))
    else:
        messages.success(request, _("You are registered for the draw."))
    return redirect("benefits_m:campaign", pk=view.campaign.pk)


@require_GET
@member_required
def voucher_list(request: HttpRequest, member: Member) -> HttpResponse:
    mine = pages.member_vouchers(member=member, state=request.GET.get("state", ""))
    return render(
        request,
        "benefits/mobile/voucher_list.html",
        {
            "vouchers": mine.vouchers,
            "state": mine.state,
            "tabs": [(tab, mine.counts[tab]) for tab in pages.VOUCHER_TABS],
            "nav": "vouchers",
        },
    )


def _scalable(svg: str) -> str:
    """segno's inline SVG has a fixed pixel size; a viewBox lets CSS make it as big as the
    phone allows (a big code scans at a glance, even from a cracked screen)."""
    return re.sub(r'width="(\d+)" height="(\d+)"', r'viewBox="0 0 \1 \2" role="img"', svg, count=1)


@require_GET
@member_required
def voucher_detail(request: HttpRequest, member: Member, pk: int) -> HttpResponse:
    voucher = member_voucher_get(actor=member, pk=pk)
    # The campaign page's script opens this page after its grab with what the grab answered
    # (``?got=won`` or ``already``), so the member is told, as the form's grab tells them in
    # its flash. Only words: the voucher shown is the member's own, read from the database.
    got = request.GET.get("got")
    if got == GrabOutcome.WON:
        messages.success(request, _("You got a voucher."))
    elif got == GrabOutcome.ALREADY:
        messages.info(request, _("You already have a voucher of this campaign."))
    now = timezone.now()
    state = pages.voucher_state(voucher, now=now)
    return render(
        request,
        "benefits/mobile/voucher_detail.html",
        {
            "voucher": voucher,
            "campaign": voucher.campaign,
            "state": state,
            "stores": pages.voucher_stores(voucher),
            "redemption": pages.voucher_redemption(voucher),
            "end": pages.voucher_end(voucher, state=state),
            # Grabbed before the redemption window opens: the till would refuse it until then.
            "not_yet": state == "open" and now < voucher.campaign.redeem_from,
            # Only a usable voucher shows a scannable code; a used one shows it struck through.
            "qr_svg": _scalable(voucher_qr_svg(voucher, scale=7)) if state == "open" else "",
            "nav": "vouchers",
            "said_once": got in (GrabOutcome.WON, GrabOutcome.ALREADY),
        },
    )
