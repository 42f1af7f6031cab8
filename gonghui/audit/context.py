"""Where a change came from: set per request by middleware, per command by the CLI."""

from __future__ import annotations

import contextvars
import ipaddress
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
    """The address of the client: REMOTE_ADDR, or behind the configured proxy (BEHIND_PROXY) the
    last X-Forwarded-For entry, the one that proxy appended. Entries before it come from the
    client and could be anything it liked (a rate limit keyed on them could be dodged)."""
    from django.conf import settings

    if settings.SECURE_PROXY_SSL_HEADER:
        last = request.META.get("HTTP_X_FORWARDED_FOR", "").rsplit(",", 1)[-1].strip()
        try:
            return str(ipaddress.ip_address(last))
        except ValueError:
            pass  # no header, or not an address (a proxy not set up to append one)
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
