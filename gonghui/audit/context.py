"""Where a change came from: set per request by middleware, per command by the CLI."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse


@dataclass(frozen=True)
class Origin:
    ip_address: str | None = None
    user_agent: str = ""
    source: str = "system"


_DEFAULT_ORIGIN = Origin()
_origin: contextvars.ContextVar[Origin] = contextvars.ContextVar(
    "audit_origin",
    default=_DEFAULT_ORIGIN,  # noqa: B039 (frozen dataclass)
)


def current_origin() -> Origin:
    return _origin.get()


def set_origin(origin: Origin) -> contextvars.Token[Origin]:
    return _origin.set(origin)


def client_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR only: a forwarded header is trusted solely behind a configured proxy.
    from django.conf import settings

    if settings.SECURE_PROXY_SSL_HEADER:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip() or None
    return request.META.get("REMOTE_ADDR") or None


class AuditOriginMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        source = "api" if request.path.startswith("/api/") else "web"
        token = set_origin(
            Origin(
                ip_address=client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
                source=source,
            )
        )
        try:
            return self.get_response(request)
        finally:
            _origin.reset(token)
