"""Form helpers shared by every app's pages."""

from __future__ import annotations

from django import forms

from gonghui.core.errors import ApplicationError


def apply_error(
    form: forms.Form, error: ApplicationError, *, fields: dict[str, str] | None = None
) -> None:
    """Attach a service error to the field it names (``fields`` maps service field names to form
    field names), or to the form as a whole when the form has no such field."""
    name = error.field or ""
    name = (fields or {}).get(name, name)
    form.add_error(name if name and name in form.fields else None, str(error.message))
