"""A winning grab on PostgreSQL as one prepared statement (one voucher per member campaigns).

The ORM path (``services.grab_in_database``) makes four round trips per winner: the voucher
insert, its audit line, the guarded decrement and the commit, each with the ORM's Python cost.
Here the guarded decrement of one stock shard that nobody else holds (``SKIP LOCKED``) and, from
its ``RETURNING`` row, the voucher and its audit line are one statement: the decrement checks
and takes in the same ``UPDATE``, never read-then-write, and the voucher exists exactly when a
unit of stock was taken.

``run`` answers None when no free shard had stock (all held by other grabs this instant, sold
out, or the campaign is no longer open); the service then takes the ORM path, which waits for a
shard and tells which. A double tap meets the unique (campaign, member, slot) row: the statement
fails whole (the decrement with it) and ``run`` raises ``IntegrityError`` for the service to
answer with the existing voucher. A test writes one winner each way and compares the rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from gonghui.core import prepared

_STATEMENT = prepared.compact(
    """
WITH d AS (
    UPDATE benefits_campaignstock SET remaining = remaining - 1
     WHERE id = (
           SELECT s.id FROM benefits_campaignstock AS s
             JOIN benefits_campaign AS c ON c.id = s.campaign_id
            WHERE s.campaign_id = %(campaign)s AND c.status = 'open' AND s.remaining > 0
            ORDER BY (s.shard + %(spread)s) %% %(shards)s
            LIMIT 1 FOR UPDATE OF s SKIP LOCKED)
       AND remaining > 0
    RETURNING remaining
), v AS (
    INSERT INTO benefits_voucher (campaign_id, member_id, slot, per_member_limit, code,
                                  request_key, status, created_at, used_at, status_changed_at)
    SELECT %(campaign)s, %(member)s, 1, 1, %(code)s, %(request_key)s, 'open', now(), NULL, NULL
      FROM d
    RETURNING id, created_at
), a AS (
    INSERT INTO audit_auditevent (at, actor_id, actor_label, action, object_type, object_id,
                                  object_repr, org_id, changes, reason, ip_address, user_agent,
                                  source)
    SELECT now(), NULL, 'member:' || %(member)s::text, 'create', 'benefits.voucher', v.id::text,
           'voucher ' || %(campaign)s::text || '/' || %(member)s::text || '/1', %(org)s,
           jsonb_build_object('campaign', %(campaign)s::bigint, 'slot', 1),
           '', %(ip)s::inet, %(user_agent)s, %(source)s
      FROM v
)
SELECT v.id, v.created_at, d.remaining FROM v, d
"""
)


@dataclass(frozen=True)
class Won:
    voucher_id: int
    created_at: dt.datetime
    remaining: int


def run(
    *,
    campaign_id: int,
    org_id: int,
    member_id: int,
    code: str,
    request_key: str,
    spread: int,
    shards: int,
    ip_address: str | None,
    user_agent: str,
    source: str,
) -> Won | None:
    """Take one voucher in one statement; None when no free shard had stock. A double tap's
    unique violation comes out as ``IntegrityError``, with nothing written."""
    row = prepared.fetchone(
        _STATEMENT,
        {
            "campaign": campaign_id,
            "org": org_id,
            "member": member_id,
            "code": code,
            "request_key": request_key,
            "spread": spread,
            "shards": shards,
            "ip": ip_address,
            "user_agent": user_agent[:300],
            "source": source[:16],
        },
    )
    return Won(*row) if row is not None else None
