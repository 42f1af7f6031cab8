from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.utils import timezone

from gonghui.accounts.roles import Role
from gonghui.benefits import hot, views
from gonghui.benefits.models import Campaign, Merchant, MerchantClerk, Store
from gonghui.benefits.services import (
    campaign_create,
    campaign_transition,
    merchant_clerk_create,
    merchant_create,
    store_create,
)
from gonghui.conftest import World, make_staff
from gonghui.members.models import Member
from gonghui.members.services import member_card_set
from gonghui.members.tests.factories import MemberFactory

ZHONGYUAN_CARD = "6235950000000000001"  # 中原银行 BIN
POSTAL_CARD = "6217990000000000002"  # 中国邮政储蓄银行 BIN
OTHER_BANK_CARD = "6222020000000000003"  # not a member-card BIN


@pytest.fixture(autouse=True)
def _reset_hot() -> None:
    """What a process keeps between requests starts empty for each test: the hot flags, and
    the grab door's few-second cache of campaign rows (SQLite reuses the ids of rolled-back
    rows, so a cached row could stand in for another test's campaign)."""
    hot.reset_local()
    views._campaigns.clear()


@dataclass
class Shop:
    merchant: Merchant
    store: Store
    other_store: Store  # same merchant, not in the campaign
    clerk: MerchantClerk
    supervisor: MerchantClerk
    rival: Merchant
    rival_store: Store
    rival_clerk: MerchantClerk


@pytest.fixture
def shop(world: World) -> Shop:
    merchant = merchant_create(
        actor=world.jiefang_officer,
        org=world.jiefang,
        name="塔南路新华书店图书大厦",
        settlement_account_name="焦作市新华书店有限公司",
        settlement_bank="中原银行焦作分行",
        settlement_account_no="410000123456789012",
    )
    rival = merchant_create(
        actor=world.zhongzhan_officer,
        org=world.zhongzhan,
        name="中站区某超市",
        settlement_account_name="某超市",
        settlement_bank="邮储银行",
        settlement_account_no="410000999999999999",
    )
    return Shop(
        merchant=merchant,
        store=store_create(actor=None, merchant=merchant, name="图书大厦", address="塔南路"),
        other_store=store_create(actor=None, merchant=merchant, name="解放路门店"),
        clerk=merchant_clerk_create(
            actor=None, merchant=merchant, username="xinhua_clerk", password="Clerk-pass-2026"
        ),
        supervisor=merchant_clerk_create(
            actor=None,
            merchant=merchant,
            username="xinhua_boss",
            password="Clerk-pass-2026",
            is_supervisor=True,
        ),
        rival=rival,
        rival_store=store_create(actor=None, merchant=rival, name="超市一店"),
        rival_clerk=merchant_clerk_create(
            actor=None, merchant=rival, username="rival_clerk", password="Clerk-pass-2026"
        ),
    )


def campaign_fields(**overrides: Any) -> dict[str, Any]:
    now = timezone.now()
    fields: dict[str, Any] = {
        "name": "四月芳菲购书券",
        "face_value_fen": 10000,
        "subsidy_fen": 6800,
        "member_share_fen": 1000,
        "concession_fen": 2200,
        "quota": 5,
        "per_member_limit": 1,
        "card_banks": ["中原银行", "中国邮政储蓄银行"],
        "release_at": now - dt.timedelta(minutes=1),
        "redeem_from": now - dt.timedelta(minutes=1),
        "redeem_until": now + dt.timedelta(days=14),
        "excluded_goods": "特价书、教材教辅、公务员考试用书、洗化、食品",
        "terms": "每人限领一张，仅限会员卡支付。",
    }
    if overrides.get("distribution") == "lottery" and "redeem_from" not in overrides:
        # A lottery's vouchers exist only after the draw: its window opens when registration
        # closes (the service refuses an earlier start).
        closes = overrides.get("registration_closes_at")
        if closes is not None:
            fields["redeem_from"] = closes
    fields.update(overrides)
    return fields


@pytest.fixture
def make_campaign(world: World, shop: Shop):
    def _make(
        *, status: str = "open", stores: list[Store] | None = None, **overrides: Any
    ) -> Campaign:
        campaign = campaign_create(
            actor=world.jiefang_officer,
            org=world.jiefang,
            merchant=shop.merchant,
            stores=stores or [shop.store],
            **campaign_fields(**overrides),
        )
        path = {"draft": [], "scheduled": ["scheduled"], "open": ["scheduled", "open"]}[status]
        for new in path:
            campaign_transition(campaign=campaign, new=new, actor=world.jiefang_officer)
        campaign.refresh_from_db()
        return campaign

    return _make


@pytest.fixture
def carded(world: World):
    """carded(card=..., org=...) -> an active member with that current card."""
    counter = iter(range(100, 10_000))

    def _make(card: str | None = ZHONGYUAN_CARD, org: Any = None, **kw: Any) -> Member:
        n = next(counter)
        member = MemberFactory(org=org or world.jiefang_base, **kw)
        if card:
            number = card[:-4] + f"{n:04d}"
            member_card_set(actor=None, member=member, card_number=number)
        return member

    return _make


@pytest.fixture
def city_benefits_officer(world: World):
    return make_staff("city_benefits", world.city, Role.OFFICER)
