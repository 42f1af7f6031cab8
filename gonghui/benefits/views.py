"""JSON endpoints of the grab (pages come later, on the same services).

``grab`` is the flash-sale door: a signed-in member POSTs, gets one honest answer. ``ping`` is a
trivial JSON view the bench uses as its baseline on the same server.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from gonghui.audit.context import client_ip
from gonghui.benefits.models import Campaign, MerchantClerk, Redemption
from gonghui.benefits.selectors import PUBLIC_STATUSES, clerk_for_user
from gonghui.benefits.services import (
    GrabOutcome,
    ScanAuth,
    grab_rate_check,
    grab_ticket_read,
    scan_ticket_read,
    voucher_grab,
    voucher_redeem,
    yuan_to_fen,
)
from gonghui.benefits.templatetags.benefits_tags import fen_yuan
from gonghui.core.errors import ApplicationError
from gonghui.core.middleware import json_door
from gonghui.members.models import Member

# Every grab gets an answer in the body ("outcome"); 201 when a voucher was made, else 200. A
# refusal is not an error of the request: tens of thousands of "sold out" must not each become a
# 4xx warning line in the server log.
_STATUS = {GrabOutcome.WON: 201}

# Campaign rows change rarely during a grab except ``remaining``, which the grab never reads;
# cache them per process for a short while so a spike does not re-read the row per request.
_campaigns: dict[int, tuple[float, Campaign]] = {}
_CAMPAIGN_TTL = 2.0


def _campaign(pk: int) -> Campaign | None:
    import time

    now = time.monotonic()
    hit = _campaigns.get(pk)
    if hit and now - hit[0] < _CAMPAIGN_TTL:
        return hit[1]
    campaign = Campaign.objects.select_related("org", "eligible_org").filter(pk=pk).first()
    if campaign is not None:
        _campaigns[pk] = (now, campaign)
    return campaign


def _sign_in_first() -> JsonResponse:
    """A door's answer to a request with neither a ticket nor a sign-in."""
    return JsonResponse(
        {"outcome": "sign_in", "code": "sign_in", "message": _("Please sign in first.")},
        status=401,
    )


def _empty(request: HttpRequest) -> HttpResponse:
    return HttpResponse()


def page_language(header: str) -> str:
    """The language a page's script names in ``Accept-Language`` (its ``<html lang>``), if the
    platform has it; anything else (a browser's own list, a region variant, junk) is the default.
    Exact codes only: no parsing of quality lists on the hot path."""
    tag = header[:32].split(",", 1)[0].split(";", 1)[0].strip().lower()
    for code, _label in settings.LANGUAGES:
        if tag == code.lower():
            return code
    return settings.LANGUAGE_CODE


def _in_page_language(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A ticket grab or a ticket scan answers in the language of the page that sent it.

    The page's fetch carries no cookies (on purpose: no session to load per tap), so not the
    language cookie either, and the middleware answers in the default language; the script names
    the page's language in ``Accept-Language`` instead. A grab or scan with the session keeps the
    cookie's language (a browser's own Accept-Language never overrides the platform default)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not (request.headers.get("X-Grab-Ticket") or request.headers.get("X-Scan-Ticket")):
            return view(request, *args, **kwargs)
        language = page_language(request.headers.get("Accept-Language", ""))
        if language == translation.get_language():
            return view(request, *args, **kwargs)
        # The request names the answer's language for the middlewares: the JSON refusal made
        # for an ApplicationError that leaves the view (a bad ticket, too many taps) and the
        # Content-Language header come after this override has ended.
        request.LANGUAGE_CODE = language  # type: ignore[attr-defined]
        with translation.override(language):
            return view(request, *args, **kwargs)

    return wrapped


@json_door
@csrf_exempt  # CSRF only matters for cookie sessions, and then the token is checked below
@require_POST
@_in_page_language
def grab(request: HttpRequest, pk: int) -> JsonResponse:
    """Two ways in: a grab ticket in ``X-Grab-Ticket`` (the page's fetch, sent without cookies:
    no session, no member row, no database for a sold-out answer), or the member's session
    cookie with the usual CSRF token."""
    ticket = request.headers.get("X-Grab-Ticket", "")
    member: Member | int | None
    if ticket:
        member = grab_ticket_read(ticket=ticket, campaign_id=pk)
    else:
        member = getattr(request, "member", None)
        if member is not None:
            reason = CsrfViewMiddleware(_empty).process_view(request, _empty, (), {})
            if reason is not None:
                return JsonResponse({"outcome": "forbidden", "code": "csrf"}, status=403)
    if member is None:
        return _sign_in_first()
    member_id = member if isinstance(member, int) else member.pk
    grab_rate_check(member_id=member_id, address=client_ip(request) or "")
    campaign = _campaign(pk)
    if campaign is None or campaign.status not in PUBLIC_STATUSES:
        # A draft (its release time) or a cancelled campaign is no member's to learn of.
        return JsonResponse({"outcome": "not_found", "code": "not_found"}, status=404)
    result = voucher_grab(
        campaign=campaign,
        member=member,
        request_key=request.headers.get("Idempotency-Key", "")
        or request.POST.get("request_key", ""),
    )
    return JsonResponse(result.as_dict(), status=_STATUS.get(result.outcome, 200))


@json_door
@csrf_exempt  # CSRF only matters for cookie sessions, and then the token is checked below
@require_POST
@_in_page_language
def redeem(request: HttpRequest) -> JsonResponse:
    """A merchant clerk's scan: ``code``, ``store``, ``receipt_no``, ``amount_fen`` (form fields).

    Two ways in, as for the grab: the scan ticket in ``X-Scan-Ticket`` (the merchant page's
    fetch, sent without cookies; the statement itself checks that the clerk is still active),
    or a clerk's session cookie with the usual CSRF token. One success per code however many
    scans race."""
    ticket = request.headers.get("X-Scan-Ticket", "")
    clerk: MerchantClerk | ScanAuth
    if ticket:
        clerk = scan_ticket_read(ticket)
    else:
        if not request.user.is_authenticated:
            # As the grab door says it: a program or a page whose sign-in ran out is told to
            # sign in, not that the till does not exist.
            return _sign_in_first()
        clerk = clerk_for_user(request.user)
        reason = CsrfViewMiddleware(_empty).process_view(request, _empty, (), {})
        if reason is not None:
            return JsonResponse({"outcome": "forbidden", "code": "csrf"}, status=403)
    _require_form(request)
    redemption = voucher_redeem(
        code=_one(request, "code"),
        store=_int(_one(request, "store", None)),
        clerk=clerk,
        receipt_no=_one(request, "receipt_no"),
        amount_fen=_amount_fen(request),
    )
    return JsonResponse(
        {
            "outcome": "redeemed",
            # The same clerk's same sale again: the first redemption, nothing new (200).
            "repeated": redemption.repeated,
            "redemption": redemption.pk,
            "message": redemption_message(redemption),
            "url": reverse("merchant:redemption", args=[redemption.pk]),
        },
        status=200 if redemption.repeated else 201,
    )


def redemption_message(redemption: Redemption) -> str:
    """The clerk's answer to a scan that went through: which voucher it was, what to collect for
    the sale (and how much of it on the union card), and the sale it was recorded against; for
    a repeated scan, first that it is the earlier one. Reads only what ``voucher_redeem``
    returned (no query)."""
    campaign = redemption.voucher.campaign
    # The voucher pays its face value; the customer pays what the sale comes to beyond it, and
    # the member's share of the voucher, which must go on the union card.
    beyond_fen = max(redemption.amount_fen - campaign.face_value_fen, 0)
    parts = {
        "campaign": campaign.name,
        "face": fen_yuan(campaign.face_value_fen),
        "share": fen_yuan(campaign.member_share_fen),
        "due": fen_yuan(beyond_fen + campaign.member_share_fen),
        "receipt": redemption.receipt_no,
        "amount": fen_yuan(redemption.amount_fen),
    }
    if campaign.member_share_fen and beyond_fen:
        text = _(
            "Redeemed: %(campaign)s, ¥%(face)s voucher. Collect ¥%(due)s for this sale, "
            "¥%(share)s of it on the member's union card. Receipt %(receipt)s, purchase "
            "¥%(amount)s."
        )
    elif campaign.member_share_fen:
        text = _(
            "Redeemed: %(campaign)s, ¥%(face)s voucher. Collect ¥%(share)s from the member's "
            "union card. Receipt %(receipt)s, purchase ¥%(amount)s."
        )
    elif beyond_fen:
        text = _(
            "Redeemed: %(campaign)s, ¥%(face)s voucher. Collect ¥%(due)s for this sale. "
            "Receipt %(receipt)s, purchase ¥%(amount)s."
        )
    else:
        text = _(
            "Redeemed: %(campaign)s, ¥%(face)s voucher. Receipt %(receipt)s, purchase ¥%(amount)s."
        )
    if redemption.repeated:
        # Said first, so the clerk does not collect twice or suspect the customer.
        again = _(
            "Your earlier press at %(t)s went through; its answer was lost on the way. "
            "Nothing more was redeemed."
        ) % {"t": timezone.localtime(redemption.at).strftime("%H:%M")}
        return f"{again} {text % parts}"
    return text % parts


_FORM_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


class FormExpected(ApplicationError):
    status = 415


def _require_form(request: HttpRequest) -> None:
    """The scan's fields come as a form. A JSON body leaves ``request.POST`` empty, and its
    answer was "enter a whole number" about the store: say what the door reads instead."""
    if request.content_type not in _FORM_TYPES and request.body:
        raise FormExpected(
            _("Send the scan as form fields (code, store, receipt_no, amount)."),
            code="form_expected",
        )


def _one(request: HttpRequest, name: str, default: str | None = "") -> str | None:
    """A scan's form field, sent once. Django reads the last of a repeated field, so
    ``amount=1&amount=200`` was a sale of ¥200 and ``code=<a>&code=<b>`` redeemed <b>: a scan
    is money, and a request that says two things is refused rather than guessed at."""
    values = request.POST.getlist(name)
    if len(values) > 1:
        raise ApplicationError(
            _("This field was sent more than once; send it once."),
            code=f"{name}_repeated",
            field=name,
        )
    return values[0] if values else default


def _amount_fen(request: HttpRequest) -> int:
    """``amount`` in yuan as typed on the merchant page ("128.5"), or ``amount_fen``; not both
    (which of two differing amounts would be the sale?)."""
    if "amount" in request.POST and "amount_fen" in request.POST:
        raise ApplicationError(
            _("Send the amount once: in yuan (amount) or in fen (amount_fen), not both."),
            code="amount_repeated",
            field="amount",
        )
    if "amount" in request.POST:
        return yuan_to_fen(_one(request, "amount"), field="amount")
    return _int(_one(request, "amount_fen", None), field="amount_fen")


def _int(raw: object, *, field: str = "store") -> int:
    try:
        return int(str(raw))
    except (TypeError, ValueError):
        raise ApplicationError(
            _("Enter a whole number."), code=f"{field}_type", field=field
        ) from None


@require_GET
def ping(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})
