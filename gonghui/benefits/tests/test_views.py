"""The JSON grab endpoint: who may call it, and what each answer looks like."""

from __future__ import annotations

from django.conf import settings
from django.test import Client, override_settings
from django.utils import translation
from django.utils.translation import gettext

from gonghui.benefits.models import Voucher


def url(c) -> str:
    return f"/benefits/campaigns/{c.pk}/grab"


def test_anonymous_and_staff_are_asked_to_sign_in_and_nothing_changes(world, login, make_campaign):
    c = make_campaign()
    for client in (
        Client(),
        login(world.city_admin),
        login(world.jiefang_officer),
        login(world.zhongzhan_officer),
    ):
        r = client.post(url(c), HTTP_ACCEPT="application/json")
        assert r.status_code == 401 and r.json()["code"] == "sign_in"
    assert Voucher.objects.count() == 0


def test_member_wins_then_retry_then_others_get_sold_out(world, login, make_campaign, carded):
    c = make_campaign(quota=1)
    m = carded(name="王晓红")
    client = login(member=m)
    r = client.post(url(c), HTTP_IDEMPOTENCY_KEY="k1")
    assert r.status_code == 201 and r.json()["outcome"] == "won"
    code = r.json()["voucher"]
    r = client.post(url(c), HTTP_IDEMPOTENCY_KEY="k1")
    assert r.status_code == 200 and r.json() == {
        "outcome": "already",
        "code": "already",
        "message": r.json()["message"],
        "voucher": code,
        "voucher_id": Voucher.objects.get(code=code).pk,  # the page opens the voucher's page
    }
    r = login(member=carded()).post(url(c))
    assert r.status_code == 200 and r.json()["outcome"] == "sold_out"
    assert r.json()["voucher"] is None and r.json()["voucher_id"] is None
    assert Voucher.objects.count() == 1


def test_other_district_member_is_told_why(world, login, make_campaign, carded):
    c = make_campaign()
    r = login(member=carded(org=world.zhongzhan_base)).post(url(c))
    assert r.status_code == 200 and r.json()["code"] == "org_outside"
    assert "王晓红" not in r.content.decode()
    assert Voucher.objects.count() == 0


def test_get_unknown_campaign_and_bad_key(world, login, make_campaign, carded):
    c = make_campaign()
    client = login(member=carded())
    assert client.get(url(c)).status_code == 405
    assert client.post("/benefits/campaigns/999999/grab").status_code == 404
    r = client.post(url(c), HTTP_IDEMPOTENCY_KEY="<script>", HTTP_ACCEPT="application/json")
    assert r.status_code == 400 and r.json()["code"] == "request_key_invalid"
    assert Voucher.objects.count() == 0


def test_a_draft_or_cancelled_campaign_does_not_exist_at_the_door(
    world, login, make_campaign, carded
):
    """The member pages know no draft (or cancelled) campaign; the grab door must not tell a
    member of any union that one exists and when it will be released."""
    from gonghui.benefits.services import campaign_cancel

    draft = make_campaign(status="draft")
    cancelled = make_campaign(status="draft")
    campaign_cancel(campaign=cancelled, actor=world.jiefang_officer, reason="印错了面值")
    client = login(member=carded(org=world.zhongzhan_base))
    for c in (draft, cancelled):
        r = client.post(url(c), HTTP_ACCEPT="application/json")
        assert r.status_code == 404 and r.json() == {"outcome": "not_found", "code": "not_found"}
    assert Voucher.objects.count() == 0


@override_settings(GONGHUI_GRAB_RATE_PER_MEMBER=2)
def test_rate_limited(world, login, make_campaign, carded):
    c = make_campaign(
        status="scheduled",
        release_at=make_campaign().redeem_until.replace(year=2099),
        redeem_until=make_campaign().redeem_until.replace(year=2100),
    )
    client = login(member=carded())
    assert client.post(url(c)).json()["outcome"] == "not_open"
    assert client.post(url(c)).json()["outcome"] == "not_open"
    r = client.post(url(c), HTTP_ACCEPT="application/json")
    assert r.status_code == 429 and r.json()["code"] == "rate_limited"
    # When the window ends, so the page's button can wait that long instead of knocking again.
    assert r["Retry-After"] == str(settings.GONGHUI_GRAB_RATE_WINDOW_SECONDS)


def test_ping():
    assert Client().get("/benefits/ping").json() == {"ok": True}


def test_redeem_endpoint_for_clerks_only(world, shop, login, make_campaign, carded):
    from gonghui.benefits.models import Redemption
    from gonghui.benefits.services import voucher_grab

    c = make_campaign()
    v = voucher_grab(campaign=c, member=carded()).voucher
    data = {"code": v.code, "store": shop.store.pk, "receipt_no": "R1", "amount_fen": "10000"}
    json_ = {"HTTP_ACCEPT": "application/json"}
    for client in (Client(), login(member=carded())):  # no staff or clerk sign-in at all
        r = client.post("/benefits/redeem", data, **json_)
        assert r.status_code == 401 and r.json()["code"] == "sign_in"
    for client in (
        login(world.city_admin),
        login(world.jiefang_officer),
        login(shop.rival_clerk.user),
    ):
        r = client.post("/benefits/redeem", data, **json_)
        assert r.status_code == 404 and v.code not in r.content.decode()
    assert Redemption.objects.count() == 0
    clerk = login(shop.clerk.user)
    r = clerk.post("/benefits/redeem", {**data, "amount_fen": "12.5"}, **json_)
    assert r.status_code == 400 and r.json()["code"] == "amount_fen_type"
    r = clerk.post("/benefits/redeem", {**data, "store": shop.rival_store.pk}, **json_)
    assert r.status_code == 404
    r = clerk.post("/benefits/redeem", data, **json_)
    assert r.status_code == 201
    r = clerk.post("/benefits/redeem", {**data, "receipt_no": "R2"}, **json_)
    assert r.status_code == 400 and r.json()["code"] == "already_used"
    r = clerk.post("/benefits/redeem", data, **json_)  # the same sale again: the first answer
    assert r.status_code == 200 and r.json()["repeated"] is True
    assert Redemption.objects.count() == 1


def test_ticket_grab_without_cookies(world, make_campaign, carded, django_assert_num_queries):
    from gonghui.benefits.services import grab_ticket_issue

    c = make_campaign(quota=1)
    winner, late = carded(), carded()
    client = Client()  # no session cookie, no CSRF cookie: the ticket is the credential
    r = client.post(url(c), HTTP_X_GRAB_TICKET=grab_ticket_issue(member=winner, campaign=c))
    assert r.status_code == 201 and r.json()["outcome"] == "won"
    late_ticket = grab_ticket_issue(member=late, campaign=c)
    r = client.post(url(c), HTTP_X_GRAB_TICKET=late_ticket)
    assert r.json()["outcome"] == "sold_out"
    # once the process knows it is sold out, an answer costs no query at all
    from gonghui.benefits import hot

    hot.mark_sold_out(hot.campaign_key(c))
    with django_assert_num_queries(0):
        r = client.post(url(c), HTTP_X_GRAB_TICKET=late_ticket)
    assert r.json()["outcome"] == "sold_out"
    assert Voucher.objects.count() == 1


def test_bad_tickets_and_missing_csrf(world, make_campaign, carded):
    from gonghui.benefits.services import grab_ticket_issue

    c, other = make_campaign(), make_campaign()
    m = carded()
    for bad in (
        "x",
        "<script>alert(1)</script>",
        grab_ticket_issue(member=m, campaign=other),  # another campaign's ticket
        grab_ticket_issue(member=m, campaign=c)[:-2] + "zz",  # tampered
    ):
        r = Client().post(url(c), HTTP_X_GRAB_TICKET=bad, HTTP_ACCEPT="application/json")
        assert r.status_code == 400 and r.json()["code"] == "ticket_invalid"
    # a cookie session must carry the CSRF token
    from gonghui.accounts.middleware import MEMBER_SESSION_KEY

    strict = Client(enforce_csrf_checks=True)
    session = strict.session
    session[MEMBER_SESSION_KEY] = m.pk
    session.save()
    r = strict.post(url(c))
    assert r.status_code == 403 and r.json()["code"] == "csrf"
    assert Voucher.objects.count() == 0


def _zh(message: str) -> str:
    with translation.override("zh-hans"):
        return gettext(message)


# What the page's script sends (its <html lang>), and what else may arrive in the header.
ENGLISH = ["en", "EN", " en ", "en;q=1"]
DEFAULT = [
    "",
    "zh-hans",
    "zh-Hans",
    "en-US,en;q=0.9",  # a browser's own list: the platform's default language is Chinese
    "zh-hant",
    "fr",
    "*",
    "ｅｎ",  # full-width
    "<script>alert(1)</script>",
    "en" + "x" * 5000,
    "\x00en",
]


@override_settings(GONGHUI_GRAB_RATE_PER_MEMBER=1000, GONGHUI_GRAB_RATE_PER_ADDRESS=1000)
def test_ticket_grab_answers_in_the_pages_language(
    world, make_campaign, carded, django_assert_num_queries
):
    """The page's fetch sends no cookies, so not the language cookie: an English page got its
    answer in Chinese. The page names its language; the answer follows it, at no query."""
    from gonghui.benefits import hot
    from gonghui.benefits.services import grab_ticket_issue

    c = make_campaign(quota=1)
    ticket = grab_ticket_issue(member=carded(), campaign=c)
    hot.mark_sold_out(hot.campaign_key(c))
    # The endpoint keeps campaign rows for two seconds (emptied before each test by the
    # conftest): load this test's row once before counting.
    Client().post(url(c), HTTP_X_GRAB_TICKET=ticket)
    before = translation.get_language()
    for value, message, language in [
        *((v, "All vouchers have been taken.", "en") for v in ENGLISH),
        *((v, _zh("All vouchers have been taken."), "zh-hans") for v in DEFAULT),
    ]:
        with django_assert_num_queries(0):
            r = Client().post(url(c), HTTP_X_GRAB_TICKET=ticket, HTTP_ACCEPT_LANGUAGE=value)
        assert r.status_code == 200 and r.json()["outcome"] == "sold_out", value
        assert r.json()["message"] == message, value
        assert r["Content-Language"] == language, value
        assert translation.get_language() == before  # nothing left behind in the thread
    # A refusal the middleware turns into JSON (a bad ticket) speaks the page's language too,
    # and says so in its header (it said zh-hans over an English body).
    for value, message, language in (
        ("en", "Your session has expired; reload the page.", "en"),
        ("garbage", _zh("Your session has expired; reload the page."), "zh-hans"),
        ("", _zh("Your session has expired; reload the page."), "zh-hans"),
    ):
        r = Client().post(
            url(c),
            HTTP_X_GRAB_TICKET="x",
            HTTP_ACCEPT="application/json",
            HTTP_ACCEPT_LANGUAGE=value,
        )
        assert r.status_code == 400 and r.json() == {"code": "ticket_invalid", "message": message}
        assert r["Content-Language"] == language, value
        assert translation.get_language() == before
    assert Voucher.objects.count() == 0


@override_settings(GONGHUI_GRAB_RATE_PER_MEMBER=1)
def test_ticket_grab_rate_limit_answers_in_the_pages_language(world, make_campaign, carded):
    from gonghui.benefits.services import grab_ticket_issue

    c = make_campaign()
    ticket = grab_ticket_issue(member=carded(), campaign=c)
    headers = {"HTTP_X_GRAB_TICKET": ticket, "HTTP_ACCEPT": "application/json"}
    assert Client().post(url(c), HTTP_IDEMPOTENCY_KEY="k", **headers).status_code == 201
    r = Client().post(url(c), HTTP_ACCEPT_LANGUAGE="en", **headers)
    assert r.status_code == 429 and r.json()["message"] == "Too many attempts; wait a few seconds."
    assert r["Content-Language"] == "en"
    r = Client().post(url(c), HTTP_ACCEPT_LANGUAGE="zh-hans", **headers)
    assert r.status_code == 429
    assert r.json()["message"] == _zh("Too many attempts; wait a few seconds.")
    assert r["Content-Language"] == "zh-hans"


def test_session_grab_keeps_the_language_cookie_not_the_browsers_header(
    world, login, make_campaign, carded
):
    """Without a ticket the language cookie decides, as on every page; a browser's own
    Accept-Language does not turn the platform's Chinese default into English."""
    c = make_campaign(quota=1)
    voucher_grab_for = carded()
    login(member=voucher_grab_for).post(url(c))  # the only voucher
    client = login(member=carded())
    r = client.post(url(c), HTTP_ACCEPT_LANGUAGE="en")
    assert r.json()["message"] == _zh("All vouchers have been taken.")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    r = client.post(url(c), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert r.json()["message"] == "All vouchers have been taken."


def test_page_language_is_one_of_the_platforms(settings):
    from gonghui.benefits.views import page_language

    settings.LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
    assert page_language("en") == "en" and page_language("zh-HANS") == "zh-hans"
    for value in DEFAULT[2:]:
        assert page_language(value) == settings.LANGUAGE_CODE, value


def test_the_grab_door_answers_json_to_any_program(world, make_campaign, carded):
    """A program sends ``Accept: */*`` (curl) or nothing at all: a refusal of the door itself (a
    bad ticket, a malformed key, a wrong method) was a Chinese HTML page, and a method other than
    GET an empty body."""
    from gonghui.benefits.services import grab_ticket_issue

    c = make_campaign()
    ticket = grab_ticket_issue(member=carded(), campaign=c)
    for accept in ("*/*", None, "application/json, text/plain, */*"):
        headers = {"HTTP_ACCEPT": accept} if accept else {}
        client = Client(**headers)
        r = client.post(url(c), HTTP_X_GRAB_TICKET="forged")
        assert r.status_code == 400 and r.json()["code"] == "ticket_invalid", accept
        r = client.post(url(c), HTTP_X_GRAB_TICKET=ticket, HTTP_IDEMPOTENCY_KEY="<script>")
        assert r.status_code == 400 and r.json()["code"] == "request_key_invalid", accept
        assert r.json()["field"] == "request_key" and r.json()["message"]
        for method in ("get", "put", "delete"):
            r = getattr(client, method)(url(c), HTTP_X_GRAB_TICKET=ticket)
            assert r.status_code == 405 and r["Allow"] == "POST", (accept, method)
            assert r.json()["code"] == "method_not_allowed" and r.json()["message"]
    assert Voucher.objects.count() == 0
