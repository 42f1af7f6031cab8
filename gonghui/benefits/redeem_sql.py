"""Voucher redemptions on PostgreSQL as one prepared statement (the scan's hot path).

The ORM path of ``voucher_redeem`` makes ~15 round trips (voucher, store check, compare-and-set,
redemption, status row, two ledger accounts, ledger transaction and entries, audit line); each
costs Python time in the ORM and a trip to the server. Here the same rows are written by
one data-modifying CTE, prepared once per connection, for a batch of scans:

* the scans come in as arrays and are unnested into rows ``q``;
* the compare-and-set ``UPDATE … WHERE status = 'open'`` joins each scan with every condition of
  a valid scan (clerk, user, merchant and store active, the ticket's password fingerprint, store
  in the campaign, campaign open, inside the window, purchase not below the campaign's minimum,
  ledger accounts present), so it moves a
  voucher only when its scan is valid, and a voucher at most once however often it is in the
  batch;
* the redemptions, the vouchers' status rows, a ledger transaction with its two entries per
  redemption and the audit lines (each naming its ledger transaction, as on the ORM path) are
  inserted from its ``RETURNING`` rows, in the same statement and therefore the same transaction
  (the ledger's deferred balance trigger still checks each transaction at commit). The
  redemption and the status row carry the scan's own moment (the service's ``now``), as on the
  ORM path.

A batch is whatever scans the threads of one server process have waiting at the moment
(``run``, through ``gonghui.core.combining``): a lone scan runs at once as a batch of one; under
a rush the fixed cost of a statement (round trip, executor start-up, commit, WAL flush) is shared.

A scan the update does not match wrote nothing and gets None. The service then reads what decides
a scan in one more prepared statement (``facts``: the clerk, the store, the voucher and its
campaign, and where a used voucher was used) and explains the refusal from it; only if the scan
is valid as it stands (the voucher still open, e.g. when the ledger accounts do not exist yet)
does it take the ORM path, which redeems it there. The ORM path is also the only path on SQLite,
and reads the same facts with the ORM. Tests write redemptions each way and compare every row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from gonghui.core import prepared
from gonghui.core.combining import BatchFailed, Combiner

EXPENSE_ACCOUNT = "5301"


def payable_account_code(merchant_id: int) -> str:
    return f"2202.M{merchant_id}"


_STATEMENT = prepared.compact(
    """
WITH q AS (
    SELECT * FROM unnest(%(n)s::int8[], %(code)s::text[], %(store)s::int8[], %(clerk)s::int8[],
                         %(fp)s::text[], %(receipt)s::text[], %(amount)s::int8[],
                         %(now)s::timestamptz[], %(ip)s::text[], %(ua)s::text[], %(source)s::text[])
           AS q(n, code, store, clerk, fp, receipt, amount, now, ip, ua, source)
), v AS (
    UPDATE benefits_voucher AS v
       SET status = 'used', used_at = q.now, status_changed_at = q.now
      FROM q, benefits_campaign AS c, benefits_merchantclerk AS k, benefits_merchant AS m,
           accounts_user AS u, benefits_store AS s
     WHERE v.code = q.code AND v.status = 'open'
       AND c.id = v.campaign_id AND c.status = 'open'
       AND c.redeem_from <= q.now AND q.now < c.redeem_until AND q.amount >= c.min_purchase_fen
       AND k.id = q.clerk AND k.is_active AND k.merchant_id = c.merchant_id
       AND m.id = k.merchant_id AND m.is_active
       AND u.id = k.user_id AND u.is_active
       AND (q.fp = '' OR left(md5(u.password), 16) = q.fp)
       AND s.id = q.store AND s.is_active AND s.merchant_id = k.merchant_id
       AND EXISTS (SELECT 1 FROM benefits_campaign_stores AS cs
                    WHERE cs.campaign_id = c.id AND cs.store_id = s.id)
       AND (c.subsidy_fen = 0 OR (
            EXISTS (SELECT 1 FROM ledger_account AS a
                     WHERE a.org_id = c.org_id AND a.code = %(expense_code)s)
        AND EXISTS (SELECT 1 FROM ledger_account AS a
                     WHERE a.org_id = c.org_id AND a.code = '2202.M' || c.merchant_id::text)))
    RETURNING q.n, v.id, v.code, c.id AS campaign_id, c.org_id, c.merchant_id, c.name,
              c.subsidy_fen, c.face_value_fen, c.member_share_fen, 'clerk:' || u.username AS label, q.store, q.clerk, q.receipt,
              q.amount, q.now, q.ip, q.ua, q.source
), r AS (
    INSERT INTO benefits_redemption
           (voucher_id, store_id, clerk_id, receipt_no, amount_fen, subsidy_fen, at,
            reversed_at, reversed_by_label, reverse_reason)
    SELECT v.id, v.store, v.clerk, v.receipt, v.amount, v.subsidy_fen, v.now, NULL, '', ''
      FROM v ORDER BY v.n
    RETURNING id, voucher_id, at
), sc AS (
    INSERT INTO benefits_voucherstatuschange
           (voucher_id, old, new, actor_label, reason_code, reason, at)
    SELECT v.id, 'open', 'used', v.label, '', '', v.now FROM v ORDER BY v.n
), t AS (
    INSERT INTO ledger_transaction (org_id, memo, reference, created_at, created_by_id,
                                    actor_label)
    SELECT v.org_id, left(%(memo_prefix)s || v.name, 200), 'benefits.redemption:' || r.id::text,
           now(), NULL, v.label
      FROM v JOIN r ON r.voucher_id = v.id
     WHERE v.subsidy_fen > 0
     ORDER BY v.n
    RETURNING id, reference
), e AS (
    INSERT INTO ledger_entry (transaction_id, account_id, amount_fen)
    SELECT t.id, a.id, x.amount
      FROM t
      JOIN r ON t.reference = 'benefits.redemption:' || r.id::text
      JOIN v ON v.id = r.voucher_id
     CROSS JOIN LATERAL (VALUES (1, %(expense_code)s::text, v.subsidy_fen),
                                (2, '2202.M' || v.merchant_id::text, -v.subsidy_fen))
           AS x(n, code, amount)
      JOIN ledger_account AS a ON a.org_id = v.org_id AND a.code = x.code
     ORDER BY t.id, x.n
), ra AS (
    INSERT INTO audit_auditevent (at, actor_id, actor_label, action, object_type, object_id,
                                  object_repr, org_id, changes, reason, ip_address, user_agent,
                                  source)
    SELECT now(), NULL, v.label, 'create', 'benefits.redemption', r.id::text,
           r.voucher_id::text || ' @ ' || v.store::text, v.org_id,
           jsonb_strip_nulls(jsonb_build_object(
               'receipt_no', v.receipt, 'amount_fen', v.amount,
               'store', v.store, 'ledger_transaction', t.id)),
           '', NULLIF(v.ip, '')::inet, v.ua, v.source
      FROM v JOIN r ON r.voucher_id = v.id
      LEFT JOIN t ON t.reference = 'benefits.redemption:' || r.id::text
     ORDER BY v.n
)
SELECT v.n, r.id, r.voucher_id, r.at, v.campaign_id, v.name, v.subsidy_fen, v.code,
       v.face_value_fen, v.member_share_fen
  FROM v JOIN r ON r.voucher_id = v.id
"""
)


# What decides a scan that the statement above did not take, in one row: a refused scan (a used
# voucher scanned again, a crowd racing for one code) costs one round trip, not the ORM's five.
_FACTS = prepared.compact(
    """
SELECT k.id IS NOT NULL AND (%(fp)s = '' OR left(md5(u.password), 16) = %(fp)s),
       s.id IS NOT NULL,
       coalesce(k.is_active AND u.is_active AND m.is_active AND s.is_active, false),
       vc.id IS NOT NULL, coalesce(vc.at_store, false), vc.status, vc.campaign_status,
       vc.redeem_from, vc.redeem_until, vc.min_purchase_fen, lr.name, lr.at, lr.receipt_no,
       lr.id, lr.clerk_id, lr.store_id, lr.amount_fen,
       CASE WHEN vc.id IS NOT NULL AND NOT vc.at_store THEN ARRAY(
            SELECT st.name FROM benefits_campaign_stores AS cs
              JOIN benefits_store AS st ON st.id = cs.store_id
             WHERE cs.campaign_id = vc.campaign_id AND st.is_active
             ORDER BY st.id LIMIT %(stores_named)s) END
  FROM (SELECT 1) AS one
  LEFT JOIN benefits_merchantclerk AS k ON k.id = %(clerk)s
  LEFT JOIN accounts_user AS u ON u.id = k.user_id
  LEFT JOIN benefits_merchant AS m ON m.id = k.merchant_id
  LEFT JOIN benefits_store AS s ON s.id = %(store)s AND s.merchant_id = k.merchant_id
  LEFT JOIN LATERAL (
       SELECT v.id, v.status, c.status AS campaign_status, c.redeem_from, c.redeem_until,
              c.min_purchase_fen, c.id AS campaign_id,
              EXISTS (SELECT 1 FROM benefits_campaign_stores AS cs
                       WHERE cs.campaign_id = c.id AND cs.store_id = %(store)s) AS at_store
         FROM benefits_voucher AS v JOIN benefits_campaign AS c ON c.id = v.campaign_id
        WHERE v.code = %(code)s AND c.merchant_id = k.merchant_id
        ORDER BY v.id LIMIT 1) AS vc ON true
  LEFT JOIN LATERAL (
       SELECT st.name, r.at, r.receipt_no, r.id, r.clerk_id, r.store_id, r.amount_fen
         FROM benefits_redemption AS r JOIN benefits_store AS st ON st.id = r.store_id
        WHERE r.voucher_id = vc.id AND r.reversed_at IS NULL AND vc.status = 'used'
        ORDER BY r.at DESC LIMIT 1) AS lr ON true
"""
)


STORES_NAMED = 5  # stores a wrong-store refusal names at most (one more says there are more)
MEMO_PREFIX = "核销补贴 "  # the ledger memo of a scan's subsidy accrual, before the campaign's name


@dataclass(frozen=True)
class Scan:
    """One scan as the statement takes it (the service has cleaned every field)."""

    code: str
    store_id: int
    clerk_id: int
    fingerprint: str | None  # a scan ticket's; None for a signed-in clerk object
    receipt: str
    amount_fen: int
    now: dt.datetime
    ip_address: str | None
    user_agent: str
    source: str


@dataclass(frozen=True)
class Redeemed:
    redemption_id: int
    voucher_id: int
    at: dt.datetime
    campaign_id: int
    campaign_name: str
    subsidy_fen: int
    code: str
    face_value_fen: int
    member_share_fen: int


@dataclass(frozen=True)
class ScanFacts:
    """What decides a scan, as the service's rules read it (``voucher_redeem``)."""

    clerk_known: bool  # the clerk exists (and, for a scan ticket, its password is unchanged)
    store_of_merchant: bool  # the store exists and is the clerk's merchant's
    parties_active: bool  # clerk, user, merchant and store all active (and the store theirs)
    voucher_known: bool  # the code is a voucher of the clerk's merchant's campaigns
    at_store: bool  # the voucher's campaign includes the store
    status: str | None
    campaign_status: str | None
    redeem_from: dt.datetime | None
    redeem_until: dt.datetime | None
    min_purchase_fen: int | None
    used_store: str | None  # where, when and on which receipt a used voucher was used
    used_at: dt.datetime | None
    used_receipt: str | None
    # The same redemption's row, clerk, store and amount: the same clerk's same sale sent again
    # is answered with it (``voucher_redeem``).
    used_id: int | None = None
    used_clerk_id: int | None = None
    used_store_id: int | None = None
    used_amount_fen: int | None = None
    # Scanned at a store not in the voucher's campaign: the campaign's active stores (at most
    # ``STORES_NAMED``, in the order they were set up), which the refusal names.
    campaign_stores: list[str] | None = None


def facts(scan: Scan) -> ScanFacts:
    """Everything ``voucher_redeem`` needs to decide ``scan``, in one statement."""
    row = prepared.fetchone(
        _FACTS,
        {
            "clerk": scan.clerk_id,
            "fp": scan.fingerprint or "",
            "store": scan.store_id,
            "code": scan.code,
            "stores_named": STORES_NAMED + 1,
        },
    )
    assert row is not None  # the statement always returns its one row
    return ScanFacts(*row)


def run_many(scans: list[Scan]) -> list[Redeemed | None]:
    """Redeem ``scans`` in one statement on this thread's connection: for each, what it made, or
    None when it is not (or no longer) valid as it stands. Of several scans of one code in the
    batch, one goes through."""
    rows = prepared.fetchall(
        _STATEMENT,
        {
            "n": list(range(len(scans))),
            "code": [s.code for s in scans],
            "store": [s.store_id for s in scans],
            "clerk": [s.clerk_id for s in scans],
            "fp": [s.fingerprint or "" for s in scans],
            "receipt": [s.receipt for s in scans],
            "amount": [s.amount_fen for s in scans],
            "now": [s.now for s in scans],
            "ip": [s.ip_address or "" for s in scans],
            "ua": [s.user_agent[:300] for s in scans],
            "source": [s.source[:16] for s in scans],
            "memo_prefix": MEMO_PREFIX,
            "expense_code": EXPENSE_ACCOUNT,
        },
    )
    out: list[Redeemed | None] = [None] * len(scans)
    for n, *rest in rows:
        out[n] = Redeemed(*rest)
    return out


# The threads of this process that scan at the same moment share one statement (see
# ``gonghui.core.combining``). One statement at a time per process measured best: a second one
# in flight halves the batches and gains nothing on a small machine.
_combiner: Combiner[Scan, Redeemed | None] = Combiner(run_many, max_batch=32, max_running=1)


def run(scan: Scan) -> Redeemed | None:
    """Redeem one scan. Outside a transaction it joins the scans other threads of this process
    have waiting (unless ``GONGHUI_SCAN_BATCH`` is 1); inside a caller's transaction it runs
    alone there, in a savepoint."""
    if connection.in_atomic_block or settings.GONGHUI_SCAN_BATCH <= 1:
        return run_many([scan])[0]
    _combiner.max_batch = settings.GONGHUI_SCAN_BATCH
    try:
        return _combiner.submit(scan)
    except BatchFailed as failed:
        if failed.size == 1 and failed.__cause__ is not None:
            raise failed.__cause__ from None
        # The shared statement failed as a whole and so wrote nothing (a deadlock between two
        # processes' batches, say): this scan goes again on its own.
        return run_many([scan])[0]
