"""Demo vouchers: 新华书店 塔南路图书大厦, the "四月芳菲" book-voucher campaign (open for grabbing
now), a merchant clerk login, and a finished lottery whose seed is published for the proof page.

Everything goes through the benefits services, as an administrator's clicks would.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from django.utils import timezone

from gonghui.accounts.models import User
from gonghui.audit.models import AuditAction
from gonghui.audit.services import audit_record
from gonghui.benefits.models import Campaign, Distribution, MerchantClerk, Store
from gonghui.benefits.services import (
    campaign_create,
    campaign_transition,
    lottery_commit_seed,
    lottery_draw,
    lottery_register,
    member_eligibility,
    merchant_create,
    store_create,
    voucher_grab,
    voucher_redeem,
)
from gonghui.demo.loader import DEMO_REASON
from gonghui.members.models import Member, MemberCard, MemberStatus
from gonghui.members.services import member_card_set
from gonghui.orgs.models import Org

CLERK_USERNAME = "bookstore_clerk"
CARD_BANKS = ["中原银行", "中国邮政储蓄银行"]
EXCLUDED_GOODS = (
    "特价书、打折书；教材教辅；公务员考试用书；洗化用品；食品；特殊商品"
    "（以门店公示为准）不在使用范围内。"
)
TERMS = (
    "每位会员限领一张，先到先得，领完即止。\n"
    "使用时须出示本券二维码，并用中原银行或邮储银行工会会员服务卡支付个人承担部分 10 元；"
    "工会补贴 68 元，书店让利 22 元。\n"
    "本券一次性使用，不找零、不兑现，过期作废。"
)
# A synthetic 中原银行 member-card number (BIN 623595) for the demo member if it lacks one.
DEMO_MEMBER_CARD = "6235950000000012345"


@dataclass
class DemoBenefits:
    campaign: Campaign
    lottery: Campaign | None
    clerk: MerchantClerk
    store: Store


def _ensure_demo_member_card(member: Member) -> None:
    """The demo member must be able to grab: a current union member card of a listed bank."""
    card = MemberCard.objects.filter(member=member, is_current=True).first()
    if card is None or not card.is_member_card or card.bank_name not in CARD_BANKS:
        member_card_set(actor=None, member=member, card_number=DEMO_MEMBER_CARD)


def _clerk(merchant_store: Store, *, username: str, password: str) -> MerchantClerk:
    """Demo-only: the password is set directly (like the other demo users), bypassing the policy."""
    merchant = merchant_store.merchant
    user = User(username=username, full_name="新华书店收银员", is_staff=False)
    user.set_password(password)
    user.save()
    clerk = MerchantClerk.objects.create(user=user, merchant=merchant, is_supervisor=True)
    audit_record(
        actor=None,
        action=AuditAction.CREATE,
        obj=clerk,
        org=merchant.org,
        changes={"username": [None, username], "supervisor": [None, True]},
        reason=DEMO_REASON,
    )
    return clerk


def demo_benefits_load(
    *, city: Org, member_phone: str, password: str, lottery_members: int = 12
) -> DemoBenefits:
    now = timezone.now()
    merchant = merchant_create(
        actor=None,
        org=city,
        name="新华书店",
        settlement_account_name="焦作市新华书店有限公司",
        settlement_bank="中原银行焦作分行",
        settlement_account_no="410801000012345678",
    )
    store = store_create(
        actor=None, merchant=merchant, name="塔南路图书大厦", address="焦作市解放区塔南路"
    )
    clerk = _clerk(store, username=CLERK_USERNAME, password=password)

    demo_member = Member.objects.filter(phone=member_phone).select_related("org").first()
    if demo_member is not None:
        _ensure_demo_member_card(demo_member)

    campaign = campaign_create(
        actor=None,
        org=city,
        merchant=merchant,
        stores=[store],
        name="四月芳菲",
        distribution=Distribution.GRAB,
        face_value_fen=10000,
        member_share_fen=1000,
        subsidy_fen=6800,
        concession_fen=2200,
        min_purchase_fen=10000,  # "each worth 100 yuan of books"
        quota=2000,
        per_member_limit=1,
        require_member_card=True,
        card_banks=CARD_BANKS,
        release_at=now - dt.timedelta(hours=1),
        redeem_from=now,
        redeem_until=now + dt.timedelta(days=15),
        excluded_goods=EXCLUDED_GOODS,
        terms=TERMS,
    )
    campaign_transition(campaign=campaign, new="scheduled", actor=None, reason=DEMO_REASON)
    campaign_transition(campaign=campaign, new="open", actor=None, reason=DEMO_REASON)
    if demo_member is not None:
        eligibility = member_eligibility(member=demo_member, campaign=campaign)
        if not eligibility.ok:  # the demo would be pointless; fail the load loudly
            raise RuntimeError(f"demo member cannot grab: {eligibility.code}")

    _some_grabs_and_scans(campaign=campaign, store=store, clerk=clerk, skip=demo_member)
    lottery = _finished_lottery(city=city, merchant_store=store, now=now, n=lottery_members)
    return DemoBenefits(campaign=campaign, lottery=lottery, clerk=clerk, store=store)


def _some_grabs_and_scans(
    *, campaign: Campaign, store: Store, clerk: MerchantClerk, skip: Member | None
) -> None:
    """A few other members have grabbed, and some have already used their voucher at the till,
    so the dashboard, the clerk's list and the settlement register have rows to show. The demo
    member is left out: their own grab is the thing to try."""
    city_path = campaign.org.path
    candidates = Member.objects.filter(
        status=MemberStatus.ACTIVE,
        cards__is_current=True,
        cards__is_member_card=True,
        org__path__startswith=city_path,
    )
    if skip is not None:
        candidates = candidates.exclude(pk=skip.pk)
    grabbed = 0
    for member in candidates.select_related("org").order_by("-pk")[:40]:
        if grabbed >= DEMO_GRABS:
            break
        result = voucher_grab(campaign=campaign, member=member)
        if result.voucher is None:
            continue
        if grabbed < DEMO_SCANS:
            voucher_redeem(
                code=result.voucher.code,
                store=store,
                clerk=clerk,
                receipt_no=f"XH-0424-{grabbed + 1:03d}",
                amount_fen=10000 + 1350 * grabbed,
            )
        grabbed += 1


DEMO_GRABS = 8  # other members' vouchers in 四月芳菲
DEMO_SCANS = 5  # of which used at the bookstore


def _finished_lottery(*, city: Org, merchant_store: Store, now: dt.datetime, n: int) -> Campaign:
    """A small lottery already drawn: its seed hash was committed while registration was open,
    the seed is revealed, and anyone can re-run the draw on the public page."""
    # The seed is committed while registration is open, as the service requires; registration
    # closes a few seconds later, and the draw waits for that moment, so the public proof never
    # shows winners before its own deadline.
    closes = timezone.now() + dt.timedelta(seconds=1)
    campaign = campaign_create(
        actor=None,
        org=city,
        merchant=merchant_store.merchant,
        stores=[merchant_store],
        name="五一读书节抽签购书券",
        distribution=Distribution.LOTTERY,
        face_value_fen=5000,
        member_share_fen=500,
        subsidy_fen=3500,
        concession_fen=1000,
        quota=3,
        per_member_limit=1,
        require_member_card=True,
        card_banks=CARD_BANKS,
        release_at=now - dt.timedelta(days=3),
        registration_closes_at=closes,
        redeem_from=closes,
        redeem_until=now + dt.timedelta(days=20),
        excluded_goods=EXCLUDED_GOODS,
        terms="会员在报名期内报名，报名截止后以公开种子抽签，中签者获得购书券。",
    )
    lottery_commit_seed(campaign=campaign, actor=None)
    campaign_transition(campaign=campaign, new="scheduled", actor=None, reason=DEMO_REASON)
    campaign_transition(campaign=campaign, new="open", actor=None, reason=DEMO_REASON)
    entrants = Member.objects.filter(
        status=MemberStatus.ACTIVE,
        cards__is_current=True,
        cards__is_member_card=True,
        org__path__startswith=city.path,
    ).order_by("pk")[: n * 3]
    registered = 0
    for member in entrants:
        if registered >= n:
            break
        if member_eligibility(member=member, campaign=campaign).ok:
            lottery_register(campaign=campaign, member=member, now=now)
            registered += 1
    wait = (closes - timezone.now()).total_seconds() + 0.1
    if wait > 0:
        time.sleep(wait)
    lottery_draw(campaign=campaign, actor=None)
    campaign.refresh_from_db()
    return campaign
