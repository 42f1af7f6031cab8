"""/api/v1/: the permission matrix on every endpoint, token auth, bad input, OpenAPI and docs."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django.utils.translation import gettext as _

from gonghui.accounts.services import api_token_create, api_token_revoke
from gonghui.audit.models import AuditAction, AuditEvent
from gonghui.core import crypto
from gonghui.members.models import JoinApplication, JoinStatus, Member, Membership, MemberStatus
from gonghui.members.services import join_application_submit, member_card_set, member_leave
from gonghui.members.tests.factories import make_id_number
from gonghui.orgs.models import Org, OrgKind
from gonghui.orgs.tests.factories import OrgFactory

API = "/api/v1"
ACTORS = ["city_admin", "jiefang_staff", "zhongzhan_staff", "member", "anonymous", "jiefang_token"]


class Caller:
    """A test client plus the headers one actor sends."""

    def __init__(self, client: Client, headers: dict[str, str] | None = None) -> None:
        self.client = client
        self.headers = headers or {}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(API + path, params, headers=self.headers)

    def send(self, method: str, path: str, body: Any) -> Any:
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        return getattr(self.client, method)(
            API + path, data=data, content_type="application/json", headers=self.headers
        )

    def post(self, path: str, body: Any) -> Any:
        return self.send("post", path, body)

    def patch(self, path: str, body: Any) -> Any:
        return self.send("patch", path, body)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def callers(world, login) -> dict[str, Caller]:
    _token, secret = api_token_create(
        actor=world.jiefang_officer, user=world.jiefang_officer, name="sync"
    )
    return {
        "city_admin": Caller(login(world.city_admin)),
        "jiefang_staff": Caller(login(world.jiefang_officer)),
        "jiefang_viewer": Caller(login(world.jiefang_viewer)),
        "zhongzhan_staff": Caller(login(world.zhongzhan_officer)),
        "member": Caller(login(member=world.jiefang_member)),
        "anonymous": Caller(Client()),
        "jiefang_token": Caller(Client(), bearer(secret)),
    }


@pytest.fixture
def extra(world) -> dict[str, Any]:
    """A second base union and a township in 中站区, and a pending application on each side."""
    zz_township = OrgFactory(
        parent=world.zhongzhan, kind=OrgKind.TOWNSHIP_UNION, name="中站街道工会"
    )
    zz_base2 = OrgFactory(parent=world.zhongzhan, kind=OrgKind.BASE_UNION, name="中站第二工会")
    zz_app = join_application_submit(
        org=world.zhongzhan_base,
        name="赵中站",
        id_number=make_id_number(region="410803", seq=77),
        phone="13900000077",
    )
    jf_app = join_application_submit(
        org=world.jiefang_base,
        name="钱解放",
        id_number=make_id_number(region="410802", seq=78),
        phone="13900000078",
    )
    return {"zz_township": zz_township, "zz_base2": zz_base2, "zz_app": zz_app, "jf_app": jf_app}


NOT_FOUND_BODY = {"code": "not_found", "message": None, "field": None}


def assert_status(resp: Any, expected: int) -> dict[str, Any]:
    assert resp.status_code == expected, resp.content.decode()[:500]
    return resp.json()


def assert_not_found(body: dict[str, Any]) -> None:
    assert body == {**NOT_FOUND_BODY, "message": _("Not found.")}


def assert_unauthenticated(body: dict[str, Any]) -> None:
    assert body["code"] == "unauthenticated"
    assert body["message"] == _("Sign in as staff or send a valid API token.")


# --- reads --------------------------------------------------------------------------------------

LIST_STATUS = {
    "city_admin": 200,
    "jiefang_staff": 200,
    "zhongzhan_staff": 200,
    "member": 401,
    "anonymous": 401,
    "jiefang_token": 200,
}


@pytest.mark.parametrize("actor", ACTORS)
def test_orgs_list_matrix(world, callers, actor):
    resp = callers[actor].get("/orgs")
    body = assert_status(resp, LIST_STATUS[actor])
    if LIST_STATUS[actor] == 401:
        assert_unauthenticated(body)
        assert "解放区" not in resp.content.decode()
        return
    names = {row["name"] for row in body["items"]}
    if actor == "city_admin":
        assert body["count"] == 6
        assert {"中站区总工会", "解放区总工会"} <= names
    elif actor == "zhongzhan_staff":
        assert names == {"中站区总工会", world.zhongzhan_base.name}
    else:
        assert body["count"] == 3
        assert names == {"解放区总工会", "焦西街道工会联合会", world.jiefang_base.name}
        assert "中站" not in resp.content.decode()
        assert "焦作市总工会" not in resp.content.decode()


def test_orgs_list_filters(world, callers):
    c = callers["city_admin"]
    body = c.get("/orgs", kind="base_union").json()
    assert {r["name"] for r in body["items"]} == {
        world.jiefang_base.name,
        world.zhongzhan_base.name,
    }
    body = c.get("/orgs", q="中站").json()
    assert body["count"] == 2
    body = c.get("/orgs", within=world.jiefang.pk).json()
    assert body["count"] == 3
    body = c.get("/orgs", status="dissolved").json()
    assert body["count"] == 0
    # A jiefang officer cannot use "within" to probe another district.
    resp = callers["jiefang_staff"].get("/orgs", within=world.zhongzhan.pk)
    assert_not_found(assert_status(resp, 404))
    # Pagination
    body = c.get("/orgs", limit=2, offset=0).json()
    assert body["count"] == 6 and len(body["items"]) == 2


@pytest.mark.parametrize("actor", ACTORS)
def test_org_get_matrix(world, callers, actor):
    expected = {**LIST_STATUS, "jiefang_staff": 404, "jiefang_token": 404}[actor]
    resp = callers[actor].get(f"/orgs/{world.zhongzhan_base.pk}")
    body = assert_status(resp, expected)
    if expected == 200:
        assert body["name"] == world.zhongzhan_base.name
        assert "join_token" not in body and "path" not in body
    elif expected == 404:
        assert_not_found(body)
        # The same answer as for an id that does not exist at all.
        assert callers[actor].get("/orgs/987654").json() == body
        assert "中站" not in resp.content.decode()


@pytest.mark.parametrize("actor", ACTORS)
def test_members_list_matrix(world, callers, actor):
    resp = callers[actor].get("/members")
    body = assert_status(resp, LIST_STATUS[actor])
    text = resp.content.decode()
    for m in (world.jiefang_member, world.zhongzhan_member):
        assert crypto.decrypt(m.id_number_enc) not in text
    assert "id_number_enc" not in text and "hash" not in text
    if LIST_STATUS[actor] == 401:
        assert "王小明" not in text and "李秀英" not in text
        return
    names = {row["name"] for row in body["items"]}
    if actor == "city_admin":
        assert names == {"王小明", "李秀英"}
    elif actor == "zhongzhan_staff":
        assert names == {"李秀英"}
    else:
        assert names == {"王小明"} and body["count"] == 1
        assert "李秀英" not in text
        assert body["items"][0]["id_number_masked"] == world.jiefang_member.id_number_masked


def test_members_list_filters(world, callers):
    c = callers["city_admin"]
    assert {r["name"] for r in c.get("/members", q="李").json()["items"]} == {"李秀英"}
    assert c.get("/members", org=world.jiefang.pk).json()["count"] == 1
    assert c.get("/members", category="new_form_worker").json()["count"] == 0
    assert c.get("/members", status="active").json()["count"] == 2
    year = timezone.localdate().year
    assert c.get("/members", join_year=year).json()["count"] == 2
    assert c.get("/members", join_year=year - 1).json()["count"] == 0
    # Filtering by an invisible org is the same 404, not an empty list that confirms it exists.
    resp = callers["jiefang_staff"].get("/members", org=world.zhongzhan_base.pk)
    assert_not_found(assert_status(resp, 404))
    # Searching for the other district's member finds nothing.
    body = callers["jiefang_staff"].get("/members", q="李秀英").json()
    assert body["count"] == 0


@pytest.mark.parametrize("actor", ACTORS)
def test_member_get_matrix(world, callers, actor):
    member_card_set(actor=None, member=world.zhongzhan_member, card_number="6222020200112233445")
    expected = {**LIST_STATUS, "jiefang_staff": 404, "jiefang_token": 404}[actor]
    resp = callers[actor].get(f"/members/{world.zhongzhan_member.pk}")
    body = assert_status(resp, expected)
    text = resp.content.decode()
    assert "6222020200112233445" not in text
    assert crypto.decrypt(world.zhongzhan_member.id_number_enc) not in text
    if expected == 200:
        assert body["name"] == "李秀英"
        assert body["card"]["number_masked"].startswith("622202")
        assert "*" in body["card"]["number_masked"]
        assert len(body["memberships"]) == 1
        assert body["memberships"][0]["org_id"] == world.zhongzhan_base.pk
    else:
        assert "李秀英" not in text
        if expected == 404:
            assert_not_found(body)


@pytest.mark.parametrize("actor", ACTORS)
def test_join_applications_list_matrix(world, callers, extra, actor):
    resp = callers[actor].get("/join-applications")
    body = assert_status(resp, LIST_STATUS[actor])
    text = resp.content.decode()
    if LIST_STATUS[actor] == 401:
        assert "赵中站" not in text and "钱解放" not in text
        return
    names = {row["name"] for row in body["items"]}
    expected = {
        "city_admin": {"赵中站", "钱解放"},
        "zhongzhan_staff": {"赵中站"},
        "jiefang_staff": {"钱解放"},
        "jiefang_token": {"钱解放"},
    }[actor]
    assert names == expected
    assert make_id_number(region="410803", seq=77) not in text


@pytest.mark.parametrize("actor", ACTORS)
def test_stats_summary_matrix(world, callers, actor):
    resp = callers[actor].get("/stats/summary")
    body = assert_status(resp, LIST_STATUS[actor])
    if LIST_STATUS[actor] == 401:
        return
    expected = {"city_admin": 2, "zhongzhan_staff": 1, "jiefang_staff": 1, "jiefang_token": 1}
    assert body["members_active"] == expected[actor]
    assert body["members_new_this_year"] == expected[actor]
    assert sum(row["count"] for row in body["by_category"]) == expected[actor]
    assert body["orgs_active"] == {"city_admin": 6, "zhongzhan_staff": 2}.get(actor, 3)


def test_viewer_without_roles_gets_403(world, login):
    from gonghui.accounts.models import User

    bare = User.objects.create_user(username="bare", password="x", org=world.jiefang, is_staff=True)
    resp = Caller(login(bare)).get("/members")
    assert_status(resp, 403)


# --- writes: the wrong actor changes nothing ----------------------------------------------------

WRITE_STATUS = {
    "city_admin": 200,
    "jiefang_staff": 404,
    "zhongzhan_staff": 200,
    "member": 401,
    "anonymous": 401,
    "jiefang_token": 404,
}


def _snapshot() -> tuple[Any, ...]:
    return (
        sorted(Org.objects.values_list("pk", "name", "path", "status", "short_name")),
        sorted(Member.objects.values_list("pk", "name", "phone", "org_id", "status", "employer")),
        Membership.objects.count(),
        sorted(JoinApplication.objects.values_list("pk", "status")),
        AuditEvent.objects.exclude(action=AuditAction.CREATE, object_type="accounts.apitoken")
        .filter(action__in=[AuditAction.REVEAL, AuditAction.UPDATE, AuditAction.MOVE])
        .count(),
    )


def _check_write(resp: Any, actor: str, expected: int, before: tuple[Any, ...]) -> dict[str, Any]:
    body = assert_status(resp, expected)
    if expected >= 400:
        assert _snapshot() == before
        if expected == 404:
            assert_not_found(body)
        if expected == 401:
            assert_unauthenticated(body)
    return body


@pytest.mark.parametrize("actor", ACTORS)
def test_org_create_matrix(world, callers, actor):
    before = _snapshot()
    resp = callers[actor].post(
        "/orgs",
        {"parent_id": world.zhongzhan.pk, "kind": "base_union", "name": "中站新建工会委员会"},
    )
    expected = {**WRITE_STATUS, "city_admin": 201, "zhongzhan_staff": 201}[actor]
    body = _check_write(resp, actor, expected, before)
    if expected == 201:
        org = Org.objects.get(pk=body["id"])
        assert org.parent_id == world.zhongzhan.pk and org.name == "中站新建工会委员会"
        assert AuditEvent.objects.filter(action=AuditAction.CREATE, object_id=str(org.pk)).exists()
    else:
        assert not Org.objects.filter(name="中站新建工会委员会").exists()


def test_org_create_by_viewer_is_403(world, callers):
    before = _snapshot()
    resp = callers["jiefang_viewer"].post(
        "/orgs", {"parent_id": world.jiefang.pk, "kind": "base_union", "name": "新工会"}
    )
    body = _check_write(resp, "jiefang_viewer", 403, before)
    assert body["code"] == "forbidden"


@pytest.mark.parametrize("actor", ACTORS)
def test_org_patch_matrix(world, callers, actor):
    before = _snapshot()
    resp = callers[actor].patch(f"/orgs/{world.zhongzhan_base.pk}", {"short_name": "中站化工"})
    body = _check_write(resp, actor, WRITE_STATUS[actor], before)
    world.zhongzhan_base.refresh_from_db()
    if WRITE_STATUS[actor] == 200:
        assert body["short_name"] == "中站化工" == world.zhongzhan_base.short_name
    else:
        assert world.zhongzhan_base.short_name == ""


@pytest.mark.parametrize("actor", ACTORS)
def test_org_move_matrix(world, callers, extra, actor):
    before = _snapshot()
    resp = callers[actor].post(
        f"/orgs/{world.zhongzhan_base.pk}/move",
        {"new_parent_id": extra["zz_township"].pk, "reason": "区划调整"},
    )
    _check_write(resp, actor, WRITE_STATUS[actor], before)
    world.zhongzhan_base.refresh_from_db()
    moved = world.zhongzhan_base.parent_id == extra["zz_township"].pk
    assert moved == (WRITE_STATUS[actor] == 200)


def test_org_move_into_invisible_parent_is_404(world, callers):
    before = _snapshot()
    resp = callers["jiefang_staff"].post(
        f"/orgs/{world.jiefang_base.pk}/move", {"new_parent_id": world.zhongzhan.pk}
    )
    _check_write(resp, "jiefang_staff", 404, before)


@pytest.mark.parametrize("actor", ACTORS)
def test_member_register_matrix(world, callers, actor):
    before = _snapshot()
    number = make_id_number(region="410803", seq=55)
    resp = callers[actor].post(
        "/members",
        {
            "org_id": world.zhongzhan_base.pk,
            "name": "孙新会",
            "id_number": number,
            "phone": "13900000055",
        },
    )
    expected = {**WRITE_STATUS, "city_admin": 201, "zhongzhan_staff": 201}[actor]
    body = _check_write(resp, actor, expected, before)
    assert number not in resp.content.decode()
    if expected == 201:
        member = Member.objects.get(pk=body["id"])
        assert member.name == "孙新会" and member.org_id == world.zhongzhan_base.pk
        assert body["id_number_masked"] == member.id_number_masked
        assert "id_number" not in body
    else:
        assert not Member.objects.filter(name="孙新会").exists()


@pytest.mark.parametrize("actor", ACTORS)
def test_member_patch_matrix(world, callers, actor):
    before = _snapshot()
    resp = callers[actor].patch(f"/members/{world.zhongzhan_member.pk}", {"employer": "新单位"})
    body = _check_write(resp, actor, WRITE_STATUS[actor], before)
    world.zhongzhan_member.refresh_from_db()
    if WRITE_STATUS[actor] == 200:
        assert body["employer"] == "新单位" == world.zhongzhan_member.employer
    else:
        assert world.zhongzhan_member.employer == "焦作测试有限公司"


@pytest.mark.parametrize("actor", ACTORS)
def test_member_transfer_matrix(world, callers, extra, actor):
    before = _snapshot()
    resp = callers[actor].post(
        f"/members/{world.zhongzhan_member.pk}/transfer",
        {"to_org_id": extra["zz_base2"].pk, "on": str(timezone.localdate()), "reason": "调动"},
    )
    _check_write(resp, actor, WRITE_STATUS[actor], before)
    world.zhongzhan_member.refresh_from_db()
    assert (world.zhongzhan_member.org_id == extra["zz_base2"].pk) == (WRITE_STATUS[actor] == 200)


def test_member_transfer_to_invisible_union_is_404(world, callers):
    before = _snapshot()
    resp = callers["jiefang_staff"].post(
        f"/members/{world.jiefang_member.pk}/transfer",
        {"to_org_id": world.zhongzhan_base.pk, "on": str(timezone.localdate()), "reason": "调动"},
    )
    _check_write(resp, "jiefang_staff", 404, before)


@pytest.mark.parametrize("actor", ACTORS)
def test_member_leave_matrix(world, callers, actor):
    before = _snapshot()
    resp = callers[actor].post(
        f"/members/{world.zhongzhan_member.pk}/leave",
        {"on": str(timezone.localdate()), "reason": "退休"},
    )
    _check_write(resp, actor, WRITE_STATUS[actor], before)
    world.zhongzhan_member.refresh_from_db()
    left = world.zhongzhan_member.status == MemberStatus.LEFT
    assert left == (WRITE_STATUS[actor] == 200)


@pytest.mark.parametrize("actor", ACTORS)
def test_member_rejoin_matrix(world, callers, actor):
    member = world.zhongzhan_member
    member_leave(actor=None, member=member, on=timezone.localdate(), reason="离职")
    before = _snapshot()
    resp = callers[actor].post(
        f"/members/{member.pk}/rejoin",
        {"org_id": world.zhongzhan_base.pk, "on": str(timezone.localdate()), "reason": "返岗"},
    )
    body = _check_write(resp, actor, WRITE_STATUS[actor], before)
    member.refresh_from_db()
    back = member.status == MemberStatus.ACTIVE
    assert back == (WRITE_STATUS[actor] == 200)
    if back:
        assert body["status"] == "active" and body["org_id"] == world.zhongzhan_base.pk
        assert member.memberships.get(ended_on__isnull=True).start_kind == "rejoin"


def test_member_rejoin_bad_input(world, callers, extra):
    c = callers["zhongzhan_staff"]
    member = world.zhongzhan_member
    url = f"/members/{member.pk}/rejoin"
    today = timezone.localdate()
    org = world.zhongzhan_base.pk
    # Still active: nothing to rejoin.
    body = assert_status(c.post(url, {"org_id": org, "on": str(today)}), 400)
    assert body["code"] == "already_active"
    member_leave(actor=None, member=member, on=today, reason="离职")
    before = _snapshot()
    cases = [
        ({"org_id": org, "on": str(today + dt.timedelta(days=1))}, 400, "date_future"),
        ({"org_id": org, "on": str(today - dt.timedelta(days=1))}, 400, "date_before_leaving"),
        ({"org_id": world.zhongzhan.pk, "on": str(today)}, 400, "org_not_base"),
        ({"org_id": world.jiefang_base.pk, "on": str(today)}, 404, None),
        ({"org_id": org, "on": "2026-02-30"}, 422, None),
        ({"org_id": 0, "on": str(today)}, 422, None),
        ({"org_id": "１", "on": str(today)}, 422, None),
        ({"org_id": org, "on": str(today), "reason": "r" * 201}, 422, None),
        ({"org_id": org, "on": str(today), "reason": "<script>alert(1)</script>" * 10}, 422, None),
        ({}, 422, None),
    ]
    for payload, status, code in cases:
        body = assert_status(c.post(url, payload), status)
        assert body["message"] and body["code"], payload
        if code:
            assert body["code"] == code, payload
        if code == "date_before_leaving":
            assert body["message"] == f"此人已于{today}离会，重新入会日期不能早于该日期。"
    assert _snapshot() == before
    member.refresh_from_db()
    assert member.status == MemberStatus.LEFT


@pytest.mark.parametrize("actor", ACTORS)
def test_member_reveal_matrix(world, callers, actor):
    before = _snapshot()
    # Officers lack REVEAL_SENSITIVE; only the city admin may see the number.
    expected = {**WRITE_STATUS, "zhongzhan_staff": 403}[actor]
    resp = callers[actor].post(
        f"/members/{world.zhongzhan_member.pk}/reveal",
        {"field": "id_number", "reason": "办理会员卡"},
    )
    body = _check_write(resp, actor, expected, before)
    plain = crypto.decrypt(world.zhongzhan_member.id_number_enc)
    reveals = AuditEvent.objects.filter(
        action=AuditAction.REVEAL, object_id=str(world.zhongzhan_member.pk)
    )
    if expected == 200:
        assert body == {"field": "id_number", "value": plain}
        assert reveals.count() == 1
        assert reveals.get().reason == "办理会员卡"
    else:
        assert plain not in resp.content.decode()
        assert reveals.count() == 0


def test_member_reveal_needs_a_reason_and_a_known_field(world, callers):
    c = callers["city_admin"]
    url = f"/members/{world.jiefang_member.pk}/reveal"
    before = _snapshot()
    body = assert_status(c.post(url, {"field": "id_number", "reason": " "}), 400)
    assert body["code"] == "reason_empty" and body["field"] == "reason"
    body = assert_status(c.post(url, {"field": "id_number_enc", "reason": "x" * 5}), 422)
    assert body["field"] == "field"
    body = assert_status(c.post(url, {"field": "card_number", "reason": "发卡"}), 404)
    assert _snapshot() == before


@pytest.mark.parametrize("actor", ACTORS)
def test_join_application_decide_matrix(world, callers, extra, actor):
    before = _snapshot()
    app = extra["zz_app"]
    resp = callers[actor].post(
        f"/join-applications/{app.pk}/decide", {"decision": "rejected", "reason": "不在本单位"}
    )
    body = _check_write(resp, actor, WRITE_STATUS[actor], before)
    app.refresh_from_db()
    if WRITE_STATUS[actor] == 200:
        assert body["status"] == "rejected" == app.status
    else:
        assert app.status == JoinStatus.PENDING


def test_join_application_approve_registers_member(world, callers, extra):
    resp = callers["jiefang_token"].post(
        f"/join-applications/{extra['jf_app'].pk}/decide", {"decision": "approved"}
    )
    body = assert_status(resp, 200)
    assert body["status"] == "approved" and body["member_id"]
    assert Member.objects.get(pk=body["member_id"]).name == "钱解放"
    # Deciding twice is refused with the service's message.
    resp = callers["jiefang_token"].post(
        f"/join-applications/{extra['jf_app'].pk}/decide", {"decision": "rejected", "reason": "x"}
    )
    body = assert_status(resp, 400)
    assert body == {
        "code": "bad_transition",
        "message": _("This application has already been decided."),
        "field": None,
    }


# --- tokens and sessions ------------------------------------------------------------------------


def test_revoked_token_fails(world, callers):
    token, secret = api_token_create(actor=None, user=world.jiefang_officer, name="old")
    c = Caller(Client(), bearer(secret))
    assert_status(c.get("/members"), 200)
    api_token_revoke(actor=world.jiefang_officer, token=token)
    assert_unauthenticated(assert_status(c.get("/members"), 401))
    before = _snapshot()
    resp = c.patch(f"/members/{world.jiefang_member.pk}", {"employer": "x"})
    _check_write(resp, "revoked", 401, before)


@pytest.mark.parametrize(
    "header",
    [
        "Bearer ",
        "Bearer gh_wrong",
        "Bearer " + "A" * 5000,
        "Basic YWRtaW46YWRtaW4=",
        "Bearer ' OR 1=1 --",
        "Bearer ＧＨ＿全角",
    ],
)
def test_bad_tokens_are_401(world, header):
    resp = Client().get(f"{API}/members", headers={"Authorization": header})
    assert_unauthenticated(assert_status(resp, 401))
    assert "王小明" not in resp.content.decode()


def test_token_of_inactive_user_fails(world):
    _token, secret = api_token_create(actor=None, user=world.jiefang_officer, name="t")
    world.jiefang_officer.is_active = False
    world.jiefang_officer.save()
    assert_status(Caller(Client(), bearer(secret)).get("/orgs"), 401)


def test_token_of_viewer_cannot_write(world):
    _token, secret = api_token_create(actor=None, user=world.jiefang_viewer, name="read")
    c = Caller(Client(), bearer(secret))
    assert_status(c.get("/members"), 200)
    before = _snapshot()
    resp = c.patch(f"/members/{world.jiefang_member.pk}", {"employer": "x"})
    assert _check_write(resp, "viewer", 403, before)["code"] == "forbidden"


def test_session_write_needs_csrf(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.jiefang_officer, backend="django.contrib.auth.backends.ModelBackend")
    before = _snapshot()
    resp = client.patch(
        f"{API}/members/{world.jiefang_member.pk}",
        data=json.dumps({"employer": "x"}),
        content_type="application/json",
    )
    assert resp.status_code == 403
    assert _snapshot() == before
    # Reads need no token; and the token path is not subject to the CSRF check.
    assert client.get(f"{API}/members").status_code == 200
    _t, secret = api_token_create(actor=None, user=world.jiefang_officer, name="t")
    resp = Client(enforce_csrf_checks=True).patch(
        f"{API}/members/{world.jiefang_member.pk}",
        data=json.dumps({"employer": "新单位"}),
        content_type="application/json",
        headers=bearer(secret),
    )
    assert resp.status_code == 200


def test_staff_session_owing_two_factor_is_401(world, login):
    world.jiefang_officer.require_two_factor = True
    world.jiefang_officer.save()
    resp = Caller(login(world.jiefang_officer)).get("/members")
    assert_status(resp, 401)
    assert "王小明" not in resp.content.decode()


# --- bad input ----------------------------------------------------------------------------------

ORG_BAD = [
    ({"name": ""}, 400, "name_empty", "name"),
    ({"name": "   "}, 400, "name_empty", "name"),
    ({"name": "名" * 5000}, 422, "validation", "name"),
    ({"name": "名" * 101}, 400, "name_long", "name"),
    ({"kind": "galaxy"}, 400, "kind_invalid", "kind"),
    ({"kind": "county_federation"}, 400, "kind_not_allowed", "parent"),
    ({"division_code": "12345"}, 400, "division_format", None),
    ({"division_code": "<script>"}, 400, "division_format", None),
    ({"uscc": "91410800MA000000X1"}, 400, "uscc_not_union", "uscc"),
    ({"founded_on": "2999-01-01"}, 400, "founded_future", "founded_on"),
    ({"founded_on": "昨天"}, 422, "validation", "founded_on"),
    ({"parent_id": "abc"}, 422, "validation", "parent_id"),
    ({"parent_id": 10**30}, 422, "validation", "parent_id"),
    ({"parent_id": None}, 422, "validation", "parent_id"),
    ({"address": "x" * 201}, 422, "validation", "address"),
]


@pytest.mark.parametrize(("change", "status", "code", "field"), ORG_BAD)
def test_org_create_bad_input(world, callers, change, status, code, field):
    before = _snapshot()
    body = {"parent_id": world.jiefang.pk, "kind": "base_union", "name": "新建工会", **change}
    resp = callers["jiefang_staff"].post("/orgs", body)
    got = _check_write(resp, "jiefang_staff", status, before)
    assert got["code"] == code
    assert got["field"] == field
    assert got["message"]
    if status == 422:
        assert got["errors"][0]["field"] == field


def test_org_create_accepts_full_width_and_stores_hostile_text_as_text(world, callers):
    c = callers["jiefang_staff"]
    resp = c.post(
        "/orgs",
        {
            "parent_id": world.jiefang.pk,
            "kind": "base_union",
            "name": "'; DROP TABLE orgs_org; -- <b>工会</b>",
            "division_code": "４１０８０２",
        },
    )
    body = assert_status(resp, 201)
    assert body["division_code"] == "410802"
    assert Org.objects.get(pk=body["id"]).name == "'; DROP TABLE orgs_org; -- <b>工会</b>"
    assert Org.objects.count() == 7


def test_org_create_uscc_override_reason(world, callers):
    # A union code (management code 8) with a wrong check character.
    from stdnum.cn import uscc

    good = "81410800" + "MA1234567"
    good += uscc.calc_check_digit(good)
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    c = callers["jiefang_staff"]
    base = {"parent_id": world.jiefang.pk, "kind": "base_union", "name": "证照工会", "uscc": bad}
    body = assert_status(c.post("/orgs", base), 400)
    assert body["code"] == "uscc_checksum" and body["field"] == "uscc"
    body = assert_status(c.post("/orgs", {**base, "uscc_override_reason": "证书如此印制"}), 201)
    assert body["uscc_checksum_ok"] is False


@pytest.mark.parametrize(
    "payload",
    ["", "not json", "[1,2]", '{"name": ', "null", json.dumps({"name": ["list"]})],
)
def test_malformed_bodies_give_json_errors(world, callers, payload):
    before = _snapshot()
    resp = callers["jiefang_staff"].post("/orgs", payload)
    assert resp.status_code in (400, 422)
    body = resp.json()
    assert body["message"] and body["code"]
    assert _snapshot() == before
    # A PATCH with a body that names no field changes nothing, whatever the status.
    resp = callers["jiefang_staff"].patch(f"/orgs/{world.jiefang_base.pk}", payload)
    assert resp.status_code in (200, 400, 422)
    assert _snapshot() == before


def test_org_patch_bad_input(world, callers):
    c = callers["jiefang_staff"]
    url = f"/orgs/{world.jiefang_base.pk}"
    before = _snapshot()
    for change, code in [
        ({"name": ""}, "name_empty"),
        ({"name": None}, "name_empty"),
        ({"kind": "nonsense"}, "kind_invalid"),
        ({"division_code": "９９９９９９"}, "division_unknown"),
    ]:
        body = assert_status(c.patch(url, change), 400)
        assert body["code"] == code, change
    body = assert_status(c.patch(url, {"short_name": "短" * 41}), 422)
    assert body["field"] == "short_name"
    assert _snapshot() == before
    # Path ids that are not ids.
    for bad in ["abc", "-1", "0", str(10**30), "１"]:
        resp = c.patch(f"/orgs/{bad}", {"short_name": "x"})
        assert resp.status_code in (404, 422), bad
    assert _snapshot() == before


MEMBER_BAD = [
    ({"name": ""}, 400, "name_empty", "name"),
    ({"name": "<script>alert(1)</script>"}, 400, "name_chars", "name"),
    ({"name": "王" * 51}, 400, "name_long", "name"),
    ({"name": "王" * 500}, 422, "validation", "name"),
    ({"id_number": ""}, 400, None, "id_number"),
    ({"id_number": "410802199001011235"}, 400, None, "id_number"),
    ({"id_number": "' OR '1'='1"}, 400, None, "id_number"),
    ({"id_number": "4" * 41}, 422, "validation", "id_number"),
    ({"phone": "12345"}, 400, "phone_format", "phone"),
    ({"phone": "1390000000１x"}, 400, "phone_format", "phone"),
    ({"category": "astronaut"}, 400, "category_invalid", "category"),
    ({"category": "new_form_worker"}, 400, "new_form_kind_missing", "new_form_kind"),
    ({"new_form_kind": "courier"}, 400, "new_form_kind_unexpected", "new_form_kind"),
    ({"joined_on": "2999-01-01"}, 400, "joined_future", "joined_on"),
    ({"joined_on": "not-a-date"}, 422, "validation", "joined_on"),
    ({"card_number": "12ab"}, 400, "card_format", "card_number"),
    ({"org_id": 0}, 422, "validation", "org_id"),
]


@pytest.mark.parametrize(("change", "status", "code", "field"), MEMBER_BAD)
def test_member_register_bad_input(world, callers, change, status, code, field):
    before = _snapshot()
    body = {
        "org_id": world.jiefang_base.pk,
        "name": "周新人",
        "id_number": make_id_number(region="410802", seq=66),
        "phone": "13900000066",
        **change,
    }
    resp = callers["jiefang_staff"].post("/members", body)
    got = _check_write(resp, "jiefang_staff", status, before)
    if code:
        assert got["code"] == code
    assert got["field"] == field
    assert got["message"]


def test_member_register_full_width_and_duplicate(world, callers):
    c = callers["jiefang_staff"]
    number = make_id_number(region="410802", seq=67)
    full_width = number.translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789X"})
    body = assert_status(
        c.post(
            "/members",
            {
                "org_id": world.jiefang_base.pk,
                "name": "吴全角",
                "id_number": full_width,
                "phone": "１３９００００００６７",
            },
        ),
        201,
    )
    member = Member.objects.get(pk=body["id"])
    assert crypto.decrypt(member.id_number_enc) == number
    assert member.phone == "13900000067"
    before = _snapshot()
    resp = c.post(
        "/members", {"org_id": world.jiefang_base.pk, "name": "吴重复", "id_number": number}
    )
    got = _check_write(resp, "jiefang_staff", 400, before)
    assert got == {
        "code": "id_taken",
        "message": _("A member with this identity number already exists."),
        "field": "id_number",
    }


def test_member_register_into_non_base_org(world, callers):
    before = _snapshot()
    resp = callers["jiefang_staff"].post(
        "/members",
        {
            "org_id": world.jiefang_township.pk,
            "name": "郑乡镇",
            "id_number": make_id_number(region="410802", seq=68),
        },
    )
    assert _check_write(resp, "jiefang_staff", 400, before)["code"] == "org_not_base"


def test_member_patch_bad_input(world, callers):
    c = callers["jiefang_staff"]
    url = f"/members/{world.jiefang_member.pk}"
    before = _snapshot()
    for change, code in [
        ({"name": ""}, "name_empty"),
        ({"name": "a\u0000b"}, "name_chars"),
        ({"phone": "abc"}, "phone_format"),
        ({"category": "boss"}, "category_invalid"),
        ({"education": "phd; drop"}, "education_invalid"),
        ({"political_status": "x"}, "political_invalid"),
        ({"employer": "e" * 101}, "employer_long"),
    ]:
        body = assert_status(c.patch(url, change), 400)
        assert body["code"] == code, change
    body = assert_status(c.patch(url, {"employer": "e" * 201}), 422)
    assert body["field"] == "employer"
    assert _snapshot() == before


def test_transfer_and_leave_bad_input(world, callers, extra):
    c = callers["zhongzhan_staff"]
    url = f"/members/{world.zhongzhan_member.pk}"
    today = timezone.localdate()
    before = _snapshot()
    cases = [
        ("transfer", {"to_org_id": extra["zz_base2"].pk, "on": str(today), "reason": ""}, 400),
        ("transfer", {"to_org_id": world.zhongzhan_base.pk, "on": str(today), "reason": "x"}, 400),
        (
            "transfer",
            {
                "to_org_id": extra["zz_base2"].pk,
                "on": str(today + dt.timedelta(days=3)),
                "reason": "x",
            },
            400,
        ),
        ("transfer", {"to_org_id": extra["zz_base2"].pk, "on": "2020-13-01", "reason": "x"}, 422),
        ("leave", {"on": str(today), "reason": "  "}, 400),
        ("leave", {"on": "1800-01-01", "reason": "退休"}, 400),
        ("leave", {"on": str(today), "reason": "r" * 201}, 422),
        ("leave", {}, 422),
    ]
    for action, payload, status in cases:
        body = assert_status(c.post(f"{url}/{action}", payload), status)
        assert body["message"] and body["code"], payload
    assert _snapshot() == before


def test_decide_bad_input(world, callers, extra):
    c = callers["jiefang_staff"]
    url = f"/join-applications/{extra['jf_app'].pk}/decide"
    before = _snapshot()
    body = assert_status(c.post(url, {"decision": "rejected", "reason": ""}), 400)
    assert body["code"] == "reason_empty"
    body = assert_status(c.post(url, {"decision": "withdrawn"}), 422)
    assert body["field"] == "decision"
    body = assert_status(c.post(url, {"decision": "<script>"}), 422)
    assert _snapshot() == before


def test_list_query_bad_input(world, callers):
    c = callers["jiefang_staff"]
    assert c.get("/members", join_year="abc").status_code == 422
    assert c.get("/members", q="x" * 51).status_code == 422
    assert c.get("/orgs", within="０").status_code == 422
    body = c.get("/members", q="'; DROP TABLE members_member; --").json()
    assert body["count"] == 0
    assert c.get("/members", q="<script>").json()["count"] == 0
    assert c.get("/join-applications", status="bogus").status_code == 422


def test_a_nul_anywhere_is_refused_in_words(world, callers):
    """PostgreSQL can neither store nor compare text with a NUL: a search for one was a 500."""
    c = callers["jiefang_staff"]
    before = _snapshot()
    for path, params, field in (
        ("/members", {"q": "王\x00"}, "q"),
        ("/orgs", {"q": "\x00"}, "q"),
        ("/join-applications", {"status": "\x00"}, "status"),
    ):
        body = assert_status(c.get(path, **params), 400)
        assert (body["code"], body["field"]) == (f"{field}_chars", field), path
        assert body["message"] == _("The text contains characters that are not allowed.")
    body = assert_status(
        c.post("/orgs", {"parent_id": world.jiefang.pk, "kind": "base_union", "name": "x\x00"}),
        400,
    )
    assert (body["code"], body["field"]) == ("name_chars", "name")
    assert _snapshot() == before


def test_a_body_that_is_not_json_is_said_so_in_chinese(world, callers):
    body = assert_status(callers["jiefang_staff"].post("/orgs", "not json"), 400)
    assert body["code"] == "body_invalid"
    assert (
        body["message"]
        == _("The request body must be a JSON object.")
        != ("The request body must be a JSON object.")
    )


# --- OpenAPI and docs ---------------------------------------------------------------------------


def test_openapi_json_lists_paths_and_no_secret_fields(db):
    resp = Client().get(f"{API}/openapi.json")
    assert resp.status_code == 200
    spec = json.loads(resp.content)
    paths = set(spec["paths"])
    for p in [
        "/api/v1/orgs",
        "/api/v1/orgs/{org_id}",
        "/api/v1/orgs/{org_id}/move",
        "/api/v1/members",
        "/api/v1/members/{member_id}",
        "/api/v1/members/{member_id}/transfer",
        "/api/v1/members/{member_id}/leave",
        "/api/v1/members/{member_id}/reveal",
        "/api/v1/join-applications",
        "/api/v1/join-applications/{application_id}/decide",
        "/api/v1/stats/summary",
    ]:
        assert p in paths
    schemas = spec["components"]["schemas"]
    for name in ("MemberOut", "MemberDetailOut", "JoinApplicationOut", "OrgOut"):
        props = set(schemas[name]["properties"])
        assert not {p for p in props if p.endswith(("_enc", "_hash"))}
        assert "id_number" not in props and "join_token" not in props
    assert {"BearerAuth", "TokenAuth"} & set(spec["components"]["securitySchemes"]) or spec[
        "components"
    ]["securitySchemes"]


def test_docs_page_uses_local_assets_only(db):
    resp = Client().get(f"{API}/docs")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "cdn." not in html
    assert 'src="http' not in html and 'href="http' not in html
    assert '"validatorUrl": null' in html
