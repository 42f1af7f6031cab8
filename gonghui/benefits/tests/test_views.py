"""The JSON grab endpoint: who may call it, and what each answer looks like."""

from __future__ import annotations

from django.test import Client, override_settings

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


def test_ping():
    assert Client().get("/benefits/ping").json() == {"ok": True}


def test_redeem_endpoint_for_clerks_only(world, shop, login, make_campaign, carded):
    from gonghui.benefits.models import Redemption
    from gonghui.benefits.services import voucher_grab

    c = make_campaign()
    v = voucher_grab(campaign=c, member=carded()).voucher
    data = {"code": v.code, "store": shop.store.pk, "receipt_no": "R1", "amount_fen": "10000"}
    json_ = {"HTTP_ACCEPT": "application/json"}
    for client in (
        Client(),
        login(world.city_admin),
        login(world.jiefang_officer),
        login(member=carded()),
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
    r = clerk.post("/benefits/redeem", data, **json_)
    assert r.status_code == 400 and r.json()["code"] == "already_used"
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
