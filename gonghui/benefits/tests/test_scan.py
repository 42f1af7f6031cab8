"""The scan: tickets, the JSON door the merchant page uses, and the PostgreSQL statement.

On PostgreSQL a valid scan is one prepared statement (``redeem_sql``) and everything else takes
the ORM path; on SQLite every scan takes the ORM path. These tests run on both, and the
comparison test proves, on PostgreSQL, that both paths write the same rows.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.conf import settings
from django.core import signing
from django.db import connection
from django.db.models import Q
from django.test import Client, override_settings
from django.utils import translation
from django.utils.http import urlencode
from django.utils.translation import gettext

from gonghui.audit.models import AuditEvent
from gonghui.benefits import redeem_sql
from gonghui.benefits.models import (
    Merchant,
    MerchantClerk,
    Redemption,
    Store,
    Voucher,
    VoucherStatus,
    VoucherStatusChange,
)
from gonghui.benefits.services import (
    SCAN_TICKET_SALT,
    ScanAuth,
    _voucher_redeem_orm,
    new_voucher_code,
    password_fingerprint,
    scan_ticket_issue,
    scan_ticket_read,
    subsidy_accounts,
    voucher_grab,
    voucher_redeem,
)
from gonghui.core.errors import ApplicationError, NotFound, PermissionDenied
from gonghui.ledger.models import Account, Entry, Transaction
from gonghui.ledger.selectors import account_balance_fen

SCAN = "/benefits/redeem"
ON_POSTGRES = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the scan statement exists on PostgreSQL only"
)


@pytest.fixture
def voucher(make_campaign, carded) -> Voucher:
    return voucher_grab(campaign=make_campaign(), member=carded()).voucher


def scan(voucher: Voucher, at: Store, **fields: Any) -> dict[str, Any]:
    return {
        "code": voucher.code,
        "store": at.pk,
        "receipt_no": "XH-0424-001",
        "amount": "126.80",
        **fields,
    }


def ticket_client(clerk: MerchantClerk, ticket: str | None = None) -> Client:
    """What the merchant page's fetch is: no cookies at all, the ticket in a header."""
    return Client(
        HTTP_X_SCAN_TICKET=ticket if ticket is not None else scan_ticket_issue(clerk=clerk),
        HTTP_ACCEPT="application/json",
    )


def unchanged(voucher: Voucher) -> None:
    voucher.refresh_from_db()
    assert voucher.status == VoucherStatus.OPEN and voucher.used_at is None
    assert not Redemption.objects.filter(voucher=voucher).exists()
    assert not Transaction.objects.filter(reference__startswith="benefits.redemption:").exists()


# ---------------------------------------------------------------------------------------------
# tickets


def test_ticket_round_trip(shop):
    auth = scan_ticket_read(scan_ticket_issue(clerk=shop.clerk))
    assert auth == ScanAuth(shop.clerk.pk, password_fingerprint(shop.clerk.user.password))


@pytest.mark.parametrize(
    "ticket",
    [
        "",
        "garbage",
        "x" * 5000,
        "<script>alert(1)</script>",
        "１２３:abc",
        signing.dumps([1, "f"], salt="another-salt"),
        signing.dumps(["1", "f"], salt=SCAN_TICKET_SALT),
        signing.dumps([1], salt=SCAN_TICKET_SALT),
        signing.dumps({"clerk": 1}, salt=SCAN_TICKET_SALT),
    ],
)
def test_bad_tickets_are_refused(ticket):
    with pytest.raises(ApplicationError) as exc:
        scan_ticket_read(ticket)
    assert exc.value.code == "ticket_invalid" and exc.value.status == 401


def test_an_old_ticket_expires(shop, monkeypatch):
    ticket = scan_ticket_issue(clerk=shop.clerk)
    monkeypatch.setattr("gonghui.benefits.services.SCAN_TICKET_MAX_AGE", -1)
    with pytest.raises(ApplicationError) as exc:
        scan_ticket_read(ticket)
    assert exc.value.code == "ticket_invalid"


# ---------------------------------------------------------------------------------------------
# the JSON door with a ticket


def test_ticket_scan_without_cookies_redeems(shop, voucher):
    client = ticket_client(shop.clerk)
    r = client.post(SCAN, scan(voucher, shop.store))
    assert r.status_code == 201, r.content
    body = r.json()
    redemption = Redemption.objects.get(voucher=voucher)
    assert body["outcome"] == "redeemed" and body["redemption"] == redemption.pk
    assert body["url"] == f"/merchant/redemptions/{redemption.pk}/"
    assert "XH-0424-001" in body["message"] and "¥126.80" in body["message"]
    # Which voucher it was, and what the member pays with the union card (both paths: the
    # statement on PostgreSQL, the ORM on SQLite).
    assert body["message"].startswith("核销成功：四月芳菲")
    assert "面值 ¥100.00" in body["message"]
    # ¥126.80 with a ¥100 voucher: ¥26.80 beyond it, plus the member's ¥10 on the union card
    assert "本单应收 ¥36.80，其中 ¥10.00 须用工会会员卡支付" in body["message"]
    assert (redemption.amount_fen, redemption.subsidy_fen, redemption.clerk) == (
        12680,
        6800,
        shop.clerk,
    )
    assert "sessionid" not in r.cookies and "csrftoken" not in r.cookies
    again = client.post(SCAN, scan(voucher, shop.store, receipt_no="XH-0424-002"))
    assert again.status_code == 400 and again.json()["code"] == "already_used"
    assert Redemption.objects.filter(voucher=voucher).count() == 1


@pytest.mark.parametrize(
    ("fields", "status", "code", "field"),
    [
        ({"code": ""}, 400, "code_empty", "code"),
        ({"code": "<img src=x onerror=alert(1)>"}, 400, "code_invalid", "code"),
        ({"code": "Z" * 22}, 400, "voucher_unknown", "code"),
        ({"code": "123456789012347"}, 400, "voucher_unknown", "code"),
        ({"code": "12345 67890 1234"}, 400, "code_length", "code"),
        ({"code": "1" * 400}, 400, "code_length", "code"),
        ({"code": "123456789012348"}, 400, "code_checksum", "code"),
        ({"receipt_no": ""}, 400, "receipt_empty", "receipt_no"),
        ({"receipt_no": "小票'; DROP TABLE x;--"}, 400, "receipt_invalid", "receipt_no"),
        ({"amount": ""}, 400, "amount_format", "amount"),
        ({"amount": "12.345"}, 400, "amount_format", "amount"),
        ({"amount": "-5"}, 400, "amount_format", "amount"),
        ({"amount": "9" * 40}, 400, "amount_range", "amount"),
        ({"amount": "0"}, 400, "amount_fen_range", "amount_fen"),
        ({"store": ""}, 400, "store_type", "store"),
        ({"store": "９９"}, 404, "not_found", None),
        ({"store": "99999999"}, 404, "not_found", None),
        ({"store": "9" * 30}, 404, "not_found", None),
        ({"store": "-1"}, 404, "not_found", None),
    ],
)
def test_ticket_scan_bad_input_says_why_and_changes_nothing(
    shop, voucher, fields, status, code, field
):
    r = ticket_client(shop.clerk).post(SCAN, scan(voucher, shop.store, **fields))
    assert r.status_code == status, r.content
    body = r.json()
    assert body["code"] == code and body.get("field") == field
    assert body["message"] and "<img" not in r.content.decode()
    unchanged(voucher)


def test_full_width_amount_and_code_through_the_door(shop, voucher):
    full = voucher.code.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})
    r = ticket_client(shop.clerk).post(
        SCAN, scan(voucher, shop.store, code=f" {full} ", amount="１２６.８０元")
    )
    assert r.status_code == 201, r.content
    assert Redemption.objects.get(voucher=voucher).amount_fen == 12680


def test_amount_in_fen_still_accepted(shop, voucher):
    data = scan(voucher, shop.store)
    del data["amount"]
    r = ticket_client(shop.clerk).post(SCAN, {**data, "amount_fen": "12680"})
    assert r.status_code == 201 and Redemption.objects.get().amount_fen == 12680


def test_an_amount_in_yuan_and_in_fen_at_once_is_refused(shop, voucher):
    """Which one is the sale? ``amount`` silently won over a different ``amount_fen``."""
    r = ticket_client(shop.clerk).post(SCAN, scan(voucher, shop.store, amount_fen="20000"))
    assert r.status_code == 400, r.content
    assert (r.json()["code"], r.json()["field"]) == ("amount_repeated", "amount")
    unchanged(voucher)


def test_the_scan_door_answers_json_to_any_program(shop, voucher):
    """curl sends ``Accept: */*``, a program may send none: a refusal was a Chinese HTML page,
    and a wrong method other than GET an empty body."""
    for accept in ("*/*", None):
        headers = {"HTTP_ACCEPT": accept} if accept else {}
        client = Client(HTTP_X_SCAN_TICKET=scan_ticket_issue(clerk=shop.clerk), **headers)
        r = client.post(SCAN, scan(voucher, shop.store, amount="1e3"))
        assert r.status_code == 400 and r.json()["code"] == "amount_format", accept
        r = Client(HTTP_X_SCAN_TICKET="forged", **headers).post(SCAN, scan(voucher, shop.store))
        assert r.status_code == 401 and r.json()["code"] == "ticket_invalid", accept
        for method in ("get", "put", "delete"):
            r = getattr(client, method)(SCAN)
            assert r.status_code == 405 and r["Allow"] == "POST", (accept, method)
            assert r.json()["code"] == "method_not_allowed" and r.json()["message"]
    unchanged(voucher)


@pytest.mark.parametrize("field", ["code", "store", "receipt_no", "amount", "amount_fen"])
def test_a_field_sent_twice_is_refused_not_guessed(shop, voucher, make_campaign, carded, field):
    """Django reads the last of a repeated field: ``amount=1&amount=200`` redeemed at ¥200, and
    ``code=<a>&code=<b>`` redeemed whichever came last. A scan is money: say so instead."""
    other = voucher_grab(campaign=voucher.campaign, member=carded()).voucher
    second = {
        "code": other.code,
        "store": str(shop.other_store.pk),
        "receipt_no": "XH-0424-999",
        "amount": "200",
        "amount_fen": "20000",
    }
    first = scan(voucher, shop.store)
    if field == "amount_fen":
        first = {**{k: v for k, v in first.items() if k != "amount"}, "amount_fen": "12680"}
    pairs = [(k, str(v)) for k, v in first.items()] + [(field, second[field])]
    r = ticket_client(shop.clerk).post(
        SCAN, urlencode(pairs), content_type="application/x-www-form-urlencoded"
    )
    assert r.status_code == 400, r.content
    body = r.json()
    assert (body["code"], body["field"]) == (f"{field}_repeated", field)
    english = ticket_client(shop.clerk)  # the page names its language (no cookies are sent)
    r = english.post(
        SCAN,
        urlencode(pairs),
        content_type="application/x-www-form-urlencoded",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert r.json()["message"] == "This field was sent more than once; send it once."
    unchanged(voucher)
    other.refresh_from_db()
    assert other.status == VoucherStatus.OPEN


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000, DATA_UPLOAD_MAX_NUMBER_FIELDS=10)
def test_a_scan_too_large_or_with_too_many_fields_answers_json(shop, voucher):
    client = ticket_client(shop.clerk)
    client.raise_request_exception = False
    r = client.post(SCAN, scan(voucher, shop.store, receipt_no="R" * 5000))
    assert r.status_code == 413 and r.json()["code"] == "too_large", r.content[:300]
    many = {**scan(voucher, shop.store), **{f"f{i}": "1" for i in range(20)}}
    r = client.post(SCAN, many)
    assert r.status_code == 400 and r.json()["code"] == "too_many_fields", r.content[:300]
    unchanged(voucher)


def test_a_json_body_is_told_to_send_form_fields(shop, voucher):
    """The door reads form fields; a JSON body used to be answered "enter a whole number" about
    the store, which sends a program's author looking in the wrong place."""
    r = ticket_client(shop.clerk).post(
        SCAN, json.dumps(scan(voucher, shop.store)), content_type="application/json"
    )
    assert r.status_code == 415 and r.json()["code"] == "form_expected", r.content
    unchanged(voucher)


def test_a_bad_ticket_is_401_and_changes_nothing(shop, voucher):
    for ticket in ("forged", signing.dumps([shop.clerk.pk, "0" * 16], salt=SCAN_TICKET_SALT)):
        r = ticket_client(shop.clerk, ticket).post(SCAN, scan(voucher, shop.store))
        assert r.status_code == 401 and r.json()["code"] == "ticket_invalid"
    unchanged(voucher)


def test_no_ticket_and_no_sign_in_is_told_to_sign_in(shop, voucher):
    """Without a ticket or a session the door said "not found" (404), as if there were no till;
    the grab door says "sign in" (401), and so does this one now."""
    r = Client(HTTP_ACCEPT="*/*").post(SCAN, scan(voucher, shop.store))
    assert r.status_code == 401 and r.json()["code"] == "sign_in"
    unchanged(voucher)


def test_password_change_voids_tickets(shop, voucher):
    client = ticket_client(shop.clerk)
    user = shop.clerk.user
    user.set_password("A-new-password-2026")
    user.save()
    r = client.post(SCAN, scan(voucher, shop.store))
    assert r.status_code == 401 and r.json()["code"] == "ticket_invalid"
    unchanged(voucher)
    shop.clerk.refresh_from_db()
    assert ticket_client(shop.clerk).post(SCAN, scan(voucher, shop.store)).status_code == 201


@pytest.mark.parametrize("who", ["clerk", "user", "merchant", "store"])
def test_deactivation_stops_a_live_ticket(shop, voucher, who):
    client = ticket_client(shop.clerk)  # issued while everything was active
    if who == "clerk":
        MerchantClerk.objects.filter(pk=shop.clerk.pk).update(is_active=False)
    elif who == "user":
        type(shop.clerk.user).objects.filter(pk=shop.clerk.user_id).update(is_active=False)
    elif who == "merchant":
        Merchant.objects.filter(pk=shop.merchant.pk).update(is_active=False)
    else:
        Store.objects.filter(pk=shop.store.pk).update(is_active=False)
    # the ticket door sends no cookies: the page names its language
    r = client.post(SCAN, scan(voucher, shop.store), HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 403, r.content
    # Said what happened, not "you do not have permission to do this" (which a clerk reads as
    # a mistake of their own at the till).
    assert "has been switched off" in r.json()["message"], r.json()
    unchanged(voucher)


def test_rival_clerk_ticket_learns_nothing(shop, voucher):
    client = ticket_client(shop.rival_clerk)
    r = client.post(SCAN, scan(voucher, shop.store))
    assert r.status_code == 404  # not the rival's store
    r = client.post(SCAN, scan(voucher, shop.rival_store))
    assert r.status_code == 400 and r.json()["code"] == "voucher_unknown"
    unchanged(voucher)


@override_settings(GONGHUI_SCAN_UNKNOWN_PER_CLERK=3)
def test_a_clerk_guessing_codes_is_paused_before_a_guess_can_land(shop, voucher):
    """Codes that pass their check digit but are no voucher of the merchant: a few are a
    clerk's slip (another merchant's voucher), many are someone guessing. Past the limit the
    clerk's scans stop, the real code included (a guess that lands would be paid to the
    store), on the page and through the door; the merchant's other clerks scan on."""
    client = ticket_client(shop.clerk)
    for _i in range(3):
        r = client.post(SCAN, scan(voucher, shop.store, code=new_voucher_code()))
        assert r.status_code == 400 and r.json()["code"] == "voucher_unknown"
    r = client.post(SCAN, scan(voucher, shop.store, code=new_voucher_code()))
    assert r.status_code == 429 and r.json()["code"] == "scan_paused", r.content
    assert int(r["Retry-After"]) > 0
    r = client.post(SCAN, scan(voucher, shop.store))
    assert r.status_code == 429 and r.json()["code"] == "scan_paused"
    with pytest.raises(ApplicationError) as exc:
        voucher_redeem(
            code=voucher.code,
            store=shop.store,
            clerk=shop.clerk,
            receipt_no="XH-0424-001",
            amount_fen=12680,
        )
    assert exc.value.code == "scan_paused"
    unchanged(voucher)
    # A typo the check digit catches is no guess and does not count.
    other = ticket_client(shop.supervisor)
    for _i in range(5):
        r = other.post(SCAN, scan(voucher, shop.store, code="123456789012345"))
        assert r.status_code == 400 and r.json()["code"] == "code_checksum"
    assert other.post(SCAN, scan(voucher, shop.store)).status_code == 201


def test_wrong_store_and_window_through_the_door(shop, voucher):
    client = ticket_client(shop.clerk)
    r = client.post(SCAN, scan(voucher, shop.other_store))
    assert r.status_code == 400 and r.json()["code"] == "wrong_store"
    campaign = voucher.campaign
    past = campaign.redeem_from - dt.timedelta(seconds=1)
    type(campaign).objects.filter(pk=campaign.pk).update(
        release_at=past - dt.timedelta(days=2),
        redeem_from=past - dt.timedelta(days=1),
        redeem_until=past,
    )
    r = client.post(SCAN, scan(voucher, shop.store))
    assert r.status_code == 400 and r.json()["code"] == "expired"
    unchanged(voucher)


def test_cookie_door_needs_the_csrf_token(shop, voucher):
    client = Client(enforce_csrf_checks=True, HTTP_ACCEPT="application/json")
    client.force_login(shop.clerk.user, backend="django.contrib.auth.backends.ModelBackend")
    r = client.post(SCAN, scan(voucher, shop.store))
    assert r.status_code == 403 and r.json()["code"] == "csrf"
    unchanged(voucher)
    client.get("/merchant/")  # sets the CSRF cookie, as the page does
    token = client.cookies["csrftoken"].value
    r = client.post(SCAN, scan(voucher, shop.store), HTTP_X_CSRFTOKEN=token)
    assert r.status_code == 201, r.content


def test_the_merchant_page_hands_out_a_working_ticket(shop, voucher, login):
    page = login(shop.clerk.user).get("/merchant/")
    html = page.content.decode()
    start = html.index('data-ticket="') + len('data-ticket="')
    ticket = html[start : html.index('"', start)]
    assert scan_ticket_read(ticket).clerk_id == shop.clerk.pk
    assert 'data-scan-url="/benefits/redeem"' in html
    r = ticket_client(shop.clerk, ticket).post(SCAN, scan(voucher, shop.store))
    assert r.status_code == 201


def test_a_ticket_scan_answers_in_the_pages_language(shop, voucher, login):
    """The page's fetch sends no cookies, so not the language cookie: a clerk on an English page
    got every answer in Chinese. The page names its language; the answer follows it."""
    client = login(shop.clerk.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = client.get("/merchant/").content.decode()
    assert '<html lang="en">' in html
    assert '"Accept-Language":document.documentElement.lang' in html
    door = ticket_client(shop.clerk)
    r = door.post(SCAN, scan(voucher, shop.other_store), HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 400 and r.json()["code"] == "wrong_store"
    assert r.json()["message"] == (
        f"This voucher cannot be used at this store. It can be used at: {shop.store.name}."
    )
    assert r["Content-Language"] == "en"
    r = door.post(SCAN, scan(voucher, shop.store), HTTP_ACCEPT_LANGUAGE="en")
    assert r.status_code == 201, r.content
    assert r.json()["message"].startswith("Redeemed: ")
    assert r["Content-Language"] == "en"
    # Without the page naming its language (or naming one the platform lacks): the default.
    r = door.post(SCAN, scan(voucher, shop.store, receipt_no="XH-2"), HTTP_ACCEPT_LANGUAGE="fr")
    assert r.json()["code"] == "already_used" and r["Content-Language"] == "zh-hans"
    # A bad ticket, refused by the middleware after the view, speaks the page's language too.
    r = ticket_client(shop.clerk, "x").post(
        SCAN, scan(voucher, shop.store), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert r.status_code == 401 and r["Content-Language"] == "en"


# ---------------------------------------------------------------------------------------------
# the service with ids (what the ticket door passes)


def test_service_with_ids_checks_the_parties(shop, voucher):
    auth = scan_ticket_read(scan_ticket_issue(clerk=shop.clerk))
    args = {"code": voucher.code, "receipt_no": "R1", "amount_fen": 100}
    with pytest.raises(NotFound):
        voucher_redeem(store=shop.rival_store.pk, clerk=auth, **args)
    with pytest.raises(ApplicationError) as exc:
        voucher_redeem(store=shop.store.pk, clerk=ScanAuth(10**9, auth.fingerprint), **args)
    assert exc.value.code == "ticket_invalid"
    MerchantClerk.objects.filter(pk=shop.clerk.pk).update(is_active=False)
    with pytest.raises(PermissionDenied):
        voucher_redeem(store=shop.store.pk, clerk=auth, **args)
    unchanged(voucher)


@pytest.mark.parametrize("accounts_first", [False, True])
def test_the_scan_is_recorded_at_its_own_moment(shop, voucher, accounts_first):
    # The service's ``now`` is the redemption's time, the voucher's and its status row's, on
    # either path (on PostgreSQL: with the accounts made first, the statement path).
    if accounts_first:
        subsidy_accounts(voucher.campaign)
    moment = voucher.campaign.redeem_from + dt.timedelta(minutes=7, microseconds=123)
    r = voucher_redeem(
        code=voucher.code,
        store=shop.store.pk,
        clerk=scan_ticket_read(scan_ticket_issue(clerk=shop.clerk)),
        receipt_no="R1",
        amount_fen=100,
        now=moment,
    )
    voucher.refresh_from_db()
    change = VoucherStatusChange.objects.filter(voucher=voucher).latest("id")
    assert Redemption.objects.get(pk=r.pk).at == r.at == moment
    assert voucher.used_at == voucher.status_changed_at == change.at == moment


def test_a_missing_ledger_account_is_made_and_the_scan_still_succeeds(shop, voucher):
    # Accounts are made on first use; a campaign whose accounts do not exist yet must not fail
    # (on PostgreSQL the statement declines and the ORM path makes them).
    assert not Account.objects.filter(org=voucher.campaign.org).exists()
    r = voucher_redeem(
        code=voucher.code, store=shop.store, clerk=shop.clerk, receipt_no="R1", amount_fen=100
    )
    payable = Account.objects.get(code=f"2202.M{shop.merchant.pk}")
    assert account_balance_fen(account=payable) == -6800
    assert Redemption.objects.get().pk == r.pk


# ---------------------------------------------------------------------------------------------
# the two paths write the same rows (PostgreSQL)


def _rows(redemption_id: int) -> dict[str, Any]:
    r = Redemption.objects.get(pk=redemption_id)
    v = Voucher.objects.get(pk=r.voucher_id)
    txn = Transaction.objects.get(reference=f"benefits.redemption:{r.pk}")
    entries = [
        (e.account.code, e.amount_fen) for e in Entry.objects.filter(transaction=txn).order_by("id")
    ]
    # The lines about this redemption or its ledger transaction, each matched on type AND id:
    # ids of different tables coincide (another redemption may have this transaction's id).
    audits = [
        (a.actor_id, a.actor_label, a.action, a.object_type, a.object_repr, a.org_id, a.changes)
        for a in AuditEvent.objects.filter(
            Q(object_type="benefits.redemption", object_id=str(r.pk))
            | Q(object_type="ledger.transaction", object_id=str(txn.pk))
        ).order_by("id")
    ]
    changes = list(
        VoucherStatusChange.objects.filter(voucher=v)
        .order_by("id")
        .values_list("old", "new", "actor_label", "reason_code", "reason")
    )
    changed_at = VoucherStatusChange.objects.filter(voucher=v).latest("id").at
    return {
        "voucher": (v.status, v.used_at is not None, v.status_changed_at is not None),
        # One instant: the scan's moment is the redemption's, the voucher's and its status row's.
        "one_moment": r.at == v.used_at == v.status_changed_at == changed_at,
        "redemption": (r.store_id, r.clerk_id, r.receipt_no, r.amount_fen, r.subsidy_fen),
        "reversal": (r.reversed_at, r.reversed_by_label, r.reverse_reason),
        "transaction": (txn.org_id, txn.memo, txn.created_by_id, txn.actor_label),
        "entries": entries,
        "audit": [
            (*a[:-1], {k: (v if k != "ledger_transaction" else "txn") for k, v in a[-1].items()})
            for a in audits
        ],
        "audit_names_txn": [a[-1].get("ledger_transaction") == txn.pk for a in audits],
        "status_changes": changes,
    }


def _ids_coincide() -> None:
    """Number the next ledger transactions one ahead of the next redemptions, so that a
    redemption's transaction has the id of the redemption after it. A full test run gets there
    by chance (how far the two sequences are apart depends on what ran before, and on timing in
    the threaded tests); the comparisons below must hold there too, so they always run there."""
    redemptions, transactions = Redemption._meta.db_table, Transaction._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), n),"
            "       setval(pg_get_serial_sequence(%s, 'id'), n + 1)"
            "  FROM (SELECT greatest(nextval(pg_get_serial_sequence(%s, 'id')),"
            "                        nextval(pg_get_serial_sequence(%s, 'id'))) AS n) AS x",
            [redemptions, transactions, redemptions, transactions],
        )


def _transaction_id(redemption_id: int) -> int:
    return Transaction.objects.get(reference=f"benefits.redemption:{redemption_id}").pk


@ON_POSTGRES
def test_statement_and_orm_paths_write_the_same_rows(shop, make_campaign, carded):
    campaign = make_campaign(quota=5)
    first = voucher_grab(campaign=campaign, member=carded()).voucher
    second = voucher_grab(campaign=campaign, member=carded()).voucher
    _ids_coincide()
    # The ORM path first: it makes the ledger accounts the statement needs.
    orm = _voucher_redeem_orm(
        code=first.code, store=shop.store, clerk=shop.clerk, receipt="R-1", amount=5000, now=_now()
    )
    fast = redeem_sql.run(
        redeem_sql.Scan(
            code=second.code,
            store_id=shop.store.pk,
            clerk_id=shop.clerk.pk,
            fingerprint=password_fingerprint(shop.clerk.user.password),
            receipt="R-1",
            amount_fen=5000,
            now=_now(),
            ip_address=None,
            user_agent="",
            source="system",
        )
    )
    assert fast is not None and fast.voucher_id == second.pk
    assert _transaction_id(orm.pk) == fast.redemption_id  # the ids do coincide
    a, b = _rows(orm.pk), _rows(fast.redemption_id)
    # The only differences are the voucher ids inside the audit line's object_repr.
    for row in a["audit"] + b["audit"]:
        assert row[4].endswith(f" @ {shop.store.pk}")
    a["audit"] = [(*x[:4], None, *x[5:]) for x in a["audit"]]
    b["audit"] = [(*x[:4], None, *x[5:]) for x in b["audit"]]
    assert a == b
    assert a["audit_names_txn"] == [True] and len(a["entries"]) == 2
    json.dumps(b["audit"])  # plain JSON values on both paths


@ON_POSTGRES
def test_a_batch_writes_for_each_scan_what_the_orm_path_writes(shop, make_campaign, carded):
    campaign = make_campaign(quota=5)
    v1, v2, v3 = (voucher_grab(campaign=campaign, member=carded()).voucher for _ in range(3))
    _ids_coincide()
    orm = _voucher_redeem_orm(
        code=v1.code, store=shop.store, clerk=shop.clerk, receipt="R-1", amount=5000, now=_now()
    )
    fp = password_fingerprint(shop.clerk.user.password)

    def one(code: str, receipt: str = "R-1") -> redeem_sql.Scan:
        return redeem_sql.Scan(
            code=code,
            store_id=shop.store.pk,
            clerk_id=shop.clerk.pk,
            fingerprint=fp,
            receipt=receipt,
            amount_fen=5000,
            now=_now(),
            ip_address=None,
            user_agent="",
            source="system",
        )

    # Two scans of v2 in one batch (the second with another receipt) and one of v3.
    done = redeem_sql.run_many([one(v2.code), one(v2.code, "R-again"), one(v3.code)])
    assert [d is not None for d in done].count(True) == 2 and done[2] is not None
    won = next(d for d in done[:2] if d is not None)
    assert {won.voucher_id, done[2].voucher_id} == {v2.pk, v3.pk}
    assert Redemption.objects.filter(voucher=v2).count() == 1
    # The ids do coincide: the ORM path's transaction has the id of a redemption of the batch.
    assert _transaction_id(orm.pk) in {won.redemption_id, done[2].redemption_id}
    expected = _rows(orm.pk)
    assert expected["audit_names_txn"] == [True]  # one line, naming its transaction
    expected["audit"] = [(*x[:4], None, *x[5:]) for x in expected["audit"]]
    for d in (won, done[2]):
        got = _rows(d.redemption_id)
        got["audit"] = [(*x[:4], None, *x[5:]) for x in got["audit"]]
        if d is won and done[1] is won:
            got["redemption"] = (*got["redemption"][:2], "R-1", *got["redemption"][3:])
            got["audit"] = [(*x[:-1], {**x[-1], "receipt_no": "R-1"}) for x in got["audit"]]
        assert got == expected


@ON_POSTGRES
def test_statement_declines_whatever_the_orm_path_refuses(shop, voucher):
    subsidy_accounts(voucher.campaign)  # else it declines for want of accounts alone
    fp = password_fingerprint(shop.clerk.user.password)
    base = {
        "code": voucher.code,
        "store_id": shop.store.pk,
        "clerk_id": shop.clerk.pk,
        "fingerprint": fp,
        "receipt": "R",
        "amount_fen": 1,
        "now": _now(),
        "ip_address": None,
        "user_agent": "",
        "source": "system",
    }
    campaign = voucher.campaign
    declines = [
        {"store_id": shop.other_store.pk},
        {"store_id": shop.rival_store.pk},
        {"clerk_id": shop.rival_clerk.pk},
        {"fingerprint": "0" * 16},
        {"now": campaign.redeem_until},
        {"now": campaign.redeem_from.replace(year=campaign.redeem_from.year - 1)},
        {"code": "Z" * 22},
    ]
    for change in declines:
        assert redeem_sql.run(redeem_sql.Scan(**{**base, **change})) is None, change
    unchanged(voucher)
    # In one batch too: each refusal declines alone, and the unchanged scan goes through.
    batch = [redeem_sql.Scan(**{**base, **change}) for change in declines]
    batch.append(redeem_sql.Scan(**base))
    done = redeem_sql.run_many(batch)
    assert done[:-1] == [None] * len(declines)
    assert done[-1] is not None and done[-1].voucher_id == voucher.pk


def test_the_scan_statement_is_prepared_on_postgres(shop, make_campaign, carded):
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are a PostgreSQL matter")
    campaign = make_campaign(quota=3)
    for _ in range(2):
        v = voucher_grab(campaign=campaign, member=carded()).voucher
        voucher_redeem(
            code=v.code, store=shop.store, clerk=shop.clerk, receipt_no="R", amount_fen=1
        )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%UPDATE benefits_voucher AS v%"],
        )
        assert cursor.fetchone()[0] == 1


@ON_POSTGRES
def test_a_scan_updates_the_voucher_in_place(shop, voucher):
    """No indexed column changes and the table keeps free space per page: the voucher's update
    is a HOT update, which writes no index entries (what makes a scan cheap for the database)."""
    subsidy_accounts(voucher.campaign)

    def hot_updates() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables "
                "WHERE relname = 'benefits_voucher'"
            )
            row = cursor.fetchone()
        return row[1] if row else 0

    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'benefits_voucher'")
        assert "fillfactor=85" in (cursor.fetchone()[0] or [])
    before = hot_updates()
    voucher_redeem(
        code=voucher.code, store=shop.store, clerk=shop.clerk, receipt_no="R1", amount_fen=100
    )
    assert hot_updates() == before + 1


@ON_POSTGRES
def test_the_hot_tables_carry_only_the_indexes_they_use(db):
    """Every grab writes a voucher and every scan a ledger transaction: each index on them is
    written each time. No pattern-ops twins (no query uses LIKE on them), no index that another
    one's leading column already serves."""

    def indexes(table: str) -> dict[str, str]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table]
            )
            return dict(cursor.fetchall())

    voucher = indexes("benefits_voucher")
    assert not [d for d in voucher.values() if "pattern_ops" in d]
    assert sorted(voucher) == sorted(
        [
            "benefits_voucher_pkey",
            "voucher_code_unique",
            "voucher_one_per_member_slot",
            "voucher_unique_request_key",
            "benefits_voucher_member_id_4e7aa772",
        ]
    )
    ledger = indexes("ledger_transaction")
    assert not [d for d in ledger.values() if "pattern_ops" in d]
    assert [n for n, d in ledger.items() if "(reference)" in d] == ["ledger_txn_reference"]


def _now():
    from django.utils import timezone

    return timezone.now()


@pytest.mark.parametrize(
    ("member_share", "amount", "says", "not_says"),
    [
        (1000, 12850, "本单应收 ¥38.50，其中 ¥10.00 须用工会会员卡支付", "收取 ¥10.00"),
        (1000, 10000, "请向会员收取 ¥10.00（须用工会会员卡支付）", "应收"),
        (1000, 3000, "请向会员收取 ¥10.00（须用工会会员卡支付）", "应收"),
        (0, 12850, "本单应收 ¥28.50。", "会员卡"),
        (0, 10000, "小票 R9，消费 ¥100.00。", "收"),
    ],
)
def test_the_answer_says_what_to_collect_for_the_sale(
    shop, make_campaign, carded, member_share, amount, says, not_says
):
    """ "Collect ¥10" on a ¥1,280 sale: the clerk read the member's share as the whole bill."""
    from gonghui.benefits.services import voucher_grab
    from gonghui.benefits.views import redemption_message

    campaign = make_campaign(
        face_value_fen=10000,
        member_share_fen=member_share,
        subsidy_fen=6800,
        concession_fen=10000 - 6800 - member_share,
    )
    voucher = voucher_grab(campaign=campaign, member=carded()).voucher
    redemption = voucher_redeem(
        code=voucher.code, store=shop.store, clerk=shop.clerk, receipt_no="R9", amount_fen=amount
    )
    with translation.override("zh-hans"):
        message = redemption_message(redemption)
    assert says in message and not_says not in message, message


# ---------------------------------------------------------------------------------------------
# a press repeated after a lost answer


def test_a_repeated_press_is_recognised_as_the_clerks_own_sale(shop, voucher):
    """The first press went through but its answer was lost on a bad line; the clerk presses
    again with the same form. Not a red "already used" (the clerk suspects the customer), but
    the first redemption again, with what to collect, and nothing redeemed twice."""
    client = ticket_client(shop.clerk)
    first = client.post(SCAN, scan(voucher, shop.store))
    assert first.status_code == 201
    again = client.post(SCAN, scan(voucher, shop.store))
    assert again.status_code == 200, again.content
    body = again.json()
    assert body["outcome"] == "redeemed" and body["repeated"] is True
    assert body["redemption"] == first.json()["redemption"] and body["url"] == first.json()["url"]
    repeat = "Your earlier press at %(t)s went through; its answer was lost on the way. Nothing more was redeemed."
    with translation.override("zh-hans"):
        assert body["message"].startswith(gettext(repeat).split("%(t)s")[0])
    # The same answer as the first (what to collect, the receipt), after the repeat's own words.
    assert first.json()["message"] in body["message"]
    assert Redemption.objects.filter(voucher=voucher).count() == 1
    assert VoucherStatusChange.objects.filter(voucher=voucher).count() == 1
    assert Transaction.objects.filter(reference__startswith="benefits.redemption:").count() == 1


@pytest.mark.parametrize(
    "change",
    [
        {"receipt_no": "XH-0424-002"},  # another sale
        {"amount": "130"},  # the same receipt, another amount: not the same sale as recorded
        {"store": "other"},
        {"clerk": "supervisor"},
    ],
)
def test_only_the_same_sale_by_the_same_clerk_is_a_repeat(shop, voucher, change):
    ticket_client(shop.clerk).post(SCAN, scan(voucher, shop.store))
    change = dict(change)
    clerk = shop.supervisor if change.pop("clerk", None) else shop.clerk
    if change.pop("store", None):
        voucher.campaign.stores.add(shop.other_store)
        change["store"] = shop.other_store.pk
    r = ticket_client(clerk).post(SCAN, scan(voucher, shop.store, **change))
    assert r.status_code == 400 and r.json()["code"] == "already_used", r.content
    assert Redemption.objects.filter(voucher=voucher).count() == 1


def test_a_repeat_long_after_is_no_longer_taken_for_the_same_press(shop, voucher, settings):
    ticket_client(shop.clerk).post(SCAN, scan(voucher, shop.store))
    earlier = Redemption.objects.get(voucher=voucher).at - dt.timedelta(
        minutes=settings.GONGHUI_REDEMPTION_REVERSAL_MINUTES + 1
    )
    Redemption.objects.filter(voucher=voucher).update(at=earlier)
    r = ticket_client(shop.clerk).post(SCAN, scan(voucher, shop.store))
    assert r.status_code == 400 and r.json()["code"] == "already_used"


def test_a_reversed_redemption_is_not_repeated(shop, voucher):
    from gonghui.benefits.services import redemption_reverse

    ticket_client(shop.clerk).post(SCAN, scan(voucher, shop.store))
    redemption_reverse(
        redemption=Redemption.objects.get(), supervisor=shop.supervisor, reason="顾客退货"
    )
    r = ticket_client(shop.clerk).post(SCAN, scan(voucher, shop.store))
    assert r.status_code == 201  # the voucher is open again: a new redemption
    assert Redemption.objects.filter(voucher=voucher, reversed_at__isnull=True).count() == 1
