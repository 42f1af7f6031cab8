"""/console/benefits/: the campaign list narrowed by organising union (with its sub-unions) and
searched by the campaign's, union's, merchant's or a store's name, within the actor's subtree."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from gonghui.benefits.models import Campaign
from gonghui.benefits.services import campaign_create, store_create
from gonghui.benefits.tests.conftest import campaign_fields
from gonghui.benefits.tests.pages_helpers import redeem_some, text

URL = "/console/benefits/"


@pytest.fixture
def campaigns(world: Any, shop: Any, make_campaign: Any) -> dict[str, Campaign]:
    """One campaign of 解放区 itself, one of its township, one of 中站区 (another county)."""
    own = make_campaign(name="解放区四月购书券")
    township = campaign_create(
        actor=world.jiefang_officer,
        org=world.jiefang_township,
        merchant=shop.merchant,
        stores=[shop.other_store],
        **campaign_fields(name="街道夏日购书券"),
    )
    rival = campaign_create(
        actor=world.zhongzhan_officer,
        org=world.zhongzhan,
        merchant=shop.rival,
        stores=[shop.rival_store],
        **campaign_fields(name="中站区超市消费券"),
    )
    return {"own": own, "township": township, "rival": rival}


def names(body: str) -> set[str]:
    table = body.split('id="campaigns"')[1].split("</table>")[0]
    return set(re.findall(r'title="([^"]+)"', table))


def main(response: Any) -> str:
    return text(response).split("<main>")[1].split("</main>")[0]


def test_url_is_the_list() -> None:
    assert reverse("benefits_console:list") == URL


def test_search_finds_the_organising_union_and_the_store(
    world: Any, shop: Any, login: Any, campaigns: dict[str, Campaign]
) -> None:
    client = login(world.city_admin)
    assert names(text(client.get(URL, {"q": "解放区总工会"}))) == {"解放区四月购书券"}
    assert names(text(client.get(URL, {"q": "焦西街道"}))) == {"街道夏日购书券"}
    # a store's name, typed with a full-width space around it
    assert names(text(client.get(URL, {"q": "　解放路门店　"}))) == {"街道夏日购书券"}
    assert names(text(client.get(URL, {"q": "超市一店"}))) == {"中站区超市消费券"}
    # a store in two campaigns lists each once
    both = store_create(actor=None, merchant=shop.merchant, name="共同门店")
    for c in (campaigns["own"], campaigns["township"]):
        c.stores.add(both)
    body = text(client.get(URL, {"q": "共同门店"}))
    assert names(body) == {"解放区四月购书券", "街道夏日购书券"}
    assert body.count('title="解放区四月购书券"') == 1


def test_union_filter_takes_the_subtree(
    world: Any, login: Any, campaigns: dict[str, Campaign]
) -> None:
    client = login(world.city_admin)
    assert names(text(client.get(URL, {"org": world.jiefang.pk}))) == {
        "解放区四月购书券",
        "街道夏日购书券",
    }
    assert names(text(client.get(URL, {"org": world.jiefang_township.pk}))) == {"街道夏日购书券"}
    assert names(text(client.get(URL, {"org": world.zhongzhan.pk}))) == {"中站区超市消费券"}
    # with the other filters and the search together
    both = text(client.get(URL, {"org": world.jiefang.pk, "q": "街道", "status": "draft"}))
    assert names(both) == {"街道夏日购书券"}
    # the select offers the unions organising a campaign (and those above them), in tree order
    select = text(client.get(URL)).split('name="org"')[1].split("</select>")[0]
    options = re.findall(r'<option value="(\d*)"', select)
    assert options == [
        "",
        str(world.city.pk),
        str(world.jiefang.pk),
        str(world.jiefang_township.pk),
        str(world.zhongzhan.pk),
    ]
    assert str(world.jiefang_base.pk) not in options  # no campaign below it


def test_a_county_cannot_filter_to_another_county(
    world: Any, login: Any, campaigns: dict[str, Campaign]
) -> None:
    client = login(world.jiefang_officer)
    page = text(client.get(URL))
    select = page.split('name="org"')[1].split("</select>")[0]
    assert world.zhongzhan.name not in select and world.city.name not in select
    assert world.jiefang.name in select and world.jiefang_township.name in select
    foreign = client.get(URL, {"org": world.zhongzhan.pk})
    missing = client.get(URL, {"org": 999_999})
    # another county's union is answered as one that does not exist: nothing learnt
    assert foreign.status_code == missing.status_code == 400
    assert main(foreign).replace(str(world.zhongzhan.pk), "X") == main(missing).replace(
        "999999", "X"
    )
    for response in (foreign, missing):
        assert "中站区超市消费券" not in text(response) and world.zhongzhan.name not in text(
            response
        )
    # nor by searching its name
    assert names(text(client.get(URL, {"q": "中站区"}))) == set()
    assert names(text(client.get(URL, {"q": "超市一店"}))) == set()


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "<script>", "9" * 30, "１"])
def test_union_filter_bad_values(
    world: Any, login: Any, campaigns: dict[str, Campaign], value: str
) -> None:
    response = login(world.jiefang_officer).get(URL, {"org": value})
    assert response.status_code in {200, 400}
    assert "<script>" not in response.content.decode().split("</head>")[1]
    if response.status_code == 200:
        # "１" is a full-width 1: whatever it names, never another county's campaign
        assert "中站区超市消费券" not in text(response)


def test_paging_keeps_the_union_and_search(
    world: Any, login: Any, campaigns: dict[str, Campaign], monkeypatch: Any
) -> None:
    from gonghui.benefits import console_views

    monkeypatch.setattr(console_views, "CAMPAIGNS_PER_PAGE", 1)
    client = login(world.city_admin)
    page = text(client.get(URL, {"org": world.jiefang.pk, "q": "购书券"}))
    pager = page.split('class="pager"')[1].split("</div>")[0]
    link = re.search(r'href="([^"]+)"', pager)
    assert link is not None
    assert f"org={world.jiefang.pk}" in link.group(1) and "page=2" in link.group(1)
    second = text(client.get(URL + link.group(1)))
    assert len(names(second)) == 1 and names(second) | names(page) == {
        "解放区四月购书券",
        "街道夏日购书券",
    }
    # the chosen union stays chosen in the select
    select = second.split('name="org"')[1].split("</select>")[0]
    assert re.search(rf'<option value="{world.jiefang.pk}"[^>]*selected', select)


def _campaign_rows(body: str) -> list[list[str]]:
    tbody = body.split('id="campaigns"')[1].split("<tbody>")[1].split("</tbody>")[0]
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", tbody, flags=re.S)
    ]


def test_campaign_list_counts_vouchers_of_the_listed_campaigns_only(
    world: Any, shop: Any, login: Any, make_campaign: Any, carded: Any
) -> None:
    """The list's count of pages and its 'handed out' column: the count of campaigns is not a
    join of every voucher of the city, and no page groups the whole voucher table."""
    busy = make_campaign(quota=5, name="已领券活动")
    make_campaign(quota=5, name="无人领券活动")
    redeem_some(busy, [carded(), carded()], shop)
    with CaptureQueriesContext(connection) as queries:
        response = login(world.jiefang_officer).get(reverse("benefits_console:list"))
    assert response.status_code == 200
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"] and "benefits_campaign" in q["sql"]]
    assert counts and not [sql for sql in counts if "GROUP BY" in sql and "SELECT COUNT(*)" in sql]
    assert not [q["sql"] for q in queries if re.search(r"JOIN \"benefits_voucher\" ON", q["sql"])]
    rows = {r[0]: r[7] for r in _campaign_rows(text(response))}
    assert rows == {"已领券活动": "2", "无人领券活动": "0"}
