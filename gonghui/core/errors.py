"""The one domain error type. Services raise it; views, the API and imports turn it into answers."""

from __future__ import annotations

from django.utils.functional import Promise


class ApplicationError(Exception):
    """Something the user did wrong or asked for that cannot be done.

    ``message`` is shown to the user (a translatable string, Chinese in the default locale);
    ``code`` is stable for programs; ``field`` names the input at fault, if any.
    """

    status = 400

    def __init__(
        self,
        message: str | Promise,
        *,
        code: str = "invalid",
        field: str | None = None,
        extra: dict[str, object] | None = None,
    ) -> None:
        super().__init__(str(message))
        self.message = message
        self.code = code
        self.field = field
        self.extra = extra or {}

    def __str__(self) -> str:
        return str(self.message)


class MethodNotAllowed(ApplicationError):
    """A page opened at the address a form submits to."""

    status = 405

    def __init__(self) -> None:
        from django.utils.translation import gettext_lazy as _

        super().__init__(
            _("This address takes a submitted form; it is not a page. Go back and try again."),
            code="method_not_allowed",
        )


class NotFound(ApplicationError):
    """The object does not exist or the actor may not see it: one boring answer for both."""

    status = 404

    def __init__(self, message: str | Promise | None = None) -> None:
        from django.utils.translation import gettext_lazy as _

        super().__init__(message or _("Not found."), code="not_found")


class PermissionDenied(ApplicationError):
    status = 403

    def __init__(self, message: str | Promise | None = None) -> None:
        from django.utils.translation import gettext_lazy as _

        super().__init__(message or _("You do not have permission to do this."), code="forbidden")
