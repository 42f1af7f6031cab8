"""The platform's answers when Django gives up on a request: no such address (404), a forbidden
action (403), a request it cannot read (400), a server error (500). Django's own are bare English
pages ("Not Found", "Server Error (500)"); these speak the user's language and give a way on.
Under /api/ and on the JSON doors the 400/403/404 become the error format
(``core.middleware.ApplicationErrorMiddleware``)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template import loader
from django.utils.translation import gettext_lazy as _

from gonghui.core.errors import ApplicationError, NotFound
from gonghui.core.middleware import error_page


class _Forbidden(ApplicationError):
    status = 403


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_page(request, NotFound())


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_page(
        request, _Forbidden(_("You do not have permission to do this."), code="forbidden")
    )


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_page(
        request, ApplicationError(_("The request could not be read."), code="bad_request")
    )


def server_error(request: HttpRequest) -> HttpResponse:
    """Rendered without the request's context: whatever failed (the database, a setting) may
    fail again in a context processor or the page's header."""
    return HttpResponse(loader.render_to_string("core/500.html"), status=500)
