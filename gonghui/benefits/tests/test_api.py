"""/api/v1/benefits: campaigns and figures, scoped like every other API answer."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings

from gonghui.accounts.services import api_token_create
from gonghui.benefits.tests.pages_helpers import redeem_some

API = "/api/v1/benefits"


@pytest.fixture
def callers(world, login) -> dict[str, Client]:
    _token, secret = api_token_create(
        actor=world.jiefang_officer, user=world.jiefang_officer, name="sync"
    )
    return {
        "city_admin": login(world.city_admin),
        "jiefang_staff": login(world.jiefang_officer),
        "jiefang_viewer": login(world.jiefang_viewer),
        "zhongzhan_staff": login(world.zhongzhan_officer),
        "member": login(member=world.jiefang_member),
        "clerk": None,  # filled in the test (needs the shop)
        "anonymous": Client(),
        "jiefang_token": Client(headers={"Authorization": f"Bearer {secret}"}),
    }


@pytest.fixture
def campaign(make_campaign, carded, shop) -> Any:
    c = make_campaign(quota=5)
    redeem_some(c, [carded(), carded()], shop)
    return c


EXPECTED = {
    "city_admin": 200,
    "jiefang_staff": 200,
    "jiefang_viewer": 200,
    "jiefang_token": 200,
    "zhongzhan_staff": 404,
    "member": 401,
    "clerk": 401,
    "anonymous": 401,
}


def test_campaign_matrix(world, shop, login, callers, campaign):
    callers["clerk"] = login(shop.clerk.user)
    for who, client in callers.items():
        listed = client.get(f"{API}/campaigns")
        one = client.get(f"{API}/campaigns/{campaign.pk}")
        figures = client.get(f"{API}/campaigns/{campaign.pk}/figures")
        want = EXPECTED[who]
        assert one.status_code == want, (who, one.content)
        assert figures.status_code == want, (who, figures.content)
        if want == 401:
            assert listed.status_code == 401 and campaign.name not in listed.content.decode()
            continue
        names = [row["name"] for row in listed.json()["items"]]
        assert (campaign.name in names) == (want == 200), who
        if want == 404:
            assert one.json()["code"] == "not_found"
            assert campaign.name not in one.content.decode() + figures.content.decode()


def test_campaign_fields_and_figures(callers, campaign, shop):
    client = callers["jiefang_staff"]
    row = client.get(f"{API}/campaigns/{campaign.pk}").json()
    assert row["merchant_name"] == shop.merchant.name and row["status"] == "open"
    assert (row["face_value_fen"], row["subsidy_fen"], row["quota"]) == (10000, 6800, 5)
    f = client.get(f"{API}/campaigns/{campaign.pk}/figures").json()
    assert (f["handed_out"], f["redeemed"], f["open"]) == (2, 2, 0)
    assert f["redemption_rate"] == 1.0
    assert f["subsidy_accrued_fen"] == 13600 and f["subsidy_payable_fen"] == 13600
    assert f["by_store"] == [{"label": shop.store.name, "count": 2, "subsidy_fen": 13600}]
    assert sum(d["count"] for d in f["by_day"]) == 2


def test_campaign_filters_and_bad_input(callers, campaign, make_campaign):
    draft = make_campaign(status="draft", name="五月书香")
    client = callers["jiefang_staff"]

    def names(**params: str) -> set[str]:
        r = client.get(f"{API}/campaigns", params)
        assert r.status_code == 200, r.content
        return {row["name"] for row in r.json()["items"]}

    assert names() == {campaign.name, draft.name}
    assert names(status="draft") == {draft.name}
    assert names(q="书香") == {draft.name}
    assert names(q="<script>") == set()
    assert names(q="") == {campaign.name, draft.name}
    for params, field in (
        ({"status": "bogus"}, "status"),
        ({"status": "x" * 17}, "status"),
        ({"q": "书" * 101}, "q"),
    ):
        r = client.get(f"{API}/campaigns", params)
        assert r.status_code in {400, 422} and r.json()["field"] == field, r.content
    for bad in ("0", "-1", "abc", "9" * 30):
        r = client.get(f"{API}/campaigns/{bad}")
        assert r.status_code in {404, 422}, (bad, r.status_code)
    assert client.get(f"{API}/campaigns/999999").status_code == 404


def test_openapi_lists_the_benefits_endpoints(callers):
    spec = callers["city_admin"].get("/api/v1/openapi.json").json()
    assert "/api/v1/benefits/campaigns/{campaign_id}/figures" in spec["paths"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "\x00"}, "q"),
        ({"q": "四月\x00芳菲"}, "q"),
        ({"status": "op\x00en"}, "status"),
    ],
)
def test_a_nul_in_the_query_is_refused_in_words_not_a_server_error(
    callers, campaign, params, field
):
    # PostgreSQL cannot compare text holding a NUL: the filter used to answer 500 there.
    r = callers["jiefang_token"].get(f"{API}/campaigns", params)
    assert r.status_code == 400, r.content
    body = r.json()
    assert (body["code"], body["field"]) == (f"{field}_chars", field)
    assert body["message"] == "内容包含不允许使用的字符。"


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"offset": str(10**20)}, "offset", "at most 1000000000"),
        ({"offset": str(2**63)}, "offset", "at most 1000000000"),
        ({"offset": str(10**9 + 1)}, "offset", "at most 1000000000"),
        ({"offset": "-1"}, "offset", "at least 0"),
        ({"limit": "501"}, "limit", "at most 500"),
        ({"limit": "100000"}, "limit", "at most 500"),
        ({"limit": "0"}, "limit", "at least 1"),
    ],
)
def test_paging_out_of_bounds_says_the_bound(callers, campaign, params, field, words):
    # An offset past bigint used to reach the database as is: 500 on both databases.
    client = callers["jiefang_token"]
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the middleware reads the cookie
    r = client.get(f"{API}/campaigns", params)
    assert r.status_code == 422, r.content
    body = r.json()
    assert body["field"] == field and words in body["message"], body


def test_paging_at_its_bounds_answers(callers, campaign):
    client = callers["jiefang_token"]
    far = client.get(f"{API}/campaigns", {"offset": str(10**9), "limit": "500"})
    assert far.status_code == 200 and far.json() == {"items": [], "count": 1}
    assert len(client.get(f"{API}/campaigns", {"limit": "1"}).json()["items"]) == 1


def test_unknown_address_and_wrong_method_answer_in_the_error_format(callers, campaign):
    client = callers["jiefang_token"]
    for path in (f"{API}/nothing", f"{API}/campaigns/", f"{API}/campaigns/{campaign.pk}/x"):
        r = client.get(path)
        assert r.status_code == 404 and r["Content-Type"] == "application/json", (path, r.content)
        assert r.json()["code"] == "not_found" and r.json()["message"] == "未找到。"
    for method in ("post", "put", "patch", "delete"):
        r = getattr(client, method)(f"{API}/campaigns/{campaign.pk}")
        assert r.status_code == 405 and r["Allow"] == "GET", (method, r.content)
        assert r.json()["code"] == "method_not_allowed" and r.json()["message"]
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    r = client.options(f"{API}/campaigns")
    assert r.json()["message"] == "This address does not take OPTIONS requests."
    campaign.refresh_from_db()
    assert campaign.status == "open"
    # Not signed in, the unknown address is the same boring answer.
    assert Client().get(f"{API}/nothing").json()["code"] == "not_found"


def test_openapi_describes_the_error_answers(callers):
    """A client generated from the document learns the error format: every operation names
    the answers it may give besides its success, each in the one error shape."""
    spec = Client().get("/api/v1/openapi.json").json()
    schemas = spec["components"]["schemas"]
    error = schemas["Error"]
    assert set(error["required"]) == {"code", "message", "field"}
    assert "errors" in schemas["ValidationError"]["properties"]
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            responses = op["responses"]
            for status in ("400", "401", "403", "404"):
                ref = responses[status]["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/Error", (path, method, status)
            ref = responses["422"]["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/ValidationError", (path, method)
    listed = spec["paths"]["/api/v1/benefits/campaigns"]["get"]["parameters"]
    offset = next(p for p in listed if p["name"] == "offset")["schema"]
    assert (offset["minimum"], offset["maximum"]) == (0, 10**9)
    status = next(p for p in listed if p["name"] == "status")["schema"]
    assert "settled" in status["description"]


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000, DATA_UPLOAD_MAX_NUMBER_FIELDS=10)
def test_too_large_or_too_many_fields_answer_in_the_error_format(callers, campaign):
    """Django's own answer to either was an English HTML page ("Bad Request (400)")."""
    client = callers["jiefang_token"]
    client.raise_request_exception = False
    r = client.get(f"{API}/campaigns?" + "&".join(f"f{i}=1" for i in range(20)))
    assert r.status_code == 400 and r.json()["code"] == "too_many_fields", r.content[:300]
    r = client.post(
        "/api/v1/orgs", '{"name": "' + "x" * 5000 + '"}', content_type="application/json"
    )
    assert r.status_code == 413 and r.json()["code"] == "too_large", r.content[:300]
    assert r.json()["message"] and r.json()["field"] is None
