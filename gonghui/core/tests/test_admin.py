"""The scoped admin: permission matrix per model, scoped choices, no leaks, no external assets."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.translation import gettext as _

from gonghui.accounts.models import RoleGrant, User
from gonghui.accounts.roles import Role
from gonghui.audit.models import AuditAction, AuditEvent
from gonghui.conftest import make_staff
from gonghui.core import crypto
from gonghui.members.models import CardBin, ImportJob, JoinApplication, Member
from gonghui.members.services import join_application_submit, member_card_set
from gonghui.members.tests.factories import make_id_number
from gonghui.orgs.models import Org

ACTORS = ["city_admin", "jiefang_staff", "zhongzhan_staff", "member", "anonymous"]
EXTERNAL_ASSET = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)
CARD = "6222020200112233445"


class FormParser(HTMLParser):
    """Collects what a browser would submit from the page's main form."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, Any] = {}
        self._select: str | None = None
        self._textarea: str | None = None
        self._multi: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in {"submit", "button", "file"}:
                return
            if kind in {"checkbox", "radio"}:
                if "checked" in a:
                    if kind == "checkbox" and name in self.data:
                        prev = self.data[name]
                        self.data[name] = (
                            [*prev, a.get("value") or "on"]
                            if isinstance(prev, list)
                            else [prev, a.get("value") or "on"]
                        )
                    else:
                        self.data[name] = a.get("value") or "on"
                return
            self.data[name] = a.get("value") or ""
        elif tag == "select" and name:
            self._select = name
            if "multiple" in a:
                self._multi.add(name)
        elif tag == "option" and self._select and "selected" in a:
            value = a.get("value") or ""
            if self._select in self._multi:
                self.data.setdefault(self._select, [])
                self.data[self._select].append(value)
            else:
                self.data[self._select] = value
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        if tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.data[self._textarea] += data


def form_data(resp: Any) -> dict[str, Any]:
    parser = FormParser()
    parser.feed(resp.content.decode())
    parser.data.pop("csrfmiddlewaretoken", None)
    return parser.data


def select_options(html: str, name: str) -> list[str]:
    match = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert match, f"no select {name}"
    return re.findall(r"<option[^>]*>([^<]*)</option>", match.group(1))


@pytest.fixture
def clients(world, login) -> dict[str, Client]:
    jiefang_admin = make_staff("jiefang_admin", world.jiefang, Role.ADMIN)
    return {
        "city_admin": login(world.city_admin),
        "jiefang_staff": login(world.jiefang_officer),
        "jiefang_viewer": login(world.jiefang_viewer),
        "jiefang_admin": login(jiefang_admin),
        "zhongzhan_staff": login(world.zhongzhan_officer),
        "member": login(member=world.jiefang_member),
        "anonymous": Client(),
    }


@pytest.fixture
def rows(world) -> dict[str, Any]:
    member_card_set(actor=None, member=world.zhongzhan_member, card_number=CARD)
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
    zz_job = ImportJob.objects.create(
        org=world.zhongzhan_base, original_name="中站名单.xlsx", file="imports/x.xlsx"
    )
    jf_job = ImportJob.objects.create(
        org=world.jiefang_base, original_name="解放名单.xlsx", file="imports/y.xlsx"
    )
    card_bin = CardBin.objects.create(prefix="622202", bank_name="工商银行")
    return {"zz_app": zz_app, "jf_app": jf_app, "zz_job": zz_job, "jf_job": jf_job, "bin": card_bin}


def url(name: str, *args: Any) -> str:
    return reverse(f"admin:{name}", args=args)


def assert_clean_html(resp: Any, world: Any) -> str:
    html = resp.content.decode()
    assert not EXTERNAL_ASSET.search(html), EXTERNAL_ASSET.search(html).group(0)  # type: ignore[union-attr]
    assert "fonts.googleapis" not in html and "fonts.gstatic" not in html
    for m in (world.jiefang_member, world.zhongzhan_member):
        assert crypto.decrypt(m.id_number_enc) not in html
        assert m.id_number_enc not in html
        assert m.id_number_hash not in html
    assert CARD not in html
    return html


def expect(resp: Any, status: int) -> None:
    if status == 302:
        assert resp.status_code == 302, resp.status_code
        assert "/login" in resp["Location"]
    else:
        assert resp.status_code == status, resp.status_code


OUTSIDERS = {"member": 302, "anonymous": 302}


# --- changelists ----------------------------------------------------------------------------

CHANGELISTS = [
    # (url name, {actor: status}, text for jiefang's own row, text of zhongzhan's row)
    ("orgs_org_changelist", {}, "焦西街道工会联合会", "中站区总工会"),
    ("members_member_changelist", {}, "王小明", "李秀英"),
    ("members_joinapplication_changelist", {}, "钱解放", "赵中站"),
    ("members_importjob_changelist", {}, "解放名单.xlsx", "中站名单.xlsx"),
    ("accounts_user_changelist", {"jiefang_staff": 403, "zhongzhan_staff": 403}, None, None),
    ("audit_auditevent_changelist", {"jiefang_staff": 403, "zhongzhan_staff": 403}, None, None),
    ("members_cardbin_changelist", {"jiefang_staff": 403, "zhongzhan_staff": 403}, None, None),
]


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize(("name", "overrides", "own", "other"), CHANGELISTS)
def test_changelist_matrix(world, clients, rows, actor, name, overrides, own, other):
    status = {**OUTSIDERS, **overrides}.get(actor, 200)
    resp = clients[actor].get(url(name))
    expect(resp, status)
    if status != 200:
        text = resp.content.decode()
        assert "李秀英" not in text and "王小明" not in text
        return
    html = assert_clean_html(resp, world)
    if own is None:
        return
    if actor == "city_admin":
        assert own in html and other in html
    elif actor == "jiefang_staff":
        assert own in html
        assert other not in html and "李秀英" not in html
    else:
        assert other in html and own not in html and "王小明" not in html


def test_member_changelist_shows_masked_numbers_and_search(world, clients, rows):
    c = clients["jiefang_staff"]
    html = assert_clean_html(c.get(url("members_member_changelist")), world)
    assert world.jiefang_member.id_number_masked in html
    html = c.get(url("members_member_changelist"), {"q": "李秀英"}).content.decode()
    # The term is echoed in the search box; the row itself must not appear.
    assert world.zhongzhan_member.id_number_masked not in html
    assert world.zhongzhan_base.name not in html
    html = c.get(url("members_member_changelist"), {"q": "13900000001"}).content.decode()
    assert "王小明" in html
    # Filtering on an organisation from another district through the URL shows nothing of it.
    html = c.get(
        url("members_member_changelist"), {"org__id__exact": world.zhongzhan_base.pk}
    ).content.decode()
    assert "李秀英" not in html


def test_org_filters_offer_only_visible_orgs(world, clients, rows):
    for name in (
        "members_member_changelist",
        "orgs_org_changelist",
        "members_importjob_changelist",
    ):
        html = clients["jiefang_staff"].get(url(name)).content.decode()
        assert "中站" not in html, name
    html = clients["jiefang_admin"].get(url("audit_auditevent_changelist")).content.decode()
    assert "中站" not in html and "李秀英" not in html
    assert "王小明" in html
    # The object-type filter lists only types that occur in the visible log.
    assert "members.cardbin" not in html


# --- change pages ---------------------------------------------------------------------------


def _change_targets(world: Any, rows: dict[str, Any]) -> dict[str, Any]:
    return {
        "orgs_org_change": world.zhongzhan_base.pk,
        "members_member_change": world.zhongzhan_member.pk,
        "members_joinapplication_change": rows["zz_app"].pk,
        "members_importjob_change": rows["zz_job"].pk,
    }


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize(
    "name",
    [
        "orgs_org_change",
        "members_member_change",
        "members_joinapplication_change",
        "members_importjob_change",
    ],
)
def test_change_page_matrix(world, clients, rows, actor, name):
    pk = _change_targets(world, rows)[name]
    status = {**OUTSIDERS, "jiefang_staff": 404}.get(actor, 200)
    resp = clients[actor].get(url(name, pk))
    expect(resp, status)
    text = resp.content.decode()
    if status != 200:
        assert "李秀英" not in text and "赵中站" not in text and "中站名单" not in text
        # Same answer for an id that does not exist.
        if status == 404:
            assert clients[actor].get(url(name, 987654)).status_code == 404
        return
    assert_clean_html(resp, world)


def test_member_change_page_shows_masked_only(world, clients, rows):
    resp = clients["city_admin"].get(url("members_member_change", world.zhongzhan_member.pk))
    html = assert_clean_html(resp, world)
    assert world.zhongzhan_member.id_number_masked in html
    card = world.zhongzhan_member.cards.get()
    assert card.number_masked in html
    assert "id_number_enc" not in html and "number_enc" not in html and "_hash" not in html
    # The history inline is there and read-only.
    assert world.zhongzhan_base.name in html
    assert 'name="memberships-0-org"' not in html


@pytest.mark.parametrize("actor", ["city_admin", "jiefang_staff", "zhongzhan_staff"])
def test_user_and_audit_change_pages(world, clients, rows, actor):
    target = world.zhongzhan_officer.pk
    # Outside the subtree: 404 (as if missing); inside but without the capability: 403.
    expected = {"city_admin": 200, "jiefang_staff": 404, "zhongzhan_staff": 403}[actor]
    assert clients[actor].get(url("accounts_user_change", target)).status_code == expected
    event = AuditEvent.objects.filter(object_repr__contains="李秀英").first()
    assert event is not None
    assert clients[actor].get(url("audit_auditevent_change", event.pk)).status_code == expected


def test_subtree_admin_manages_only_its_users(world, clients, rows):
    c = clients["jiefang_admin"]
    html = assert_clean_html(c.get(url("accounts_user_changelist")), world)
    assert "jiefang_staff" in html and "base_clerk" in html
    assert "zhongzhan_staff" not in html and "city_admin" not in html
    assert c.get(url("accounts_user_change", world.zhongzhan_officer.pk)).status_code == 404
    assert c.get(url("auth_user_password_change", world.zhongzhan_officer.pk)).status_code == 404
    resp = c.get(url("accounts_user_change", world.jiefang_officer.pk))
    assert resp.status_code == 200
    assert "pbkdf2" not in resp.content.decode() and "md5$" not in resp.content.decode()


# --- add pages and scoped choices -----------------------------------------------------------

ADD_PAGES = [
    ("orgs_org_add", {"member": 302, "anonymous": 302}),
    (
        "members_member_add",
        {
            "member": 302,
            "anonymous": 302,
            "city_admin": 403,
            "jiefang_staff": 403,
            "zhongzhan_staff": 403,
        },
    ),
    (
        "members_cardbin_add",
        {"member": 302, "anonymous": 302, "jiefang_staff": 403, "zhongzhan_staff": 403},
    ),
    (
        "accounts_user_add",
        {"member": 302, "anonymous": 302, "jiefang_staff": 403, "zhongzhan_staff": 403},
    ),
    (
        "audit_auditevent_add",
        {
            "member": 302,
            "anonymous": 302,
            "city_admin": 403,
            "jiefang_staff": 403,
            "zhongzhan_staff": 403,
        },
    ),
    (
        "members_joinapplication_add",
        {
            "member": 302,
            "anonymous": 302,
            "city_admin": 403,
            "jiefang_staff": 403,
            "zhongzhan_staff": 403,
        },
    ),
]


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize(("name", "statuses"), ADD_PAGES)
def test_add_page_matrix(world, clients, rows, actor, name, statuses):
    resp = clients[actor].get(url(name))
    expect(resp, statuses.get(actor, 200))
    if resp.status_code == 200:
        html = assert_clean_html(resp, world)
        if actor == "jiefang_staff":
            assert "中站" not in html and "李秀英" not in html


def test_foreign_key_choices_are_scoped(world, clients):
    html = clients["jiefang_staff"].get(url("orgs_org_add")).content.decode()
    options = select_options(html, "parent")
    assert "解放区总工会" in options and "焦西街道工会联合会" in options
    assert "中站区总工会" not in options and "焦作市总工会" not in options
    html = clients["jiefang_admin"].get(url("accounts_user_add")).content.decode()
    options = select_options(html, "org")
    assert "解放区总工会" in options
    assert not any("中站" in o for o in options)


def test_viewer_cannot_add_or_change(world, clients):
    c = clients["jiefang_viewer"]
    assert c.get(url("orgs_org_add")).status_code == 403
    resp = c.get(url("orgs_org_change", world.jiefang_base.pk))
    assert resp.status_code == 200  # view only
    before = Org.objects.get(pk=world.jiefang_base.pk).short_name
    resp = c.post(
        url("orgs_org_change", world.jiefang_base.pk), {"name": "改名", "kind": "base_union"}
    )
    assert resp.status_code == 403
    assert Org.objects.get(pk=world.jiefang_base.pk).short_name == before
    assert Org.objects.get(pk=world.jiefang_base.pk).name == world.jiefang_base.name


# --- writes through services ----------------------------------------------------------------


def test_org_add_goes_through_the_service(world, clients):
    c = clients["jiefang_staff"]
    data = {"parent": world.jiefang_township.pk, "kind": "base_union", "name": "新建工会委员会"}
    resp = c.post(url("orgs_org_add"), data)
    assert resp.status_code == 302, resp.content.decode()[:3000]
    org = Org.objects.get(name="新建工会委员会")
    assert org.path.startswith(world.jiefang_township.path)
    assert AuditEvent.objects.filter(action=AuditAction.CREATE, object_id=str(org.pk)).exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": ""}, None),
        ({"kind": "county_federation"}, "kind_not_allowed"),
        ({"division_code": "<script>alert(1)</script>"}, "division_format"),
        ({"uscc": "91410800MA000000X1"}, "uscc_not_union"),
        ({"name": "名" * 101}, None),
    ],
)
def test_org_add_errors_become_form_errors(world, clients, change, message):
    c = clients["jiefang_staff"]
    count = Org.objects.count()
    events = AuditEvent.objects.count()
    data = {"parent": world.jiefang_township.pk, "kind": "base_union", "name": "坏工会", **change}
    resp = c.post(url("orgs_org_add"), data)
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "<script>alert(1)</script>" not in html
    if message == "kind_not_allowed":
        assert (
            _("A %(child)s cannot be placed under a %(parent)s.")
            % {
                "child": _("County federation"),
                "parent": _("Township union"),
            }
            in html
        )
    assert Org.objects.count() == count and AuditEvent.objects.count() == events


def test_org_add_under_invisible_parent_is_refused(world, clients):
    count = Org.objects.count()
    resp = clients["jiefang_staff"].post(
        url("orgs_org_add"),
        {"parent": world.zhongzhan.pk, "kind": "base_union", "name": "越权工会"},
    )
    assert resp.status_code == 200  # the form again, with "not one of the choices"
    assert Org.objects.count() == count


def test_org_change_goes_through_the_service(world, clients):
    c = clients["jiefang_staff"]
    page = c.get(url("orgs_org_change", world.jiefang_base.pk))
    data = form_data(page)
    data["short_name"] = "示范商贸"
    resp = c.post(url("orgs_org_change", world.jiefang_base.pk), data)
    assert resp.status_code == 302, resp.content.decode()[:2000]
    world.jiefang_base.refresh_from_db()
    assert world.jiefang_base.short_name == "示范商贸"
    assert AuditEvent.objects.filter(
        action=AuditAction.UPDATE, object_id=str(world.jiefang_base.pk)
    ).exists()
    # Other district: 404, nothing changed.
    resp = clients["zhongzhan_staff"].post(
        url("orgs_org_change", world.jiefang_base.pk), data | {"short_name": "x"}
    )
    assert resp.status_code == 404
    world.jiefang_base.refresh_from_db()
    assert world.jiefang_base.short_name == "示范商贸"


def test_member_change_goes_through_the_service(world, clients, rows):
    c = clients["zhongzhan_staff"]
    member = world.zhongzhan_member
    page = c.get(url("members_member_change", member.pk))
    data = form_data(page)
    assert "memberships-TOTAL_FORMS" in data
    resp = c.post(url("members_member_change", member.pk), data | {"phone": "abc"})
    assert resp.status_code == 200
    assert _("Enter an 11-digit mainland mobile number starting with 1.") in resp.content.decode()
    member.refresh_from_db()
    assert member.phone == "13900000002"
    resp = c.post(url("members_member_change", member.pk), data | {"name": "<script>x</script>"})
    assert resp.status_code == 200
    member.refresh_from_db()
    assert member.name == "李秀英"
    resp = c.post(
        url("members_member_change", member.pk), data | {"phone": "１３９１１１１２２２２"}
    )
    assert resp.status_code == 302
    member.refresh_from_db()
    assert member.phone == "13911112222"
    assert AuditEvent.objects.filter(action=AuditAction.UPDATE, object_id=str(member.pk)).exists()
    # The other district: 404, nothing changed.
    resp = clients["jiefang_staff"].post(
        url("members_member_change", member.pk), data | {"phone": "13800000000"}
    )
    assert resp.status_code == 404
    member.refresh_from_db()
    assert member.phone == "13911112222"


def test_no_delete_anywhere(world, clients, rows):
    c = clients["city_admin"]
    for name, pk in [
        ("orgs_org_delete", world.jiefang_base.pk),
        ("members_member_delete", world.jiefang_member.pk),
        ("accounts_user_delete", world.jiefang_viewer.pk),
        ("audit_auditevent_delete", AuditEvent.objects.first().pk),
        ("members_joinapplication_delete", rows["jf_app"].pk),
    ]:
        assert c.post(url(name, pk), {"post": "yes"}).status_code == 403, name
    assert Org.objects.filter(pk=world.jiefang_base.pk).exists()
    assert Member.objects.filter(pk=world.jiefang_member.pk).exists()
    assert JoinApplication.objects.filter(pk=rows["jf_app"].pk).exists()


def test_audit_admin_is_read_only(world, clients):
    c = clients["city_admin"]
    event = AuditEvent.objects.first()
    count = AuditEvent.objects.count()
    resp = c.get(url("audit_auditevent_change", event.pk))
    assert resp.status_code == 200
    html = resp.content.decode()
    assert 'name="_save"' not in html
    assert c.post(url("audit_auditevent_change", event.pk), {"reason": "x"}).status_code == 403
    assert c.post(url("audit_auditevent_add"), {"action": "create"}).status_code == 403
    assert AuditEvent.objects.count() == count
    html = c.get(url("audit_auditevent_changelist")).content.decode()
    assert 'name="action"' not in html  # no bulk actions
    # Filters work and keep to the scope.
    html = c.get(url("audit_auditevent_changelist"), {"action__exact": "reveal"}).content.decode()
    assert "李秀英" not in html


def test_card_bin_admin_writes_through_service(world, clients, rows):
    c = clients["city_admin"]
    resp = c.post(
        url("members_cardbin_add"),
        {
            "prefix": "６２１２２６",
            "bank_name": "工商银行焦作分行",
            "card_length": 19,
            "is_member_card": "on",
        },
    )
    assert resp.status_code == 302, resp.content.decode()[:2000]
    row = CardBin.objects.get(prefix="621226")
    assert AuditEvent.objects.filter(object_type="members.cardbin", object_id=str(row.pk)).exists()
    count = CardBin.objects.count()
    for bad in [{"prefix": "12"}, {"prefix": "<script>"}, {"prefix": "622202"}, {"bank_name": " "}]:
        data = {"prefix": "955880", "bank_name": "银行", "card_length": 19} | bad
        assert c.post(url("members_cardbin_add"), data).status_code == 200, bad
    assert CardBin.objects.count() == count
    # A district officer cannot write the table.
    resp = clients["jiefang_staff"].post(
        url("members_cardbin_add"), {"prefix": "955880", "bank_name": "x", "card_length": 19}
    )
    assert resp.status_code == 403
    assert CardBin.objects.count() == count


def test_user_add_and_roles_through_services(world, clients):
    c = clients["jiefang_admin"]
    data = {
        "username": "new_clerk",
        "org": world.jiefang_base.pk,
        "full_name": "新职员",
        "phone": "",
        "roles": ["viewer"],
        "password1": "Str0ng-Passw0rd!x",
        "password2": "Str0ng-Passw0rd!x",
    }
    resp = c.post(url("accounts_user_add"), data)
    assert resp.status_code == 302, resp.content.decode()[:3000]
    user = User.objects.get(username="new_clerk")
    assert user.is_staff and not user.is_superuser and user.org_id == world.jiefang_base.pk
    assert set(user.role_codes) == {"viewer"}
    # Weak password and mismatch are form errors; nothing created.
    for bad in [{"password1": "123", "password2": "123"}, {"password2": "other-Passw0rd!"}]:
        resp = c.post(url("accounts_user_add"), data | {"username": "x2"} | bad)
        assert resp.status_code == 200
    assert not User.objects.filter(username="x2").exists()
    # An org in another district is not a choice.
    resp = c.post(url("accounts_user_add"), data | {"username": "x3", "org": world.zhongzhan.pk})
    assert resp.status_code == 200 and not User.objects.filter(username="x3").exists()
    # Change roles and the two-factor flag.
    page = c.get(url("accounts_user_change", user.pk))
    form = form_data(page)
    form["roles"] = ["officer"]
    form["require_two_factor"] = "on"
    resp = c.post(url("accounts_user_change", user.pk), form)
    assert resp.status_code == 302, resp.content.decode()[:3000]
    user = User.objects.get(pk=user.pk)
    assert set(user.role_codes) == {"officer"} and user.require_two_factor
    assert AuditEvent.objects.filter(action=AuditAction.GRANT, object_id=str(user.pk)).exists()
    assert AuditEvent.objects.filter(action=AuditAction.REVOKE, object_id=str(user.pk)).exists()
    # Password through Django's form; audited.
    resp = c.post(
        url("auth_user_password_change", user.pk),
        {
            "password1": "An0ther-Strong!pw",
            "password2": "An0ther-Strong!pw",
            "usable_password": "true",
        },
    )
    assert resp.status_code == 302, resp.content.decode()[:3000]
    assert User.objects.get(pk=user.pk).check_password("An0ther-Strong!pw")
    assert AuditEvent.objects.filter(object_id=str(user.pk), changes__has_key="password").exists()
    # The other district's admin cannot touch this user.
    zz_admin = make_staff("zz_admin", world.zhongzhan, Role.ADMIN)
    other = Client()
    other.force_login(zz_admin, backend="django.contrib.auth.backends.ModelBackend")
    assert (
        other.post(url("accounts_user_change", user.pk), form | {"roles": ["admin"]}).status_code
        == 404
    )
    assert not RoleGrant.objects.filter(user=user, role="admin").exists()


def test_admin_index_and_sidebar(world, clients):
    resp = clients["jiefang_staff"].get(url("index"))
    html = assert_clean_html(resp, world)
    assert url("orgs_org_changelist") in html
    assert url("audit_auditevent_changelist") not in html
    assert url("accounts_user_changelist") not in html
    html = clients["city_admin"].get(url("index")).content.decode()
    assert url("audit_auditevent_changelist") in html
    assert url("members_cardbin_changelist") in html
    expect(clients["member"].get(url("index")), 302)
