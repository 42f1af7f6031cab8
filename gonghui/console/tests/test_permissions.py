"""Permission matrix over every console page: status, no leak, and writes that change nothing.

Actors: city admin, same-district officer (jiefang_staff), a same-district viewer, other-district
officer (zhongzhan_staff), a member in a member session, anonymous.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from gonghui.conftest import World
from gonghui.console.tests.helpers import snapshot, text
from gonghui.orgs.models import Org, OrgKind
from gonghui.orgs.tests.factories import OrgFactory

pytestmark = pytest.mark.django_db

JIEFANG_NAMES = [
    "王小明",
    "解放区总工会",
    "焦作市解放区示范商贸有限公司工会委员会",
    "焦西街道工会联合会",
]
ZHONGZHAN_NAMES = ["李秀英", "中站区总工会", "焦作中站示范化工有限公司工会委员会"]
ACTORS = ["city_admin", "jiefang_staff", "jiefang_viewer", "zhongzhan_staff", "member", "anonymous"]
PAGES = ["home", "orgs", "detail", "new", "edit", "move", "dissolve", "qr", "qr_png", "audit"]

# Expected status of each page about a jiefang organisation, per actor.
EXPECTED = {
    "city_admin": dict.fromkeys(PAGES, 200),
    "jiefang_staff": {**dict.fromkeys(PAGES, 200), "audit": 403},
    "jiefang_viewer": {
        **dict.fromkeys(PAGES, 200),
        **dict.fromkeys(["new", "edit", "move", "dissolve", "audit"], 403),
    },
    "zhongzhan_staff": {
        **dict.fromkeys(PAGES, 404),
        "home": 200,
        "orgs": 200,
        "audit": 403,
    },
    "member": dict.fromkeys(PAGES, 302),
    "anonymous": dict.fromkeys(PAGES, 302),
}


def client_for(world: World, login, who: str) -> Client:
    users = {
        "city_admin": world.city_admin,
        "jiefang_staff": world.jiefang_officer,
        "jiefang_viewer": world.jiefang_viewer,
        "zhongzhan_staff": world.zhongzhan_officer,
    }
    if who == "member":
        return login(member=world.jiefang_member)
    if who == "anonymous":
        return login()
    return login(users[who])


def page_url(page: str, *, base: Org, parent: Org) -> str:
    if page in ("home", "orgs", "audit"):
        return reverse(f"console:{page}")
    name = {
        "detail": "org_detail",
        "new": "org_new",
        "edit": "org_edit",
        "move": "org_move",
        "dissolve": "org_dissolve",
        "qr": "org_join_qr",
        "qr_png": "org_join_qr_png",
    }[page]
    return reverse(f"console:{name}", args=[parent.pk if page == "new" else base.pk])


@pytest.mark.parametrize("who", ACTORS)
@pytest.mark.parametrize("page", PAGES)
def test_get_matrix_on_jiefang_pages(world: World, login, who: str, page: str) -> None:
    client = client_for(world, login, who)
    url = page_url(page, base=world.jiefang_base, parent=world.jiefang_township)
    before = snapshot()
    response = client.get(url)
    assert response.status_code == EXPECTED[who][page], url
    if response.status_code == 302:
        assert response["Location"].startswith(reverse("accounts:login"))
    body = "" if page == "qr_png" and response.status_code == 200 else text(response)
    if who in ("jiefang_staff", "jiefang_viewer"):
        assert not [n for n in ZHONGZHAN_NAMES if n in body]
    if who == "zhongzhan_staff":
        assert not [n for n in JIEFANG_NAMES if n in body]
    if who in ("member", "anonymous"):
        assert not [n for n in JIEFANG_NAMES + ZHONGZHAN_NAMES if n in body]
    if world.jiefang_base.join_token and who not in (
        "city_admin",
        "jiefang_staff",
        "jiefang_viewer",
    ):
        assert world.jiefang_base.join_token not in body
    assert snapshot() == before  # reading changes nothing


@pytest.mark.parametrize("page", [p for p in PAGES if p not in ("home", "orgs", "audit")])
def test_jiefang_officer_cannot_reach_zhongzhan_pages(world: World, login, page: str) -> None:
    url = page_url(page, base=world.zhongzhan_base, parent=world.zhongzhan)
    response = login(world.jiefang_officer).get(url)
    assert response.status_code == 404
    assert not [n for n in ZHONGZHAN_NAMES if n in text(response)]
    assert world.zhongzhan_base.join_token not in text(response)


def test_non_staff_user_is_refused(world: World, login) -> None:
    from gonghui.accounts.models import User

    plain = User.objects.create_user(
        username="plain", password="x-Very-long-pw-1", org=world.jiefang
    )
    for page in PAGES:
        url = page_url(page, base=world.jiefang_base, parent=world.jiefang_township)
        assert login(plain).get(url).status_code == 403, url


# ---------------------------------------------------------------- writes


@pytest.fixture
def spare(world: World) -> Org:
    """An empty base union in jiefang: every write below would succeed on it for an admin."""
    return OrgFactory(parent=world.jiefang_township, kind=OrgKind.BASE_UNION, name="备用工会委员会")


def write_requests(world: World, spare: Org) -> dict[str, tuple[str, dict[str, str]]]:
    fields = {
        "kind": OrgKind.BASE_UNION,
        "name": "越权新建工会委员会",
        "division_code": "410802",
    }
    return {
        "new": (reverse("console:org_new", args=[world.jiefang_township.pk]), fields),
        "edit": (
            reverse("console:org_edit", args=[spare.pk]),
            {**fields, "name": "越权改名工会委员会"},
        ),
        "move": (
            reverse("console:org_move", args=[spare.pk]),
            {"new_parent": str(world.jiefang.pk), "reason": "越权"},
        ),
        "dissolve": (
            reverse("console:org_dissolve", args=[spare.pk]),
            {"on": timezone.localdate().isoformat(), "reason": "越权"},
        ),
        "rotate": (reverse("console:org_join_qr_rotate", args=[spare.pk]), {}),
    }


WRITE_EXPECTED = {
    "jiefang_viewer": 403,
    "zhongzhan_staff": 404,
    "member": 302,
    "anonymous": 302,
}


@pytest.mark.parametrize("who", list(WRITE_EXPECTED))
@pytest.mark.parametrize("action", ["new", "edit", "move", "dissolve", "rotate"])
def test_refused_writes_change_nothing(
    world: World, spare: Org, login, who: str, action: str
) -> None:
    url, data = write_requests(world, spare)[action]
    before = snapshot()
    response = client_for(world, login, who).post(url, data)
    assert response.status_code == WRITE_EXPECTED[who]
    assert snapshot() == before
    assert "备用工会委员会" not in text(response)


@pytest.mark.parametrize("who", ["city_admin", "jiefang_staff"])
@pytest.mark.parametrize("action", ["new", "edit", "move", "dissolve", "rotate"])
def test_allowed_writes_do_change(world: World, spare: Org, login, who: str, action: str) -> None:
    """The control for the test above: the same requests succeed for those allowed."""
    url, data = write_requests(world, spare)[action]
    before = snapshot()
    response = client_for(world, login, who).post(url, data)
    assert response.status_code == 302, text(response)[-2000:]
    assert snapshot() != before
