"""Reads of the ledger. Balances are sums of entries, never stored."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet, Sum

from gonghui.accounts.scoping import scoped
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
