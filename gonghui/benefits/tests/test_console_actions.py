"""Campaign actions on the console's detail page: close now, back to draft, cancel (only where it
can succeed), the draw (only once registration has closed), and what each asks before it runs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from gonghui.audit.models import AuditEvent
from gonghui.benefits.models import (
    Campaign,
    CampaignStatus,
    CampaignStatusChange,
    Voucher,
    VoucherStatusChange,
)
from gonghui.benefits.services import (
    campaign_close,
    campaign_transition,
    campaign_unschedule,
    lottery_commit_seed,
    voucher_grab,
)
from gonghui.benefits.testing import registration_closed
from gonghui.benefits.tests.pages_helpers import CAMPAIGN_NAME, clients, redeem_some, text, zh
from gonghui.core.errors import ApplicationError, PermissionDenied

MANAGE_EXPECT = {
    "city_admin": 302,
    "jiefang_staff": 302,
    "jiefang_viewer": 403,
    "zhongzhan_staff": 404,
    "member": 302,
    "anonymous": 302,
    "clerk": 302,  # sent back to the till (/merchant/)
}


def state(campaign: Campaign) -> tuple[Any, ...]:
    """Everything an action could change: the campaign, its history, its vouchers, the audit."""
    campaign.refresh_from_db()
    return (
        campaign.status,
        campaign.redeem_until,
        CampaignStatusChange.objects.filter(campaign=campaign).count(),
        sorted(Voucher.objects.filter(campaign=campaign).values_list("pk", "status")),
        VoucherStatusChange.objects.filter(voucher__campaign=campaign).count(),
        AuditEvent.objects.count(),
    )


@pytest.fixture
def used(make_campaign: Any, carded: Any, shop: Any) -> Campaign:
    """An open campaign: two vouchers used at the store, one held and not used yet."""
    campaign = make_campaign(quota=5)
    redeem_some(campaign, [carded(), carded()], shop)
    assert voucher_grab(campaign=campaign, member=carded()).voucher is not None
    return campaign


def detail(client: Client, campaign: Campaign) -> str:
    return text(client.get(reverse("benefits_console:detail", args=[campaign.pk])))


# ------------------------------------------------------------------ close now (open → closed)


def test_used_campaign_offers_close_not_cancel(world: Any, login: Any, used: Campaign) -> None:
    body = detail(login(world.jiefang_officer), used)
    assert 'id="cancel-form"' not in body
    assert 'id="close-form"' in body
    # says why it cannot be cancelled, when it closes by itself, and that settlement follows
    note = body.split('id="cancel-refused"')[1].split("</p>")[0]
    assert timezone.localtime(used.redeem_until).strftime("%Y-%m-%d %H:%M") in note
    # the confirmation names what closing does: one voucher held and not yet used
    confirm = body.split('id="close-form"')[1].split(">")[0]
    assert 'data-confirm="' in confirm and " 1 " in confirm


def test_unused_open_campaign_offers_cancel_not_close(
    world: Any, login: Any, make_campaign: Any, carded: Any
) -> None:
    campaign = make_campaign(quota=5)
    for _ in range(3):
        voucher_grab(campaign=campaign, member=carded())
    body = detail(login(world.jiefang_officer), campaign)
    assert 'id="cancel-form"' in body and 'id="close-form"' not in body
    assert 'id="cancel-refused"' not in body
    confirm = body.split('id="cancel-form"')[1].split(">")[0]
    assert " 3 " in confirm  # "the 3 vouchers members hold will be void"


def test_viewer_sees_no_actions(world: Any, login: Any, used: Campaign) -> None:
    body = detail(login(world.jiefang_viewer), used)
    assert 'id="close-form"' not in body and 'id="cancel-refused"' not in body


def test_close_now_is_recorded_and_expires_unused_vouchers(
    world: Any, login: Any, used: Campaign
) -> None:
    client = login(world.jiefang_officer)
    promised = used.redeem_until
    before = timezone.now()
    response = client.post(
        reverse("benefits_console:close", args=[used.pk]), {"reason": "书店停业，提前结束"}
    )
    assert response.status_code == 302
    used.refresh_from_db()
    assert used.status == CampaignStatus.CLOSED
    assert before <= used.redeem_until <= timezone.now() < promised
    change = CampaignStatusChange.objects.filter(campaign=used).latest("id")
    assert (change.old, change.new, change.reason, change.reason_code) == (
        "open",
        "closed",
        "书店停业，提前结束",
        "",
    )
    assert change.actor == world.jiefang_officer
    statuses = sorted(Voucher.objects.filter(campaign=used).values_list("status", flat=True))
    assert statuses == ["expired", "used", "used"]
    expired = VoucherStatusChange.objects.get(voucher__campaign=used, new="expired")
    assert expired.reason == "书店停业，提前结束"
    # the date first promised stays in the audit line
    event = AuditEvent.objects.filter(object_type="benefits.campaign", object_id=str(used.pk))
    assert event.filter(changes__has_key="redeem_until").exists()
    page = detail(client, used)
    assert "书店停业，提前结束" in page.split('id="history"')[1]
    assert 'id="close-form"' not in page and 'id="cancel-form"' not in page
    # no more grabs or redemptions: the window has ended
    assert used.remaining == 0


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "This field is required."),
        ("　 ", "This field is required."),
        ("停" * 301, "At most %(n)d characters."),
        ("<script>alert(1)</script>", "The text contains characters that are not allowed."),
    ],
)
def test_close_refused_for_a_bad_reason_changes_nothing(
    world: Any, login: Any, used: Campaign, reason: str, message: str
) -> None:
    before = state(used)
    response = login(world.jiefang_officer).post(
        reverse("benefits_console:close", args=[used.pk]), {"reason": reason}
    )
    assert response.status_code == 400
    body = text(response)
    assert zh(message).split("%(")[0] in body.split('id="close-form"')[1]
    assert "<script>alert" not in response.content.decode()
    assert state(used) == before


def test_close_refused_where_it_does_not_apply(
    world: Any, login: Any, make_campaign: Any, used: Campaign
) -> None:
    client = login(world.jiefang_officer)
    now = timezone.now()
    draft = make_campaign(status="draft")
    undrawn = make_campaign(
        distribution="lottery",
        release_at=now - dt.timedelta(hours=2),
        registration_closes_at=now + dt.timedelta(hours=1),
    )
    not_started = make_campaign(redeem_from=now + dt.timedelta(days=1))
    campaign_close(campaign=used, actor=world.jiefang_officer, reason="提前结束")
    cases = [
        (draft, zh("A campaign cannot go from %(old)s to %(new)s.").split("%(")[0]),
        (used, zh("A campaign cannot go from %(old)s to %(new)s.").split("%(")[0]),
        (
            undrawn,
            zh("The draw has not run, so nobody holds a voucher; cancel the campaign instead."),
        ),
        (not_started, zh("Redemption has not started yet; cancel the campaign instead.")),
    ]
    for campaign, message in cases:
        before = state(campaign)
        response = client.post(
            reverse("benefits_console:close", args=[campaign.pk]), {"reason": "提前结束"}
        )
        assert response.status_code == 400, campaign
        assert message in text(response).split('id="action-error"')[1].split("</p>")[0]
        assert state(campaign) == before


def test_close_service_checks_the_actor(world: Any, used: Campaign) -> None:
    before = state(used)
    for actor in (world.zhongzhan_officer, world.jiefang_viewer):
        with pytest.raises(PermissionDenied):
            campaign_close(campaign=used, actor=actor, reason="提前结束")
    assert state(used) == before


# ------------------------------------------------------------------ cancel only where it can succeed


def test_crafted_cancel_of_a_used_campaign_is_refused_and_said(
    world: Any, login: Any, used: Campaign
) -> None:
    before = state(used)
    response = login(world.jiefang_officer).post(
        reverse("benefits_console:cancel", args=[used.pk]), {"reason": "不办了"}
    )
    assert response.status_code == 400
    error = text(response).split('id="action-error"')[1].split("</p>")[0]
    assert zh("Vouchers of this campaign have been used; close it and settle instead.") in error
    assert 'id="cancel-form"' not in text(response)
    assert state(used) == before


# ------------------------------------------------------------------ back to draft (scheduled → draft)


def test_back_to_draft_before_the_release(world: Any, login: Any, make_campaign: Any) -> None:
    now = timezone.now()
    campaign = make_campaign(status="scheduled", release_at=now + dt.timedelta(days=1))
    client = login(world.jiefang_officer)
    page = detail(client, campaign)
    assert 'id="unschedule-form"' in page
    assert 'data-confirm="' in page.split('id="unschedule-form"')[1].split(">")[0]
    url = reverse("benefits_console:unschedule", args=[campaign.pk])
    response = client.post(url, follow=True)
    assert response.redirect_chain[-1][1] == 302
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT
    change = CampaignStatusChange.objects.filter(campaign=campaign).latest("id")
    assert (change.old, change.new, change.actor) == ("scheduled", "draft", world.jiefang_officer)
    # its form opens again, and scheduling again works
    assert client.get(reverse("benefits_console:edit", args=[campaign.pk])).status_code == 200
    # a double click: the work is done, nothing more is recorded
    moves = CampaignStatusChange.objects.filter(campaign=campaign).count()
    again = client.post(url, follow=True)
    assert again.status_code == 200 and "action-error" not in again.content.decode()
    assert CampaignStatusChange.objects.filter(campaign=campaign).count() == moves
    assert client.post(reverse("benefits_console:schedule", args=[campaign.pk])).status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SCHEDULED


def test_back_to_draft_refused_after_the_release(
    world: Any, login: Any, make_campaign: Any
) -> None:
    client = login(world.jiefang_officer)
    # the release time has passed but the clock has not opened it yet; and one already open
    waiting = make_campaign(status="scheduled")
    opened = make_campaign(status="open")
    assert 'id="unschedule-form"' not in detail(client, waiting)
    for campaign, message in [
        (waiting, zh("The release time has passed; the campaign can no longer go back to draft.")),
        (opened, zh("A campaign cannot go from %(old)s to %(new)s.").split("%(")[0]),
    ]:
        before = state(campaign)
        response = client.post(reverse("benefits_console:unschedule", args=[campaign.pk]))
        assert response.status_code == 400
        assert message in text(response).split('id="action-error"')[1]
        assert state(campaign) == before


def test_back_to_draft_service_checks_the_actor_and_the_clock(
    world: Any, make_campaign: Any
) -> None:
    now = timezone.now()
    campaign = make_campaign(status="scheduled", release_at=now + dt.timedelta(hours=1))
    before = state(campaign)
    with pytest.raises(PermissionDenied):
        campaign_unschedule(campaign=campaign, actor=world.zhongzhan_officer)
    with pytest.raises(ApplicationError) as exc:
        campaign_unschedule(
            campaign=campaign, actor=world.jiefang_officer, now=now + dt.timedelta(hours=1)
        )
    assert exc.value.code == "release_passed"
    assert state(campaign) == before


# ------------------------------------------------------------------ permission matrix


@pytest.mark.parametrize("who", list(MANAGE_EXPECT))
def test_close_and_back_to_draft_permission_matrix(
    world: Any, shop: Any, login: Any, make_campaign: Any, used: Campaign, who: str
) -> None:
    scheduled = make_campaign(status="scheduled", release_at=timezone.now() + dt.timedelta(days=1))
    client = clients(world, shop, login)[who]
    before = (state(used), state(scheduled))
    close = client.post(reverse("benefits_console:close", args=[used.pk]), {"reason": "提前结束"})
    back = client.post(reverse("benefits_console:unschedule", args=[scheduled.pk]))
    assert (close.status_code, back.status_code) == (MANAGE_EXPECT[who],) * 2, who
    if who in {"city_admin", "jiefang_staff"}:
        assert close["Location"] == reverse("benefits_console:detail", args=[used.pk])
        used.refresh_from_db()
        scheduled.refresh_from_db()
        assert (used.status, scheduled.status) == (CampaignStatus.CLOSED, CampaignStatus.DRAFT)
    else:
        for response in (close, back):
            assert CAMPAIGN_NAME not in response.content.decode(errors="ignore")
        assert (state(used), state(scheduled)) == before


# ------------------------------------------------------------------ the draw waits for registration


def test_draw_button_waits_for_registration_to_close(
    world: Any, login: Any, make_campaign: Any
) -> None:
    now = timezone.now()
    closes = now + dt.timedelta(hours=2)
    campaign = make_campaign(
        status="draft",
        distribution="lottery",
        release_at=now - dt.timedelta(minutes=5),
        registration_closes_at=closes,
    )
    lottery_commit_seed(campaign=campaign, actor=world.jiefang_officer)
    for new in ("scheduled", "open"):
        campaign_transition(campaign=campaign, new=new, actor=world.jiefang_officer)
    client = login(world.jiefang_officer)
    form = detail(client, campaign).split('id="draw-form"')[1].split("</form>")[0]
    assert "disabled" in form
    hint = zh("The draw can run once registration closes, at %(t)s.") % {
        "t": timezone.localtime(closes).strftime("%Y-%m-%d %H:%M")
    }
    assert hint in form
    registration_closed(campaign.pk, now)
    form = detail(client, campaign).split('id="draw-form"')[1].split("</form>")[0]
    assert "disabled" not in form and 'id="draw-hint"' not in form
    assert 'data-confirm="' in detail(client, campaign).split('id="draw-form"')[1].split(">")[0]


def test_schedule_asks_naming_the_release_time(world: Any, login: Any, make_campaign: Any) -> None:
    campaign = make_campaign(status="draft")
    body = detail(login(world.jiefang_officer), campaign)
    form = body.split(reverse("benefits_console:schedule", args=[campaign.pk]))[1].split(">")[0]
    release = timezone.localtime(campaign.release_at).strftime("%Y-%m-%d %H:%M")
    assert "data-confirm=" in form and release in form
