"""Staff member pages under /console/members/: search, filters, forms, actions, permissions."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from gonghui.audit.models import AuditAction, AuditEvent
from gonghui.core import crypto
from gonghui.members.models import (
    JoinApplication,
    JoinStatus,
    Member,
    MemberCard,
    Membership,
    MemberStatus,
    NewFormKind,
    WorkerCategory,
)
from gonghui.members.services import join_application_submit, member_leave
from gonghui.members.tests.factories import MemberFactory, make_id_number
from gonghui.members.tests.helpers import luhn_broken, luhn_complete, shows
from gonghui.orgs.models import OrgKind
from gonghui.orgs.tests.factories import OrgFactory

LIST = "/console/members/"
NEW = "/console/members/new/"
JOINS = "/console/members/join-applications/"


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


def detail(m: Member) -> str:
    return reverse("members:detail", args=[m.pk])


def action(m: Member, name: str) -> str:
    return reverse(f"members:{name}", args=[m.pk])


def _names(response) -> str:
    return response.content.decode()


# --- List: search and filters ------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, expect, absent",
    [
        ("王小明", "王小明", "李秀英"),
        ("小明", "王小明", "李秀英"),
        ("wxm", "王小明", "李秀英"),
        ("LXY", "李秀英", "王小明"),
        ("00000002", "李秀英", "王小明"),
        ("０００００００２", "李秀英", "王小明"),  # full-width digits
    ],
)
def test_search(world, login, query, expect, absent):
    response = login(world.city_admin).get(LIST, {"q": query})
    assert response.status_code == 200
    assert expect in _names(response)
    assert absent not in _names(response)


def test_search_by_id_tail(world, login):
    member = world.zhongzhan_member
    assert member.id_tail != world.jiefang_member.id_tail
    response = login(world.city_admin).get(LIST, {"q": member.id_tail.lower()})
    assert "李秀英" in _names(response)
    assert "王小明" not in _names(response)


def test_list_shows_masked_id_numbers_only(world, login):
    response = login(world.city_admin).get(LIST)
    full = crypto.decrypt(world.jiefang_member.id_number_enc)
    assert world.jiefang_member.id_number_masked in _names(response)
    assert full not in _names(response)


def test_filter_by_org_subtree(world, login):
    client = login(world.city_admin)
    response = client.get(LIST, {"org": world.jiefang.pk})
    assert "王小明" in _names(response) and "李秀英" not in _names(response)
    response = client.get(LIST, {"org": world.zhongzhan_base.pk})
    assert "李秀英" in _names(response) and "王小明" not in _names(response)


def test_filter_org_outside_subtree_is_ignored_not_leaked(world, login):
    response = login(world.jiefang_officer).get(LIST, {"org": world.zhongzhan.pk})
    assert response.status_code == 200
    assert "李秀英" not in _names(response)
    assert "王小明" in _names(response)


def test_filter_by_category_and_kind(world, login):
    MemberFactory(
        org=world.jiefang_base,
        name="赵骑手",
        category=WorkerCategory.NEW_FORM_WORKER,
        new_form_kind=NewFormKind.FOOD_DELIVERY_RIDER,
    )
    client = login(world.city_admin)
    response = client.get(LIST, {"category": WorkerCategory.NEW_FORM_WORKER})
    assert "赵骑手" in _names(response) and "王小明" not in _names(response)
    response = client.get(LIST, {"new_form_kind": NewFormKind.COURIER})
    assert "赵骑手" not in _names(response)
    response = client.get(LIST, {"new_form_kind": NewFormKind.FOOD_DELIVERY_RIDER})
    assert "赵骑手" in _names(response)


def test_filter_by_status(world, login):
    member_leave(
        actor=world.city_admin, member=world.jiefang_member, on=timezone.localdate(), reason="离职"
    )
    client = login(world.city_admin)
    response = client.get(LIST, {"status": MemberStatus.LEFT})
    assert "王小明" in _names(response) and "李秀英" not in _names(response)
    response = client.get(LIST, {"status": MemberStatus.ACTIVE})
    assert "王小明" not in _names(response) and "李秀英" in _names(response)


def test_filter_by_join_year(world, login):
    MemberFactory(org=world.jiefang_base, name="老会员", joined_on=dt.date(2015, 5, 1))
    client = login(world.city_admin)
    response = client.get(LIST, {"year": "2015"})
    assert "老会员" in _names(response) and "王小明" not in _names(response)


@pytest.mark.parametrize(
    "params",
    [
        {"org": "abc"},
        {"org": "99999999999999999999"},
        {"org": "-1"},
        {"category": "bogus"},
        {"new_form_kind": "<script>"},
        {"status": "'; DROP TABLE members_member; --"},
        {"year": "abc"},
        {"year": "99999999999"},
        {"q": "x" * 10000},
        {"q": "王\x00小明"},
        {"q": "' OR 1=1 --"},
        {"q": "<script>alert(1)</script>"},
        {"page": "abc"},
        {"page": "999999"},
    ],
)
def test_bad_filter_values_never_fail(world, login, params):
    response = login(world.jiefang_officer).get(LIST, params)
    assert response.status_code == 200
    assert "李秀英" not in _names(response)
    assert "<script>alert(1)</script>" not in _names(response)
    assert Member.objects.count() == 2


def test_pagination(world, login):
    for i in range(55):
        MemberFactory(org=world.jiefang_base, name=f"分页{i:02d}")
    client = login(world.jiefang_officer)
    first = client.get(LIST)
    assert len(set(re.findall(r'href="/console/members/(\d+)/"', _names(first)))) == 50
    assert "56" in _names(first)  # 55 + 王小明
    assert "page=2" in _names(first)
    second = client.get(LIST, {"page": 2})
    assert len(set(re.findall(r'href="/console/members/(\d+)/"', _names(second)))) == 6
    assert "王小明" in _names(second)  # oldest, last page


def test_htmx_returns_results_partial(world, login):
    client = login(world.city_admin)
    partial = client.get(LIST, {"q": "wxm"}, headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert "<html" not in _names(partial)
    assert "王小明" in _names(partial) and "李秀英" not in _names(partial)
    assert "HX-Request" in partial["Vary"]
    full = client.get(LIST, {"q": "wxm"})
    assert "<html" in _names(full) and 'hx-get="/console/members/"' in _names(full)
    restore = client.get(
        LIST, {"q": "wxm"}, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in _names(restore)


# --- Create ------------------------------------------------------------------------------------


def _create_data(world, **overrides):
    data = {
        "org": world.jiefang_base.pk,
        "name": "张新会",
        "id_number": make_id_number(region="410802", seq=77),
        "phone": "13700000077",
        "employer": "焦作测试有限公司",
        "category": WorkerCategory.EMPLOYEE,
        "new_form_kind": "",
        "education": "bachelor",
        "political_status": "masses",
        "joined_on": "2024-03-01",
        "card_number": "",
    }
    data.update(overrides)
    return data


def test_create_member(world, login):
    card = luhn_complete("621799")
    response = login(world.jiefang_officer).post(NEW, _create_data(world, card_number=card))
    member = Member.objects.get(name="张新会")
    assert response.status_code == 302 and response["Location"] == detail(member)
    assert member.org == world.jiefang_base and member.joined_on == dt.date(2024, 3, 1)
    assert Membership.objects.filter(member=member, ended_on__isnull=True).count() == 1
    assert member.cards.get(is_current=True).bank_name == "中国邮政储蓄银行"
    assert AuditEvent.objects.filter(
        action=AuditAction.CREATE, object_type="members.member", object_id=str(member.pk)
    ).exists()


def test_create_accepts_full_width_spaces_and_lower_x(world, login):
    number = next(
        make_id_number(region="410802", seq=s)
        for s in range(100, 2000)
        if make_id_number(region="410802", seq=s).endswith("X")
    )
    typed = (
        " ".join(number[:6])
        + number[6:-1].translate(str.maketrans("0123456789", "０１２３４５６７８９"))
        + "x"
    )
    response = login(world.jiefang_officer).post(NEW, _create_data(world, id_number=typed))
    assert response.status_code == 302
    member = Member.objects.get(name="张新会")
    assert crypto.decrypt(member.id_number_enc) == number


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"name": ""}, "Enter the name."),
        ({"name": "   "}, "Enter the name."),
        ({"name": "张" * 51}, "The name may have at most 50 characters."),
        (
            {"name": "<script>alert(1)</script>"},
            "The name contains characters that are not allowed.",
        ),
        ({"name": "王'; DROP TABLE x;--"}, "The name contains characters that are not allowed."),
        ({"id_number": ""}, "Enter the identity number."),
        ({"id_number": "410802199001011230"}, None),  # checksum checked below
        ({"phone": "12345"}, "Enter an 11-digit mainland mobile number starting with 1."),
        (
            {"category": WorkerCategory.EMPLOYEE, "new_form_kind": NewFormKind.COURIER},
            "Only new-form workers have a new-form worker kind.",
        ),
        (
            {"category": WorkerCategory.NEW_FORM_WORKER, "new_form_kind": ""},
            "For a new-form worker, choose truck driver, ride-hailing driver, courier or food-delivery rider.",
        ),
        ({"joined_on": "2999-01-01"}, "The joining date cannot be in the future."),
        ({"card_number": "62179912"}, None),
        ({"card_number": "abc"}, "The card number may contain only digits."),
    ],
)
def test_create_bad_input_changes_nothing(world, login, overrides, message):
    before = (Member.objects.count(), MemberCard.objects.count(), AuditEvent.objects.count())
    data = _create_data(world, **overrides)
    response = login(world.jiefang_officer).post(NEW, data)
    assert response.status_code == 400
    if message:
        assert shows(response, message)
    assert (
        Member.objects.count(),
        MemberCard.objects.count(),
        AuditEvent.objects.count(),
    ) == before
    assert "<script>alert(1)</script>" not in _names(response)


def test_create_wrong_checksum_and_excel_number(world, login):
    client = login(world.jiefang_officer)
    good = make_id_number(region="410802", seq=78)
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    response = client.post(NEW, _create_data(world, id_number=wrong))
    assert response.status_code == 400
    assert shows(response, "The identity number's check digit is wrong; please check every digit.")
    response = client.post(NEW, _create_data(world, id_number="4.10802E+17"))
    assert response.status_code == 400
    assert "Excel" in _names(response) or "4.10802E+17" in _names(response)
    assert not Member.objects.filter(name="张新会").exists()


def test_create_keeps_typed_values_on_error(world, login):
    response = login(world.jiefang_officer).post(NEW, _create_data(world, phone="139abc"))
    assert response.status_code == 400
    assert 'value="张新会"' in _names(response)
    assert 'value="139abc"' in _names(response)


def test_create_in_other_district_refused(world, login):
    response = login(world.jiefang_officer).post(
        NEW, _create_data(world, org=world.zhongzhan_base.pk)
    )
    assert response.status_code == 400
    assert not Member.objects.filter(name="张新会").exists()


def test_create_duplicate_id_number(world, login):
    from gonghui.core.crypto import decrypt

    number = decrypt(world.zhongzhan_member.id_number_enc)
    response = login(world.jiefang_officer).post(NEW, _create_data(world, id_number=number))
    assert response.status_code == 400
    assert shows(response, "A member with this identity number already exists.")
    assert Member.objects.count() == 2


def test_create_form_offers_only_visible_unions(world, login):
    response = login(world.jiefang_officer).get(NEW)
    assert response.status_code == 200
    assert world.jiefang_base.name in _names(response)
    assert world.zhongzhan_base.name not in _names(response)


# --- Edit --------------------------------------------------------------------------------------


def _edit_data(member, **overrides):
    data = {
        "name": member.name,
        "phone": member.phone,
        "employer": member.employer,
        "category": member.category,
        "new_form_kind": member.new_form_kind,
        "education": member.education,
        "political_status": member.political_status,
    }
    data.update(overrides)
    return data


def test_edit_member(world, login):
    m = world.jiefang_member
    response = login(world.jiefang_officer).post(
        action(m, "edit"), _edit_data(m, employer="新单位", phone="１３９００００００９９")
    )
    assert response.status_code == 302
    m.refresh_from_db()
    assert m.employer == "新单位" and m.phone == "13900000099"
    assert AuditEvent.objects.filter(
        action=AuditAction.UPDATE, object_type="members.member", object_id=str(m.pk)
    ).exists()


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"name": ""}, "Enter the name."),
        ({"name": "王" * 51}, "The name may have at most 50 characters."),
        ({"name": "<b>王</b>"}, "The name contains characters that are not allowed."),
        ({"employer": "单" * 101}, "The employer may have at most 100 characters."),
        (
            {"new_form_kind": NewFormKind.TRUCK_DRIVER},
            "Only new-form workers have a new-form worker kind.",
        ),
    ],
)
def test_edit_bad_input_keeps_values_and_changes_nothing(world, login, overrides, message):
    m = world.jiefang_member
    response = login(world.jiefang_officer).post(action(m, "edit"), _edit_data(m, **overrides))
    assert response.status_code == 400
    assert shows(response, message)
    if overrides.get("name"):
        assert "王" * 51 in _names(response) or "&lt;b&gt;" in _names(response)
    fresh = Member.objects.get(pk=m.pk)
    assert (fresh.name, fresh.employer, fresh.new_form_kind) == (m.name, m.employer, "")


# --- Transfer, leave, card -----------------------------------------------------------------------


@pytest.fixture
def second_base(world):
    return OrgFactory(parent=world.jiefang_township, kind=OrgKind.BASE_UNION, name="焦西第二工会")


def test_transfer(world, login, second_base):
    m = world.jiefang_member
    response = login(world.jiefang_officer).post(
        action(m, "transfer"),
        {"to_org": second_base.pk, "on": timezone.localdate().isoformat(), "reason": "调动"},
    )
    assert response.status_code == 302
    m.refresh_from_db()
    assert m.org == second_base
    assert m.memberships.count() == 2
    page = login(world.jiefang_officer).get(detail(m))
    assert "调动" in _names(page) and second_base.name in _names(page)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"reason": ""}, "Give a reason for the transfer."),
        ({"on": "2999-01-01"}, "The date cannot be in the future."),
        ({"on": "1900-01-01"}, "The transfer date is before the current membership began."),
        ({"on": "abc"}, None),
        ({"to_org": "abc"}, None),
    ],
)
def test_transfer_bad_input(world, login, second_base, data, message):
    m = world.jiefang_member
    post = {"to_org": second_base.pk, "on": timezone.localdate().isoformat(), "reason": "调动"}
    post.update(data)
    response = login(world.jiefang_officer).post(action(m, "transfer"), post)
    assert response.status_code == 400
    if message:
        assert shows(response, message)
    m.refresh_from_db()
    assert m.org == world.jiefang_base and m.memberships.count() == 1


def test_transfer_to_other_district_refused(world, login):
    m = world.jiefang_member
    response = login(world.jiefang_officer).post(
        action(m, "transfer"),
        {"to_org": world.zhongzhan_base.pk, "on": timezone.localdate().isoformat(), "reason": "x"},
    )
    assert response.status_code == 400
    m.refresh_from_db()
    assert m.org == world.jiefang_base


def test_leave(world, login):
    m = world.jiefang_member
    response = login(world.jiefang_officer).post(
        action(m, "leave"), {"on": timezone.localdate().isoformat(), "reason": "退休"}
    )
    assert response.status_code == 302
    m.refresh_from_db()
    assert m.status == MemberStatus.LEFT
    assert m.memberships.get().end_reason == "退休"


@pytest.mark.parametrize(
    "data, message",
    [
        ({"reason": ""}, "Give a reason for leaving."),
        ({"reason": "   "}, "Give a reason for leaving."),
        ({"on": "2999-01-01"}, "The date cannot be in the future."),
        ({"on": ""}, None),
    ],
)
def test_leave_bad_input(world, login, data, message):
    m = world.jiefang_member
    post = {"on": timezone.localdate().isoformat(), "reason": "退休"}
    post.update(data)
    response = login(world.jiefang_officer).post(action(m, "leave"), post)
    assert response.status_code == 400
    if message:
        assert shows(response, message)
    m.refresh_from_db()
    assert m.status == MemberStatus.ACTIVE


def test_rejoin(world, login, second_base):
    m = world.jiefang_member
    client = login(world.jiefang_officer)
    page = client.get(detail(m))
    assert action(m, "rejoin") not in page.content.decode()  # active: nothing to rejoin
    client.post(action(m, "leave"), {"on": timezone.localdate().isoformat(), "reason": "退休"})
    page = client.get(detail(m)).content.decode()
    assert action(m, "rejoin") in page and "重新入会" in page
    response = client.post(
        action(m, "rejoin"),
        {"org": second_base.pk, "on": timezone.localdate().isoformat(), "reason": "返聘"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == detail(m)
    assert f"{m.name}已重新入会。" in response.content.decode()
    m.refresh_from_db()
    assert (m.status, m.org) == (MemberStatus.ACTIVE, second_base)
    assert m.memberships.get(ended_on__isnull=True).start_reason == "返聘"


@pytest.mark.parametrize(
    "data, message",
    [
        ({"on": "2999-01-01"}, "The date cannot be in the future."),
        ({"on": "2001-01-01"}, None),  # before the member left: names the leaving date
        ({"on": ""}, None),
        ({"org": ""}, None),
        ({"org": "９９９９"}, None),
        ({"org": "<script>"}, None),
        ({"reason": "长" * 1000}, None),
    ],
)
def test_rejoin_bad_input_changes_nothing(world, login, data, message):
    m = world.jiefang_member
    client = login(world.jiefang_officer)
    today = timezone.localdate().isoformat()
    client.post(action(m, "leave"), {"on": today, "reason": "退休"})
    post = {"org": world.jiefang_base.pk, "on": today, "reason": ""}
    post.update(data)
    before = m.memberships.count()
    response = client.post(action(m, "rejoin"), post)
    assert response.status_code == 400
    assert 'class="error' in response.content.decode() or "errorlist" in response.content.decode()
    if message:
        assert shows(response, message)
    if data.get("on") == "2001-01-01":
        assert f"此人已于{today}离会，重新入会日期不能早于该日期。" in response.content.decode()
    m.refresh_from_db()
    assert m.status == MemberStatus.LEFT and m.memberships.count() == before


def test_rejoin_into_other_district_is_refused(world, login):
    m = world.jiefang_member
    client = login(world.jiefang_officer)
    client.post(action(m, "leave"), {"on": timezone.localdate().isoformat(), "reason": "退休"})
    response = client.post(
        action(m, "rejoin"),
        {"org": world.zhongzhan_base.pk, "on": timezone.localdate().isoformat()},
    )
    assert response.status_code == 400
    m.refresh_from_db()
    assert m.status == MemberStatus.LEFT


def test_create_brings_back_someone_who_left(world, login):
    from gonghui.core.crypto import decrypt

    m = world.zhongzhan_member
    login(world.zhongzhan_officer).post(
        action(m, "leave"), {"on": timezone.localdate().isoformat(), "reason": "离职"}
    )
    data = _create_data(
        world, id_number=decrypt(m.id_number_enc), joined_on=timezone.localdate().isoformat()
    )
    response = login(world.jiefang_officer).post(NEW, data, follow=True)
    assert response.redirect_chain[-1][0] == detail(m)
    assert "张新会此前已离会，现已重新入会。" in response.content.decode()
    m.refresh_from_db()
    assert (m.status, m.org, m.name) == (MemberStatus.ACTIVE, world.jiefang_base, "张新会")
    assert Member.objects.count() == 2


def test_set_member_card(world, login):
    m = world.jiefang_member
    number = luhn_complete("623595")
    response = login(world.jiefang_officer).post(action(m, "card"), {"card_number": number})
    assert response.status_code == 302
    page = login(world.jiefang_officer).get(detail(m))
    assert "中原银行" in _names(page)
    assert number not in _names(page)
    assert shows(page, "Not a union member card") is False


def test_card_not_member_card_and_luhn_warnings(world, login):
    m = world.jiefang_member
    client = login(world.jiefang_officer)
    response = client.post(action(m, "card"), {"card_number": luhn_broken("622202")}, follow=True)
    assert response.status_code == 200
    assert shows(response, "Not a union member card")
    assert shows(response, "This card is not a union member card.")
    assert shows(response, "The card number fails the bank check digit; please check it.")
    card = m.cards.get(is_current=True)
    assert not card.is_member_card and not card.luhn_ok


@pytest.mark.parametrize(
    "value, message",
    [
        ("", "Enter the card number."),
        ("6217 99ab", "The card number may contain only digits."),
        ("621799", None),
        ("<script>", "The card number may contain only digits."),
    ],
)
def test_card_bad_input(world, login, value, message):
    m = world.jiefang_member
    response = login(world.jiefang_officer).post(action(m, "card"), {"card_number": value})
    assert response.status_code == 400
    if message:
        assert shows(response, message)
    assert not MemberCard.objects.exists()


def test_card_taken_by_other_member(world, login):
    number = luhn_complete("621799")
    from gonghui.members.services import member_card_set

    member_card_set(actor=None, member=world.zhongzhan_member, card_number=number)
    response = login(world.city_admin).post(
        action(world.jiefang_member, "card"), {"card_number": number}
    )
    assert response.status_code == 400
    assert shows(response, "This card number is already registered to another member.")
    assert not world.jiefang_member.cards.exists()


# --- Reveal ------------------------------------------------------------------------------------


def _reveals():
    return AuditEvent.objects.filter(action=AuditAction.REVEAL).count()


def test_reveal_without_capability_is_refused(world, login):
    m = world.jiefang_member
    response = login(world.jiefang_officer).post(
        action(m, "reveal"), {"field": "id_number", "reason": "办卡需要"}
    )
    assert response.status_code == 403
    assert crypto.decrypt(m.id_number_enc) not in _names(response)
    assert _reveals() == 0


def test_reveal_form_hidden_without_capability(world, login):
    page = login(world.jiefang_officer).get(detail(world.jiefang_member))
    assert action(world.jiefang_member, "reveal") not in _names(page)
    page = login(world.city_admin).get(detail(world.jiefang_member))
    assert action(world.jiefang_member, "reveal") in _names(page)


def test_reveal_with_capability_shows_once_and_audits(world, login):
    m = world.jiefang_member
    full = crypto.decrypt(m.id_number_enc)
    client = login(world.city_admin)
    response = client.post(action(m, "reveal"), {"field": "id_number", "reason": "办卡需要"})
    assert response.status_code == 200
    assert full in _names(response)
    assert response["Cache-Control"] == "no-store"
    assert _reveals() == 1
    event = AuditEvent.objects.get(action=AuditAction.REVEAL)
    assert event.reason == "办卡需要" and event.actor == world.city_admin
    assert full not in str(dict(client.session.items()))
    assert full not in _names(client.get(detail(m)))


def test_reveal_card_number(world, login):
    m = world.jiefang_member
    number = luhn_complete("621799")
    from gonghui.members.services import member_card_set

    member_card_set(actor=None, member=m, card_number=number)
    response = login(world.city_admin).post(
        action(m, "reveal"), {"field": "card_number", "reason": "核对银行卡"}
    )
    assert response.status_code == 200 and number in _names(response)
    assert _reveals() == 1


@pytest.mark.parametrize(
    "data, status",
    [
        ({"field": "id_number", "reason": ""}, 400),
        ({"field": "id_number", "reason": "x"}, 400),
        ({"field": "password", "reason": "看看"}, 400),
        ({"field": "card_number", "reason": "看看卡号"}, 404),  # no card on file
    ],
)
def test_reveal_bad_input(world, login, data, status):
    m = world.jiefang_member
    response = login(world.city_admin).post(action(m, "reveal"), data)
    assert response.status_code == status
    assert crypto.decrypt(m.id_number_enc) not in _names(response)
    assert _reveals() == 0


def test_reveal_other_district_is_not_found(world, login):
    from gonghui.accounts.roles import Role
    from gonghui.conftest import make_staff

    zz_admin = make_staff("zz_admin", world.zhongzhan, Role.ADMIN)
    m = world.jiefang_member
    response = login(zz_admin).post(action(m, "reveal"), {"field": "id_number", "reason": "办卡"})
    assert response.status_code == 404
    assert "王小明" not in _names(response)
    assert _reveals() == 0


# --- Join applications -------------------------------------------------------------------------


@pytest.fixture
def application(world):
    return join_application_submit(
        org=world.jiefang_base,
        name="周申请",
        id_number=make_id_number(region="410802", seq=301),
        phone="13600000301",
        category=WorkerCategory.NEW_FORM_WORKER,
        new_form_kind=NewFormKind.COURIER,
    )


def test_join_applications_scoped(world, login, application):
    zz = join_application_submit(
        org=world.zhongzhan_base,
        name="吴中站",
        id_number=make_id_number(region="410803", seq=302),
        phone="13600000302",
    )
    page = login(world.jiefang_officer).get(JOINS)
    assert page.status_code == 200
    assert "周申请" in _names(page) and "吴中站" not in _names(page)
    page = login(world.zhongzhan_officer).get(JOINS)
    assert "吴中站" in _names(page) and "周申请" not in _names(page)
    assert zz.status == JoinStatus.PENDING


def test_approve_join_application(world, login, application):
    response = login(world.jiefang_officer).post(
        reverse("members:join_application_decide", args=[application.pk]),
        {"decision": "approved"},
    )
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == JoinStatus.APPROVED
    member = Member.objects.get(name="周申请")
    assert member.org == world.jiefang_base and member.new_form_kind == NewFormKind.COURIER
    assert member.memberships.filter(ended_on__isnull=True).count() == 1
    page = login(world.jiefang_officer).get(JOINS, {"status": "approved"})
    assert "周申请" in _names(page)


def test_reject_needs_reason(world, login, application):
    url = reverse("members:join_application_decide", args=[application.pk])
    client = login(world.jiefang_officer)
    response = client.post(url, {"decision": "rejected", "reason": ""}, follow=True)
    assert shows(response, "Give a reason for rejecting.")
    application.refresh_from_db()
    assert application.status == JoinStatus.PENDING
    client.post(url, {"decision": "rejected", "reason": "非本单位职工"})
    application.refresh_from_db()
    assert application.status == JoinStatus.REJECTED
    assert application.decision_reason == "非本单位职工"
    assert not Member.objects.filter(name="周申请").exists()


def test_decide_twice(world, login, application):
    url = reverse("members:join_application_decide", args=[application.pk])
    client = login(world.jiefang_officer)
    client.post(url, {"decision": "approved"})
    response = client.post(url, {"decision": "rejected", "reason": "x"}, follow=True)
    assert shows(response, "This application has already been decided.")
    assert Member.objects.filter(name="周申请").count() == 1


@pytest.mark.parametrize("decision", ["", "withdrawn", "pending", "<script>"])
def test_decide_bad_decision(world, login, application, decision):
    url = reverse("members:join_application_decide", args=[application.pk])
    login(world.jiefang_officer).post(url, {"decision": decision})
    application.refresh_from_db()
    assert application.status == JoinStatus.PENDING


@pytest.mark.parametrize("status", ["bogus", "", "pending"])
def test_join_status_filter_values(world, login, application, status):
    page = login(world.jiefang_officer).get(JOINS, {"status": status})
    assert page.status_code == 200
    assert "周申请" in _names(page)


# --- Permission matrix -------------------------------------------------------------------------

ACTORS = ["city_admin", "jiefang_staff", "zhongzhan_staff", "jiefang_viewer", "member", "anonymous"]


def _client(world, login, who):
    return {
        "city_admin": lambda: login(world.city_admin),
        "jiefang_staff": lambda: login(world.jiefang_officer),
        "zhongzhan_staff": lambda: login(world.zhongzhan_officer),
        "jiefang_viewer": lambda: login(world.jiefang_viewer),
        "member": lambda: login(member=world.jiefang_member),
        "anonymous": lambda: login(),
    }[who]()


# page -> expected status per actor; "jm" = a page about the jiefang member
PAGE_MATRIX = {
    "list": (LIST, [200, 200, 200, 200, 302, 302]),
    "detail": ("jm", [200, 200, 404, 200, 302, 302]),
    "edit": ("jm-edit", [200, 200, 404, 403, 302, 302]),
    "create": (NEW, [200, 200, 200, 403, 302, 302]),
    "joins": (JOINS, [200, 200, 200, 403, 302, 302]),
}


@pytest.mark.parametrize("page", list(PAGE_MATRIX))
@pytest.mark.parametrize("who_index", range(len(ACTORS)))
def test_page_permission_matrix(world, login, application, page, who_index):
    who = ACTORS[who_index]
    url, statuses = PAGE_MATRIX[page]
    m = world.jiefang_member
    url = {"jm": detail(m), "jm-edit": action(m, "edit")}.get(url, url)
    response = _client(world, login, who).get(url)
    assert response.status_code == statuses[who_index]
    content = _names(response)
    if response.status_code == 302:
        assert "/accounts/login/" in response["Location"]
    if who in ("jiefang_staff", "jiefang_viewer"):
        assert "李秀英" not in content and "吴中站" not in content
    if who == "zhongzhan_staff":
        assert "王小明" not in content and "周申请" not in content
    if who in ("member", "anonymous"):
        assert "王小明" not in content and "李秀英" not in content


def test_other_district_detail_not_found_for_jiefang(world, login):
    response = login(world.jiefang_officer).get(detail(world.zhongzhan_member))
    assert response.status_code == 404
    assert "李秀英" not in _names(response)


def _snapshot(world, application):
    m = Member.objects.get(pk=world.jiefang_member.pk)
    return (
        m.status,
        m.org_id,
        m.name,
        m.employer,
        m.cards.count(),
        m.memberships.count(),
        JoinApplication.objects.get(pk=application.pk).status,
        AuditEvent.objects.filter(action=AuditAction.REVEAL).count(),
        Member.objects.count(),
    )


def _posts(world, application, second_base):
    m = world.jiefang_member
    today = timezone.localdate().isoformat()
    return {
        "leave": (action(m, "leave"), {"on": today, "reason": "退休"}),
        "transfer": (
            action(m, "transfer"),
            {"to_org": second_base.pk, "on": today, "reason": "调动"},
        ),
        "card": (action(m, "card"), {"card_number": luhn_complete("621799")}),
        "edit": (action(m, "edit"), _edit_data(m, employer="被改了")),
        "reveal": (action(m, "reveal"), {"field": "id_number", "reason": "办卡需要"}),
        "decide": (
            reverse("members:join_application_decide", args=[application.pk]),
            {"decision": "approved"},
        ),
        "create": (NEW, _create_data(world)),
    }


# Who may not do each POST, and the status they get.
POST_DENIED = {
    "zhongzhan_staff": 404,
    "jiefang_viewer": 403,
    "member": 302,
    "anonymous": 302,
}


@pytest.mark.parametrize(
    "name", ["leave", "transfer", "card", "edit", "reveal", "decide", "create"]
)
@pytest.mark.parametrize("who", list(POST_DENIED))
def test_post_permission_matrix_changes_nothing(world, login, application, second_base, name, who):
    url, data = _posts(world, application, second_base)[name]
    before = _snapshot(world, application)
    response = _client(world, login, who).post(url, data)
    expected = POST_DENIED[who]
    if name == "create" and who == "zhongzhan_staff":
        expected = 400  # the jiefang union is not among the choices
    if name == "reveal" and who == "zhongzhan_staff":
        expected = 403  # officers lack the capability before the member is even looked up
    assert response.status_code == expected
    assert _snapshot(world, application) == before
    assert "王小明" not in _names(response)
    assert crypto.decrypt(world.jiefang_member.id_number_enc) not in _names(response)


@pytest.mark.parametrize("name", ["leave", "transfer", "card", "edit", "decide", "create"])
def test_post_allowed_for_jiefang_officer(world, login, application, second_base, name):
    url, data = _posts(world, application, second_base)[name]
    before = _snapshot(world, application)
    response = login(world.jiefang_officer).post(url, data)
    assert response.status_code == 302
    assert _snapshot(world, application) != before


def test_zhongzhan_leave_on_jiefang_member(world, login):
    response = login(world.zhongzhan_officer).post(
        action(world.jiefang_member, "leave"),
        {"on": timezone.localdate().isoformat(), "reason": "恶意"},
    )
    assert response.status_code == 404
    assert Member.objects.get(pk=world.jiefang_member.pk).status == MemberStatus.ACTIVE


def test_zhongzhan_rejoin_on_a_jiefang_member_who_left(world, login):
    m = world.jiefang_member
    member_leave(actor=None, member=m, on=timezone.localdate(), reason="退休")
    client = login(world.zhongzhan_officer)
    assert client.get(detail(m)).status_code == 404
    response = client.post(
        action(m, "rejoin"),
        {"org": world.zhongzhan_base.pk, "on": timezone.localdate().isoformat(), "reason": "恶意"},
    )
    assert response.status_code == 404
    m.refresh_from_db()
    assert (m.status, m.org) == (MemberStatus.LEFT, world.jiefang_base)
    assert m.memberships.count() == 1


def test_get_on_post_only_actions(world, login):
    client = login(world.jiefang_officer)
    for name in ("leave", "transfer", "card"):
        assert client.get(action(world.jiefang_member, name)).status_code == 405
