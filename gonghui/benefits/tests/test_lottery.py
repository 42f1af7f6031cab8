from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from gonghui.benefits.models import Campaign, Registration, Voucher
from gonghui.benefits.selectors import lottery_public_entries
from gonghui.benefits.services import (
    campaign_schedule,
    campaign_update,
    lottery_commit_seed,
    lottery_draw,
    lottery_register,
    lottery_verify,
    new_voucher_codes,
    voucher_grab,
)
from gonghui.core.errors import ApplicationError, PermissionDenied


@pytest.fixture
def lottery(world, make_campaign):
    now = timezone.now()
    c = make_campaign(
        status="draft",
        distribution="lottery",
        quota=3,
        release_at=now - dt.timedelta(hours=1),
        registration_closes_at=now + dt.timedelta(hours=1),
    )
    return c


def test_commit_register_draw_and_anyone_can_verify(world, lottery, carded):
    with pytest.raises(ApplicationError) as exc:
        campaign_schedule(campaign=lottery, actor=world.jiefang_officer)
    assert exc.value.code == "seed_missing"
    seed = lottery_commit_seed(campaign=lottery, actor=world.jiefang_officer)
    assert lottery.seed_hash == hashlib.sha256(seed.encode()).hexdigest()
    assert lottery.seed == "" and seed not in lottery.seed_enc  # secret until the draw
    with pytest.raises(ApplicationError) as exc:
        lottery_commit_seed(campaign=lottery, actor=world.jiefang_officer, seed="a" * 40)
    assert exc.value.code == "seed_commit_refused"
    campaign_schedule(campaign=lottery, actor=world.jiefang_officer)
    members = [carded() for _ in range(7)]
    regs = [lottery_register(campaign=lottery, member=m) for m in members]
    assert lottery_register(campaign=lottery, member=members[0]).pk == regs[0].pk
    lottery.refresh_from_db()
    assert lottery.status == "open"
    with pytest.raises(ApplicationError) as exc:
        lottery_draw(campaign=lottery, actor=world.jiefang_officer)
    assert exc.value.code == "draw_too_early"
    after = lottery.registration_closes_at + dt.timedelta(seconds=1)
    with pytest.raises(ApplicationError) as exc:
        lottery_register(campaign=lottery, member=carded(), now=after)
    assert exc.value.code == "registration_closed"
    winners = lottery_draw(campaign=lottery, actor=world.jiefang_officer, now=after)
    assert len(winners) == 3
    lottery.refresh_from_db()
    assert lottery.seed == seed and lottery.remaining == 0 and lottery.drawn_at is not None
    # the public re-run: seed, hash and registration numbers give the same winners
    public = lottery_public_entries(campaign=lottery)
    assert (
        lottery_verify(
            seed=lottery.seed,
            seed_hash=lottery.seed_hash,
            campaign_id=lottery.pk,
            registration_ids=[e["registration"] for e in public],
            quota=lottery.quota,
        )
        == winners
    )
    assert {e["registration"] for e in public if e["won"]} == set(winners)
    assert all("*" in e["name"] for e in public)
    assert set(Voucher.objects.filter(campaign=lottery).values_list("member_id", flat=True)) == set(
        Registration.objects.filter(pk__in=winners).values_list("member_id", flat=True)
    )
    with pytest.raises(ApplicationError) as exc:
        lottery_draw(campaign=lottery, actor=world.jiefang_officer, now=after)
    assert exc.value.code == "draw_done"
    with pytest.raises(ApplicationError) as exc:
        lottery_verify(
            seed="f" * 64,
            seed_hash=lottery.seed_hash,
            campaign_id=lottery.pk,
            registration_ids=[],
            quota=1,
        )
    assert exc.value.code == "seed_mismatch"


def test_fewer_registrations_than_quota(world, lottery, carded):
    lottery_commit_seed(campaign=lottery, actor=world.jiefang_officer, seed="s" * 40)
    campaign_schedule(campaign=lottery, actor=world.jiefang_officer)
    lottery_register(campaign=lottery, member=carded())
    winners = lottery_draw(
        campaign=lottery, actor=world.jiefang_officer, now=lottery.registration_closes_at
    )
    lottery.refresh_from_db()
    assert len(winners) == 1 and lottery.remaining == 2


def test_the_draw_is_deterministic_and_order_free():
    ids = list(range(1, 200))
    a = lottery_verify(
        seed="x" * 32,
        seed_hash=hashlib.sha256(b"x" * 32).hexdigest(),
        campaign_id=9,
        registration_ids=ids,
        quota=10,
    )
    b = lottery_verify(
        seed="x" * 32,
        seed_hash=hashlib.sha256(b"x" * 32).hexdigest(),
        campaign_id=9,
        registration_ids=list(reversed(ids)),
        quota=10,
    )
    assert a == b and len(set(a)) == 10


@pytest.mark.parametrize("seed", ["short", "<script>alert(1)</script>" * 3, "种子" * 20])
def test_bad_seed(world, lottery, seed):
    with pytest.raises(ApplicationError) as exc:
        lottery_commit_seed(campaign=lottery, actor=world.jiefang_officer, seed=seed)
    assert exc.value.code == "seed_format"
    lottery.refresh_from_db()
    assert lottery.seed_hash == ""


def test_seed_permission_and_ineligible_registration(world, lottery, carded):
    with pytest.raises(PermissionDenied):
        lottery_commit_seed(campaign=lottery, actor=world.zhongzhan_officer)
    lottery_commit_seed(campaign=lottery, actor=world.jiefang_officer)
    campaign_schedule(campaign=lottery, actor=world.jiefang_officer)
    with pytest.raises(ApplicationError) as exc:
        lottery_register(campaign=lottery, member=carded(card=None))
    assert exc.value.code == "card_missing"
    assert Registration.objects.count() == 0


def test_a_draws_codes_never_clash(make_campaign, carded):
    """A code already taken, or drawn twice in one go, is drawn again: one clash would undo a
    whole draw of thousands of winners."""
    taken = voucher_grab(campaign=make_campaign(), member=carded()).voucher.code
    drawn = iter([taken, "A" * 22, "A" * 22, "B" * 22, "C" * 22])
    codes = new_voucher_codes(3, draw=lambda: next(drawn))
    assert sorted(codes) == ["A" * 22, "B" * 22, "C" * 22]
    assert len(set(new_voucher_codes(1200))) == 1200  # the real codes, more than one query batch


@pytest.mark.parametrize("limit", [2, 3])
def test_a_lottery_gives_one_voucher_per_winner_so_its_limit_is_one(world, make_campaign, limit):
    """The draw gives each winner one voucher; a lottery "up to 3 per member" would promise the
    member page's reader vouchers nobody hands out. Refused on create and on edit."""
    now = timezone.now()
    closes = now + dt.timedelta(hours=1)
    with translation.override("en"), pytest.raises(ApplicationError) as exc:
        make_campaign(
            status="draft",
            distribution="lottery",
            quota=5,
            per_member_limit=limit,
            registration_closes_at=closes,
        )
    assert (exc.value.code, exc.value.field) == ("lottery_limit", "per_member_limit")
    assert str(exc.value.message) == (
        "A lottery gives each winner one voucher: vouchers per member must be 1."
    )
    assert not Campaign.objects.filter(distribution="lottery").exists()
    draft = make_campaign(
        status="draft", distribution="lottery", quota=5, registration_closes_at=closes
    )
    with pytest.raises(ApplicationError) as exc:
        campaign_update(campaign=draft, actor=world.jiefang_officer, per_member_limit=limit)
    assert exc.value.code == "lottery_limit"
    draft.refresh_from_db()
    assert draft.per_member_limit == 1
    # and the database, whatever writes the row
    with pytest.raises(IntegrityError), transaction.atomic():
        Campaign.objects.filter(pk=draft.pk).update(per_member_limit=limit)


def test_an_entry_written_after_the_draw_is_refused(world, lottery, carded):
    """The member's request read the campaign a moment before the close; the draw ran before its
    entry was written. Written, that entry would be in the published list of registrations
    without having been in the draw, and an outsider's re-run would disagree with the winners."""
    lottery_commit_seed(campaign=lottery, actor=world.jiefang_officer)
    campaign_schedule(campaign=lottery, actor=world.jiefang_officer)
    lottery_register(campaign=lottery, member=carded())
    lottery.refresh_from_db()
    read_before_the_draw = Campaign.objects.get(pk=lottery.pk)
    closes = lottery.registration_closes_at
    lottery_draw(campaign=lottery, actor=world.jiefang_officer, now=closes)
    late = carded()
    with pytest.raises(ApplicationError) as exc:
        lottery_register(
            campaign=read_before_the_draw, member=late, now=closes - dt.timedelta(seconds=1)
        )
    assert exc.value.code == "registration_closed"
    assert not Registration.objects.filter(member=late).exists()
    assert Registration.objects.filter(campaign=lottery, won__isnull=True).count() == 0


def test_an_entry_whose_member_is_no_longer_eligible_is_passed_over(world, lottery, carded):
    """Between registering and the draw one member left the union, one changed to a card the
    campaign does not take, one moved to another district's union. Drawn, each would hold a
    voucher nobody can honour, in place of a member who can. The draw passes them over, the next
    in the order wins, and the published numbers still re-run the draw; an ineligible entry
    below the last winner is not looked at (it lost anyway)."""
    from gonghui.benefits.tests.conftest import OTHER_BANK_CARD
    from gonghui.members.services import member_card_set, member_leave, member_transfer

    seed = "p" * 40
    lottery_commit_seed(campaign=lottery, actor=world.jiefang_officer, seed=seed)
    campaign_schedule(campaign=lottery, actor=world.jiefang_officer)
    lottery.refresh_from_db()
    members = [carded() for _ in range(8)]
    regs = {lottery_register(campaign=lottery, member=m).pk: m for m in members}
    ranked = lottery_verify(
        seed=seed,
        seed_hash=lottery.seed_hash,
        campaign_id=lottery.pk,
        registration_ids=list(regs),
        quota=len(regs),
    )
    first, second, third, last = regs[ranked[0]], regs[ranked[1]], regs[ranked[3]], regs[ranked[-1]]
    today = timezone.localdate()
    member_leave(actor=world.jiefang_officer, member=first, on=today, reason="离职")
    member_card_set(actor=None, member=second, card_number=OTHER_BANK_CARD)
    member_transfer(
        actor=world.city_admin, member=third, to_org=world.zhongzhan_base, on=today, reason="调动"
    )
    member_leave(actor=world.jiefang_officer, member=last, on=today, reason="离职")

    winners = lottery_draw(
        campaign=lottery, actor=world.jiefang_officer, now=lottery.registration_closes_at
    )

    assert winners == [ranked[2], ranked[4], ranked[5]]
    assert dict(
        Registration.objects.filter(campaign=lottery)
        .exclude(passed_over="")
        .values_list("pk", "passed_over")
    ) == {ranked[0]: "member_inactive", ranked[1]: "card_bank", ranked[3]: "org_outside"}
    assert not Registration.objects.filter(pk=ranked[-1]).exclude(passed_over="").exists()
    assert set(Registration.objects.filter(won=True).values_list("pk", flat=True)) == set(winners)
    assert set(Voucher.objects.filter(campaign=lottery).values_list("member_id", flat=True)) == {
        regs[r].pk for r in winners
    }
    lottery.refresh_from_db()
    assert lottery.remaining == 0
    # the re-run from what is published: numbers, the passed-over numbers, seed and hash
    assert (
        lottery_verify(
            seed=lottery.seed,
            seed_hash=lottery.seed_hash,
            campaign_id=lottery.pk,
            registration_ids=list(regs),
            quota=lottery.quota,
            passed_over=[ranked[0], ranked[1], ranked[3]],
        )
        == winners
    )


def test_a_draw_where_every_entry_is_passed_over_hands_out_nothing(world, lottery, carded):
    from gonghui.members.services import member_leave

    lottery_commit_seed(campaign=lottery, actor=world.jiefang_officer)
    campaign_schedule(campaign=lottery, actor=world.jiefang_officer)
    lottery.refresh_from_db()
    gone = carded()
    lottery_register(campaign=lottery, member=gone)
    member_leave(actor=world.jiefang_officer, member=gone, on=timezone.localdate(), reason="离职")
    assert (
        lottery_draw(
            campaign=lottery, actor=world.jiefang_officer, now=lottery.registration_closes_at
        )
        == []
    )
    assert list(Registration.objects.values_list("won", "passed_over")) == [
        (False, "member_inactive")
    ]
    assert not Voucher.objects.exists()
    lottery.refresh_from_db()
    assert lottery.remaining == lottery.quota and lottery.drawn_at is not None


def test_a_draw_with_no_registrations(world, lottery):
    lottery_commit_seed(campaign=lottery, actor=world.jiefang_officer)
    campaign_schedule(campaign=lottery, actor=world.jiefang_officer)
    lottery.refresh_from_db()
    assert (
        lottery_draw(
            campaign=lottery, actor=world.jiefang_officer, now=lottery.registration_closes_at
        )
        == []
    )
    lottery.refresh_from_db()
    assert lottery.drawn_at is not None and lottery.seed and lottery.remaining == lottery.quota


def test_the_clock_draws_a_lottery_once_registration_has_closed(world, lottery, carded):
    """Staff forgot the draw: the entrants waited, the redemption window ran on, and the clock
    at last closed the campaign with nobody holding a voucher. The clock now draws it at the first
    tick after registration closes (the winners depend on the seed and the entries only)."""
    from gonghui.benefits.services import campaigns_advance

    lottery_commit_seed(campaign=lottery, actor=world.jiefang_officer)
    campaign_schedule(campaign=lottery, actor=world.jiefang_officer)
    lottery.refresh_from_db()
    for _ in range(5):
        lottery_register(campaign=lottery, member=carded())
    closes = lottery.registration_closes_at
    assert campaigns_advance(now=closes - dt.timedelta(seconds=1))["drawn"] == 0
    lottery.refresh_from_db()
    assert lottery.drawn_at is None
    assert campaigns_advance(now=closes)["drawn"] == 1
    lottery.refresh_from_db()
    assert lottery.drawn_at == closes and lottery.seed
    assert Voucher.objects.filter(campaign=lottery).count() == lottery.quota == 3
    assert campaigns_advance(now=closes + dt.timedelta(minutes=1))["drawn"] == 0  # once
    assert Voucher.objects.filter(campaign=lottery).count() == 3


def test_the_seed_hash_is_stamped_and_registration_cannot_close_before_it(world, lottery):
    """The public page says when the hash was published, to show it came before registration
    closed. A draft's dates can still be edited after the commit: not to before it (the service
    says so; the database refuses a write that tries)."""
    before = timezone.now()
    lottery_commit_seed(campaign=lottery, actor=world.jiefang_officer)
    lottery.refresh_from_db()
    published = lottery.seed_committed_at
    assert published is not None and before <= published <= timezone.now()
    assert lottery.registration_closes_at and published < lottery.registration_closes_at
    too_early = published - dt.timedelta(minutes=1)
    with translation.override("en"), pytest.raises(ApplicationError) as exc:
        campaign_update(
            actor=world.jiefang_officer,
            campaign=lottery,
            registration_closes_at=too_early,
            redeem_from=too_early,
        )
    assert (exc.value.code, exc.value.field) == (
        "registration_before_seed",
        "registration_closes_at",
    )
    local = timezone.localtime(published).strftime("%Y-%m-%d %H:%M:%S")
    assert f"after the seed hash was published ({local})" in exc.value.message
    lottery.refresh_from_db()
    assert lottery.registration_closes_at > published  # nothing changed
    later = lottery.registration_closes_at + dt.timedelta(hours=1)
    campaign_update(
        actor=world.jiefang_officer,
        campaign=lottery,
        registration_closes_at=later,
        redeem_from=later,
    )
    lottery.refresh_from_db()
    assert (lottery.registration_closes_at, lottery.seed_committed_at) == (later, published)
    for stamp in (published, lottery.registration_closes_at):  # at closing is not before it
        with pytest.raises(IntegrityError), transaction.atomic():
            Campaign.objects.filter(pk=lottery.pk).update(
                registration_closes_at=published, seed_committed_at=stamp
            )
    with pytest.raises(IntegrityError), transaction.atomic():
        Campaign.objects.filter(pk=lottery.pk).update(seed_hash="")  # a time without a hash


def test_an_edit_of_a_page_loaded_before_the_seed_was_committed_is_told_not_crashed(world, lottery):
    """The form was opened before another manager committed the seed: the service reads the
    publication time afresh, says why, and changes nothing (it used the page's stale copy,
    and the database's refusal became an error page)."""
    stale = Campaign.objects.get(pk=lottery.pk)
    lottery_commit_seed(campaign=lottery, actor=world.jiefang_officer)
    lottery.refresh_from_db()
    closes, published = lottery.registration_closes_at, lottery.seed_committed_at
    too_early = published - dt.timedelta(minutes=1)
    with translation.override("en"), pytest.raises(ApplicationError) as exc:
        campaign_update(
            actor=world.jiefang_officer,
            campaign=stale,
            registration_closes_at=too_early,
            redeem_from=too_early,
        )
    assert exc.value.code == "registration_before_seed"
    lottery.refresh_from_db()
    assert (lottery.registration_closes_at, lottery.seed_committed_at) == (closes, published)
