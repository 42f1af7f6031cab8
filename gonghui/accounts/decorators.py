"""The one gate for staff pages: signed-in staff holding a capability.

Anonymous visitors (and member sessions, which are not staff users) are sent to the staff sign-in;
a merchant clerk is sent back to its own pages; a signed-in user without the capability gets 403. Which rows they then see is the business of the
selectors and the scoping function, not of this gate.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse

from gonghui.accounts.models import User
from gonghui.accounts.roles import Capability
from gonghui.core.errors import PermissionDenied

View = Callable[..., HttpResponseBase]


def staff_required(
    capability: str = Capability.VIEW, *, pass_user: bool = False
) -> Callable[[View], View]:
    """``pass_user=True`` hands the checked ``User`` to the view as its second argument."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if isinstance(user, User) and not user.is_staff:
                # A merchant clerk who opened a staff address goes back to the till, not to a
                # "not allowed" page under a menu of pages it cannot open either.
                from gonghui.accounts.views import landing_url

                target = landing_url(user)
                if target != reverse("console:home"):
                    return redirect(target)
            if not isinstance(user, User) or not user.is_staff or not user.can(capability):
                raise PermissionDenied()
            if pass_user:
                return view(request, user, *args, **kwargs)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
