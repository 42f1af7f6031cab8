"""Shared fixtures: a small union tree with staff in two sibling districts, a member, clients."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.test import Client

from gonghui.accounts.models import User
from gonghui.accounts.roles import Role
from gonghui.accounts.services import role_grant
from gonghui.members.models import CardBin, Member
from gonghui.members.tests.factories import MemberFactory, make_id_number
from gonghui.orgs.models import Org, OrgKind
from gonghui.orgs.tests.factories import OrgFactory

PASSWORD = "gonghui-test-2026"  # noqa: S105


@pytest.fixture(autouse=True)
def _default_language():
    """Every test starts in the default language (Chinese), as a request does: a test client's
    request in English leaves English active in the thread, and a message made afterwards (an
    error raised outside a request) would be English only because of the tests' order."""
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@dataclass
class World:
    city: Org
    jiefang: Org
    zhongzhan: Org
    jiefang_township: Org
    jiefang_base: Org
    zhongzhan_base: Org
    city_admin: User
    jiefang_officer: User
    jiefang_viewer: User
    zhongzhan_officer: User
    base_clerk: User
    jiefang_member: Member
    zhongzhan_member: Member


def make_staff(username: str, org: Org, role: str, *, superuser: bool = False) -> User:
    user = User.objects.create_user(
        username=username, password=PASSWORD, org=org, is_staff=True, is_superuser=superuser
    )
    role_grant(actor=None, user=user, role=role)
    return User.objects.get(pk=user.pk)


_SEED_BINS = importlib.import_module("gonghui.members.migrations.0002_seed_card_bins").SEED


def ensure_seed_card_bins() -> None:
    """Transactional tests flush the database, seed rows of data migrations included; put back
    the card BINs every test world relies on."""
    for prefix, bank, length in _SEED_BINS:
        CardBin.objects.get_or_create(
            prefix=prefix,
            defaults={"bank_name": bank, "card_length": length, "is_member_card": True},
        )


@pytest.fixture
def world(db: None) -> World:
    ensure_seed_card_bins()
    city = OrgFactory(
        parent=None, kind=OrgKind.CITY_FEDERATION, name="焦作市总工会", division_code="410800"
    )
    jiefang = OrgFactory(
        parent=city, kind=OrgKind.COUNTY_FEDERATION, name="解放区总工会", division_code="410802"
    )
    zhongzhan = OrgFactory(
        parent=city, kind=OrgKind.COUNTY_FEDERATION, name="中站区总工会", division_code="410803"
    )
    township = OrgFactory(parent=jiefang, kind=OrgKind.TOWNSHIP_UNION, name="焦西街道工会联合会")
    jiefang_base = OrgFactory(
        parent=township, kind=OrgKind.BASE_UNION, name="焦作市解放区示范商贸有限公司工会委员会"
    )
    zhongzhan_base = OrgFactory(
        parent=zhongzhan, kind=OrgKind.BASE_UNION, name="焦作中站示范化工有限公司工会委员会"
    )
    return World(
        city=city,
        jiefang=jiefang,
        zhongzhan=zhongzhan,
        jiefang_township=township,
        jiefang_base=jiefang_base,
        zhongzhan_base=zhongzhan_base,
        city_admin=make_staff("city_admin", city, Role.ADMIN),
        jiefang_officer=make_staff("jiefang_staff", jiefang, Role.OFFICER),
        jiefang_viewer=make_staff("jiefang_viewer", jiefang, Role.VIEWER),
        zhongzhan_officer=make_staff("zhongzhan_staff", zhongzhan, Role.OFFICER),
        base_clerk=make_staff("base_clerk", jiefang_base, Role.OFFICER),
        jiefang_member=MemberFactory(
            org=jiefang_base,
            name="王小明",
            phone="13900000001",
            id_number=make_id_number(region="410802", seq=1),
        ),
        zhongzhan_member=MemberFactory(
            org=zhongzhan_base,
            name="李秀英",
            phone="13900000002",
            id_number=make_id_number(region="410803", seq=2),
        ),
    )


@pytest.fixture
def login():
    """login(user) -> a Client signed in as that staff user (or as a member with login(member=...))."""

    def _login(user: User | None = None, *, member: Member | None = None) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        if member is not None:
            from gonghui.accounts.middleware import MEMBER_SESSION_KEY

            session = client.session
            session[MEMBER_SESSION_KEY] = member.pk
            session.save()
        return client

    return _login
