"""The ledger's staff pages: accounts with balances, an account's entries, one transaction;
each union sees its own books only, and a wrong filter is said, not obeyed."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from gonghui.ledger.models import AccountKind
from gonghui.ledger.services import ledger_account_ensure, ledger_post

ACCOUNTS = reverse("ledger_console:accounts")


def zh(text: str) -> str:
    with translation.override("zh-hans"):
        return gettext(text)


@pytest.fixture
def books(world: Any) -> dict[str, Any]:
    bank = ledger_account_ensure(org=world.jiefang, code="1002", name="银行存款", kind="asset")
    payable = ledger_account_ensure(
        org=world.jiefang, code="2202.M1", name="应付补贴", kind=AccountKind.LIABILITY
    )
    expense = ledger_account_ensure(
        org=world.jiefang, code="5301", name="补贴支出", kind=AccountKind.EXPENSE
    )
    theirs = ledger_account_ensure(
        org=world.zhongzhan, code="1002", name="中站银行存款", kind="asset"
    )
    accrue = ledger_post(
        entries=[(expense, 6800), (payable, -6800)],
        memo="核销补贴 四月芳菲",
        reference="benefits.redemption:1",
        actor=None,
    )
    pay = ledger_post(
        entries=[(payable, 6800), (bank, -6800)],
        memo="付款 新华书店",
        reference="benefits.settlement:1",
        actor=None,
    )
    other = ledger_post(
        entries=[(theirs, 100), (theirs, -100)], memo="中站", reference="x:1", actor=None
    )
    return {
        "bank": bank,
        "payable": payable,
        "expense": expense,
        "theirs": theirs,
        "accrue": accrue,
        "pay": pay,
        "other": other,
    }


def _balances(body: str) -> dict[str, str]:
    return dict(
        re.findall(r'data-account="(\d+)">.*?<td class="num" data-balance>([^<]*)<', body, re.S)
    )


def test_accounts_with_balances_of_ones_own_unions(world: Any, books: Any, login: Any) -> None:
    client = login(world.jiefang_officer)
    response = client.get(ACCOUNTS)
    assert response.status_code == 200
    body = response.content.decode()
    assert _balances(body) == {
        str(books["bank"].pk): "-68.00",
        str(books["payable"].pk): "0.00",
        str(books["expense"].pk): "68.00",
    }
    assert "中站银行存款" not in body
    # the nav links here for staff
    assert f'href="{ACCOUNTS}"' in client.get(reverse("console:home")).content.decode()


@pytest.mark.parametrize(
    ("params", "shown"),
    [
        ({"q": "2202"}, {"payable"}),
        ({"q": "  补贴  "}, {"payable", "expense"}),
        ({"q": "ｘｙｚ"}, set()),
        ({"q": "<script>alert(1)</script>"}, set()),
        ({"q": "'; DROP TABLE ledger_account; --"}, set()),
        ({"kind": "expense"}, {"expense"}),
        ({"q": "", "kind": ""}, {"bank", "payable", "expense"}),
    ],
)
def test_account_filters(
    world: Any, books: Any, login: Any, params: dict[str, str], shown: set[str]
) -> None:
    response = login(world.jiefang_officer).get(ACCOUNTS, params)
    assert response.status_code == 200
    assert set(_balances(response.content.decode())) == {str(books[k].pk) for k in shown}
    assert "<script>alert(1)</script>" not in response.content.decode()


@pytest.mark.parametrize("params", [{"kind": "bogus"}, {"q": "x" * 101}])
def test_a_wrong_filter_is_said(world: Any, books: Any, login: Any, params: Any) -> None:
    response = login(world.jiefang_officer).get(ACCOUNTS, params)
    assert response.status_code == 400
    assert 'id="filter-errors"' in response.content.decode()


def test_an_accounts_entries_with_dates(world: Any, books: Any, login: Any) -> None:
    client = login(world.jiefang_officer)
    url = reverse("ledger_console:account", args=[books["payable"].pk])
    body = client.get(url).content.decode()
    assert body.count("data-entry=") == 2
    assert 'id="balance">0.00<' in body and 'id="listed-total">0.00<' in body
    # the accrual credits the payable, the payment debits it
    accrual = body.split(
        f'href="{reverse("ledger_console:transaction", args=[books["accrue"].pk])}"'
    )
    assert '<td class="num"></td><td class="num">68.00</td>' in accrual[1].split("</tr>")[0]
    # yesterday only: nothing; from today: both
    today = timezone.localdate()
    day = {"since": str(today - dt.timedelta(days=1)), "until": str(today - dt.timedelta(days=1))}
    assert client.get(url, day).content.decode().count("data-entry=") == 0
    assert client.get(url, {"since": str(today)}).content.decode().count("data-entry=") == 2
    wrong = client.get(url, {"since": str(today), "until": str(today - dt.timedelta(days=1))})
    assert wrong.status_code == 400
    assert zh("The end date must not be before the start date.") in wrong.content.decode()
    assert client.get(url, {"since": "2026-13-45"}).status_code == 400


def test_a_transaction_and_the_scope(world: Any, books: Any, login: Any) -> None:
    client = login(world.jiefang_officer)
    url = reverse("ledger_console:transaction", args=[books["accrue"].pk])
    body = client.get(url).content.decode()
    assert 'id="reference">benefits.redemption:1<' in body
    assert "5301 补贴支出" in body and "2202.M1 应付补贴" in body
    assert 'id="balanced">' + zh("Debits equal credits.") in body
    # another union's books are not found, as if they did not exist
    assert (
        client.get(reverse("ledger_console:transaction", args=[books["other"].pk])).status_code
        == 404
    )
    assert (
        client.get(reverse("ledger_console:account", args=[books["theirs"].pk])).status_code == 404
    )
    # the city sees both
    city = login(world.city_admin)
    assert city.get(reverse("ledger_console:account", args=[books["theirs"].pk])).status_code == 200
    # signed out: to the sign-in page
    from django.test import Client

    assert Client().get(url).status_code == 302


@pytest.mark.parametrize(
    "params",
    [
        {"until": "9999-12-31"},
        {"since": "0001-01-01"},
        {"since": "0001-01-01", "until": "9999-12-31"},
        {"since": "1-1-1"},
    ],
)
def test_dates_at_the_ends_of_the_calendar_are_answered(
    world: Any, books: Any, login: Any, params: dict[str, str]
) -> None:
    """The first and last days a date can have: the whole book, or the filter said; never
    an error page (the day after 9999-12-31 and midnight of 0001-01-01 in UTC do not exist)."""
    url = reverse("ledger_console:account", args=[books["payable"].pk])
    response = login(world.jiefang_officer).get(url, params)
    assert response.status_code in {200, 400}
    body = response.content.decode()
    if response.status_code == 200:
        assert body.count("data-entry=") == 2
    else:
        assert 'id="filter-errors"' in body
