from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class TotpForm(forms.Form):
    token = forms.CharField(
        label=_("Code from your authenticator app"),
        min_length=6,
        max_length=6,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class ApiTokenForm(forms.Form):
    """The name only; the service cleans and judges it, so the page, the command and a program
    get the same answers."""

    name = forms.CharField(
        label=_("Name"),
        required=False,
        strip=False,
        help_text=_("What the token is for, e.g. the program that will use it."),
        widget=forms.TextInput(attrs={"maxlength": 60, "autocomplete": "off"}),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # Django's own refusal of a NUL would answer in other words than the service's refusal
        # of every other invisible character; the service sees it and says the one thing.
        self.fields["name"].validators = []
