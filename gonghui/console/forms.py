"""Forms of the staff console: they parse input; the services decide what is allowed."""

from __future__ import annotations

import unicodedata
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gonghui.audit.models import AuditAction
from gonghui.audit.selectors import AuditFilters
from gonghui.core.errors import ApplicationError
from gonghui.core.forms import apply_error
from gonghui.orgs.models import Org, OrgKind, OrgStatus
from gonghui.orgs.services import EDITABLE_FIELDS

from .selectors import FIRST_YEAR


def _nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value or "").strip()


class YearForm(forms.Form):
    year = forms.IntegerField(label=_("Year"), required=False)

    def clean_year(self) -> int:
        year = self.cleaned_data.get("year")
        current = timezone.localdate().year
        if year is None:
            return current
        if not FIRST_YEAR <= year <= current:
            raise forms.ValidationError(
                _("Choose a year between %(first)d and %(last)d.")
                % {"first": FIRST_YEAR, "last": current}
            )
        return int(year)


class OrgFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=[("", _("All kinds")), *OrgKind.choices]
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All")), *OrgStatus.choices]
    )

    def clean_q(self) -> str:
        # Full-width digits from a Chinese input method still find a division code.
        return _nfkc(self.cleaned_data.get("q", ""))


class OrgForm(forms.Form):
    """Create (under a parent) or edit one organisation. Names and codes are checked by the service,
    so its messages (and the checksum-override flow) reach the user unchanged."""

    kind = forms.ChoiceField(label=_("Kind"), choices=OrgKind.choices)
    # No max_length here: the service says what is wrong with a name, in its own words.
    name = forms.CharField(label=_("Name"), required=False)
    short_name = forms.CharField(label=_("Short name"), required=False, max_length=40)
    division_code = forms.CharField(
        label=_("Administrative division code"), required=False, max_length=30
    )
    uscc = forms.CharField(label=_("Unified social credit code"), required=False, max_length=40)
    uscc_override_reason = forms.CharField(
        label=_("Reason for accepting a code that fails its checksum"),
        required=False,
        max_length=200,
    )
    address = forms.CharField(label=_("Address"), required=False, max_length=200)
    founded_on = forms.DateField(
        label=_("Founded on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    chair_name = forms.CharField(label=_("Chair"), required=False, max_length=50)
    contact_name = forms.CharField(label=_("Contact person"), required=False, max_length=50)
    contact_phone = forms.CharField(label=_("Contact phone"), required=False, max_length=20)

    def __init__(self, *args: Any, kinds: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["kind"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(k.value, k.label) for k in OrgKind if k.value in kinds]

    @staticmethod
    def initial_for(org: Org) -> dict[str, Any]:
        initial = {f: getattr(org, f) for f in EDITABLE_FIELDS}
        initial["uscc_override_reason"] = org.uscc_override_reason
        return initial

    def service_fields(self) -> dict[str, Any]:
        data = {f: self.cleaned_data.get(f) for f in EDITABLE_FIELDS}
        for key, value in data.items():
            if value is None and key != "founded_on":
                data[key] = ""
        return data

    @property
    def needs_override(self) -> bool:
        """Show the override reason: the checksum failed, or a reason was already given."""
        return bool(
            getattr(self, "_checksum_failed", False)
            or (self.is_bound and self.data.get("uscc_override_reason"))
            or (not self.is_bound and self.initial.get("uscc_override_reason"))
        )

    def add_application_error(self, exc: ApplicationError) -> None:
        field = exc.field
        if field is None and exc.code.startswith("division_"):
            field = "division_code"
        if exc.code == "uscc_checksum":
            self._checksum_failed = True
        apply_error(self, exc, fields={"": field} if field else None)


class MoveForm(forms.Form):
    new_parent = forms.ModelChoiceField(
        label=_("New parent organisation"), queryset=Org.objects.none()
    )
    reason = forms.CharField(label=_("Reason"), required=False, max_length=300)

    def __init__(self, *args: Any, targets: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["new_parent"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = targets

    def add_application_error(self, exc: ApplicationError) -> None:
        apply_error(self, exc, fields={"parent": "new_parent"})


class DissolveForm(forms.Form):
    on = forms.DateField(
        label=_("Dissolved on"), widget=forms.DateInput(attrs={"type": "date"}), required=True
    )
    reason = forms.CharField(
        label=_("Reason"), required=False, max_length=300, widget=forms.Textarea({"rows": 3})
    )

    def clean_on(self) -> Any:
        on = self.cleaned_data["on"]
        if on > timezone.localdate():
            raise forms.ValidationError(_("The dissolution date cannot be in the future."))
        return on

    def add_application_error(self, exc: ApplicationError) -> None:
        apply_error(self, exc)


class AuditFilterForm(forms.Form):
    actor = forms.CharField(label=_("User name"), required=False, max_length=150)
    action = forms.ChoiceField(
        label=_("Action"), required=False, choices=[("", _("All actions")), *AuditAction.choices]
    )
    object_type = forms.CharField(label=_("Object type"), required=False, max_length=60)
    object_id = forms.CharField(label=_("Object id"), required=False, max_length=40)
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    q = forms.CharField(label=_("Object or reason contains"), required=False, max_length=200)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError(_("The start date is after the end date."))
        return data

    def filters(self) -> AuditFilters:
        d = self.cleaned_data
        return AuditFilters(
            actor=d.get("actor", "").strip(),
            action=d.get("action", ""),
            object_type=d.get("object_type", "").strip(),
            object_id=d.get("object_id", "").strip(),
            date_from=d.get("date_from"),
            date_to=d.get("date_to"),
            text=d.get("q", "").strip(),
        )
