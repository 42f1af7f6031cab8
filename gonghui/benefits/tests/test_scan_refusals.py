"""A refused scan gets the same answer whichever way its facts are read.

On PostgreSQL a scan the shared statement did not take is explained from one more prepared
statement (``redeem_sql.facts``); the ORM path reads the same facts with five queries (and is the
only path on SQLite). Both feed ``_scan_refusal``. Each case below is refused both ways, with the
same error, code, field and words, and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from gonghui.audit.models import AuditEvent
from gonghui.benefits.models import (
    Campaign,
    Merchant,
    MerchantClerk,
    Redemption,
    Store,
    Voucher,
    VoucherStatus,
)
from gonghui.benefits.services import (
    ScanAuth,
    _voucher_redeem_orm,
    clean_voucher_code,
    scan_ticket_issue,
    scan_ticket_read,
    voucher_grab,
    voucher_redeem,
)
from gonghui.core.errors import ApplicationError


@pytest.fixture
def voucher(make_campaign, carded) -> Voucher:
    v = voucher_grab(campaign=make_campaign(min_purchase_fen=5_000), member=carded()).voucher
    assert v is not None
    return v


def _campaign(v: Voucher, **fields: Any) -> None:
    Campaign.objects.filter(pk=v.campaign_id).update(**fields)


def _used(shop: Any, v: Voucher) -> None:
    voucher_redeem(
        code=v.code, store=shop.store, clerk=shop.clerk, receipt_no="R-1", amount_fen=9_000
    )


def _window_moved(v: Voucher, *, ended: bool) -> None:
    now = timezone.now()
    if ended:
        _campaign(
            v, redeem_from=now - dt.timedelta(days=2), redeem_until=now - dt.timedelta(days=1)
        )
    else:
        _campaign(
            v, redeem_from=now + dt.timedelta(days=1), redeem_until=now + dt.timedelta(days=2)
        )


# Each case: what to change, then the scan's (store, clerk, code, amount) as the view passes them.
CASES: dict[
    str, tuple[Callable[[Any, Voucher], None], Callable[[Any, Voucher], dict[str, Any]]]
] = {
    "password_changed": (
        lambda shop, v: None,
        lambda shop, v: {"clerk": ScanAuth(shop.clerk.pk, "0" * 16), "store": shop.store.pk},
    ),
    "no_such_clerk": (
        lambda shop, v: None,
        lambda shop, v: {"clerk": ScanAuth(10**12, "0" * 16), "store": shop.store.pk},
    ),
    "another_merchants_store_id": (
        lambda shop, v: None,
        lambda shop, v: {"store": shop.rival_store.pk},
    ),
    "another_merchants_store_object": (
        lambda shop, v: None,
        lambda shop, v: {"store": shop.rival_store, "clerk": shop.clerk},
    ),
    "store_closed": (
        lambda shop, v: Store.objects.filter(pk=shop.store.pk).update(is_active=False),
        lambda shop, v: {},
    ),
    "merchant_off": (
        lambda shop, v: Merchant.objects.filter(pk=shop.merchant.pk).update(is_active=False),
        lambda shop, v: {},
    ),
    "clerk_off": (
        lambda shop, v: MerchantClerk.objects.filter(pk=shop.clerk.pk).update(is_active=False),
        lambda shop, v: {},
    ),
    "unknown_code": (lambda shop, v: None, lambda shop, v: {"code": "100000000000009"}),
    "rivals_view_of_the_code": (
        lambda shop, v: None,
        lambda shop, v: {"clerk": _auth(shop.rival_clerk), "store": shop.rival_store.pk},
    ),
    "store_not_in_campaign": (lambda shop, v: None, lambda shop, v: {"store": shop.other_store.pk}),
    "already_used": (_used, lambda shop, v: {}),
    "already_used_and_below_minimum": (_used, lambda shop, v: {"amount": 1}),
    "expired_by_the_clock": (lambda shop, v: _window_moved(v, ended=True), lambda shop, v: {}),
    "expired_status": (
        lambda shop, v: Voucher.objects.filter(pk=v.pk).update(status=VoucherStatus.EXPIRED),
        lambda shop, v: {},
    ),
    "cancelled_voucher": (
        lambda shop, v: Voucher.objects.filter(pk=v.pk).update(status=VoucherStatus.CANCELLED),
        lambda shop, v: {},
    ),
    "campaign_closed": (lambda shop, v: _campaign(v, status="closed"), lambda shop, v: {}),
    "not_yet": (lambda shop, v: _window_moved(v, ended=False), lambda shop, v: {}),
    "below_minimum": (lambda shop, v: None, lambda shop, v: {"amount": 4_999}),
}


# What each case is refused as (the exception's code; the three refusals without a code by class).
EXPECTED = {
    "password_changed": "ticket_invalid",
    "no_such_clerk": "ticket_invalid",
    "another_merchants_store_id": "NotFound",
    "another_merchants_store_object": "PermissionDenied",
    "store_closed": "PermissionDenied",
    "merchant_off": "PermissionDenied",
    "clerk_off": "PermissionDenied",
    "unknown_code": "voucher_unknown",
    "rivals_view_of_the_code": "voucher_unknown",
    "store_not_in_campaign": "wrong_store",
    "already_used": "already_used",
    "already_used_and_below_minimum": "already_used",
    "expired_by_the_clock": "expired",
    "expired_status": "expired",
    "cancelled_voucher": "voucher_void",
    "campaign_closed": "voucher_void",
    "not_yet": "not_yet",
    "below_minimum": "purchase_below_minimum",
}


def _auth(clerk: MerchantClerk) -> ScanAuth:
    return scan_ticket_read(scan_ticket_issue(clerk=clerk))


def _answer(call: Callable[..., Any], scan: dict[str, Any]) -> tuple[Any, ...]:
    with pytest.raises(Exception) as exc, translation.override("zh-hans"):
        call(**scan)
    error = exc.value
    return (
        type(error).__name__,
        getattr(error, "code", None),
        getattr(error, "field", None),
        str(getattr(error, "message", error)),
    )


@pytest.mark.parametrize("case", list(CASES))
def test_each_refusal_is_the_same_both_ways_and_changes_nothing(shop, voucher, case):
    change, scan_of = CASES[case]
    change(shop, voucher)
    given = {
        "code": voucher.code,
        "store": shop.store.pk,
        "clerk": _auth(shop.clerk),
        "amount": 9_000,
        **scan_of(shop, voucher),
    }
    redemptions, audit = Redemption.objects.count(), AuditEvent.objects.count()
    before = Voucher.objects.filter(pk=voucher.pk).values().get()
    with CaptureQueriesContext(connection) as queries:
        through_service = _answer(
            lambda **s: voucher_redeem(
                code=s["code"],
                store=s["store"],
                clerk=s["clerk"],
                receipt_no="R-2",
                amount_fen=s["amount"],
            ),
            given,
        )
    if connection.vendor == "postgresql":
        # Both statements are prepared, outside the ORM: a refused scan makes no ORM query (the
        # ORM path would make five). Inside the test's transaction each runs in a savepoint.
        orm = [q["sql"] for q in queries.captured_queries]
        assert [sql for sql in orm if "SAVEPOINT" not in sql] == []
    through_orm = _answer(
        lambda **s: _voucher_redeem_orm(
            code=clean_voucher_code(s["code"]),
            store=s["store"],
            clerk=s["clerk"],
            receipt="R-2",
            amount=s["amount"],
            now=timezone.now(),
        ),
        given,
    )
    assert through_service == through_orm
    assert EXPECTED[case] in {through_service[0], through_service[1]}
    assert Voucher.objects.filter(pk=voucher.pk).values().get() == before
    assert (Redemption.objects.count(), AuditEvent.objects.count()) == (redemptions, audit)


def test_a_used_voucher_names_the_first_sale(shop, voucher):
    _used(shop, voucher)
    with pytest.raises(ApplicationError) as exc, translation.override("zh-hans"):
        voucher_redeem(
            code=voucher.code,
            store=shop.store,
            clerk=_auth(shop.clerk),
            receipt_no="R-2",
            amount_fen=9_000,
        )
    assert exc.value.code == "already_used"
    assert "图书大厦" in str(exc.value.message) and "R-1" in str(exc.value.message)


def test_a_repeated_press_is_found_both_ways(shop, voucher):
    """The same clerk's same sale again (its answer lost): both ways hand back the first
    redemption, marked as a repeat, and write nothing."""
    _used(shop, voucher)
    first = Redemption.objects.get(voucher=voucher)
    audit = AuditEvent.objects.count()
    through_service = voucher_redeem(
        code=voucher.code,
        store=shop.store.pk,
        clerk=_auth(shop.clerk),
        receipt_no="R-1",
        amount_fen=9_000,
    )
    through_orm = _voucher_redeem_orm(
        code=voucher.code,
        store=shop.store.pk,
        clerk=_auth(shop.clerk),
        receipt="R-1",
        amount=9_000,
        now=timezone.now(),
    )
    for answer in (through_service, through_orm):
        assert answer.pk == first.pk and answer.repeated
        assert answer.voucher.campaign.name == voucher.campaign.name
    assert Redemption.objects.count() == 1 and AuditEvent.objects.count() == audit
