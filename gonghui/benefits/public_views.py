"""Public pages (no sign-in) under /public/: the settlement notice with its objection form, and
the lottery proof page with everything anyone needs to re-run the draw.

Nothing personal leaves these pages beyond masked names (``mask_name``): no phone, no ID number,
no member id. Objections are rate-limited per address through the Django cache.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from gonghui.audit.context import client_ip
from gonghui.benefits import page_selectors_console as pages
from gonghui.benefits import selectors
from gonghui.benefits.console_forms import (
    NoticeListForm,
    ObjectionForm,
    PublicSearchForm,
    WinnerLookupForm,
)
from gonghui.benefits.models import Campaign, Distribution
from gonghui.benefits.services import RateLimited
from gonghui.benefits.settlement import objection_submit
from gonghui.core.errors import ApplicationError, NotFound
from gonghui.core.ratelimit import window_count

OBJECTION_WINDOW_SECONDS = 3600
CAMPAIGNS_PER_PAGE = 20
NOTICE_ROWS_PER_PAGE = 100
WINNERS_PER_PAGE = 100


def objection_rate_check(address: str) -> None:
    """At most a few objections per address per hour (fixed window in the cache)."""
    count = window_count(
        caches["default"],
        f"benefits:objection:{address or 'unknown'}",
        window=OBJECTION_WINDOW_SECONDS,
    )
    if count > settings.GONGHUI_OBJECTIONS_PER_ADDRESS:
        raise RateLimited(
            _("Too many objections from this network address; try again in an hour."),
            code="rate_limited",
        )


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """Every public campaign, with its lottery proof and settlement notice: searchable, paged."""
    form = PublicSearchForm(request.GET)
    page = None
    if form.is_valid():
        qs = selectors.campaign_public_list(
            query=form.cleaned_data["q"], kind=form.cleaned_data["kind"]
        )
        page = Paginator(qs, CAMPAIGNS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "benefits/public/index.html",
        {"form": form, "page": page, "now": timezone.now()},
        status=200 if page is not None else 400,
    )


@require_http_methods(["GET", "POST"])
def notice(request: HttpRequest, pk: int) -> HttpResponse:
    notice = selectors.notice_public_get(pk=pk)
    form = ObjectionForm(request.POST or None)
    status = 200
    if request.method == "POST":
        try:
            if form.is_valid():
                # Only objections that would be stored count against the address: someone who
                # mistypes a phone number five times is not shut out for an hour.
                objection_rate_check(client_ip(request) or "")
                objection_submit(
                    notice=notice,
                    name=form.cleaned_data["name"],
                    phone=form.cleaned_data["phone"],
                    text=form.cleaned_data["text"],
                )
                # back at the form, where the thanks are (not at the top of a long list)
                return redirect(f"{request.path}?sent=1#objection")
        except RateLimited as exc:
            form.add_error(None, str(exc.message))
            status = 429
        except ApplicationError as exc:
            if exc.status != 400:
                raise
            form.add_application_error(exc)
        if status == 200:
            status = 400
    now = timezone.now()
    filters = NoticeListForm(
        request.GET,
        stores=selectors.notice_public_store_choices(notice=notice),
        days=selectors.notice_public_days(notice=notice),
    )
    # A filter the list does not offer (an edited address) is named and the whole list shown.
    chosen = filters.cleaned_data if filters.is_valid() else {}
    page = Paginator(
        selectors.notice_public_redemptions(
            notice=notice, store_id=chosen.get("store"), day=chosen.get("day")
        ),
        NOTICE_ROWS_PER_PAGE,
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "benefits/public/notice.html",
        {
            "notice": notice,
            "campaign": notice.campaign,
            "stores": pages.notice_public_stores(notice=notice),
            "filters": filters,
            "filtered": bool(chosen.get("store") or chosen.get("day")),
            "page": page,
            "rows": [selectors.notice_public_row(*row) for row in page.object_list],
            "form": form,
            "running": notice.closed_at is None and notice.starts_at <= now < notice.ends_at,
            "sent": request.GET.get("sent") == "1",
        },
        status=status,
    )


def _public_campaign(pk: int) -> Campaign:
    return selectors.campaign_public_proof_get(pk=pk)


@require_GET
def campaign(request: HttpRequest, pk: int) -> HttpResponse:
    c = _public_campaign(pk)
    is_lottery = c.distribution == Distribution.LOTTERY
    context: dict[str, Any] = {
        "campaign": c,
        "is_lottery": is_lottery,
        "notice": pages.notice_public_for_campaign(campaign=c),
    }
    if is_lottery:
        context["registrations"] = pages.lottery_public_registrations(campaign=c)
    if is_lottery and c.drawn_at:
        lookup = WinnerLookupForm(request.GET)
        number = lookup.cleaned_data["number"] if lookup.is_valid() else None
        page = Paginator(pages.lottery_public_winners(campaign=c), WINNERS_PER_PAGE).get_page(
            request.GET.get("page")
        )
        context |= {
            "lookup": lookup,
            "looked_up": number,
            "lookup_result": pages.lottery_public_lookup(campaign=c, number=number)
            if number is not None
            else None,
            "passed_over": pages.lottery_public_passed_over(campaign=c),
            "page": page,
            "winners": [pages.lottery_public_row(*row) for row in page.object_list],
        }
    return render(request, "benefits/public/campaign.html", context)


def _utc_iso(moment: dt.datetime | None) -> str | None:
    """A fixed-width UTC timestamp (microseconds always written): two compare as text."""
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@require_GET
def registrations_json(request: HttpRequest, pk: int) -> HttpResponse:
    c = _public_campaign(pk)
    if c.distribution != Distribution.LOTTERY:
        raise NotFound()
    payload = {
        "campaign_id": c.pk,
        "quota": c.quota,
        "seed_hash": c.seed_hash,
        # ISO 8601 in UTC, so that the two compare as text in the check program.
        "seed_hash_published_at": _utc_iso(c.seed_committed_at),
        "registration_closes_at": _utc_iso(c.registration_closes_at),
        "seed": c.seed if c.drawn_at else None,
        "registration_ids": pages.lottery_public_registration_ids(campaign=c),
        # Entries the draw passed over: their members were no longer eligible when it ran.
        "passed_over_ids": pages.lottery_public_passed_over(campaign=c) if c.drawn_at else [],
    }
    response = JsonResponse(payload, json_dumps_params={"ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="campaign-{c.pk}-registrations.json"'
    return response
