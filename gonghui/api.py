"""The JSON API root: /api/v1/, OpenAPI at /api/v1/openapi.json. Routers live in each app's api.py."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI

from gonghui.core.errors import ApplicationError

api = NinjaAPI(
    title="gonghui API",
    version="1.0.0",
    urls_namespace="api",
    description="Organisations and members of the union platform. Every answer is scoped to the caller's organisation subtree.",
)


@api.exception_handler(ApplicationError)
def application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    body = {"code": exc.code, "message": str(exc.message)}
    if exc.field:
        body["field"] = exc.field
    return api.create_response(request, body, status=exc.status)
