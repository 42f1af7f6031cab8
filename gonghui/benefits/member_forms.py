"""Forms of the member and merchant pages. They only carry raw text: the services clean it and
raise the Chinese error messages, so every check has one home."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from gonghui.benefits.models import Store
from gonghui.core.errors import ApplicationError

# Service error fields → form fields.
_FIELD = {"amount_fen": "amount", "amount": "amount", "code": "code", "receipt_no": "receipt_no"}


class RedeemForm(forms.Form):
    store = forms.ChoiceField(label=_("Store"), required=False)
    code = forms.CharField(
        label=_("Voucher code"),
        required=False,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false"}
        ),
    )
    receipt_no = forms.CharField(
        label=_("Receipt number"),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    amount = forms.CharField(
        label=_("Purchase amount (yuan)"),
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, stores: list[Store], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        store_field = self.fields["store"]
        assert isinstance(store_field, forms.ChoiceField)
        store_field.choices = [(str(s.pk), s.name) for s in stores]
        if len(stores) == 1:
            self.fields["store"].widget = forms.HiddenInput()
            self.fields["store"].initial = str(stores[0].pk)

    def apply_error(self, error: ApplicationError) -> None:
        self.add_error(_FIELD.get(error.field or "", None), str(error.message))


class ReverseForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for reversal"),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
