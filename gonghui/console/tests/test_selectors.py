"""Dashboard figures on the known dataset of conftest.figures, for the city and for one district."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gonghui.console import selectors
from gonghui.console.tests.conftest import OLD_YEAR, Figures
from gonghui.members.models import Member

pytestmark = pytest.mark.django_db

THIS_YEAR = timezone.localdate().year


def by_key(rows):
    return {row.key: row.value for row in rows}


def by_org(rows):
    return {row.org.pk: row.value for row in rows}


def test_city_figures(figures: Figures) -> None:
    w = figures.world
    board = selectors.dashboard(actor=w.city_admin, year=THIS_YEAR)
    assert board.total_members == 9
    assert board.new_form_members == 5
    assert by_key(board.by_category) == {
        "employee": 3,
        "migrant_worker": 1,
        "flexible_worker": 0,
        "new_form_worker": 5,
    }
    assert by_key(board.by_new_form_kind) == {
        "truck_driver": 1,
        "ride_hailing_driver": 1,
        "courier": 2,
        "food_delivery_rider": 1,
    }
    assert by_org(board.by_org) == {w.jiefang.pk: 6, w.zhongzhan.pk: 3}
    # Joined this year: everyone but the 2023 migrant worker, including the one who left since.
    assert board.new_members_in_year == 9
    # jiefang_base and zhongzhan_base were entered this year without a founding date.
    assert board.new_unions_in_year == 2
    assert board.pending_join_applications == 2
    township = next(c for c in board.coverage if c.kind == "township_union")
    assert (township.covered, township.total) == (1, 2)
    assert township.rate == 0.5


def test_city_figures_for_an_earlier_year(figures: Figures) -> None:
    board = selectors.dashboard(actor=figures.world.city_admin, year=OLD_YEAR)
    assert board.new_members_in_year == 1
    assert board.new_unions_in_year == 1
    assert board.total_members == 9  # a stock, not a flow: the same for every year


def test_a_rejoin_counts_as_joining_in_its_year(figures: Figures) -> None:
    """The 2023 migrant worker leaves and comes back this year: a new member of this year."""
    from gonghui.members.services import member_leave, member_rejoin

    w = figures.world
    veteran = Member.objects.get(joined_on__year=OLD_YEAR)
    today = timezone.localdate()
    member_leave(actor=None, member=veteran, on=today, reason="调离")
    member_rejoin(actor=None, member=veteran, org=w.jiefang_base, on=today, reason="返岗")
    assert veteran.memberships.filter(start_kind="rejoin").count() == 1
    board = selectors.dashboard(actor=w.city_admin, year=THIS_YEAR)
    assert board.new_members_in_year == 10
    assert board.total_members == 9
    # Counted once a year however often they come and go.
    left = Member.objects.get(name="离会者")
    member_rejoin(actor=None, member=left, org=w.jiefang_base, on=today)
    assert selectors.dashboard(actor=w.city_admin, year=THIS_YEAR).new_members_in_year == 10


def test_district_figures_exclude_the_sibling_district(figures: Figures) -> None:
    w = figures.world
    board = selectors.dashboard(actor=w.jiefang_officer, year=THIS_YEAR)
    assert board.total_members == 6
    assert board.new_form_members == 3
    assert by_key(board.by_new_form_kind) == {
        "truck_driver": 0,
        "ride_hailing_driver": 0,
        "courier": 2,
        "food_delivery_rider": 1,
    }
    # Direct children of 解放区, each with its whole subtree; 中站区 is not among them.
    assert by_org(board.by_org) == {
        w.jiefang_township.pk: 5,
        figures.jiefang_base2.pk: 1,
        figures.empty_township.pk: 0,
    }
    assert board.new_members_in_year == 6
    assert board.new_unions_in_year == 1
    assert board.pending_join_applications == 1
    assert selectors.dashboard(actor=w.jiefang_officer, year=OLD_YEAR).new_unions_in_year == 1


def test_zhongzhan_figures(figures: Figures) -> None:
    board = selectors.dashboard(actor=figures.world.zhongzhan_officer, year=THIS_YEAR)
    assert board.total_members == 3
    assert by_org(board.by_org) == {figures.world.zhongzhan_base.pk: 3}
    township = next(c for c in board.coverage if c.kind == "township_union")
    assert (township.covered, township.total) == (0, 0)


def test_base_union_clerk_sees_own_members_row(figures: Figures) -> None:
    board = selectors.dashboard(actor=figures.world.base_clerk, year=THIS_YEAR)
    assert board.total_members == 5
    assert [(row.org.pk, row.value) for row in board.by_org] == [(figures.world.jiefang_base.pk, 5)]


def test_member_moved_between_districts_counts_where_it_is_now(figures: Figures) -> None:
    w = figures.world
    Member.objects.filter(pk=w.jiefang_member.pk).update(org=w.zhongzhan_base)
    board = selectors.dashboard(actor=w.city_admin, year=THIS_YEAR)
    assert by_org(board.by_org) == {w.jiefang.pk: 5, w.zhongzhan.pk: 4}


def test_children_breakdown_is_one_query_however_many_children(figures: Figures) -> None:
    from gonghui.orgs.models import OrgKind
    from gonghui.orgs.tests.factories import OrgFactory

    for i in range(15):
        OrgFactory(parent=figures.world.jiefang, kind=OrgKind.BASE_UNION, name=f"批量{i}工会")
    with CaptureQueriesContext(connection) as ctx:
        rows = selectors.members_by_child_org(actor=figures.world.jiefang_officer)
    assert len(rows) == 18
    assert len(ctx.captured_queries) <= 3  # the user's org, its children, one grouped count


def test_nobody_sees_figures(figures: Figures) -> None:
    from django.contrib.auth.models import AnonymousUser

    board = selectors.dashboard(actor=AnonymousUser(), year=THIS_YEAR)
    assert board.total_members == 0
    assert board.by_org == []
    assert board.pending_join_applications == 0


def test_org_list_member_counts_cover_subtrees(figures: Figures) -> None:
    w = figures.world
    counts = {
        o.pk: o.member_count for o in selectors.org_list_with_member_counts(actor=w.jiefang_officer)
    }
    assert counts == {
        w.jiefang.pk: 6,
        w.jiefang_township.pk: 5,
        w.jiefang_base.pk: 5,
        figures.jiefang_base2.pk: 1,
        figures.empty_township.pk: 0,
    }


def test_superuser_without_org_looks_down_from_the_top(figures: Figures) -> None:
    from gonghui.accounts.models import User

    root = User.objects.create_superuser(username="root", password="x-Very-long-pw-1")
    board = selectors.dashboard(actor=root, year=THIS_YEAR)
    assert board.total_members == 9
    assert by_org(board.by_org) == {figures.world.city.pk: 9}


def test_dashboard_page_query_count_is_small(figures: Figures, login) -> None:
    client = login(figures.world.jiefang_officer)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/console/").status_code == 200
    # session, user, roles + about a dozen figure queries; never one per organisation.
    assert len(ctx.captured_queries) <= 20
