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
