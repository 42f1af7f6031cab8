from __future__ import annotations

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gonghui.core.errors import ApplicationError
from gonghui.ledger.models import AccountKind, Entry, Transaction
from gonghui.ledger.selectors import account_balance_fen, ledger_total_fen, transaction_list
from gonghui.ledger.services import ledger_account_ensure, ledger_post, ledger_reverse


@pytest.fixture
def books(world):
    return {
        "bank": ledger_account_ensure(
            org=world.jiefang, code="1002", name="银行存款", kind="asset"
        ),
        "payable": ledger_account_ensure(
            org=world.jiefang, code="2202", name="应付", kind=AccountKind.LIABILITY
        ),
        "expense": ledger_account_ensure(
            org=world.jiefang, code="5301", name="补贴", kind=AccountKind.EXPENSE
        ),
        "other_org": ledger_account_ensure(
            org=world.zhongzhan, code="1002", name="银行存款", kind="asset"
        ),
    }


def test_post_balanced_and_balances_are_sums(world, books):
    txn = ledger_post(
        entries=[(books["expense"], 6800), (books["payable"], -6800)],
        memo="核销补贴",
        reference="benefits.redemption:1",
        actor=world.jiefang_officer,
    )
    assert txn.entries.count() == 2
    assert account_balance_fen(account=books["expense"]) == 6800
    assert account_balance_fen(account=books["payable"]) == -6800
    ledger_post(
        entries=[(books["payable"], 6800), (books["bank"], -6800)],
        memo="支付",
        reference="x",
        actor=None,
    )
    assert account_balance_fen(account=books["payable"]) == 0
    assert ledger_total_fen() == 0


def test_account_ensure_is_idempotent_and_checks_kind(world, books):
    again = ledger_account_ensure(org=world.jiefang, code="1002", name="x", kind="asset")
    assert again.pk == books["bank"].pk
    with pytest.raises(ApplicationError) as exc:
        ledger_account_ensure(org=world.jiefang, code="9", name="x", kind="equity")
    assert exc.value.code == "ledger_kind"


@pytest.mark.parametrize(
    ("amounts", "code"),
    [
        ([100, -99], "ledger_unbalanced"),
        ([100], "ledger_too_few"),
        ([], "ledger_too_few"),
        ([0, 0], "ledger_zero"),
        ([1.5, -1.5], "ledger_amount_type"),
        (["100", "-100"], "ledger_amount_type"),
        ([True, -1], "ledger_amount_type"),
        ([10**16, -(10**16)], "ledger_too_large"),
    ],
)
def test_bad_entries_are_refused_and_nothing_is_written(books, amounts, code):
    accounts = [books["bank"], books["payable"]]
    with pytest.raises(ApplicationError) as exc:
        ledger_post(
            entries=list(zip(accounts, amounts, strict=False)), memo="x", reference="r", actor=None
        )
    assert exc.value.code == code
    assert Transaction.objects.count() == 0 and Entry.objects.count() == 0


def test_entries_of_two_orgs_are_refused(books):
    with pytest.raises(ApplicationError) as exc:
        ledger_post(
            entries=[(books["bank"], 5), (books["other_org"], -5)],
            memo="x",
            reference="",
            actor=None,
        )
    assert exc.value.code == "ledger_orgs"


@pytest.mark.parametrize("memo", ["", "   ", None])
def test_memo_required(books, memo):
    with pytest.raises(ApplicationError) as exc:
        ledger_post(
            entries=[(books["bank"], 5), (books["payable"], -5)],
            memo=memo,
            reference="",
            actor=None,
        )
    assert exc.value.code == "ledger_memo"


def test_hostile_memo_is_stored_as_text(books):
    txn = ledger_post(
        entries=[(books["bank"], 5), (books["payable"], -5)],
        memo="<script>alert(1)</script>'; DROP TABLE ledger_entry;--" * 10,
        reference="r",
        actor=None,
    )
    assert len(txn.memo) == 200
    assert Entry.objects.count() == 2


def test_reverse_is_a_new_transaction(books):
    txn = ledger_post(
        entries=[(books["expense"], 300), (books["payable"], -300)],
        memo="a",
        reference="r",
        actor=None,
    )
    rev = ledger_reverse(txn=txn, memo="冲正", actor=None)
    assert rev.pk != txn.pk and rev.reference == "r"
    assert account_balance_fen(account=books["expense"]) == 0
    assert Transaction.objects.count() == 2


def test_entries_and_transactions_cannot_be_updated_or_deleted(books):
    txn = ledger_post(
        entries=[(books["bank"], 5), (books["payable"], -5)], memo="x", reference="r", actor=None
    )
    entry = txn.entries.first()
    entry.amount_fen = 7
    for action in (
        lambda: Entry.objects.filter(pk=entry.pk).update(amount_fen=7),
        lambda: Entry.objects.filter(pk=entry.pk).delete(),
        lambda: Transaction.objects.filter(pk=txn.pk).update(memo="changed"),
        lambda: entry.save(),
        lambda: txn.delete(),
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            action()
    # below the ORM the database itself refuses (UPDATE everywhere, DELETE on PostgreSQL)
    raw = ["UPDATE ledger_entry SET amount_fen = 7", "UPDATE ledger_transaction SET memo = 'x'"]
    if connection.vendor == "postgresql":
        raw += ["DELETE FROM ledger_entry", "DELETE FROM ledger_transaction"]
    for sql in raw:
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as c:
            c.execute(sql)
    assert sorted(Entry.objects.values_list("amount_fen", flat=True)) == [-5, 5]


def test_database_refuses_unbalanced_transaction_at_commit(books):
    """PostgreSQL: the deferred constraint trigger. SQLite has none; ledger_post is the guard
    there (test_bad_entries_are_refused_and_nothing_is_written)."""
    if connection.vendor != "postgresql":
        pytest.skip("deferred constraint triggers exist on PostgreSQL only")
    with pytest.raises(IntegrityError), transaction.atomic():
        txn = Transaction.objects.create(org=books["bank"].org, memo="bad", reference="")
        Entry.objects.create(transaction=txn, account=books["bank"], amount_fen=100)
        Entry.objects.create(transaction=txn, account=books["payable"], amount_fen=-99)
        with connection.cursor() as c:
            c.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_database_accepts_balanced_raw_insert(books):
    if connection.vendor != "postgresql":
        pytest.skip("deferred constraint triggers exist on PostgreSQL only")
    with transaction.atomic():
        txn = Transaction.objects.create(org=books["bank"].org, memo="ok", reference="")
        Entry.objects.create(transaction=txn, account=books["bank"], amount_fen=100)
        Entry.objects.create(transaction=txn, account=books["payable"], amount_fen=-100)
        with connection.cursor() as c:
            c.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert ledger_total_fen() == 0


def test_transaction_list_is_scoped(world, books):
    ledger_post(
        entries=[(books["bank"], 5), (books["payable"], -5)], memo="x", reference="r", actor=None
    )
    assert transaction_list(actor=world.jiefang_officer).count() == 1
    assert transaction_list(actor=world.zhongzhan_officer).count() == 0
    assert transaction_list(actor=world.city_admin).count() == 1
    assert transaction_list(actor=None).count() == 0


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    postings=st.lists(
        st.lists(st.integers(min_value=-(10**9), max_value=10**9), min_size=1, max_size=5),
        min_size=1,
        max_size=8,
    )
)
def test_ledger_always_balances(books, postings):
    """Whatever is attempted, balanced or not, the books sum to zero afterwards."""
    accounts = [books["bank"], books["payable"], books["expense"]]
    for amounts in postings:
        entries = [(accounts[i % 3], a) for i, a in enumerate(amounts)]
        try:
            ledger_post(entries=entries, memo="p", reference="h", actor=None)
        except ApplicationError:
            pass
        # also try the balanced completion of the same amounts
        rest = -sum(amounts)
        if rest:
            try:
                ledger_post(
                    entries=[*entries, (accounts[2], rest)], memo="p", reference="h", actor=None
                )
            except ApplicationError:
                pass
        assert ledger_total_fen() == 0
    for txn_id in Transaction.objects.values_list("pk", flat=True):
        amounts = list(
            Entry.objects.filter(transaction_id=txn_id).values_list("amount_fen", flat=True)
        )
        assert sum(amounts) == 0 and len(amounts) >= 2
