"""A double-entry ledger in integer fen. Rows are never edited: a correction is a new transaction.

Sign convention: debits are positive, credits negative; every transaction sums to zero. Database
triggers refuse UPDATE and DELETE of transactions and entries; on PostgreSQL a deferred constraint
trigger also refuses, at commit, any transaction whose entries do not sum to zero or number fewer
than two (SQLite has no deferred triggers: there ``ledger_post`` is the guard, and a test says so).
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import DatabaseError, models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class AppendOnlyError(DatabaseError):
    pass


class AppendOnlyQuerySet(models.QuerySet[Any]):
    """Ledger rows are written once: no bulk update or delete through the ORM either."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("ledger rows are append-only")

    def delete(self) -> NoReturn:
        raise AppendOnlyError("ledger rows are append-only")


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyError("ledger rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("ledger rows are append-only")


class AccountKind(models.TextChoices):
    ASSET = "asset", _("Asset")
    LIABILITY = "liability", _("Liability")
    EXPENSE = "expense", _("Expense")
    INCOME = "income", _("Income")


class Account(models.Model):
    org = models.ForeignKey(
        "orgs.Org",
        on_delete=models.PROTECT,
        related_name="ledger_accounts",
        verbose_name=_("union"),
    )
    code = models.CharField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=10, choices=AccountKind.choices)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("ledger account")
        verbose_name_plural = _("ledger accounts")
        ordering = ["org_id", "code"]
        constraints = [
            models.UniqueConstraint(fields=["org", "code"], name="ledger_account_unique_code"),
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in AccountKind]), name="ledger_account_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Transaction(AppendOnlyModel):
    org = models.ForeignKey(
        "orgs.Org", on_delete=models.PROTECT, related_name="ledger_transactions"
    )
    memo = models.CharField(_("memo"), max_length=200)
    # What the money moved for, e.g. "benefits.redemption:42"; looked up by equality, not unique
    # (a reversal carries the same reference as the transaction it reverses). Its index is in
    # Meta: a plain b-tree, without the pattern-ops twin ``db_index`` makes on PostgreSQL.
    reference = models.CharField(_("reference"), max_length=100)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(max_length=150, blank=True)

    class Meta:
        verbose_name = _("ledger transaction")
        verbose_name_plural = _("ledger transactions")
        ordering = ["-id"]
        indexes = [models.Index(fields=["reference"], name="ledger_txn_reference")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.memo}"


class Entry(AppendOnlyModel):
    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    amount_fen = models.BigIntegerField(_("amount (fen)"))

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        constraints = [
            models.CheckConstraint(condition=~Q(amount_fen=0), name="ledger_entry_nonzero"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.amount_fen:+d}"
