"""Every write to the ledger: accounts and balanced, append-only transactions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from gonghui.audit.models import AuditAction
from gonghui.audit.services import actor_label_of, audit_record
from gonghui.core.errors import ApplicationError
from gonghui.ledger.models import Account, AccountKind, Entry, Transaction
from gonghui.orgs.models import Org

MAX_ENTRY_FEN = 10**15  # a quadrillion fen: any larger amount is a bug, not a payment


def ledger_account_ensure(*, org: Org, code: str, name: str, kind: str) -> Account:
    """The account ``code`` of ``org``, created on first use (race-safe)."""
    if kind not in AccountKind.values:
        raise ApplicationError(_("Unknown account kind."), code="ledger_kind", field="kind")
    account, _created = Account.objects.get_or_create(
        org=org, code=code, defaults={"name": name[:100], "kind": kind}
    )
    return account


def _clean_entries(entries: Iterable[tuple[Account, int]]) -> list[tuple[Account, int]]:
    cleaned: list[tuple[Account, int]] = []
    for account, amount in entries:
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise ApplicationError(
                _("Amounts are whole numbers of fen."), code="ledger_amount_type"
            )
        if amount == 0:
            raise ApplicationError(_("An entry of zero moves nothing."), code="ledger_zero")
        if abs(amount) > MAX_ENTRY_FEN:
            raise ApplicationError(_("The amount is too large."), code="ledger_too_large")
        if account.pk is None:
            raise ApplicationError(_("Unknown account."), code="ledger_account")
        cleaned.append((account, amount))
    if len(cleaned) < 2:
        raise ApplicationError(
            _("A transaction needs at least two entries."), code="ledger_too_few"
        )
    if sum(amount for _a, amount in cleaned) != 0:
        raise ApplicationError(
            _("Debits and credits must balance (the entries must sum to zero)."),
            code="ledger_unbalanced",
        )
    orgs = {account.org_id for account, _amount in cleaned}
    if len(orgs) != 1:
        raise ApplicationError(
            _("All entries of a transaction belong to one union's books."), code="ledger_orgs"
        )
    return cleaned


@transaction.atomic
def ledger_post(
    *,
    entries: Sequence[tuple[Account, int]],
    memo: str,
    reference: str,
    actor: Any,
    audit: bool = True,
) -> Transaction:
    """Post one balanced transaction: ``entries`` are (account, amount_fen), debits positive.

    The transaction row itself records who posted it; ``audit=False`` is for a caller whose own
    audit line for the same action names the transaction (one line per action, not two)."""
    cleaned = _clean_entries(entries)
    memo = (memo or "").strip()
    if not memo:
        raise ApplicationError(_("Enter a memo."), code="ledger_memo", field="memo")
    account0 = cleaned[0][0]
    txn = Transaction.objects.create(
        org_id=account0.org_id,
        memo=memo[:200],
        reference=(reference or "")[:100],
        created_by=actor if getattr(actor, "username", None) else None,
        actor_label=actor_label_of(actor)[:150],
    )
    Entry.objects.bulk_create(
        [Entry(transaction=txn, account=account, amount_fen=amount) for account, amount in cleaned]
    )
    if not audit:
        return txn
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=txn,
        org=account0.org,
        changes={
            "entries": [[account.code, amount] for account, amount in cleaned],
            "reference": txn.reference,
        },
    )
    return txn


@transaction.atomic
def ledger_reverse(*, txn: Transaction, memo: str, actor: Any) -> Transaction:
    """A correction: a new transaction with every entry of ``txn`` negated."""
    entries = [(e.account, -e.amount_fen) for e in txn.entries.select_related("account")]
    return ledger_post(entries=entries, memo=memo, reference=txn.reference, actor=actor)
