"""Staff pages of the ledger (read only: the ledger is written by the modules' services)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from gonghui.accounts.decorators import staff_required
from gonghui.accounts.models import User
from gonghui.accounts.roles import Capability
from gonghui.ledger import selectors
from gonghui.ledger.console_forms import AccountFilterForm, EntryFilterForm

PER_PAGE = 50


@staff_required(Capability.VIEW, pass_user=True)
def accounts(request: HttpRequest, user: User) -> HttpResponse:
    """The accounts of the unions the user may see, with their balances."""
    form = AccountFilterForm(request.GET)
    ok = form.is_valid()
    data = form.cleaned_data if ok else {}
    rows = selectors.account_list_with_balances(
        actor=user, query=data.get("q") or "", kind=data.get("kind") or ""
    )
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "ledger/console/accounts.html",
        {"form": form, "page": page},
        status=200 if ok else 400,
    )


@staff_required(Capability.VIEW, pass_user=True)
def account(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    """One account's entries, newest first, with the total of what is listed."""
    found = selectors.account_get(actor=user, pk=pk)
    form = EntryFilterForm(request.GET)
    ok = form.is_valid()
    data = form.cleaned_data if ok else {}
    entries = selectors.account_entries(
        account=found, since=data.get("since"), until=data.get("until")
    )
    page = Paginator(entries, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "ledger/console/account.html",
        {
            "account": found,
            "form": form,
            "page": page,
            "listed_fen": selectors.entries_total_fen(entries),
            "balance_fen": selectors.account_balance_fen(account=found),
        },
        status=200 if ok else 400,
    )


@staff_required(Capability.VIEW, pass_user=True)
def transaction(request: HttpRequest, user: User, pk: int) -> HttpResponse:
    found = selectors.transaction_get(actor=user, pk=pk)
    entries = list(found.entries.all())
    return render(
        request,
        "ledger/console/transaction.html",
        {"txn": found, "entries": entries, "total_fen": sum(e.amount_fen for e in entries)},
    )
