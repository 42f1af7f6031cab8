from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.middleware.gzip import GZipMiddleware
from django.shortcuts import render
from django.utils import translation

from gonghui.core.errors import ApplicationError, MethodNotAllowed, NotFound


def json_door(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A view that programs and page scripts call for JSON (the grab, the scan): every refusal it
    makes, a wrong method included, answers JSON whatever the caller's ``Accept`` says; a program
    that sends ``Accept: */*`` (curl) or nothing is no browser to be shown a page."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        request.json_door = True  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapped


def _wants_json(request: HttpRequest) -> bool:
    return (
        request.path.startswith("/api/")
        or getattr(request, "json_door", False)
        or request.headers.get("Accept") == "application/json"
    )


class MethodRefused(ApplicationError):
    """A JSON address called with a method it does not take."""

    status = 405

    def __init__(self, method: str) -> None:
        from django.utils.translation import gettext_lazy as _

        super().__init__(
            _("This address does not take %(method)s requests.") % {"method": method[:10]},
            code="method_not_allowed",
        )


class RequestTooLarge(ApplicationError):
    status = 413


def _refused_request(exception: Exception) -> ApplicationError | None:
    """Django's refusals of a request it will not read, for an answer in the error format (its
    own is an English HTML page that says "Bad Request (400)")."""
    from django.utils.translation import gettext_lazy as _

    if isinstance(exception, RequestDataTooBig):
        return RequestTooLarge(_("The request is too large."), code="too_large")
    if isinstance(exception, TooManyFieldsSent | TooManyFilesSent):
        return ApplicationError(_("The request has too many fields."), code="too_many_fields")
    return None


class ApplicationErrorMiddleware:
    """Maps an ApplicationError that escaped a view to a page or JSON answer in one place."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code in (404, 405)
            and _wants_json(request)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            # Django's own answers (no such address; ninja's or require_POST's wrong method) are
            # an English page or bare text: a program gets the error format it gets elsewhere.
            if response.status_code == 404:
                return self.process_exception(request, NotFound()) or response
            answer = self.process_exception(request, MethodRefused(request.method or ""))
            assert answer is not None
            answer["Allow"] = response.get("Allow", "")
            return answer
        if response.status_code == 405 and request.method == "GET" and not response.content:
            # A form's address opened as a page (reloaded after a refused submission, typed in
            # the address bar): Django's answer is an empty body, a white screen. Say what it is
            # and give a way back. The Allow header stays.
            page = self._answer(request, MethodNotAllowed())
            page["Allow"] = response.get("Allow", "")
            return page
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, ApplicationError):
            refused = _refused_request(exception) if _wants_json(request) else None
            if refused is None:
                return None
            exception = refused
        # In the language the view was answering in (``request.LANGUAGE_CODE``), which may not
        # be the one active here: a view's translation.override has ended by now.
        language = getattr(request, "LANGUAGE_CODE", None)
        if not language or language == translation.get_language():
            return self._answer(request, exception)  # the usual case: nothing to switch
        with translation.override(language):
            return self._answer(request, exception)

    def _answer(self, request: HttpRequest, exception: ApplicationError) -> HttpResponse:
        if _wants_json(request):
            body: dict[str, Any] = {"code": exception.code, "message": str(exception.message)}
            if exception.field or request.path.startswith("/api/"):
                body["field"] = exception.field  # the API's error format always names it
            response = JsonResponse(body, status=exception.status)
            retry_after = exception.extra.get("retry_after")
            if exception.status == 429 and isinstance(retry_after, int):
                # A client told when to come back does not keep knocking on the limit.
                response["Retry-After"] = str(retry_after)
            return response
        return error_page(request, exception)


def error_page(request: HttpRequest, exception: ApplicationError) -> HttpResponse:
    """The page that says why: the error's own words, or for a plain "not found" that it does
    not exist or is not the user's to see."""
    plain_not_found = exception.status == 404 and str(exception.message) == str(NotFound().message)
    return render(
        request,
        "core/error.html",
        {"error": exception, "plain_not_found": plain_not_found},
        status=exception.status,
    )


class DefaultLanguageMiddleware:
    """Chinese unless the user chose otherwise with the language switch (its cookie).

    Django's LocaleMiddleware would follow the browser's Accept-Language header; the platform's
    default language is zh-hans whatever the browser says, and English is an explicit choice.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.conf import settings
        from django.utils import translation

        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        supported = {code for code, _label in settings.LANGUAGES}
        language = chosen if chosen in supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language  # type: ignore[attr-defined]
        response = self.get_response(request)
        # The language the answer was made in: a view that answers in another one (the ticket
        # grab, in its page's language) says so on the request, and so does the JSON refusal
        # made for it after the view's own override has ended.
        response.headers.setdefault("Content-Language", getattr(request, "LANGUAGE_CODE", language))
        return response


class PageGZipMiddleware(GZipMiddleware):
    """Pages (HTML) go out gzipped to a browser that accepts it: a member page of 10–13 KB is
    about 3 KB on a phone's slow line. Django's GZipMiddleware adds random bytes to each
    compressed answer (its BREACH mitigation), and Django masks the CSRF token afresh in each
    answer. JSON (the grab's and the scan's short answers, on the hottest paths) and streamed
    files (exports) are sent as they are; static files are compressed ahead by WhiteNoise."""

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if response.streaming or not response.get("Content-Type", "").startswith("text/html"):
            return response
        return super().process_response(request, response)
