"""Reads of the ledger. Balances are sums of entries, never stored."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from gonghui.accounts.scoping import scoped
from gonghui.core.errors import NotFound
from gonghui.ledger.models import Account, Entry, Transaction


def account_balance_fen(*, account: Account) -> int:
    """Debit-positive balance: assets and expenses are positive, liabilities negative."""
    total = Entry.objects.filter(account=account).aggregate(s=Sum("amount_fen"))["s"]
    return int(total or 0)


def account_list(*, actor: Any) -> QuerySet[Account]:
    return scoped(Account.objects.select_related("org"), actor=actor)


def transaction_list(*, actor: Any, reference: str = "") -> QuerySet[Transaction]:
    qs = scoped(Transaction.objects.prefetch_related("entries__account"), actor=actor)
    if reference:
        qs = qs.filter(reference=reference)
    return qs


def ledger_total_fen() -> int:
    """The sum of every entry ever posted: zero, always (a property test checks it)."""
    return int(Entry.objects.aggregate(s=Sum("amount_fen"))["s"] or 0)


def account_list_with_balances(*, actor: Any, query: str = "", kind: str = "") -> QuerySet[Account]:
    """The accounts ``actor`` may see, each with ``balance_fen`` (debit-positive), in one
    grouped query. ``query``: part of the code, the name or the union's
    name; ``kind``: one account kind."""
    qs = account_list(actor=actor)
    query = " ".join(query.split())
    if query:
        qs = qs.filter(
            Q(code__icontains=query) | Q(name__icontains=query) | Q(org__name__icontains=query)
        )
    if kind:
        qs = qs.filter(kind=kind)
    return qs.annotate(
        balance_fen=Coalesce(Sum("entries__amount_fen"), 0),
    ).order_by("org__path", "code")


def account_get(*, actor: Any, pk: int) -> Account:
    account = account_list(actor=actor).filter(pk=pk).first()
    if account is None:
        raise NotFound()
    return account


def account_entries(
    *, account: Account, since: dt.date | None = None, until: dt.date | None = None
) -> QuerySet[Entry]:
    """The account's entries, newest first, on local calendar days ``since`` … ``until``
    (both included)."""
    qs = Entry.objects.filter(account=account).select_related("transaction")
    zone = timezone.get_current_timezone()
    # The calendar's first and last days bound nothing (and their midnights in UTC, or the day
    # after the last, cannot be written as a datetime).
    if since is not None and since > dt.date.min:
        start = dt.datetime.combine(since, dt.time.min, tzinfo=zone)
        qs = qs.filter(transaction__created_at__gte=start)
    if until is not None and until < dt.date.max:
        end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
        qs = qs.filter(transaction__created_at__lt=end)
    return qs.order_by("-transaction_id", "-id")


def entries_total_fen(entries: QuerySet[Entry]) -> int:
    return int(entries.order_by().aggregate(s=Sum("amount_fen"))["s"] or 0)


def transaction_get(*, actor: Any, pk: int) -> Transaction:
    found = (
        scoped(Transaction.objects.select_related("org"), actor=actor)
        .prefetch_related("entries__account")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise NotFound()
    return found
