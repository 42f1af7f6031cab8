"""The campaign dashboard at the scale a city runs it: figures that add up and say what they
count, redemptions rolled up the union tree, local days, an export, and reads that do not grow
with the campaign's (or the platform's) size."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from gonghui.audit.models import AuditEvent
from gonghui.benefits.services import (
    campaign_create,
    campaign_transition,
    redemption_reverse,
    voucher_grab,
    voucher_redeem,
)
from gonghui.benefits.tests.conftest import campaign_fields
from gonghui.benefits.tests.pages_helpers import redeem_some, text, zh
from gonghui.orgs.models import OrgKind
from gonghui.orgs.tests.factories import OrgFactory

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    cache.clear()


def _table(body: str, table_id: str) -> list[list[str]]:
    """The body rows of a table as lists of cell texts."""
    part = body.split(f'id="{table_id}"')[1].split("</table>")[0]
    tbody = part.split("<tbody>")[1]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", tbody, flags=re.S)
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in rows
    ]


@pytest.fixture
def city_campaign(world: Any, shop: Any):
    """A campaign of the city federation itself (members of every county may take part)."""
    campaign = campaign_create(
        actor=None,
        org=world.city,
        merchant=shop.merchant,
        stores=[shop.store, shop.other_store],
        **campaign_fields(quota=10),
    )
    for new in ("scheduled", "open"):
        campaign_transition(campaign=campaign, new=new, actor=None)
    campaign.refresh_from_db()
    return campaign


# ------------------------------------------------------------------ by organisation


def test_city_sees_redemptions_rolled_up_by_county(
    world: Any, shop: Any, login: Any, city_campaign: Any, carded: Any
) -> None:
    """A city admin reads the counties, each with its whole subtree: the base unions two levels
    down count towards their county, not each on a row of its own."""
    second = OrgFactory(parent=world.jiefang_township, kind=OrgKind.BASE_UNION, name="第二工会")
    redeem_some(
        city_campaign,
        [carded(), carded(), carded(org=second), carded(org=world.zhongzhan_base)],
        shop,
    )
    body = text(
        login(world.city_admin).get(reverse("benefits_console:dashboard", args=[city_campaign.pk]))
    )
    rows = _table(body, "by-org")
    assert rows == [[world.jiefang.name, "3"], [world.zhongzhan.name, "1"]]
    assert world.jiefang_base.name not in body.split('id="by-org"')[1]


def test_drilling_down_one_level_at_a_time(
    world: Any, shop: Any, login: Any, city_campaign: Any, carded: Any
) -> None:
    second = OrgFactory(parent=world.jiefang_township, kind=OrgKind.BASE_UNION, name="第二工会")
    redeem_some(city_campaign, [carded(), carded(), carded(org=second)], shop)
    client = login(world.city_admin)
    url = reverse("benefits_console:dashboard", args=[city_campaign.pk])
    county = text(client.get(url, {"org": world.jiefang.pk}))
    assert _table(county, "by-org") == [[world.jiefang_township.name, "3"]]
    township = text(client.get(url, {"org": world.jiefang_township.pk}))
    assert _table(township, "by-org") == [[world.jiefang_base.name, "2"], [second.name, "1"]]
    # the way back up is on the page
    assert f"?org={world.jiefang.pk}" in township and world.city.name in township


def test_unions_of_the_same_name_are_not_added_together(
    world: Any, shop: Any, login: Any, city_campaign: Any, carded: Any
) -> None:
    twin = OrgFactory(parent=world.zhongzhan, kind=OrgKind.BASE_UNION, name=world.jiefang.name)
    redeem_some(city_campaign, [carded(), carded(org=twin)], shop)
    body = text(
        login(world.city_admin).get(
            reverse("benefits_console:dashboard", args=[city_campaign.pk]),
            {"org": world.zhongzhan.pk},
        )
    )
    assert _table(body, "by-org") == [[world.jiefang.name, "1"]]


def test_county_staff_cannot_drill_outside_the_campaign_or_its_subtree(
    world: Any, shop: Any, login: Any, make_campaign: Any, carded: Any
) -> None:
    campaign = make_campaign(quota=5)
    redeem_some(campaign, [carded()], shop)
    client = login(world.jiefang_officer)
    url = reverse("benefits_console:dashboard", args=[campaign.pk])
    for org in (world.zhongzhan.pk, world.city.pk, "x", 10**12):
        response = client.get(url, {"org": org})
        assert response.status_code == 404, org
        assert world.zhongzhan.name not in response.content.decode()
    assert client.get(url, {"org": world.jiefang_township.pk}).status_code == 200


def test_a_member_who_moved_away_is_counted_but_the_union_is_not_named(
    world: Any, shop: Any, login: Any, make_campaign: Any, carded: Any
) -> None:
    """The county's campaign, a member since transferred to another county: the redemption is
    the county's to count, the other county's union is not the county staff's to see."""
    campaign = make_campaign(quota=5)
    moved = carded()
    redeem_some(campaign, [carded(), moved], shop)
    type(moved).objects.filter(pk=moved.pk).update(org=world.zhongzhan_base)
    body = text(
        login(world.jiefang_officer).get(reverse("benefits_console:dashboard", args=[campaign.pk]))
    )
    rows = _table(body, "by-org")
    assert rows[0] == [world.jiefang_township.name, "1"]
    assert rows[1][1] == "1" and zh("Members now in other unions") in rows[1][0]
    assert world.zhongzhan_base.name not in body


# ------------------------------------------------------------------ figures


def test_figures_add_up_and_state_the_rate_denominator(
    world: Any, shop: Any, login: Any, make_campaign: Any, carded: Any
) -> None:
    campaign = make_campaign(quota=10)
    redemptions = redeem_some(campaign, [carded(), carded(), carded()], shop)
    voucher_grab(campaign=campaign, member=carded())
    redemption_reverse(redemption=redemptions[0], supervisor=shop.supervisor, reason="扫错了")
    body = text(
        login(world.jiefang_officer).get(reverse("benefits_console:dashboard", args=[campaign.pk]))
    )
    assert 'id="fig-handed-out">4<' in body
    assert 'id="fig-redeemed">2<' in body
    assert 'id="fig-open">2<' in body  # the reversed one is open again, with the one never used
    assert 'id="fig-rate">50.0%<' in body
    note = body.split('id="fig-note"')[1].split("</p>")[0]
    assert "2" in note and "4" in note  # redeemed ÷ handed out, in numbers
    assert 'id="fig-reversed">1<' in body


def test_days_are_local_days_and_empty_days_are_shown(
    world: Any, shop: Any, login: Any, make_campaign: Any, carded: Any
) -> None:
    """A scan at 07:30 in Jiaozuo is 23:30 UTC the day before: it counts on the local day. A day
    without a scan between two with scans is a row with 0, not a gap the chart closes up."""
    start = timezone.now() - dt.timedelta(days=6)
    campaign = make_campaign(quota=5, release_at=start, redeem_from=start)
    day = (timezone.now() - dt.timedelta(days=4)).astimezone(SHANGHAI).date()
    early = dt.datetime.combine(day, dt.time(7, 30), tzinfo=SHANGHAI)
    later = early + dt.timedelta(days=2)
    for i, at in enumerate((early, later)):
        voucher = voucher_grab(campaign=campaign, member=carded()).voucher
        assert voucher is not None
        voucher_redeem(
            code=voucher.code,
            store=shop.store,
            clerk=shop.clerk,
            receipt_no=f"R-{i}",
            amount_fen=12000,
            now=at,
        )
    body = text(
        login(world.jiefang_officer).get(reverse("benefits_console:dashboard", args=[campaign.pk]))
    )
    assert _table(body, "by-day") == [
        [day.isoformat(), "1"],
        [(day + dt.timedelta(days=1)).isoformat(), "0"],
        [(day + dt.timedelta(days=2)).isoformat(), "1"],
    ]


# ------------------------------------------------------------------ reads that do not grow


def _breakdown_queries(queries: Any) -> list[str]:
    """Queries that group the campaign's redemptions (by store, day or union)."""
    return [
        q["sql"]
        for q in queries
        if "GROUP BY" in q["sql"] and 'FROM "benefits_redemption"' in q["sql"]
    ]


def test_the_campaign_page_does_not_work_out_the_dashboards_breakdowns(
    world: Any, shop: Any, login: Any, make_campaign: Any, carded: Any
) -> None:
    campaign = make_campaign(quota=5)
    redeem_some(campaign, [carded(), carded()], shop)
    client = login(world.jiefang_officer)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("benefits_console:detail", args=[campaign.pk]))
    assert response.status_code == 200
    assert 'id="fig-redeemed">2<' in response.content.decode()
    assert _breakdown_queries(queries) == []


def test_dashboard_queries_do_not_grow_with_redemptions_stores_or_unions(
    world: Any,
    shop: Any,
    login: Any,
    city_campaign: Any,
    carded: Any,
    django_assert_max_num_queries: Any,
) -> None:
    client = login(world.city_admin)
    url = reverse("benefits_console:dashboard", args=[city_campaign.pk])
    redeem_some(city_campaign, [carded()], shop)
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    unions = [
        OrgFactory(parent=world.jiefang_township, kind=OrgKind.BASE_UNION, name=f"工会{i}")
        for i in range(4)
    ]
    members = [carded(org=u) for u in unions] + [carded(org=world.zhongzhan_base)]
    for i, member in enumerate(members):
        voucher = voucher_grab(campaign=city_campaign, member=member).voucher
        assert voucher is not None
        voucher_redeem(
            code=voucher.code,
            store=shop.other_store if i % 2 else shop.store,
            clerk=shop.clerk,
            receipt_no=f"B-{i}",
            amount_fen=12000,
        )
    with django_assert_max_num_queries(len(small)):
        response = client.get(url)
    assert _table(text(response), "by-org") == [
        [world.jiefang.name, "5"],
        [world.zhongzhan.name, "1"],
    ]


# ------------------------------------------------------------------ export


def test_export_has_a_sheet_each_scoped_and_audited(
    world: Any, shop: Any, login: Any, city_campaign: Any, carded: Any
) -> None:
    redeem_some(city_campaign, [carded(), carded(org=world.zhongzhan_base)], shop)
    url = reverse("benefits_console:dashboard_export", args=[city_campaign.pk])
    before = AuditEvent.objects.filter(action="export").count()
    response = login(world.city_admin).get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == [zh("Summary"), zh("By store"), zh("By day"), zh("By union")]
    summary = {row[0]: row[1] for row in book[zh("Summary")].iter_rows(values_only=True)}
    assert summary[zh("Handed out")] == 2 and summary[zh("Redeemed")] == 2
    assert summary[zh("Subsidy accrued (yuan)")] == 136
    stores = list(book[zh("By store")].iter_rows(values_only=True))
    assert stores[1:] == [(shop.store.name, 2, 136)]
    unions = list(book[zh("By union")].iter_rows(values_only=True))
    assert unions[1:] == [(world.jiefang.name, 1), (world.zhongzhan.name, 1)]
    event = AuditEvent.objects.filter(action="export").latest("pk")
    assert AuditEvent.objects.filter(action="export").count() == before + 1
    assert event.object_id == str(city_campaign.pk) and event.actor_id == world.city_admin.pk


def test_export_at_a_drilled_level_and_refused_outside(
    world: Any, shop: Any, login: Any, make_campaign: Any, carded: Any
) -> None:
    campaign = make_campaign(quota=5)
    redeem_some(campaign, [carded()], shop)
    url = reverse("benefits_console:dashboard_export", args=[campaign.pk])
    viewer = login(world.jiefang_viewer)
    response = viewer.get(url, {"org": world.jiefang_township.pk})
    book = load_workbook(io.BytesIO(response.content))
    assert list(book[zh("By union")].iter_rows(values_only=True))[1:] == [
        (world.jiefang_base.name, 1)
    ]
    before = AuditEvent.objects.filter(action="export").count()
    assert viewer.get(url, {"org": world.zhongzhan.pk}).status_code == 404
    assert login(world.zhongzhan_officer).get(url).status_code == 404
    assert AuditEvent.objects.filter(action="export").count() == before


def test_the_dashboard_offers_settlement_only_to_who_may_open_it(
    world: Any, login: Any, make_campaign: Any
) -> None:
    """A read-only viewer was offered the settlement link and then refused (403)."""
    campaign = make_campaign(quota=5)
    url = reverse("benefits_console:dashboard", args=[campaign.pk])
    settlement = reverse("benefits_console:settlement", args=[campaign.pk])
    viewer, officer = login(world.jiefang_viewer), login(world.jiefang_officer)
    assert settlement not in viewer.get(url).content.decode()
    assert viewer.get(settlement).status_code == 403
    assert settlement in officer.get(url).content.decode()
    assert officer.get(settlement).status_code == 200
