"""Organisation pages: list, detail, create, edit, move, dissolve — happy paths and bad input."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone
from stdnum.cn import uscc as stdnum_uscc

from gonghui.audit.models import AuditAction, AuditEvent
from gonghui.conftest import World
from gonghui.console.tests.conftest import Figures
from gonghui.console.tests.helpers import org_state, shows, snapshot, text
from gonghui.members.models import Member
from gonghui.orgs.models import Org, OrgKind, OrgStatus
from gonghui.orgs.tests.factories import OrgFactory

pytestmark = pytest.mark.django_db

_BODY = "81410802MC0000016"
GOOD_USCC = _BODY + stdnum_uscc.calc_check_digit(_BODY)
BAD_USCC = GOOD_USCC[:-1] + ("0" if GOOD_USCC[-1] != "0" else "1")
CHECKSUM_MSG = (
    "The unified social credit code fails its checksum. Check it against the "
    "certificate; if it is printed so, give a reason to accept it anyway."
)


def new_url(org: Org) -> str:
    return reverse("console:org_new", args=[org.pk])


def form_data(**overrides: str) -> dict[str, str]:
    data = {
        "kind": OrgKind.BASE_UNION,
        "name": "焦作市解放区新建示范公司工会委员会",
        "short_name": "新建公司工会",
        "division_code": "410802",
        "uscc": "",
        "address": "焦作市解放区民主路1号",
        "founded_on": "2024-06-01",
        "chair_name": "张主席",
        "contact_name": "李联系",
        "contact_phone": "03913000000",
    }
    data.update(overrides)
    return data


# ---------------------------------------------------------------- list and detail


def test_list_shows_tree_indented_relative_to_user(figures: Figures, login) -> None:
    w = figures.world
    html = text(login(w.jiefang_officer).get(reverse("console:orgs")))
    assert "解放区总工会" in html and "焦西街道工会联合会" in html
    assert "中站区总工会" not in html and "焦作中站示范化工有限公司工会委员会" not in html
    # 解放区 is the officer's own org (depth 0 relative), its base union two levels down.
    assert (
        f'style="padding-left:0.0em"><a href="{reverse("console:org_detail", args=[w.jiefang.pk])}"'
        in html
    )
    base_link = reverse("console:org_detail", args=[w.jiefang_base.pk])
    assert f'style="padding-left:3.0em"><a href="{base_link}"' in html


@pytest.mark.parametrize(
    "params,present,absent",
    [
        ({"q": "焦西"}, ["焦西街道工会联合会"], ["民主街道工会联合会"]),
        ({"q": "410802"}, ["解放区总工会"], ["焦西街道工会联合会"]),
        ({"q": "４１０８０２"}, ["解放区总工会"], ["焦西街道工会联合会"]),  # full-width digits
        (
            {"kind": "township_union"},
            ["焦西街道工会联合会", "民主街道工会联合会"],
            ["解放区总工会</a>"],
        ),
        ({"status": "dissolved"}, [], ["焦西街道工会联合会"]),
        ({"q": "'; DROP TABLE orgs_org; --"}, [], ["焦西街道工会联合会"]),
    ],
)
def test_list_search_and_filters(figures: Figures, login, params, present, absent) -> None:
    response = login(figures.world.city_admin).get(reverse("console:orgs"), params)
    assert response.status_code == 200
    html = text(response)
    for name in present:
        assert name in html
    for name in absent:
        assert name not in html
    assert Org.objects.exists()


@pytest.mark.parametrize(
    "params", [{"kind": "bogus"}, {"status": "<script>"}, {"q": "x" * 5000}, {"q": "a\x00b"}]
)
def test_list_bad_filters_are_messages(figures: Figures, login, params) -> None:
    response = login(figures.world.city_admin).get(reverse("console:orgs"), params)
    assert response.status_code == 400
    html = text(response)
    assert 'class="errorlist"' in html
    assert "<script>" not in html.split("<main>")[1]


def test_list_pagination(world: World, login) -> None:
    for i in range(55):
        OrgFactory(
            parent=world.jiefang_township, kind=OrgKind.BASE_UNION, name=f"分页测试{i:02d}工会"
        )
    client = login(world.jiefang_officer)
    first = text(client.get(reverse("console:orgs"), {"q": "分页测试"}))
    second = text(client.get(reverse("console:orgs"), {"q": "分页测试", "page": 2}))
    assert first.count(">分页测试") == 50 and second.count(">分页测试") == 5
    assert "page=2" in first and "q=" in first
    assert client.get(reverse("console:orgs"), {"page": "abc"}).status_code == 200


def test_detail_shows_fields_chain_children_and_member_link(figures: Figures, login) -> None:
    w = figures.world
    html = text(
        login(w.jiefang_officer).get(reverse("console:org_detail", args=[w.jiefang_township.pk]))
    )
    assert "焦西街道工会联合会" in html
    assert reverse("console:org_detail", args=[w.jiefang.pk]) in html  # parent chain
    assert "焦作市总工会" not in html  # above the officer's org: not visible
    assert "焦作市解放区示范商贸有限公司工会委员会" in html  # child
    assert f"{reverse('members:list')}?org={w.jiefang_township.pk}" in html
    assert 'id="member-count">5 ' in html


def test_detail_other_district_is_not_found(figures: Figures, login) -> None:
    w = figures.world
    response = login(w.jiefang_officer).get(
        reverse("console:org_detail", args=[w.zhongzhan_base.pk])
    )
    assert response.status_code == 404
    assert "焦作中站示范化工有限公司工会委员会" not in text(response)
    assert login(w.city_admin).get(reverse("console:org_detail", args=[999999])).status_code == 404


# ---------------------------------------------------------------- create


def test_create_happy_path(world: World, login) -> None:
    response = login(world.jiefang_officer).post(new_url(world.jiefang), form_data())
    org = Org.objects.get(name="焦作市解放区新建示范公司工会委员会")
    assert response.status_code == 302
    assert response["Location"] == reverse("console:org_detail", args=[org.pk])
    assert org.parent == world.jiefang and org.path.startswith(world.jiefang.path)
    assert org.depth == world.jiefang.depth + 1 and org.join_token
    assert org.founded_on.isoformat() == "2024-06-01" and org.chair_name == "张主席"
    assert AuditEvent.objects.filter(
        action=AuditAction.CREATE, object_id=str(org.pk), actor=world.jiefang_officer
    ).exists()


@pytest.mark.parametrize(
    "overrides,message,params",
    [
        ({"name": ""}, "Enter the organisation's name.", {}),
        ({"name": "   "}, "Enter the organisation's name.", {}),
        ({"name": "工" * 101}, "The name may have at most 100 characters.", {}),
        (
            {"division_code": "999999"},
            "%(code)s is not a GB/T 2260 administrative division code.",
            {"code": "999999"},
        ),
        (
            {"division_code": "41080"},
            "The administrative division code must be 6 digits (county) or 9/12 digits (township).",
            {},
        ),
        (
            {"uscc": "91410800MA12345678"},
            "A trade union's unified social credit code starts with 8.",
            {},
        ),
        (
            {"uscc": "abc"},
            "The unified social credit code must be 18 characters of digits and capital letters.",
            {},
        ),
        (
            {"name": "焦西街道工会联合会", "kind": "township_union"},
            "An organisation with this name already exists under the same parent.",
            {},
        ),
        ({"founded_on": "2999-01-01"}, "The founding date cannot be in the future.", {}),
    ],
)
def test_create_bad_input_changes_nothing(world: World, login, overrides, message, params) -> None:
    before = snapshot()
    data = form_data(**overrides)
    response = login(world.jiefang_officer).post(new_url(world.jiefang), data)
    assert response.status_code == 400
    assert shows(response, message, **params)
    assert snapshot() == before
    # What was typed is kept.
    assert f'value="{data["address"]}"' in text(response)


@pytest.mark.parametrize(
    "overrides",
    [
        {"kind": "city_federation"},  # not allowed under a county federation
        {"kind": ""},
        {"founded_on": "2024-02-30"},
        {"contact_phone": "1" * 21},
        {"short_name": "短" * 41},
        {"address": "a\x00b"},
    ],
)
def test_create_form_level_bad_input(world: World, login, overrides) -> None:
    before = snapshot()
    response = login(world.jiefang_officer).post(new_url(world.jiefang), form_data(**overrides))
    assert response.status_code == 400
    assert 'class="errorlist"' in text(response)
    assert snapshot() == before


def test_create_full_width_division_code_is_normalised(world: World, login) -> None:
    response = login(world.jiefang_officer).post(
        new_url(world.jiefang), form_data(division_code="４１０８０２")
    )
    assert response.status_code == 302
    assert Org.objects.get(name="焦作市解放区新建示范公司工会委员会").division_code == "410802"


def test_create_hostile_names_are_stored_literally_and_rendered_escaped(
    world: World, login
) -> None:
    client = login(world.jiefang_officer)
    hostile = "<script>alert(1)</script>工会"
    sqlish = "'; DROP TABLE orgs_org; --"
    created = client.post(new_url(world.jiefang), form_data(name=hostile, short_name=""))
    assert created.status_code == 302
    assert client.post(new_url(world.jiefang), form_data(name=sqlish)).status_code == 302
    org = Org.objects.get(name=hostile)
    assert Org.objects.filter(name=sqlish).exists()
    for url in (
        reverse("console:org_detail", args=[org.pk]),
        reverse("console:orgs"),
        reverse("console:home"),
    ):
        html = text(client.get(url))
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_create_checksum_override_flow(world: World, login) -> None:
    client = login(world.jiefang_officer)
    before = snapshot()
    first = client.post(new_url(world.jiefang), form_data(uscc=BAD_USCC))
    assert first.status_code == 400
    assert shows(first, CHECKSUM_MSG)
    html = text(first)
    assert 'name="uscc_override_reason"' in html
    assert f'value="{BAD_USCC}"' in html and 'value="焦作市解放区新建示范公司工会委员会"' in html
    assert snapshot() == before
    # The reason field only appears when needed.
    assert 'name="uscc_override_reason"' not in text(client.get(new_url(world.jiefang)))

    second = client.post(
        new_url(world.jiefang),
        form_data(uscc=BAD_USCC, uscc_override_reason="证书原件即如此印制，已核对"),
    )
    assert second.status_code == 302
    org = Org.objects.get(name="焦作市解放区新建示范公司工会委员会")
    assert org.uscc == BAD_USCC and not org.uscc_checksum_ok
    assert org.uscc_override_reason == "证书原件即如此印制，已核对"


def test_create_good_uscc_needs_no_reason(world: World, login) -> None:
    response = login(world.jiefang_officer).post(
        new_url(world.jiefang), form_data(uscc=GOOD_USCC.lower())
    )
    assert response.status_code == 302
    org = Org.objects.get(name="焦作市解放区新建示范公司工会委员会")
    assert org.uscc == GOOD_USCC and org.uscc_checksum_ok


def test_create_under_base_union_is_refused(world: World, login) -> None:
    before = snapshot()
    response = login(world.jiefang_officer).post(new_url(world.jiefang_base), form_data())
    assert response.status_code == 400
    assert shows(response, "This organisation cannot have sub-organisations.")
    assert snapshot() == before


# ---------------------------------------------------------------- edit


def edit_url(org: Org) -> str:
    return reverse("console:org_edit", args=[org.pk])


def test_edit_happy_path_keeps_initial_values(world: World, login) -> None:
    client = login(world.jiefang_officer)
    page = text(client.get(edit_url(world.jiefang_base)))
    assert 'value="焦作市解放区示范商贸有限公司工会委员会"' in page
    data = form_data(name="焦作市解放区示范商贸有限公司工会（改名）", division_code="")
    response = client.post(edit_url(world.jiefang_base), data)
    assert response.status_code == 302
    org = Org.objects.get(pk=world.jiefang_base.pk)
    assert org.name == "焦作市解放区示范商贸有限公司工会（改名）"
    assert org.path == world.jiefang_base.path
    assert AuditEvent.objects.filter(action=AuditAction.UPDATE, object_id=str(org.pk)).exists()


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"name": ""}, "Enter the organisation's name."),
        ({"name": "名" * 101}, "The name may have at most 100 characters."),
        ({"division_code": "000000"}, "%(code)s is not a GB/T 2260 administrative division code."),
        ({"uscc": BAD_USCC}, CHECKSUM_MSG),
    ],
)
def test_edit_bad_input_changes_nothing(world: World, login, overrides, message) -> None:
    before = snapshot()
    data = form_data(**overrides)
    response = login(world.jiefang_officer).post(edit_url(world.jiefang_base), data)
    assert response.status_code == 400
    params = {"code": "000000"} if "%(code)s" in message else {}
    assert shows(response, message, **params)
    assert snapshot() == before
    assert f'value="{data["chair_name"]}"' in text(response)


def test_edit_checksum_override_then_kept(world: World, login) -> None:
    client = login(world.jiefang_officer)
    response = client.post(
        edit_url(world.jiefang_base), form_data(uscc=BAD_USCC, uscc_override_reason="原件如此")
    )
    assert response.status_code == 302
    org = Org.objects.get(pk=world.jiefang_base.pk)
    assert not org.uscc_checksum_ok and org.uscc_override_reason == "原件如此"
    # Editing another field keeps the accepted code and shows the reason again.
    page = text(client.get(edit_url(org)))
    assert 'name="uscc_override_reason"' in page and "原件如此" in page


def test_edit_full_width_division_code(world: World, login) -> None:
    response = login(world.jiefang_officer).post(
        edit_url(world.jiefang_base), form_data(division_code="４１０８０２")
    )
    assert response.status_code == 302
    assert Org.objects.get(pk=world.jiefang_base.pk).division_code == "410802"


# ---------------------------------------------------------------- move


def move_url(org: Org) -> str:
    return reverse("console:org_move", args=[org.pk])


def test_move_happy_path_moves_subtree(figures: Figures, login) -> None:
    w = figures.world
    client = login(w.jiefang_officer)
    page = text(client.get(move_url(w.jiefang_base)))
    assert "民主街道工会联合会" in page and "中站区总工会" not in page
    response = client.post(
        move_url(w.jiefang_base), {"new_parent": figures.empty_township.pk, "reason": "区划调整"}
    )
    assert response.status_code == 302
    org = Org.objects.get(pk=w.jiefang_base.pk)
    assert org.parent_id == figures.empty_township.pk
    assert org.path == f"{figures.empty_township.path}{org.pk}/"
    event = AuditEvent.objects.get(action=AuditAction.MOVE, object_id=str(org.pk))
    assert event.reason == "区划调整"


@pytest.mark.parametrize("target", ["zhongzhan", "own_child", "self", "missing", "junk", "empty"])
def test_move_bad_target_changes_nothing(figures: Figures, login, target) -> None:
    w = figures.world
    value = {
        "zhongzhan": w.zhongzhan.pk,  # not visible to a jiefang officer
        "own_child": w.jiefang_base.pk,  # inside the moved subtree
        "self": w.jiefang_township.pk,
        "missing": 999999,
        "junk": "<script>",
        "empty": "",
    }[target]
    before = snapshot()
    response = login(w.jiefang_officer).post(move_url(w.jiefang_township), {"new_parent": value})
    assert response.status_code == 400
    assert 'class="errorlist"' in text(response)
    assert snapshot() == before


def test_move_kind_not_allowed_is_not_offered(figures: Figures, login) -> None:
    w = figures.world
    # A township may not sit under a township: the other township is not a choice.
    page = text(login(w.jiefang_officer).get(move_url(w.jiefang_township)))
    assert "民主街道工会联合会" not in page


# ---------------------------------------------------------------- dissolve


def dissolve_url(org: Org) -> str:
    return reverse("console:org_dissolve", args=[org.pk])


def test_dissolve_happy_path(figures: Figures, login) -> None:
    today = timezone.localdate().isoformat()
    response = login(figures.world.jiefang_officer).post(
        dissolve_url(figures.empty_township), {"on": today, "reason": "撤并"}
    )
    assert response.status_code == 302
    org = Org.objects.get(pk=figures.empty_township.pk)
    assert org.status == OrgStatus.DISSOLVED and org.dissolved_on.isoformat() == today
    assert AuditEvent.objects.filter(
        action=AuditAction.TRANSITION, object_id=str(org.pk), reason="撤并"
    ).exists()


@pytest.mark.parametrize(
    "target,data,message",
    [
        ("empty_township", {"reason": ""}, "Give a reason for dissolving."),
        ("empty_township", {"reason": "   "}, "Give a reason for dissolving."),
        ("jiefang_base", {"reason": "撤并"}, "Transfer its active members to another union first."),
        (
            "jiefang_township",
            {"reason": "撤并"},
            "Dissolve or move its active sub-organisations first.",
        ),
        (
            "empty_township",
            {"reason": "撤并", "on": "2999-01-01"},
            "The dissolution date cannot be in the future.",
        ),
        ("empty_township", {"reason": "x" * 301}, None),
        ("empty_township", {"reason": "撤并", "on": "not-a-date"}, None),
    ],
)
def test_dissolve_bad_input_changes_nothing(figures: Figures, login, target, data, message) -> None:
    org = figures.empty_township if target == "empty_township" else getattr(figures.world, target)
    payload = {"on": timezone.localdate().isoformat(), **data}
    before = snapshot()
    response = login(figures.world.jiefang_officer).post(dissolve_url(org), payload)
    assert response.status_code == 400
    if message:
        assert shows(response, message)
    assert 'class="errorlist"' in text(response)
    assert snapshot() == before
    assert Member.objects.filter(org=figures.world.jiefang_base).exists()


def test_dissolved_org_cannot_get_children(figures: Figures, login) -> None:
    client = login(figures.world.jiefang_officer)
    client.post(
        dissolve_url(figures.empty_township),
        {"on": timezone.localdate().isoformat(), "reason": "撤并"},
    )
    before = org_state()
    response = client.post(new_url(figures.empty_township), form_data())
    assert response.status_code == 400
    assert org_state() == before
