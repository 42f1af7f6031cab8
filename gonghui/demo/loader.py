"""Load the demo: the 焦作 union tree, four staff logins, one member login and N invented members.

Organisations go through ``org_create`` so paths and audit lines are real. Members are many, so
they are sealed with the same helpers the services use (``seal_id_number``, ``seal_card``,
``name_initials``) and written with ``bulk_create`` in batches inside one transaction, with ONE
audit event (action IMPORT) for the whole load instead of one per row.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from gonghui.accounts.models import User
from gonghui.accounts.roles import Role
from gonghui.accounts.services import role_grant
from gonghui.audit.models import AuditAction
from gonghui.audit.services import audit_record
from gonghui.demo import data
from gonghui.members.models import (
    CardBin,
    Education,
    Member,
    MemberCard,
    Membership,
    MembershipEvent,
    MemberStatus,
    NewFormKind,
    PoliticalStatus,
    WorkerCategory,
)
from gonghui.members.sensitive import luhn_ok, name_initials, seal_card, seal_id_number
from gonghui.members.services import join_application_submit
from gonghui.orgs.models import Org, OrgKind
from gonghui.orgs.services import org_create

# Demo-only credentials. They are printed by `gonghui demo` and documented in docs/demo.md.
DEMO_PASSWORD = "gonghui-demo"  # noqa: S105 - a published demo password, not a secret
# The reason the demo's own records give (stored data, read by Chinese-speaking staff).
DEMO_REASON = "演示数据"
DEMO_MEMBER_PHONE = "13800000000"
DEMO_MEMBER_CODE = "123456"
DEMO_MEMBER_NAME = "张明华"
DEFAULT_MEMBERS = 20_000
BATCH = 2_000


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    org_name: str
    note: str


@dataclass
class DemoSummary:
    orgs: int = 0
    base_unions: int = 0
    members: int = 0
    cards: int = 0
    join_applications: int = 0
    logins: list[DemoLogin] = field(default_factory=list)
    member_union: str = ""


def demo_is_loaded() -> bool:
    return Org.objects.filter(parent=None, name=data.CITY_NAME).exists()


def luhn_complete(body: str) -> str:
    """Append the Luhn check digit to ``body``."""
    for digit in "0123456789":
        if luhn_ok(body + digit):
            return body + digit
    raise AssertionError("unreachable: one digit always completes a Luhn number")


def id_number_for(rnd: random.Random, *, region: str, female: bool) -> str:
    """A synthetic identity number: region, random birth date 1965–2005, random order code."""
    from stdnum.cn import ric

    start, end = dt.date(1965, 1, 1), dt.date(2005, 12, 31)
    birth = start + dt.timedelta(days=rnd.randrange((end - start).days + 1))
    order = rnd.randrange(0, 500) * 2 + (0 if female else 1)  # odd = male, even = female
    body = f"{region}{birth:%Y%m%d}{order:03d}"
    return body + ric.calc_check_digit(body + "0")


def _random_date(rnd: random.Random, start: dt.date, end: dt.date) -> dt.date:
    if end <= start:
        return end
    return start + dt.timedelta(days=rnd.randrange((end - start).days + 1))


def _pick(rnd: random.Random, weighted: Sequence[tuple[str, int]]) -> str:
    values, weights = zip(*weighted, strict=True)
    return rnd.choices(values, weights=weights)[0]


@dataclass
class _Union:
    org: Org
    region: str
    employer: str
    profile: str  # "company", "courier", "joint"
    weight: int


class _Builder:
    def __init__(self, *, seed: int, today: dt.date) -> None:
        self.rnd = random.Random(seed)
        self.today = today
        self.used_names: set[str] = set()
        self.used_ids: set[str] = set()
        self.used_cards: set[str] = set()
        self.unions: list[_Union] = []
        self.orgs = 0

    # --- organisations ---------------------------------------------------------------------

    def founded(self, *, recent: bool = True) -> dt.date:
        if not recent:
            return _random_date(self.rnd, dt.date(1980, 1, 1), dt.date(2005, 12, 31))
        if self.rnd.random() < 0.12:  # some unions founded this year
            return _random_date(self.rnd, dt.date(self.today.year, 1, 1), self.today)
        return _random_date(self.rnd, dt.date(2012, 1, 1), self.today)

    def org(self, *, parent: Org | None, kind: str, name: str, **fields: Any) -> Org:
        self.orgs += 1
        return org_create(actor=None, parent=parent, kind=kind, name=name, **fields)

    def company_name(self, prefix: str, trades: tuple[str, ...] = data.EMPLOYER_TRADES) -> str:
        for _attempt in range(200):
            word = self.rnd.choice(data.EMPLOYER_WORDS)
            trade = self.rnd.choice(trades)
            name = f"{prefix}{word}{trade}有限公司"
            if name not in self.used_names:
                self.used_names.add(name)
                return name
        raise RuntimeError("ran out of invented employer names")

    def base_union(
        self, *, parent: Org, employer: str, region: str, profile: str = "company"
    ) -> Org:
        org = self.org(
            parent=parent,
            kind=OrgKind.BASE_UNION,
            name=f"{employer}工会委员会",
            founded_on=self.founded(),
            chair_name=self.person_name(female=self.rnd.random() < 0.4),
        )
        self.unions.append(
            _Union(org, region, employer, profile, weight=self.rnd.choice((1, 2, 3, 5, 8)))
        )
        return org

    def build_tree(self) -> dict[str, Org]:
        """Create every organisation; return the ones the logins are attached to."""
        city = self.org(
            parent=None,
            kind=OrgKind.CITY_FEDERATION,
            name=data.CITY_NAME,
            short_name="焦作市总工会",
            division_code=data.CITY_CODE,
            founded_on=dt.date(1956, 5, 1),
            address="河南省焦作市",
        )
        named: dict[str, Org] = {"city": city}
        counties: dict[str, Org] = {}
        for county in data.COUNTIES:
            fed = self.org(
                parent=city,
                kind=OrgKind.COUNTY_FEDERATION,
                name=f"{county.name}总工会",
                division_code=county.code,
                founded_on=self.founded(recent=False),
            )
            counties[county.code] = fed
            prefix = f"焦作市{county.name}" if county.city_prefix else county.name
            for n, town in enumerate(county.townships, start=1):
                suffix = "工会联合会" if town.endswith("街道") else "总工会"
                is_street = town.endswith("街道")
                township = self.org(
                    parent=fed,
                    kind=OrgKind.TOWNSHIP_UNION,
                    name=f"{town}{suffix}",
                    division_code=f"{county.code}{(0 if is_street else 100) + n:03d}",
                    founded_on=self.founded(recent=False),
                )
                if town in data.UNCOVERED_TOWNSHIPS:
                    continue
                for _i in range(self.rnd.randint(2, 4)):
                    org = self.base_union(
                        parent=township, employer=self.company_name(prefix), region=county.code
                    )
                    named.setdefault(f"base:{county.code}", org)
                if self.rnd.random() < 0.4:
                    joint = self.org(
                        parent=township,
                        kind=OrgKind.JOINT_BASE_UNION,
                        name=f"{town}小微企业联合工会委员会",
                        founded_on=self.founded(),
                    )
                    self.unions.append(_Union(joint, county.code, "", "joint", weight=2))
            self.base_union(
                parent=fed,
                employer=self.company_name(prefix.replace("焦作市", "焦作"), ("集团",)),
                region=county.code,
            )
            named[county.code] = fed
        for county_code, park_name in data.PARKS:
            parent = counties[county_code] if county_code else city
            park = self.org(
                parent=parent,
                kind=OrgKind.PARK_FEDERATION,
                name=park_name,
                founded_on=self.founded(recent=False),
            )
            prefix = "焦作" if not county_code else "孟州"
            for _i in range(self.rnd.randint(3, 5)):
                region = county_code or self.rnd.choice(data.COUNTIES).code
                self.base_union(
                    parent=park,
                    employer=self.company_name(prefix, data.PARK_TRADES),
                    region=region,
                )
        sector = self.org(
            parent=counties["410883"],
            kind=OrgKind.SECTOR_FEDERATION,
            name=data.COURIER_SECTOR,
            founded_on=_random_date(self.rnd, dt.date(2019, 1, 1), self.today),
        )
        for company in data.COURIER_COMPANIES:
            self.base_union(parent=sector, employer=company, region="410883", profile="courier")
        return named

    # --- people ----------------------------------------------------------------------------

    def person_name(self, *, female: bool) -> str:
        chars = data.GIVEN_FEMALE if female else data.GIVEN_MALE
        given = "".join(self.rnd.choice(chars) for _ in range(self.rnd.choice((1, 2, 2))))
        return self.rnd.choice(data.SURNAMES) + given

    def id_number(self, *, region: str, female: bool) -> str:
        while True:
            number = id_number_for(self.rnd, region=region, female=female)
            if number not in self.used_ids:
                self.used_ids.add(number)
                return number

    def phone(self) -> str:
        while True:
            phone = f"1{self.rnd.choice('35789')}{self.rnd.randrange(10**9):09d}"
            if phone != DEMO_MEMBER_PHONE:
                return phone

    def card_number(self, prefix: str, length: int) -> str:
        while True:
            body = prefix + "".join(
                str(self.rnd.randrange(10)) for _ in range(length - len(prefix) - 1)
            )
            number = luhn_complete(body)
            if number not in self.used_cards:
                self.used_cards.add(number)
                return number

    def category(self, profile: str) -> tuple[str, str]:
        roll = self.rnd.random()
        if profile == "courier":
            if roll < 0.9:
                return WorkerCategory.NEW_FORM_WORKER, NewFormKind.COURIER
            return WorkerCategory.EMPLOYEE, ""
        if profile == "joint":
            if roll < 0.35:
                return WorkerCategory.FLEXIBLE_WORKER, ""
            if roll < 0.65:
                kind = self.rnd.choice(
                    (NewFormKind.FOOD_DELIVERY_RIDER, NewFormKind.RIDE_HAILING_DRIVER)
                )
                return WorkerCategory.NEW_FORM_WORKER, kind
            return WorkerCategory.EMPLOYEE, ""
        if roll < 0.76:
            return WorkerCategory.EMPLOYEE, ""
        if roll < 0.88:
            return WorkerCategory.MIGRANT_WORKER, ""
        if roll < 0.93:
            return WorkerCategory.FLEXIBLE_WORKER, ""
        return WorkerCategory.NEW_FORM_WORKER, self.rnd.choice(NewFormKind.values)


EDUCATION = [
    (Education.PRIMARY, 4),
    (Education.JUNIOR, 22),
    (Education.SENIOR, 30),
    (Education.COLLEGE, 22),
    (Education.BACHELOR, 18),
    (Education.POSTGRADUATE, 4),
]
POLITICAL = [
    (PoliticalStatus.CPC_MEMBER, 12),
    (PoliticalStatus.CPC_PROBATIONARY, 1),
    (PoliticalStatus.CYL_MEMBER, 10),
    (PoliticalStatus.DEMOCRATIC_PARTY, 1),
    (PoliticalStatus.MASSES, 76),
]


def _demo_user(username: str, *, org: Org, role: str, full_name: str) -> User:
    """Demo-only: the password is set directly, bypassing the password policy on purpose.

    ``gonghui-demo`` is short of the policy (no digit) so that visitors can type it; real accounts
    are made with ``staff_create``, which enforces the policy.
    """
    user = User(username=username, org=org, full_name=full_name, is_staff=True)
    user.set_password(DEMO_PASSWORD)
    user.save()
    role_grant(actor=None, user=user, role=role)
    audit_record(
        actor=None,
        action=AuditAction.CREATE,
        obj=user,
        org=org,
        changes={"username": [None, username]},
        reason=DEMO_REASON,
    )
    return user


def _member_bins() -> list[CardBin]:
    return list(CardBin.objects.filter(is_member_card=True).order_by("prefix"))


@transaction.atomic
def demo_load(
    *,
    members: int = DEFAULT_MEMBERS,
    seed: int = 2026,
    progress: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Load the demo into an empty database. Raises if it is already loaded."""
    if demo_is_loaded():
        raise RuntimeError("the demo data is already loaded (use --reset to load it again)")
    say = progress or (lambda _msg: None)
    today = timezone.localdate()
    b = _Builder(seed=seed, today=today)
    say("organisations…")
    named = b.build_tree()
    summary = DemoSummary(orgs=b.orgs, base_unions=len(b.unions))

    clerk_union = named["base:410802"]
    logins = [
        DemoLogin("city_admin", Role.ADMIN, data.CITY_NAME, "sees the whole city"),
        DemoLogin("jiefang_staff", Role.OFFICER, "解放区总工会", "sees 解放区 only"),
        DemoLogin("zhongzhan_staff", Role.OFFICER, "中站区总工会", "sees 中站区 only"),
        DemoLogin("base_clerk", Role.OFFICER, clerk_union.name, "sees one base union"),
    ]
    orgs_for = {
        "city_admin": named["city"],
        "jiefang_staff": named["410802"],
        "zhongzhan_staff": named["410803"],
        "base_clerk": clerk_union,
    }
    names = {
        "city_admin": "赵建国",
        "jiefang_staff": "刘晓燕",
        "zhongzhan_staff": "孙志刚",
        "base_clerk": "周丽娟",
    }
    for login in logins:
        _demo_user(
            login.username,
            org=orgs_for[login.username],
            role=login.role,
            full_name=names[login.username],
        )
    summary.logins = logins
    summary.member_union = clerk_union.name

    say(f"{members} members…")
    bins = _member_bins()
    unions = b.unions
    weights = [u.weight for u in unions]
    clerk = next(u for u in unions if u.org.pk == clerk_union.pk)
    left_on_floor = dt.date(today.year - 1, 1, 1)
    for start in range(0, members, BATCH):
        rows: list[Member] = []
        left: list[bool] = []
        cards: list[tuple[int, str, str, bool]] = []  # (row index, number, bank, is_member_card)
        for i in range(start, min(start + BATCH, members)):
            union = clerk if i == 0 else b.rnd.choices(unions, weights=weights)[0]
            female = b.rnd.random() < 0.45
            name = DEMO_MEMBER_NAME if i == 0 else b.person_name(female=female)
            sealed = seal_id_number(b.id_number(region=union.region, female=female))
            born = sealed.parsed.birth_date
            adult = dt.date(born.year + 18, born.month, min(born.day, 28))
            earliest = max(union.org.founded_on or today, adult)
            category, kind = b.category(union.profile)
            employer = union.employer or f"{b.rnd.choice(data.EMPLOYER_WORDS)}便利店"
            rows.append(
                Member(
                    name=name,
                    name_initials=name_initials(name),
                    id_number_enc=sealed.enc,
                    id_number_hash=sealed.hash,
                    id_number_masked=sealed.masked,
                    id_tail=sealed.tail,
                    id_kind=sealed.parsed.kind,
                    gender=sealed.parsed.gender,
                    birth_date=born,
                    phone=DEMO_MEMBER_PHONE if i == 0 else b.phone(),
                    employer=employer,
                    category=category,
                    new_form_kind=kind,
                    education=_pick(b.rnd, EDUCATION),
                    political_status=_pick(b.rnd, POLITICAL),
                    status=MemberStatus.ACTIVE,
                    org=union.org,
                    joined_on=_random_date(b.rnd, earliest, today),
                )
            )
            left.append(i > 0 and b.rnd.random() < 0.015 and rows[-1].joined_on < left_on_floor)
            roll = b.rnd.random()
            if bins and (i == 0 or roll < 0.40):
                card_bin = b.rnd.choice(bins)
                number = b.card_number(card_bin.prefix, card_bin.card_length)
                cards.append((len(rows) - 1, number, card_bin.bank_name, True))
            elif roll < 0.43:
                prefix, bank = b.rnd.choice(data.OTHER_BANK_BINS)
                cards.append((len(rows) - 1, b.card_number(prefix, 19), bank, False))
        for row, is_left in zip(rows, left, strict=True):
            if is_left:
                row.status = MemberStatus.LEFT
        Member.objects.bulk_create(rows, batch_size=500)
        memberships = []
        for row, is_left in zip(rows, left, strict=True):
            memberships.append(
                Membership(
                    member=row,
                    org_id=row.org_id,
                    started_on=row.joined_on,
                    start_kind=MembershipEvent.JOIN,
                    ended_on=_random_date(b.rnd, row.joined_on, today) if is_left else None,
                    end_kind="leave" if is_left else "",
                    end_reason="调离本单位" if is_left else "",
                )
            )
        Membership.objects.bulk_create(memberships, batch_size=500)
        card_rows = []
        for index, number, bank, is_member_card in cards:
            sealed_card = seal_card(number)
            card_rows.append(
                MemberCard(
                    member=rows[index],
                    number_enc=sealed_card.enc,
                    number_hash=sealed_card.hash,
                    number_masked=sealed_card.masked,
                    bank_name=bank,
                    is_member_card=is_member_card,
                    luhn_ok=sealed_card.luhn_ok,
                    is_current=True,
                )
            )
        MemberCard.objects.bulk_create(card_rows, batch_size=500)
        summary.members += len(rows)
        summary.cards += len(card_rows)

    say("join applications…")
    jiefang_unions = [u for u in unions if u.region == "410802" and u.profile == "company"]
    for n in range(min(6, len(jiefang_unions) * 2)):
        union = jiefang_unions[n % len(jiefang_unions)]
        female = n % 2 == 0
        join_application_submit(
            org=union.org,
            name=b.person_name(female=female),
            id_number=b.id_number(region="410802", female=female),
            phone=b.phone(),
            employer=union.employer,
            category=WorkerCategory.EMPLOYEE,
        )
        summary.join_applications += 1

    say("voucher campaigns…")
    from gonghui.demo.benefits import demo_benefits_load

    demo_benefits_load(city=named["city"], member_phone=DEMO_MEMBER_PHONE, password=DEMO_PASSWORD)

    audit_record(
        actor=None,
        action=AuditAction.IMPORT,
        object_type="members.member",
        object_repr="demo data (synthetic)",
        org=named["city"],
        changes={
            "members": [None, summary.members],
            "cards": [None, summary.cards],
            "orgs": [None, summary.orgs],
        },
        reason="gonghui demo: synthetic demonstration data",
    )
    return summary
