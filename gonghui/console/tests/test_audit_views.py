"""The audit log viewer: capability, subtree scoping, filters, bad filter values, pagination."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from gonghui.accounts.roles import Role
from gonghui.audit.models import AuditAction, AuditEvent
from gonghui.audit.selectors import audit_list
from gonghui.audit.services import audit_record
from gonghui.conftest import World, make_staff
from gonghui.console.tests.helpers import shows, text
from gonghui.core.errors import PermissionDenied
from gonghui.orgs.services import org_update

pytestmark = pytest.mark.django_db
URL = reverse("console:audit")
ZHONGZHAN_BASE = "焦作中站示范化工有限公司工会委员会"
JIEFANG_BASE = "焦作市解放区示范商贸有限公司工会委员会"


def actors(response) -> set[str]:
    return set(re.findall(r"<tr><td>[^<]*</td><td>([^<]*)</td>", text(response)))


def rows(response) -> int:
    return text(response).split("<tbody>", 1)[1].split("</tbody>", 1)[0].count("<tr>")


def test_city_admin_sees_the_whole_log(world: World, login) -> None:
    response = login(world.city_admin).get(URL)
    assert response.status_code == 200
    html = text(response)
    assert JIEFANG_BASE in html and ZHONGZHAN_BASE in html and "李秀英" in html


def test_district_officer_without_view_audit_is_refused(world: World, login) -> None:
    response = login(world.jiefang_officer).get(URL)
    assert response.status_code == 403
    assert JIEFANG_BASE not in text(response)
    with pytest.raises(PermissionDenied):
        audit_list(actor=world.jiefang_officer)


def test_district_admin_sees_only_the_district(world: World, login) -> None:
    admin = make_staff("jiefang_admin", world.jiefang, Role.ADMIN)
    response = login(admin).get(URL)
    assert response.status_code == 200
    html = text(response)
    assert JIEFANG_BASE in html and "王小明" in html
    assert ZHONGZHAN_BASE not in html and "李秀英" not in html and "中站区总工会" not in html
    orgs = set(audit_list(actor=admin).values_list("org__path", flat=True))
    assert orgs and all(path.startswith(world.jiefang.path) for path in orgs)


def test_changes_reason_and_ip_are_shown(world: World, login) -> None:
    client = login(world.city_admin)
    org_update(actor=world.city_admin, org=world.jiefang_base, chair_name="新主席")
    html = text(client.get(URL, {"action": "update"}))
    assert "chair_name:  → 新主席" in html
    audit_record(
        actor=world.city_admin,
        action=AuditAction.REVEAL,
        obj=world.jiefang_member,
        org=world.jiefang_base,
        reason="核对<b>理由</b>",
    )
    html = text(client.get(URL, {"action": "reveal"}))
    assert "核对&lt;b&gt;理由&lt;/b&gt;" in html and "<b>理由" not in html


@pytest.fixture
def events(world: World) -> World:
    org_update(actor=world.jiefang_officer, org=world.jiefang_base, chair_name="甲")
    org_update(actor=world.zhongzhan_officer, org=world.zhongzhan_base, chair_name="乙")
    audit_record(
        actor=world.city_admin,
        action=AuditAction.REVEAL,
        obj=world.jiefang_member,
        org=world.jiefang_base,
        reason="核对身份证号",
    )
    return world


@pytest.mark.parametrize(
    "params,expected",
    [
        ({"actor": "jiefang_staff"}, {"jiefang_staff"}),
        ({"actor": "ZHONGZHAN"}, {"zhongzhan_staff"}),  # case-insensitive part of the name
        ({"action": "reveal"}, {"city_admin"}),
        ({"q": "核对"}, {"city_admin"}),
        ({"q": "王小明"}, {"city_admin", "system"}),  # object repr: the create and the reveal
        ({"object_type": "members.member", "action": "create"}, {"system"}),
        ({"actor": "nobody-at-all"}, set()),
    ],
)
def test_filters(events: World, login, params, expected) -> None:
    response = login(events.city_admin).get(URL, params)
    assert response.status_code == 200
    assert actors(response) == expected
    if not expected:
        assert rows(response) == 1  # the "no events" row


def test_object_id_filter(events: World, login) -> None:
    html = text(
        login(events.city_admin).get(
            URL, {"object_type": "orgs.org", "object_id": str(events.zhongzhan_base.pk)}
        )
    )
    assert ZHONGZHAN_BASE in html and JIEFANG_BASE not in html


def test_date_filters(events: World, login) -> None:
    client = login(events.city_admin)
    today = timezone.localdate()
    assert JIEFANG_BASE in text(client.get(URL, {"date_from": today, "date_to": today}))
    tomorrow = today + dt.timedelta(days=1)
    assert rows(client.get(URL, {"date_from": tomorrow})) == 1  # only the empty-table row
    yesterday = today - dt.timedelta(days=1)
    assert JIEFANG_BASE not in text(client.get(URL, {"date_to": yesterday}))


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "2024-13-45"},
        {"date_to": "yesterday"},
        {"date_from": "2024-05-02", "date_to": "2024-05-01"},
        {"actor": "x" * 5000},
        {"q": "<script>alert(1)</script>" * 50},
        {"object_id": "1" * 41},
        {"action": "drop table"},
        {"q": "a\x00b"},
    ],
)
def test_bad_filter_values_are_messages(events: World, login, params) -> None:
    response = login(events.city_admin).get(URL, params)
    assert response.status_code == 400
    html = text(response)
    assert 'id="filter-errors"' in html
    assert "<script>alert(1)</script>" not in html
    assert JIEFANG_BASE not in html  # no results under a filter that could not be read


def test_start_after_end_message(events: World, login) -> None:
    response = login(events.city_admin).get(
        URL, {"date_from": "2024-05-02", "date_to": "2024-05-01"}
    )
    assert shows(response, "The start date is after the end date.")


def test_sql_ish_text_is_just_text(events: World, login) -> None:
    response = login(events.city_admin).get(URL, {"q": "' OR 1=1 --", "actor": "%"})
    assert response.status_code == 200
    assert rows(response) == 1 and AuditEvent.objects.count() > 3


def test_pagination_fifty_per_page(world: World, login) -> None:
    for i in range(60):
        audit_record(
            actor=None,
            action=AuditAction.EXPORT,
            object_type="test.batch",
            object_id=str(i),
            object_repr=f"批次{i}",
            org=world.jiefang,
        )
    client = login(world.city_admin)
    assert rows(client.get(URL, {"object_type": "test.batch"})) == 50
    second = client.get(URL, {"object_type": "test.batch", "page": 2})
    assert rows(second) == 10
    assert client.get(URL, {"page": "zzz"}).status_code == 200
    assert client.get(URL, {"page": "99999"}).status_code == 200
