"""`gonghui demo`: the synthetic 焦作 tree, logins, members and the command itself."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import override_settings

from gonghui.accounts.models import User
from gonghui.accounts.scoping import scope_for, scoped
from gonghui.accounts.services import signin_code_request, signin_code_verify
from gonghui.audit.models import AuditAction, AuditEvent
from gonghui.core import crypto
from gonghui.core.idnumbers import validate_id_number
from gonghui.demo import data
from gonghui.demo.loader import (
    DEMO_MEMBER_CODE,
    DEMO_MEMBER_PHONE,
    DEMO_PASSWORD,
    DemoSummary,
    demo_load,
    luhn_complete,
)
from gonghui.members.models import (
    CardBin,
    JoinApplication,
    Member,
    MemberCard,
    Membership,
    MemberStatus,
    NewFormKind,
    WorkerCategory,
)
from gonghui.members.sensitive import luhn_ok
from gonghui.orgs.models import MEMBER_HOLDING_KINDS, Org, OrgKind
from gonghui.orgs.selectors import coverage

N = 1500
COUNTY_CODES = {c.code for c in data.COUNTIES}


@pytest.fixture
def demo(db: None) -> DemoSummary:
    return demo_load(members=N)


def test_tree(demo: DemoSummary) -> None:
    city = Org.objects.get(parent=None)
    assert (city.name, city.kind, city.division_code) == (
        "焦作市总工会",
        "city_federation",
        "410800",
    )
    counties = Org.objects.filter(parent=city, kind=OrgKind.COUNTY_FEDERATION)
    assert {o.division_code: o.name for o in counties} == {
        "410802": "解放区总工会",
        "410803": "中站区总工会",
        "410804": "马村区总工会",
        "410811": "山阳区总工会",
        "410821": "修武县总工会",
        "410822": "博爱县总工会",
        "410823": "武陟县总工会",
        "410825": "温县总工会",
        "410882": "沁阳市总工会",
        "410883": "孟州市总工会",
    }
    for county in counties:
        townships = Org.objects.filter(parent=county, kind=OrgKind.TOWNSHIP_UNION)
        assert 3 <= townships.count() <= 6
        assert all(t.division_code.startswith(county.division_code) for t in townships)
    assert Org.objects.filter(kind=OrgKind.PARK_FEDERATION).count() >= 1
    sector = Org.objects.get(name="孟州市快递行业工会联合会")
    assert sector.kind == OrgKind.SECTOR_FEDERATION and sector.parent.name == "孟州市总工会"
    assert Org.objects.filter(parent=sector, kind=OrgKind.BASE_UNION).count() >= 3
    # Paths are the service's: every org's path is its parent's path plus its id.
    for org in Org.objects.select_related("parent"):
        expected = f"{org.parent.path if org.parent else '/'}{org.pk}/"
        assert org.path == expected
    founded_years = {o.founded_on.year for o in Org.objects.filter(kind=OrgKind.BASE_UNION)}
    assert len(founded_years) >= 5
    assert demo.orgs == Org.objects.count()


def test_coverage_is_not_complete(demo: DemoSummary) -> None:
    admin = User.objects.get(username="city_admin")
    township = next(c for c in coverage(actor=admin) if c.kind == OrgKind.TOWNSHIP_UNION)
    assert township.total == sum(len(c.townships) for c in data.COUNTIES)
    assert township.covered == township.total - len(data.UNCOVERED_TOWNSHIPS)


def test_members_are_valid_and_synthetic(demo: DemoSummary) -> None:
    assert Member.objects.count() == N == demo.members
    seen = set()
    for member in Member.objects.select_related("org"):
        number = crypto.decrypt(member.id_number_enc)
        parsed = validate_id_number(number)
        assert number[:6] in COUNTY_CODES
        assert 1965 <= parsed.birth_date.year <= 2005
        assert parsed.birth_date == member.birth_date and parsed.gender == member.gender
        assert member.id_number_masked == crypto.mask(number)
        assert member.org.kind in MEMBER_HOLDING_KINDS
        assert member.joined_on >= member.org.founded_on
        assert len(member.phone) == 11 and member.phone[1] in "3456789"
        assert member.name_initials and member.name_initials.isascii()
        seen.add(number)
    assert len(seen) == N


def test_worker_categories(demo: DemoSummary) -> None:
    kinds = Counter(
        Member.objects.filter(category=WorkerCategory.NEW_FORM_WORKER).values_list(
            "new_form_kind", flat=True
        )
    )
    assert set(kinds) == set(NewFormKind.values)
    categories = set(Member.objects.values_list("category", flat=True))
    assert categories == set(WorkerCategory.values)
    couriers = Member.objects.filter(org__parent__name="孟州市快递行业工会联合会")
    assert couriers.filter(new_form_kind=NewFormKind.COURIER).count() > couriers.count() / 2


def test_cards(demo: DemoSummary) -> None:
    cards = list(MemberCard.objects.all())
    assert len(cards) == demo.cards
    member_cards = [c for c in cards if c.is_member_card]
    assert 0.33 * N <= len(member_cards) <= 0.47 * N
    assert any(not c.is_member_card for c in cards)
    prefixes = set(CardBin.objects.values_list("prefix", flat=True))
    banks = set()
    for card in cards:
        number = crypto.decrypt(card.number_enc)
        assert luhn_ok(number) and card.luhn_ok
        assert (number[:6] in prefixes) == card.is_member_card
        banks.add(card.bank_name)
    assert {"中原银行", "中国邮政储蓄银行"} <= banks


def test_memberships_and_one_audit_event(demo: DemoSummary) -> None:
    assert Membership.objects.count() == N
    assert (
        Membership.objects.filter(ended_on__isnull=True).count()
        == Member.objects.filter(status=MemberStatus.ACTIVE).count()
    )
    imports = AuditEvent.objects.filter(action=AuditAction.IMPORT)
    assert imports.count() == 1
    assert imports.get().changes["members"] == [None, N]
    assert not AuditEvent.objects.filter(object_type="members.member").exclude(
        action=AuditAction.IMPORT
    )
    assert JoinApplication.objects.filter(status="pending").count() == demo.join_applications > 0


def test_logins_and_scopes(demo: DemoSummary) -> None:
    users = {u.username: u for u in User.objects.select_related("org").filter(is_staff=True)}
    assert set(users) == {"city_admin", "jiefang_staff", "zhongzhan_staff", "base_clerk"}
    for user in users.values():
        assert user.check_password(DEMO_PASSWORD)
        assert user.is_staff and not user.is_superuser
    # The demo password is below the policy on purpose; real accounts cannot use it.
    with pytest.raises(ValidationError):
        validate_password(DEMO_PASSWORD, users["city_admin"])

    admin = users["city_admin"]
    assert admin.can("reveal_sensitive")
    assert scope_for(admin).org_path == Org.objects.get(parent=None).path
    assert scoped(Member.objects.all(), actor=admin).count() == N

    jiefang = scoped(Member.objects.all(), actor=users["jiefang_staff"])
    zhongzhan = scoped(Member.objects.all(), actor=users["zhongzhan_staff"])
    assert 0 < jiefang.count() < N and 0 < zhongzhan.count() < N
    assert not set(jiefang.values_list("pk", flat=True)) & set(
        zhongzhan.values_list("pk", flat=True)
    )
    assert {m.org.path.split("/")[2] for m in jiefang.select_related("org")} == {
        str(users["jiefang_staff"].org_id)
    }
    clerk = users["base_clerk"]
    assert clerk.org.kind == OrgKind.BASE_UNION
    assert clerk.org.path.startswith(users["jiefang_staff"].org.path)
    assert set(scoped(Member.objects.all(), actor=clerk).values_list("org_id", flat=True)) == {
        clerk.org_id
    }
    assert not users["jiefang_staff"].can("reveal_sensitive")


def test_demo_member_signs_in_with_the_fixed_code(demo: DemoSummary) -> None:
    member = Member.objects.get(phone=DEMO_MEMBER_PHONE)
    assert member.org == User.objects.get(username="base_clerk").org
    with override_settings(
        GONGHUI_DEMO_MEMBER_PHONE=DEMO_MEMBER_PHONE, GONGHUI_DEMO_MEMBER_CODE=DEMO_MEMBER_CODE
    ):
        signin_code_request(phone=DEMO_MEMBER_PHONE)
        assert signin_code_verify(phone=DEMO_MEMBER_PHONE, code=DEMO_MEMBER_CODE) == member


def test_the_demo_number_is_not_held_to_the_hourly_cap(demo: DemoSummary) -> None:
    """Everyone trying the demo signs in with its one number, often more than five times an hour;
    it sends no text. Any other number is still capped."""
    from gonghui.accounts.models import SignInCode
    from gonghui.accounts.services import signin_code_verify

    member = Member.objects.get(phone=DEMO_MEMBER_PHONE)
    with override_settings(
        GONGHUI_DEMO_MEMBER_PHONE=DEMO_MEMBER_PHONE, GONGHUI_DEMO_MEMBER_CODE=DEMO_MEMBER_CODE
    ):
        for _ in range(settings.OTP_CODE_MAX_PER_PHONE_PER_HOUR + 3):
            signin_code_request(phone=DEMO_MEMBER_PHONE)
            assert signin_code_verify(phone=DEMO_MEMBER_PHONE, code=DEMO_MEMBER_CODE) == member
        assert SignInCode.objects.filter(phone=DEMO_MEMBER_PHONE).count() == (
            settings.OTP_CODE_MAX_PER_PHONE_PER_HOUR + 3
        )


def test_fixed_code_does_not_work_outside_the_demo(demo: DemoSummary) -> None:
    from gonghui.core.errors import ApplicationError

    signin_code_request(phone=DEMO_MEMBER_PHONE)  # settings without the demo variables
    with pytest.raises(ApplicationError):
        signin_code_verify(phone=DEMO_MEMBER_PHONE, code=DEMO_MEMBER_CODE)


def test_load_twice_is_refused_and_changes_nothing(demo: DemoSummary) -> None:
    with pytest.raises(RuntimeError):
        demo_load(members=10)
    assert Member.objects.count() == N


def test_command_loads_once_and_prints_logins(db: None) -> None:
    out = StringIO()
    call_command("demo", "--no-serve", "--members", "40", stdout=out)
    text = out.getvalue()
    for login in ("city_admin", "jiefang_staff", "zhongzhan_staff", "base_clerk", DEMO_PASSWORD):
        assert login in text
    assert DEMO_MEMBER_PHONE in text and DEMO_MEMBER_CODE in text
    assert Member.objects.count() == 40
    again = StringIO()
    call_command("demo", "--no-serve", "--members", "40", stdout=again)
    assert "already loaded" in again.getvalue()
    assert Member.objects.count() == 40
    assert AuditEvent.objects.filter(action=AuditAction.IMPORT).count() == 1


@pytest.mark.parametrize("bad", ["0", "-5", "abc"])
def test_command_rejects_bad_member_counts(db: None, bad: str) -> None:
    from django.core.management import CommandError

    with pytest.raises((CommandError, SystemExit)):
        call_command("demo", "--no-serve", "--members", bad, stdout=StringIO())
    assert not Org.objects.exists()


def test_luhn_complete() -> None:
    number = luhn_complete("623595123456789012")
    assert len(number) == 19 and luhn_ok(number)
    assert not luhn_ok(number[:-1] + str((int(number[-1]) + 1) % 10))


def test_command_end_to_end_with_reset(tmp_path: Path) -> None:
    """A fresh SQLite under a temporary var dir: load, skip when loaded, --reset loads anew."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "DEBUG": "1",
        "SECURE_HTTPS": "0",
        "GONGHUI_VAR_DIR": str(tmp_path / "var"),
    }

    def demo(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "gonghui", "demo", "--no-serve", "--members", "30", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    first = demo()
    assert "Loaded" in first and "30 members" in first
    assert (tmp_path / "var" / "gonghui.sqlite3").exists()
    assert "already loaded" in demo()
    third = demo("--reset")
    assert "Removed" in third and "Loaded" in third


def test_reset_is_refused_without_debug(demo: DemoSummary) -> None:
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="DEBUG"):
        call_command("demo", "--no-serve", "--reset", stdout=StringIO())
    assert Member.objects.count() == N


def test_the_demo_lottery_is_drawn_after_its_own_deadline(demo: DemoSummary) -> None:
    """Right after loading, the public proof showed winners while "registration closes" was
    still a minute ahead. The seed is committed before the deadline and drawn after it."""
    from django.utils import timezone

    from gonghui.audit.models import AuditEvent
    from gonghui.benefits.models import Campaign, Distribution

    lottery = Campaign.objects.get(distribution=Distribution.LOTTERY)
    assert lottery.drawn_at is not None and lottery.registration_closes_at is not None
    assert lottery.registration_closes_at <= lottery.drawn_at <= timezone.now()
    committed = (
        AuditEvent.objects.filter(object_type="benefits.campaign", object_id=str(lottery.pk))
        .filter(changes__has_key="seed_hash")
        .get()
    )
    assert committed.at < lottery.registration_closes_at
