"""A small known dataset on top of the shared ``world``: figures are checked against it by hand."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.utils import timezone

from gonghui.conftest import World
from gonghui.members.models import Member, NewFormKind, WorkerCategory
from gonghui.members.services import join_application_submit, member_leave
from gonghui.members.tests.factories import MemberFactory, make_id_number
from gonghui.orgs.models import Org, OrgKind
from gonghui.orgs.tests.factories import OrgFactory

OLD_YEAR = 2023


@dataclass
class Figures:
    world: World
    jiefang_base2: Org
    empty_township: Org
    left_member: Member


def _new_form(org: Org, kind: str) -> Member:
    return MemberFactory(org=org, category=WorkerCategory.NEW_FORM_WORKER, new_form_kind=kind)


@pytest.fixture
def figures(world: World) -> Figures:
    """
    解放区 (jiefang): 王小明 (employee), 2 couriers, 1 food-delivery rider, 1 migrant worker who
      joined in 2023 — all in jiefang_base under 焦西街道; jiefang_base2 (founded 2023) directly
      under the district with 1 employee; an empty township; one member who left this year.
    中站区 (zhongzhan): 李秀英 (employee), 1 truck driver, 1 ride-hailing driver.
    One pending join application in each district.
    """
    base2 = OrgFactory(
        parent=world.jiefang,
        kind=OrgKind.BASE_UNION,
        name="焦作市解放区第二示范公司工会委员会",
        founded_on=dt.date(OLD_YEAR, 3, 1),
    )
    empty_township = OrgFactory(
        parent=world.jiefang, kind=OrgKind.TOWNSHIP_UNION, name="民主街道工会联合会"
    )
    _new_form(world.jiefang_base, NewFormKind.COURIER)
    _new_form(world.jiefang_base, NewFormKind.COURIER)
    _new_form(world.jiefang_base, NewFormKind.FOOD_DELIVERY_RIDER)
    MemberFactory(
        org=world.jiefang_base,
        category=WorkerCategory.MIGRANT_WORKER,
        joined_on=dt.date(OLD_YEAR, 5, 1),
    )
    MemberFactory(org=base2)
    left = MemberFactory(org=world.jiefang_base, name="离会者")
    member_leave(actor=None, member=left, on=timezone.localdate(), reason="调离")
    _new_form(world.zhongzhan_base, NewFormKind.TRUCK_DRIVER)
    _new_form(world.zhongzhan_base, NewFormKind.RIDE_HAILING_DRIVER)
    join_application_submit(
        org=world.jiefang_base,
        name="赵申请",
        id_number=make_id_number(region="410802", seq=901),
        phone="13700000001",
    )
    join_application_submit(
        org=world.zhongzhan_base,
        name="钱申请",
        id_number=make_id_number(region="410803", seq=902),
        phone="13700000002",
    )
    return Figures(
        world=world, jiefang_base2=base2, empty_township=empty_township, left_member=left
    )
