"""The language middlewares: an answer says the language it was made in."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.utils import translation

from gonghui.core.errors import NotFound
from gonghui.core.middleware import ApplicationErrorMiddleware, DefaultLanguageMiddleware


def _zh(message: str) -> str:
    with translation.override("zh-hans"):
        return translation.gettext(message)


def test_content_language_is_the_one_the_request_names_after_the_view() -> None:
    def english_view(request: HttpRequest) -> HttpResponse:
        request.LANGUAGE_CODE = "en"  # type: ignore[attr-defined]
        return HttpResponse("hello")

    def plain_view(request: HttpRequest) -> HttpResponse:
        return HttpResponse("你好")

    def own_header(request: HttpRequest) -> HttpResponse:
        response = HttpResponse("hello")
        response["Content-Language"] = "en"
        return response

    with translation.override("zh-hans"):
        factory = RequestFactory()
        assert DefaultLanguageMiddleware(english_view)(factory.get("/"))["Content-Language"] == "en"
        response = DefaultLanguageMiddleware(plain_view)(factory.get("/"))
        assert response["Content-Language"] == "zh-hans"
        assert DefaultLanguageMiddleware(own_header)(factory.get("/"))["Content-Language"] == "en"
        cookie = factory.get("/")
        cookie.COOKIES[settings.LANGUAGE_COOKIE_NAME] = "en"
        assert DefaultLanguageMiddleware(plain_view)(cookie)["Content-Language"] == "en"


def test_an_error_answer_is_made_in_the_requests_language_not_the_active_one() -> None:
    """A lazy message (NotFound's own) read after a view's override has ended came out in the
    default language under an English request."""
    middleware = ApplicationErrorMiddleware(lambda request: HttpResponse())
    for language, message in (("en", "Not found."), ("zh-hans", _zh("Not found."))):
        request = RequestFactory().get("/x", HTTP_ACCEPT="application/json")
        request.LANGUAGE_CODE = language  # type: ignore[attr-defined]
        with translation.override("zh-hans" if language == "en" else "en"):
            before = translation.get_language()
            response = middleware.process_exception(request, NotFound())
            assert translation.get_language() == before  # nothing left behind
        assert response is not None and response.status_code == 404
        assert json.loads(response.content) == {"code": "not_found", "message": message}


def test_a_form_address_opened_as_a_page_says_what_it_is() -> None:
    """Django answers GET on a POST-only view with an empty 405: a white screen on a phone."""
    from django.views.decorators.http import require_POST

    middleware = ApplicationErrorMiddleware(require_POST(lambda request: HttpResponse("done")))
    request = RequestFactory().get("/m/benefits/x/submit/")
    request.LANGUAGE_CODE = "zh-hans"  # type: ignore[attr-defined]
    with translation.override("zh-hans"):
        response = middleware(request)
    body = response.content.decode()
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert (
        _zh("This address takes a submitted form; it is not a page. Go back and try again.") in body
    )
    assert 'href="/"' in body  # a way home, not only "back"
    as_json = middleware(RequestFactory().get("/x", HTTP_ACCEPT="application/json"))
    assert as_json.status_code == 405
    assert json.loads(as_json.content)["code"] == "method_not_allowed"
    posted = middleware(RequestFactory().post("/x"))
    assert posted.status_code == 200 and posted.content == b"done"


def test_a_plain_not_found_page_explains_itself() -> None:
    middleware = ApplicationErrorMiddleware(lambda request: HttpResponse())
    request = RequestFactory().get("/public/notices/999/")
    request.LANGUAGE_CODE = "zh-hans"  # type: ignore[attr-defined]
    with translation.override("zh-hans"):
        body = middleware.process_exception(request, NotFound()).content.decode()
        named = middleware.process_exception(request, NotFound("没有这个活动。")).content.decode()
    assert _zh("Not found") in body and _zh("Cannot do this") not in body
    assert _zh("It does not exist, or it is not yours to see.") in body
    assert "没有这个活动。" in named


def test_pages_go_out_gzipped_to_a_browser_that_accepts_it(client, db) -> None:
    import gzip

    plain = client.get("/m/login/")
    assert plain.status_code == 200 and not plain.has_header("Content-Encoding")
    packed = client.get("/m/login/", HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert packed["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed["Vary"]
    page = gzip.decompress(packed.content)
    assert page.lower().startswith(b"<!doctype html>") and len(packed.content) < len(page) / 2
    # BREACH: the token is masked afresh and random bytes pad each compressed answer
    again = client.get("/m/login/", HTTP_ACCEPT_ENCODING="gzip")
    assert again.content != packed.content


def test_json_and_streamed_answers_are_not_gzipped(client, db) -> None:
    from django.http import StreamingHttpResponse

    from gonghui.core.middleware import PageGZipMiddleware

    spec = client.get("/api/v1/openapi.json", HTTP_ACCEPT_ENCODING="gzip")
    assert spec.status_code == 200 and len(spec.content) > 1000
    assert not spec.has_header("Content-Encoding")

    request = RequestFactory().get("/export", HTTP_ACCEPT_ENCODING="gzip")
    streamed = StreamingHttpResponse(iter([b"<html>" * 100]), content_type="text/html")
    answer = PageGZipMiddleware(lambda r: streamed)(request)
    assert not answer.has_header("Content-Encoding")
    assert b"".join(answer.streaming_content) == b"<html>" * 100


def test_an_address_that_matches_no_page_answers_in_the_users_language(client, db) -> None:
    """Django's own answer was a bare English "Not Found" page (``/m/nowhere``, a full-width
    digit in a campaign's address)."""
    for path in ("/m/nowhere/", "/benefits/campaigns/１/grab", "/public/campaigns/x/"):
        r = client.get(path)
        assert r.status_code == 404, path
        body = r.content.decode()
        assert '<html lang="zh-hans">' in body and _zh("Not found") in body, path
        assert _zh("It does not exist, or it is not yours to see.") in body
        assert "<h1>Not Found</h1>" not in body
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert (
        "It does not exist, or it is not yours to see."
        in client.get("/m/nowhere/").content.decode()
    )
    # under /api/ it is the error format
    r = client.get("/api/v1/nowhere")
    assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_a_server_error_says_so_in_the_users_language_and_tells_what_to_do(client, db) -> None:
    from django.test import Client

    from gonghui.core import error_views

    r = error_views.server_error(RequestFactory().get("/"))
    assert r.status_code == 500
    with translation.override("zh-hans"):
        zh_page = error_views.server_error(RequestFactory().get("/")).content.decode()
    assert _zh("Something went wrong on our side") in zh_page
    assert _zh("Home") in zh_page and '<html lang="zh-hans">' in zh_page

    # A view that fails: the handler's page, not Django's "Server Error (500)".
    from django.urls import path

    def broken(request):
        raise RuntimeError("boom")

    urlconf = type(
        "U",
        (),
        {
            "urlpatterns": [path("broken", broken)],
            "handler500": "gonghui.core.error_views.server_error",
        },
    )
    from django.test import override_settings

    with override_settings(ROOT_URLCONF=urlconf):
        r = Client(raise_request_exception=False).get("/broken")
    assert r.status_code == 500
    assert _zh("Something went wrong on our side") in r.content.decode()
    assert "Server Error (500)" not in r.content.decode()


def test_the_platforms_urlconf_names_the_error_handlers() -> None:
    from gonghui import urls

    assert urls.handler404 == "gonghui.core.error_views.not_found"
    assert urls.handler500 == "gonghui.core.error_views.server_error"
    assert urls.handler400 == "gonghui.core.error_views.bad_request"
    assert urls.handler403 == "gonghui.core.error_views.forbidden"
