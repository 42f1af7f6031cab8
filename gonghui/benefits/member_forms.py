"""Forms of the member and merchant pages. They only carry raw text: the services clean it and
raise the Chinese error messages, so every check has one home."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import ProhibitNullCharactersValidator
from django.utils.translation import gettext_lazy as _

from gonghui.benefits.models import Store
from gonghui.core.errors import ApplicationError

# Service error fields → form fields.
_FIELD = {"amount_fen": "amount", "amount": "amount", "code": "code", "receipt_no": "receipt_no"}


class RedeemForm(forms.Form):
    # A plain text field shown as a choice: the store is checked against the clerk's own stores
    # by the view, with one Chinese message instead of Django's "not a valid choice" on top.
    store = forms.CharField(label=_("Store"), required=False, widget=forms.Select)
    code = forms.CharField(
        label=_("Voucher code"),
        required=False,
        widget=forms.TextInput(
            attrs={
                # Codes are 15 digits (the number pad opens); codes of letters from before still
                # come in by camera, scanner or paste.
                "inputmode": "numeric",
                "autocomplete": "off",
                "autocapitalize": "off",
                "autocorrect": "off",
                "spellcheck": "false",
                "enterkeyhint": "next",
            }
        ),
    )
    receipt_no = forms.CharField(
        label=_("Receipt number"),
        required=False,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocorrect": "off", "enterkeyhint": "next"}
        ),
    )
    amount = forms.CharField(
        label=_("Purchase amount (yuan)"),
        required=False,
        widget=forms.TextInput(
            attrs={"inputmode": "decimal", "autocomplete": "off", "enterkeyhint": "done"}
        ),
    )

    def __init__(
        self, *args: Any, stores: list[Store], last_store_id: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            # Every check is the service's: Django's own refusal of a NUL ("不允许是用空字符串",
            # "empty strings are not allowed") came first and left the field out, so the
            # service then said the field was empty.
            field.validators = [
                v for v in field.validators if not isinstance(v, ProhibitNullCharactersValidator)
            ]
        store_field = self.fields["store"]
        if len(stores) == 1:
            store_field.widget = forms.HiddenInput()
            store_field.initial = str(stores[0].pk)
        else:
            # No silent default among several stores: the clerk's last store, else a choice.
            assert isinstance(store_field.widget, forms.Select)
            store_field.widget.choices = [
                ("", _("Choose a store")),
                *((str(s.pk), s.name) for s in stores),
            ]
            if any(s.pk == last_store_id for s in stores):
                store_field.initial = str(last_store_id)

    def apply_error(self, error: ApplicationError) -> None:
        self.add_error(_FIELD.get(error.field or "", None), str(error.message))

    def focus_first_error(self) -> None:
        """Without JavaScript the re-shown page puts the cursor where the first fix is needed."""
        for name, field in self.fields.items():
            if name in self.errors and not field.widget.is_hidden:
                field.widget.attrs["autofocus"] = True
                return


class ReverseForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for reversal"),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "maxlength": 300}),
    )
