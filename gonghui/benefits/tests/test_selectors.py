"""Who sees what: staff by subtree, members their own vouchers, clerks their merchant's data."""

from __future__ import annotations

import pytest

from gonghui.benefits.selectors import (
    campaign_get,
    campaign_list,
    campaign_public_get,
    campaign_voucher_list,
    clerk_for_user,
    clerk_redemption_list,
    clerk_voucher_lookup,
    member_campaign_list,
    member_voucher_get,
    member_voucher_list,
    settlement_list,
)
from gonghui.benefits.services import voucher_grab, voucher_redeem
from gonghui.core.errors import NotFound


@pytest.fixture
def scene(world, shop, make_campaign, carded):
    c = make_campaign()
    mine = carded(name="王晓红")
    other = carded(name="赵大海")
    v_mine = voucher_grab(campaign=c, member=mine).voucher
    v_other = voucher_grab(campaign=c, member=other).voucher
    voucher_redeem(
        code=v_mine.code, store=shop.store, clerk=shop.clerk, receipt_no="R1", amount_fen=100
    )
    mine._acting = True
    return c, mine, other, v_mine, v_other


@pytest.mark.parametrize(
    ("who", "sees"),
    [
        ("city_admin", True),
        ("jiefang_officer", True),
        ("jiefang_viewer", True),
        ("zhongzhan_officer", False),
        ("base_clerk", False),  # a base union below the campaign's county federation
    ],
)
def test_staff_see_their_subtree(world, scene, who, sees):
    c, *_ = scene
    actor = getattr(world, who)
    assert campaign_list(actor=actor).filter(pk=c.pk).exists() is sees
    assert (campaign_voucher_list(actor=actor, campaign=c).count() == 2) is sees
    if not sees:
        with pytest.raises(NotFound):
            campaign_get(actor=actor, pk=c.pk)


def test_anonymous_and_none_see_nothing(scene):
    from django.contrib.auth.models import AnonymousUser

    c, *_ = scene
    for actor in (None, AnonymousUser()):
        assert campaign_list(actor=actor).count() == 0
        assert member_voucher_list(actor=actor).count() == 0


def test_member_sees_only_own_vouchers(world, scene):
    c, mine, other, v_mine, v_other = scene
    assert list(member_voucher_list(actor=mine)) == [v_mine]
    with pytest.raises(NotFound):
        member_voucher_get(actor=mine, pk=v_other.pk)
    # a staff-side Member row (not acting) gets nothing
    assert member_voucher_list(actor=other).count() == 0
    assert campaign_list(actor=mine).count() == 0
    assert list(member_campaign_list(member=mine)) == [c]
    assert list(member_campaign_list(member=world.zhongzhan_member)) == []


def test_clerks_see_only_their_merchant(world, shop, scene):
    c, mine, other, v_mine, v_other = scene
    assert clerk_for_user(shop.clerk.user) == shop.clerk
    with pytest.raises(NotFound):
        clerk_for_user(world.jiefang_officer)
    assert clerk_voucher_lookup(clerk=shop.clerk, code=v_other.code) == v_other
    with pytest.raises(NotFound):
        clerk_voucher_lookup(clerk=shop.rival_clerk, code=v_other.code)
    assert clerk_redemption_list(clerk=shop.clerk).count() == 1
    assert clerk_redemption_list(clerk=shop.rival_clerk).count() == 0
    # clerks are not staff: the staff selectors show them nothing
    assert campaign_list(actor=shop.clerk.user).count() == 0
    assert settlement_list(actor=shop.clerk.user).count() == 0


def test_public_campaign_page_hides_drafts(make_campaign):
    with pytest.raises(NotFound):
        campaign_public_get(pk=make_campaign(status="draft").pk)
    with pytest.raises(NotFound):
        campaign_public_get(pk="x'; DROP TABLE x;--")
    assert campaign_public_get(pk=make_campaign().pk)
