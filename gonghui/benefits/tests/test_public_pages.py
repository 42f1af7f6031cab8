"""Public pages: the settlement notice (masked names only, objections, rate limit) and the lottery
proof page whose values re-verify with ``lottery_verify``."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from gonghui.benefits.models import (
    Campaign,
    CampaignStatus,
    Objection,
    PublicNotice,
    Registration,
)
from gonghui.benefits.services import (
    campaign_cancel,
    campaign_transition,
    lottery_commit_seed,
    lottery_draw,
    lottery_register,
    lottery_verify,
    mask_name,
)
from gonghui.benefits.settlement import notice_publish, settlement_approve, settlement_upload
from gonghui.benefits.testing import registration_closed
from gonghui.benefits.tests.pages_helpers import (
    PDF,
    redeem_some,
    register_xlsx,
    rows_for,
    text,
    zh,
)
from gonghui.core import crypto
from gonghui.members.tests.factories import make_id_number


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    cache.clear()


@pytest.fixture
def notice(world: Any, shop: Any, make_campaign: Any, carded: Any) -> PublicNotice:
    campaign = make_campaign(quota=5)
    members = [
        world.jiefang_member,
        carded(name="欧阳娜娜", phone="13911112222"),
        carded(name="李娜", phone="13933334444"),
    ]
    from gonghui.members.services import member_card_set

    member_card_set(actor=None, member=world.jiefang_member, card_number="6235950000000009999")
    redemptions = redeem_some(campaign, members, shop)
    campaign_transition(campaign=campaign, new=CampaignStatus.CLOSED, actor=world.jiefang_officer)
    settlement, _rows = settlement_upload(
        staff=world.jiefang_officer,
        campaign=campaign,
        store=shop.store,
        register=SimpleUploadedFile("r.xlsx", register_xlsx(rows_for(redemptions))),
        invoice=SimpleUploadedFile("i.pdf", PDF),
    )
    settlement_approve(settlement=settlement, actor=world.jiefang_officer)
    return notice_publish(campaign=campaign, actor=world.jiefang_officer)


def test_notice_shows_masked_names_only(world: Any, notice: PublicNotice) -> None:
    response = Client().get(reverse("public:notice", args=[notice.pk]))
    assert response.status_code == 200
    body = text(response)
    for name in ("王小明", "欧阳娜娜", "李娜"):
        assert name not in body
        assert mask_name(name) in body
    for phone in ("13900000001", "13911112222", "13933334444"):
        assert phone not in body
    assert make_id_number(region="410802", seq=1) not in body
    assert world.jiefang_member.id_number_masked not in body
    assert re.search(r"\d{17}[\dXx]", body) is None  # no ID-number shaped string at all
    assert "李秀英" not in body
    assert 'id="total-vouchers">3<' in response.content.decode()
    assert 'id="total-payable">204.00<' in response.content.decode()
    # no redemption codes either (bearer tokens)
    from gonghui.benefits.models import Voucher

    for code in Voucher.objects.values_list("code", flat=True):
        assert code not in body


@pytest.mark.django_db
def test_unknown_notice_404() -> None:
    assert Client().get(reverse("public:notice", args=[999])).status_code == 404


def test_objection_submitted_and_blocks(world: Any, notice: PublicNotice) -> None:
    url = reverse("public:notice", args=[notice.pk])
    response = Client().post(
        url, {"name": "赵 六", "phone": "１３８００００００09", "text": "<script>x</script>不对"}
    )
    assert response.status_code == 302
    # back at the form, where the thanks are shown (not at the top of a long list of vouchers)
    assert response["Location"] == f"{url}?sent=1#objection"
    thanks = text(Client().get(response["Location"]))
    assert 'id="objection-sent"' in thanks.split('id="objection"')[1]
    objection = Objection.objects.get()
    assert objection.phone == "13800000009"
    assert objection.text == "<script>x</script>不对"  # stored as typed, shown escaped to staff
    staff = Client()
    staff.force_login(world.jiefang_officer, backend="django.contrib.auth.backends.ModelBackend")
    page = staff.get(reverse("benefits_console:objections", args=[notice.campaign_id]))
    assert "<script>x</script>" not in page.content.decode()
    assert "&lt;script&gt;x&lt;/script&gt;" in page.content.decode()
    # the public page never shows objections or objectors
    public = text(Client().get(url))
    assert "13800000009" not in public and "不对" not in public


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "phone": "13800000009", "text": "有异议"}, "Enter the name."),
        ({"name": "赵六", "phone": "", "text": "有异议"}, "Enter the mobile number."),
        (
            {"name": "赵六", "phone": "12345", "text": "有异议"},
            "Enter an 11-digit mainland mobile number starting with 1.",
        ),
        (
            {"name": "赵六", "phone": "1380000000９'; --", "text": "有异议"},
            "Enter an 11-digit mainland mobile number starting with 1.",
        ),
        (
            {"name": "<script>", "phone": "13800000009", "text": "有异议"},
            "The name contains characters that are not allowed.",
        ),
        (
            {"name": "赵" * 51, "phone": "13800000009", "text": "有异议"},
            "The name may have at most 50 characters.",
        ),
        ({"name": "赵六", "phone": "13800000009", "text": ""}, "Write what you object to."),
        ({"name": "赵六", "phone": "13800000009", "text": " \u3000 "}, "Write what you object to."),
        (
            {"name": "赵六", "phone": "13800000009", "text": "异" * 2001},
            "At most %(n)d characters.",
        ),
    ],
)
def test_objection_bad_input(notice: PublicNotice, data: dict[str, str], message: str) -> None:
    response = Client().post(reverse("public:notice", args=[notice.pk]), data)
    assert response.status_code == 400
    assert zh(message).split("%(")[0] in text(response)
    assert "<script>" not in response.content.decode().split("<body")[1]
    assert Objection.objects.count() == 0


def test_objection_form_names_every_wrong_field_at_once(notice: PublicNotice) -> None:
    response = Client().post(
        reverse("public:notice", args=[notice.pk]), {"name": "", "phone": "", "text": ""}
    )
    assert response.status_code == 400
    body = text(response)
    # the form posts back to itself at the form, so the errors are on the first screen
    assert 'action="#objection"' in body
    assert 'inputmode="tel"' in body.split('id="field-phone"')[1]
    for field, message in [
        ("name", "Enter the name."),
        ("phone", "Enter the mobile number."),
        ("text", "Write what you object to."),
    ]:
        block = body.split(f'id="field-{field}"')[1].split('<div class="field"')[0]
        assert zh(message) in block, field
    assert Objection.objects.count() == 0


def test_objection_keeps_what_was_typed_and_refuses_nul(notice: PublicNotice) -> None:
    data = {"name": "赵" * 51, "phone": "１３８００００", "text": "券\x00没用过"}
    response = Client().post(reverse("public:notice", args=[notice.pk]), data)
    assert response.status_code == 400
    body = text(response)
    assert zh("The name may have at most 50 characters.") in body
    assert zh("Enter an 11-digit mainland mobile number starting with 1.") in body
    assert zh("The text contains characters that are not allowed.") in body
    assert "赵" * 51 in body and "１３８００００" in body
    assert Objection.objects.count() == 0


def test_objection_over_several_lines(world: Any, notice: PublicNotice) -> None:
    """A browser sends the textarea's line breaks as CR LF: a multi-line objection is taken."""
    response = Client().post(
        reverse("public:notice", args=[notice.pk]),
        {"name": "赵六", "phone": "13800000009", "text": "第一，我没用过。\r\n第二，请核实。"},
    )
    assert response.status_code == 302
    assert Objection.objects.get().text == "第一，我没用过。\n第二，请核实。"


def test_objection_mistakes_do_not_use_up_the_limit(notice: PublicNotice) -> None:
    """Mistyping is not abuse: only objections that are stored count against the address."""
    url = reverse("public:notice", args=[notice.pk])
    client = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(settings.GONGHUI_OBJECTIONS_PER_ADDRESS + 2):
        wrong = {"name": "赵六", "phone": "12345", "text": "券没用过"}
        assert client.post(url, wrong).status_code == 400
    right = {"name": "赵六", "phone": "13800000009", "text": "券没用过"}
    assert client.post(url, right).status_code == 302
    assert Objection.objects.count() == 1


def test_notice_dates_are_local_dates(notice: PublicNotice) -> None:
    """A voucher used at 07:30 in Jiaozuo (23:30 UTC the day before) is listed on its own day."""
    from gonghui.benefits.models import Redemption

    local = dt.datetime(2026, 4, 24, 7, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    Redemption.objects.filter(voucher__campaign_id=notice.campaign_id).update(at=local)
    body = text(Client().get(reverse("public:notice", args=[notice.pk])))
    rows = body.split('id="notice-rows"')[1]
    assert "2026-04-24" in rows and "2026-04-23" not in rows


def _notice_rows(response: Any) -> list[tuple[str, str, str, str]]:
    """The notice list's rows as shown: (number, masked name, store, date)."""
    table = response.content.decode().split('id="notice-rows"')[1].split("</table>")[0]
    return re.findall(
        r'<tr><td class="num">(\d+)</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>',
        table,
    )


def test_notice_list_is_paged_and_numbered_across_pages(
    notice: PublicNotice, monkeypatch: Any
) -> None:
    """2,000 vouchers are not one page on a phone: the list comes a page at a time, numbered on."""
    from gonghui.benefits import public_views

    monkeypatch.setattr(public_views, "NOTICE_ROWS_PER_PAGE", 2)
    url = reverse("public:notice", args=[notice.pk])
    first = Client().get(url)
    assert [row[0] for row in _notice_rows(first)] == ["1", "2"]
    pager = text(first).split('class="pager"')[1].split("</div>")[0]
    assert "?page=2#notice-list" in pager and "?page=1" not in pager
    second = Client().get(url, {"page": "2"})
    assert [row[0] for row in _notice_rows(second)] == ["3"]
    # A page past the end, or not a number, is the last or first page, never an error.
    assert [r[0] for r in _notice_rows(Client().get(url, {"page": "99"}))] == ["3"]
    assert [r[0] for r in _notice_rows(Client().get(url, {"page": "x"}))] == ["1", "2"]


def test_notice_list_filters_by_store_and_day(notice: PublicNotice, shop: Any) -> None:
    """A worker looks for the day and the store where they used their voucher."""
    from gonghui.benefits.models import Redemption

    first, second, third = Redemption.objects.filter(
        voucher__campaign_id=notice.campaign_id
    ).order_by("at", "pk")
    local = ZoneInfo("Asia/Shanghai")
    Redemption.objects.filter(pk=first.pk).update(
        store=shop.other_store, at=dt.datetime(2026, 4, 24, 9, 0, tzinfo=local)
    )
    Redemption.objects.filter(pk__in=[second.pk, third.pk]).update(
        at=dt.datetime(2026, 4, 25, 7, 30, tzinfo=local)  # 23:30 UTC the day before
    )
    url = reverse("public:notice", args=[notice.pk])
    page = Client().get(url)
    body = page.content.decode()
    assert f'<option value="{shop.other_store.pk}">' in body
    assert '<option value="2026-04-24">' in body and '<option value="2026-04-25">' in body
    assert '<option value="2026-04-23">' not in body
    by_store = _notice_rows(Client().get(url, {"store": shop.other_store.pk}))
    assert [(r[0], r[2]) for r in by_store] == [("1", shop.other_store.name)]
    by_day = _notice_rows(Client().get(url, {"day": "2026-04-25"}))
    assert [r[3] for r in by_day] == ["2026-04-25", "2026-04-25"]
    both = Client().get(url, {"store": shop.other_store.pk, "day": "2026-04-25"})
    assert _notice_rows(both) == []
    assert zh("No redeemed voucher matches the filters.") in text(both)
    assert zh("Show all") in text(Client().get(url, {"day": "2026-04-25"}))
    assert zh("Show all") not in text(page)


@pytest.mark.parametrize(
    "query",
    [
        {"store": "999999"},
        {"store": "１"},
        {"store": "<script>"},
        {"day": "2026-13-01"},
        {"day": "2026-04-24' OR 1=1"},
        {"day": "x" * 5000},
    ],
)
def test_notice_list_filter_not_offered_is_named_and_all_listed(
    notice: PublicNotice, query: dict[str, str]
) -> None:
    response = Client().get(reverse("public:notice", args=[notice.pk]), query)
    assert response.status_code == 200
    assert len(_notice_rows(response)) == 3
    refusal = zh("Select a valid choice. %(value)s is not one of the available choices.")
    assert refusal.split("%(value)s")[0] in text(response).split('id="notice-list"')[1]


def test_objection_rate_limited_per_address(notice: PublicNotice) -> None:
    url = reverse("public:notice", args=[notice.pk])
    client = Client(REMOTE_ADDR="203.0.113.7")
    for i in range(settings.GONGHUI_OBJECTIONS_PER_ADDRESS):
        data = {"name": "赵六", "phone": "13800000009", "text": f"第{i}条"}
        assert client.post(url, data).status_code == 302
    response = client.post(url, {"name": "赵六", "phone": "13800000009", "text": "再来"})
    assert response.status_code == 429
    assert zh("Too many objections from this network address; try again in an hour.") in text(
        response
    )
    assert Objection.objects.count() == settings.GONGHUI_OBJECTIONS_PER_ADDRESS
    # another address is not affected
    other = Client(REMOTE_ADDR="203.0.113.8")
    assert other.post(url, {"name": "钱七", "phone": "13800000010", "text": "x"}).status_code == 302


def test_objection_after_notice_refused(notice: PublicNotice) -> None:
    now = timezone.now()
    PublicNotice.objects.filter(pk=notice.pk).update(
        starts_at=now - dt.timedelta(days=6), ends_at=now - dt.timedelta(minutes=1)
    )
    response = Client().post(
        reverse("public:notice", args=[notice.pk]),
        {"name": "赵六", "phone": "13800000009", "text": "晚了"},
    )
    assert response.status_code == 400
    assert zh("The public notice period is over.") in text(response)
    assert Objection.objects.count() == 0


# ------------------------------------------------------------------ lottery proof


GIVEN = "一二三四五六七"


@pytest.fixture
def lottery(world: Any, make_campaign: Any, carded: Any) -> Campaign:
    now = timezone.now()
    campaign = make_campaign(
        status="draft",
        distribution="lottery",
        quota=3,
        release_at=now - dt.timedelta(minutes=5),
        registration_closes_at=now + dt.timedelta(hours=1),
    )
    lottery_commit_seed(campaign=campaign, actor=world.jiefang_officer)
    campaign.refresh_from_db()
    for new in ("scheduled", "open"):
        campaign_transition(campaign=campaign, new=new, actor=world.jiefang_officer)
    for given in GIVEN:
        lottery_register(campaign=campaign, member=carded(name=f"张{given}强"))
    return campaign


def test_proof_page_before_and_after_draw(world: Any, lottery: Campaign) -> None:
    url = reverse("public:campaign", args=[lottery.pk])
    before = Client().get(url)
    assert before.status_code == 200
    body = before.content.decode()
    assert lottery.seed_hash in body and 'id="seed-pending"' in body
    assert 'id="registrations">7<' in body
    payload = json.loads(
        Client().get(reverse("public:registrations_json", args=[lottery.pk])).content
    )
    assert payload["seed"] is None and len(payload["registration_ids"]) == 7
    registration_closed(lottery.pk)
    lottery.refresh_from_db()
    winners = lottery_draw(campaign=lottery, actor=world.jiefang_officer)
    after = Client().get(url)
    body = text(after)
    seed = re.search(r'id="seed">([^<]+)<', body)
    shown_hash = re.search(r'id="seed-hash">([0-9a-f]{64})<', body)
    quota = int(re.search(r'id="quota">(\d+)<', body).group(1))  # type: ignore[union-attr]
    campaign_id = int(re.search(r'id="campaign-id">(\d+)<', body).group(1))  # type: ignore[union-attr]
    assert seed and shown_hash
    download = Client().get(reverse("public:registrations_json", args=[lottery.pk]))
    data = json.loads(download.content)
    assert set(data) == {
        "campaign_id",
        "quota",
        "seed_hash",
        "seed_hash_published_at",
        "registration_closes_at",
        "seed",
        "registration_ids",
        "passed_over_ids",
    }
    # when the hash was published, on the page (local time) and in the file (UTC, as text that
    # compares), and that it came before registration closed
    published = dt.datetime.fromisoformat(data["seed_hash_published_at"])
    assert published == lottery.seed_committed_at
    assert published < dt.datetime.fromisoformat(data["registration_closes_at"])
    shown_at = re.search(r'id="seed-committed-at"><time datetime="([^"]+)">([^<]+)<', body)
    assert shown_at, "no publication time on the page"
    assert shown_at.group(2) == timezone.localtime(published).strftime("%Y-%m-%d %H:%M:%S")
    assert dt.datetime.fromisoformat(shown_at.group(1)) == published
    assert data["seed"] == seed.group(1)
    assert "张" not in download.content.decode()
    recomputed = lottery_verify(
        seed=seed.group(1),
        seed_hash=shown_hash.group(1),
        campaign_id=campaign_id,
        registration_ids=data["registration_ids"],
        quota=quota,
    )
    shown_winners = [
        int(n) for n in re.findall(r'<tr><td class="num">(\d+)</td><td>张\*强</td>', body)
    ]
    assert sorted(recomputed) == sorted(winners) == sorted(shown_winners)
    for given in GIVEN:
        assert f"张{given}强" not in body
    # the page's own snippet re-runs the draw from the JSON file
    snippet = re.search(r'<pre id="verify-snippet">(.*?)</pre>', body, re.S).group(1)  # type: ignore[union-attr]
    namespace: dict[str, Any] = {}
    printed: list[Any] = []
    code = snippet.replace(
        f'json.load(open("campaign-{lottery.pk}-registrations.json"))', "DATA"
    ).replace("print(", "PRINT(")
    exec(code, {"DATA": data, "PRINT": printed.append, **namespace})  # noqa: S102
    assert printed == [sorted(winners)]


def test_an_outsider_re_runs_a_draw_that_passed_entries_over(world: Any, lottery: Campaign) -> None:
    """Two of the first three in the draw's order left the union before it ran: the draw passes
    them over. With only the page and its JSON file, an outsider (a few lines written from the
    page's description, and the page's own program) gets the winners the page lists; the page
    says which numbers were passed over, and the lookup says what became of one."""
    from gonghui.members.services import member_leave

    ids = list(Registration.objects.filter(campaign=lottery).values_list("pk", flat=True))
    order = sorted(
        ids,
        key=lambda rid: hmac.new(
            crypto.decrypt(lottery.seed_enc).encode(),
            f"{lottery.pk}:{rid}".encode(),
            hashlib.sha256,
        ).hexdigest(),
    )
    gone = [order[0], order[2]]
    for rid in gone:
        member = Registration.objects.get(pk=rid).member
        member_leave(
            actor=world.jiefang_officer, member=member, on=timezone.localdate(), reason="x"
        )
    registration_closed(lottery.pk)
    lottery.refresh_from_db()
    winners = lottery_draw(campaign=lottery, actor=world.jiefang_officer)
    assert sorted(winners) == sorted([order[1], order[3], order[4]])

    url = reverse("public:campaign", args=[lottery.pk])
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    body = text(client.get(url))
    data = json.loads(client.get(reverse("public:registrations_json", args=[lottery.pk])).content)
    assert sorted(data["passed_over_ids"]) == sorted(gone)
    assert f'id="passed-over">{min(gone)}, {max(gone)}<' in body
    assert "passes over any whose member is no longer eligible" in body
    # written from the page's words alone
    seed = data["seed"]
    assert hashlib.sha256(seed.encode()).hexdigest() == data["seed_hash"]

    def value(rid: int) -> str:
        message = f"{data['campaign_id']}:{rid}".encode()
        return hmac.new(seed.encode(), message, hashlib.sha256).hexdigest()

    mine = [r for r in sorted(data["registration_ids"], key=value) if r not in gone]
    shown = [
        int(n) for n in re.findall(r'<tr><td class="num">(\d+)</td>', body.split('id="winners"')[1])
    ]
    assert sorted(mine[: data["quota"]]) == sorted(shown) == sorted(winners)
    # the page's own program
    snippet = re.search(r'<pre id="verify-snippet">(.*?)</pre>', body, re.S).group(1)  # type: ignore[union-attr]
    printed: list[Any] = []
    code = snippet.replace(
        f'json.load(open("campaign-{lottery.pk}-registrations.json"))', "DATA"
    ).replace("print(", "PRINT(")
    exec(code, {"DATA": data, "PRINT": printed.append})  # noqa: S102
    assert printed == [sorted(winners)]
    looked = text(client.get(url, {"number": str(gone[0])}))
    assert (
        f"Registration {gone[0]} was passed over: its member was no longer eligible when the draw "
        "ran." in looked
    )
    assert f"Registration {order[1]} won a voucher." in text(client.get(url, {"number": order[1]}))


def test_the_page_s_program_checks_nothing_was_passed_over_below_the_last_winner(
    world: Any, drawn: tuple[Campaign, list[int]]
) -> None:
    """A list of passed-over numbers that includes one the draw never reached (below the last
    winner) is refused by the page's program: the draw cannot have passed over what it never
    looked at."""
    lottery, winners = drawn
    body = text(Client().get(reverse("public:campaign", args=[lottery.pk])))
    data = json.loads(Client().get(reverse("public:registrations_json", args=[lottery.pk])).content)
    losers = sorted(set(data["registration_ids"]) - set(winners))
    snippet = re.search(r'<pre id="verify-snippet">(.*?)</pre>', body, re.S).group(1)  # type: ignore[union-attr]
    code = snippet.replace(
        f'json.load(open("campaign-{lottery.pk}-registrations.json"))', "DATA"
    ).replace("print(", "PRINT(")
    with pytest.raises(AssertionError):
        exec(code, {"DATA": {**data, "passed_over_ids": losers[:1]}, "PRINT": print})  # noqa: S102


def test_a_lottery_cancelled_after_its_draw_keeps_its_proof(
    world: Any, make_campaign: Any, lottery: Campaign
) -> None:
    """Cancelling a drawn lottery voids the winners' vouchers; it used to take the proof page and
    its file down too, so the winners it had named and the seed it had revealed could no longer
    be checked. A lottery cancelled before its draw decided nothing and stays gone."""
    registration_closed(lottery.pk)
    lottery.refresh_from_db()
    winners = lottery_draw(campaign=lottery, actor=world.jiefang_officer)
    campaign_cancel(campaign=lottery, actor=world.jiefang_officer, reason="书店停业")
    lottery.refresh_from_db()
    url = reverse("public:campaign", args=[lottery.pk])
    response = Client().get(url)
    assert response.status_code == 200
    body = text(response)
    assert f'id="seed">{lottery.seed}<' in body and zh("Cancelled") in body
    data = json.loads(Client().get(reverse("public:registrations_json", args=[lottery.pk])).content)
    assert data["seed"] == lottery.seed
    assert sorted(
        lottery_verify(
            seed=data["seed"],
            seed_hash=data["seed_hash"],
            campaign_id=data["campaign_id"],
            registration_ids=data["registration_ids"],
            quota=data["quota"],
            passed_over=data["passed_over_ids"],
        )
    ) == sorted(winners)
    undrawn = make_campaign(
        status="draft",
        distribution="lottery",
        quota=1,
        release_at=timezone.now() - dt.timedelta(minutes=5),
        registration_closes_at=timezone.now() + dt.timedelta(hours=1),
    )
    lottery_commit_seed(campaign=undrawn, actor=world.jiefang_officer)
    for new in ("scheduled", "open"):
        campaign_transition(campaign=undrawn, new=new, actor=world.jiefang_officer)
    campaign_cancel(campaign=undrawn, actor=world.jiefang_officer, reason="取消")
    assert Client().get(reverse("public:campaign", args=[undrawn.pk])).status_code == 404
    assert Client().get(reverse("public:registrations_json", args=[undrawn.pk])).status_code == 404
    grab = make_campaign()
    campaign_cancel(campaign=grab, actor=world.jiefang_officer, reason="取消")
    assert Client().get(reverse("public:campaign", args=[grab.pk])).status_code == 404


@pytest.fixture
def drawn(world: Any, lottery: Campaign) -> tuple[Campaign, list[int]]:
    registration_closed(lottery.pk)
    lottery.refresh_from_db()
    winners = lottery_draw(campaign=lottery, actor=world.jiefang_officer)
    lottery.refresh_from_db()
    return lottery, sorted(winners)


def _winner_numbers(response: Any) -> list[int]:
    table = response.content.decode().split('id="winners"')[1].split("</table>")[0]
    return [int(n) for n in re.findall(r'<tr><td class="num">(\d+)</td>', table)]


def test_winners_come_a_page_at_a_time(drawn: tuple[Campaign, list[int]], monkeypatch: Any) -> None:
    """A lottery of 2,000 winners is not one page on a phone."""
    from gonghui.benefits import public_views

    lottery, winners = drawn
    monkeypatch.setattr(public_views, "WINNERS_PER_PAGE", 2)
    url = reverse("public:campaign", args=[lottery.pk])
    first, second = Client().get(url), Client().get(url, {"page": "2"})
    assert _winner_numbers(first) == winners[:2] and _winner_numbers(second) == winners[2:]
    assert "?page=2#winners-list" in first.content.decode()
    assert 'id="registrations">7<' in first.content.decode()  # all registrations still counted


def test_a_registration_number_is_looked_up(drawn: tuple[Campaign, list[int]]) -> None:
    """Anyone may ask whether a registration number won; the answer names nobody."""
    from gonghui.benefits.models import Registration

    lottery, winners = drawn
    url = reverse("public:campaign", args=[lottery.pk])
    loser = Registration.objects.filter(campaign=lottery, won=False).values_list("pk", flat=True)[0]
    other = Registration.objects.exclude(campaign=lottery).values_list("pk", flat=True).first()
    cases = [
        (str(winners[0]), zh("Registration %(n)s won a voucher.") % {"n": winners[0]}),
        (
            f" ＃{str(winners[0]).translate(str.maketrans('0123456789', '０１２３４５６７８９'))} ",
            None,
        ),
        (str(loser), zh("Registration %(n)s did not win.") % {"n": loser}),
        ("999999999", zh("There is no registration %(n)s in this lottery.") % {"n": 999999999}),
    ]
    for typed, expected in cases:
        body = text(Client().get(url, {"number": typed}))
        result = re.search(r'id="lookup-result"[^>]*>([^<]+)<', body)
        assert result, typed
        if expected:
            assert result.group(1) == expected, typed
        else:  # full-width digits and a "#" are the same number
            assert result.group(1) == zh("Registration %(n)s won a voucher.") % {"n": winners[0]}
        assert "张" not in result.group(1)
    if other is not None:  # another lottery's registration is not this one's
        body = text(Client().get(url, {"number": other}))
        assert zh("There is no registration %(n)s in this lottery.") % {"n": other} in body


@pytest.mark.parametrize("typed", ["abc", "12-34", "<script>", "1" * 13, "x" * 31, "1.5"])
def test_a_lookup_that_is_not_a_number_is_named(
    drawn: tuple[Campaign, list[int]], typed: str
) -> None:
    lottery, winners = drawn
    response = Client().get(reverse("public:campaign", args=[lottery.pk]), {"number": typed})
    assert response.status_code == 200
    body = text(response)
    assert 'id="lookup-result"' not in body
    lookup = body.split('id="winner-lookup"')[1].split("</form>")[0]
    assert 'class="errorlist"' in lookup
    assert _winner_numbers(response) == winners  # the list is still there


def test_no_lookup_before_the_draw(lottery: Campaign) -> None:
    body = text(Client().get(reverse("public:campaign", args=[lottery.pk]), {"number": "1"}))
    assert 'id="winner-lookup"' not in body and 'id="lookup-result"' not in body


def test_proof_page_hides_drafts_and_grab_json(
    world: Any, make_campaign: Any, lottery: Campaign
) -> None:
    draft = make_campaign(status="draft")
    assert Client().get(reverse("public:campaign", args=[draft.pk])).status_code == 404
    grab = make_campaign(status="open")
    assert Client().get(reverse("public:campaign", args=[grab.pk])).status_code == 200
    assert Client().get(reverse("public:registrations_json", args=[grab.pk])).status_code == 404
    assert Client().get(reverse("public:campaign", args=[99999])).status_code == 404
    assert Client().post(reverse("public:campaign", args=[lottery.pk])).status_code == 405


# ------------------------------------------------------------------ the index


def _listed(response: Any) -> list[int]:
    return [int(n) for n in re.findall(r'data-campaign="(\d+)"', response.content.decode())]


def test_index_lists_public_campaigns_with_their_notice_and_proof(
    world: Any, make_campaign: Any, notice: PublicNotice, lottery: Campaign
) -> None:
    draft = make_campaign(status="draft", name="草稿活动")
    grab = make_campaign(status="open", name="五月读书券")
    cancelled = make_campaign(status="scheduled", name="取消活动")
    campaign_transition(
        campaign=cancelled, new="cancelled", actor=world.jiefang_officer, reason="x"
    )
    index = reverse("public:index")
    response = Client().get(index)
    assert response.status_code == 200
    listed = _listed(response)
    assert set(listed) == {notice.campaign_id, lottery.pk, grab.pk}
    assert draft.pk not in listed and cancelled.pk not in listed
    body = text(response)
    assert reverse("public:notice", args=[notice.pk]) in body
    assert reverse("public:campaign", args=[lottery.pk]) + "#proof" in body
    assert 'data-notice="running"' in body and zh("Lottery proof") in body
    for name in ("王小明", "欧阳娜娜", "李娜", *[f"张{g}强" for g in GIVEN]):
        assert name not in body  # the index names campaigns, never people
    # Filters: notices running now; lotteries.
    assert _listed(Client().get(index, {"kind": "notice"})) == [notice.campaign_id]
    assert _listed(Client().get(index, {"kind": "lottery"})) == [lottery.pk]
    PublicNotice.objects.filter(pk=notice.pk).update(closed_at=timezone.now())
    assert _listed(Client().get(index, {"kind": "notice"})) == []
    ended = text(Client().get(index))
    assert 'data-notice="ended"' in ended and 'data-notice="running"' not in ended


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("五月", True),
        ("五月读书券", True),
        ("  五月  ", True),
        ("ＡＢＣ书店", False),  # full width, folded to ABC书店: no such campaign
        ("<script>alert(1)</script>", False),
        ("'; DROP TABLE benefits_campaign; --", False),
        ("", True),
    ],
)
def test_index_search(make_campaign: Any, query: str, found: bool) -> None:
    grab = make_campaign(status="open", name="五月读书券")
    response = Client().get(reverse("public:index"), {"q": query})
    assert response.status_code == 200
    assert (grab.pk in _listed(response)) is found
    assert "<script>alert(1)</script>" not in response.content.decode()
    assert Campaign.objects.filter(pk=grab.pk).exists()


def test_index_search_by_merchant_and_full_width(shop: Any, make_campaign: Any) -> None:
    grab = make_campaign(status="open", name="Spring 书香")
    # NFKC: full-width Latin letters find the half-width name.
    assert grab.pk in _listed(Client().get(reverse("public:index"), {"q": "ｓｐｒｉｎｇ"}))
    assert grab.pk in _listed(Client().get(reverse("public:index"), {"q": shop.merchant.name}))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": "书" * 101}, "最多100个字符（现为101个）"),
        ({"q": "x" * 3000}, "最多100个字符（现为3000个）"),
        ({"kind": "everything"}, "选择一个有效的选项"),
        ({"kind": "<b>notice</b>"}, "选择一个有效的选项"),
    ],
)
def test_index_bad_search_says_why(
    make_campaign: Any, params: dict[str, str], message: str
) -> None:
    make_campaign(status="open")
    response = Client().get(reverse("public:index"), params)
    assert response.status_code == 400
    body = response.content.decode()
    assert 'class="errorlist"' in body and message in body and "<b>notice</b>" not in body
    assert _listed(response) == []


def test_index_pages(make_campaign: Any) -> None:
    from gonghui.benefits.public_views import CAMPAIGNS_PER_PAGE

    made = [
        make_campaign(status="open", name=f"活动{i:02d}") for i in range(CAMPAIGNS_PER_PAGE + 3)
    ]
    first = Client().get(reverse("public:index"))
    second = Client().get(reverse("public:index"), {"page": 2})
    beyond = Client().get(reverse("public:index"), {"page": "99x"})
    assert len(_listed(first)) == CAMPAIGNS_PER_PAGE and len(_listed(second)) == 3
    assert set(_listed(first)) | set(_listed(second)) == {c.pk for c in made}
    assert beyond.status_code == 200 and _listed(beyond) == _listed(first)
    assert 'href="?page=2"' in first.content.decode()
