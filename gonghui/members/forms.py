"""Forms for the member pages. They only parse input; the services validate and decide.

Fields are lenient on purpose (plain text, no length limits below what a hostile value needs):
the messages users see come from the services' ``ApplicationError`` and are shown next to the
field named by ``ApplicationError.field``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from gonghui.members.models import (
    Education,
    JoinStatus,
    MemberStatus,
    NewFormKind,
    PoliticalStatus,
    WorkerCategory,
)
from gonghui.orgs.models import Org

# Long enough for any real value; anything longer is cut before it reaches a query.
SEARCH_MAX = 100
TEXT_MAX = 200


def _blank(label: Any) -> list[tuple[str, Any]]:
    return [("", label)]


class OrgChoiceField(forms.ModelChoiceField):
    """A union shown with its place in the tree (indented by depth)."""

    def label_from_instance(self, obj: Org) -> str:
        return "\u3000" * max(obj.depth, 0) + obj.name


class MemberFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False)
    org = OrgChoiceField(label=_("Union"), queryset=Org.objects.none(), required=False)
    category = forms.ChoiceField(
        label=_("Worker category"),
        required=False,
        choices=_blank(_("All categories")) + list(WorkerCategory.choices),
    )
    new_form_kind = forms.ChoiceField(
        label=_("New-form worker kind"),
        required=False,
        choices=_blank(_("All kinds")) + list(NewFormKind.choices),
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=_blank(_("Any status")) + list(MemberStatus.choices),
    )
    year = forms.TypedChoiceField(
        label=_("Joined in"), required=False, coerce=int, empty_value=None, choices=()
    )

    def __init__(self, *args: Any, orgs: QuerySet[Org], years: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org"].queryset = orgs  # type: ignore[attr-defined]
        self.fields["org"].empty_label = _("All visible unions")  # type: ignore[attr-defined]
        self.fields["year"].choices = _blank(_("Any year")) + [  # type: ignore[attr-defined]
            (str(y), str(y)) for y in years
        ]
        self.fields["q"].widget.input_type = "search"  # type: ignore[attr-defined]
        self.fields["q"].widget.attrs.update(
            {
                "placeholder": _("Name, initials (wxm), phone or ID tail"),
                "autocomplete": "off",
            }
        )

    def clean_q(self) -> str:
        return " ".join(str(self.cleaned_data.get("q") or "").split())[:SEARCH_MAX]

    def valid_values(self) -> dict[str, Any]:
        """Every field that parsed; a bad value (unknown union, year "abc") is simply dropped."""
        self.is_valid()
        return {k: v for k, v in self.cleaned_data.items() if k not in self.errors}


class ProfileForm(forms.Form):
    """Plain profile fields, shared by create and edit."""

    name = forms.CharField(label=pgettext_lazy("person", "Name"), max_length=TEXT_MAX)
    phone = forms.CharField(label=_("Mobile number"), required=False, max_length=40)
    employer = forms.CharField(label=_("Employer"), required=False, max_length=TEXT_MAX)
    category = forms.ChoiceField(label=_("Worker category"), choices=WorkerCategory.choices)
    new_form_kind = forms.ChoiceField(
        label=_("New-form worker kind"),
        required=False,
        choices=_blank(_("— not a new-form worker —")) + list(NewFormKind.choices),
        help_text=_("Only for new-form workers."),
    )
    education = forms.ChoiceField(
        label=_("Education"),
        required=False,
        choices=_blank(_("— not given —")) + list(Education.choices),
    )
    political_status = forms.ChoiceField(
        label=_("Political status"),
        required=False,
        choices=_blank(_("— not given —")) + list(PoliticalStatus.choices),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Let the service answer an empty name in its own words.
        self.fields["name"].required = False


class MemberCreateForm(ProfileForm):
    org = OrgChoiceField(label=_("Base union"), queryset=Org.objects.none())
    id_number = forms.CharField(label=_("Identity number"), required=False, max_length=40)
    joined_on = forms.DateField(label=_("Joined on"), required=False)
    card_number = forms.CharField(
        label=_("Member card number"),
        required=False,
        max_length=40,
        help_text=_("Optional. The union member service card (bank debit card)."),
    )

    field_order = [
        "org",
        "name",
        "id_number",
        "phone",
        "employer",
        "category",
        "new_form_kind",
        "education",
        "political_status",
        "joined_on",
        "card_number",
    ]

    def __init__(self, *args: Any, orgs: QuerySet[Org], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org"].queryset = orgs  # type: ignore[attr-defined]
        self.fields["joined_on"].widget = forms.DateInput(attrs={"type": "date"})
        self.fields["joined_on"].initial = timezone.localdate


class TransferForm(forms.Form):
    to_org = OrgChoiceField(label=_("To base union"), queryset=Org.objects.none())
    on = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label=_("Reason"), required=False, max_length=TEXT_MAX)

    def __init__(self, *args: Any, orgs: QuerySet[Org], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to_org"].queryset = orgs  # type: ignore[attr-defined]
        self.fields["on"].initial = timezone.localdate


class LeaveForm(forms.Form):
    on = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label=_("Reason"), required=False, max_length=TEXT_MAX)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["on"].initial = timezone.localdate


class RejoinForm(forms.Form):
    org = OrgChoiceField(label=_("Into base union"), queryset=Org.objects.none())
    on = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label=_("Reason"), required=False, max_length=TEXT_MAX)

    def __init__(self, *args: Any, orgs: QuerySet[Org], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["org"].queryset = orgs  # type: ignore[attr-defined]
        self.fields["on"].initial = timezone.localdate


class CardForm(forms.Form):
    card_number = forms.CharField(label=_("Member card number"), required=False, max_length=40)


class RevealForm(forms.Form):
    field = forms.ChoiceField(
        label=_("Number"),
        choices=[("id_number", _("Identity number")), ("card_number", _("Card number"))],
    )
    reason = forms.CharField(
        label=_("Why do you need the full number?"), required=False, max_length=TEXT_MAX
    )


class JoinStatusFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=_blank(_("Any status")) + list(JoinStatus.choices),
    )


class JoinDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[(JoinStatus.APPROVED, _("Approve")), (JoinStatus.REJECTED, _("Reject"))]
    )
    reason = forms.CharField(label=_("Reason"), required=False, max_length=TEXT_MAX)


# --- Member (mobile) forms ---------------------------------------------------------------------


class PhoneForm(forms.Form):
    phone = forms.CharField(label=_("Mobile number"), required=False, max_length=40)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["phone"].widget.attrs.update(
            {"inputmode": "tel", "autocomplete": "tel", "placeholder": "13800000000"}
        )


class CodeForm(PhoneForm):
    code = forms.CharField(label=_("Code from the text message"), required=False, max_length=40)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["phone"].widget = forms.HiddenInput()
        self.fields["code"].widget.attrs.update(
            {"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": "6"}
        )


class JoinForm(forms.Form):
    name = forms.CharField(
        label=pgettext_lazy("person", "Name"), required=False, max_length=TEXT_MAX
    )
    id_number = forms.CharField(label=_("Identity number"), required=False, max_length=40)
    phone = forms.CharField(label=_("Mobile number"), required=False, max_length=40)
    employer = forms.CharField(label=_("Employer"), required=False, max_length=TEXT_MAX)
    category = forms.ChoiceField(
        label=_("Worker category"), choices=WorkerCategory.choices, initial=WorkerCategory.EMPLOYEE
    )
    new_form_kind = forms.ChoiceField(
        label=_("New-form worker kind"),
        required=False,
        choices=_blank(_("— not a new-form worker —")) + list(NewFormKind.choices),
        help_text=_(
            "Only for new-form workers: truck driver, ride-hailing driver, courier, rider."
        ),
    )
    consent = forms.BooleanField(
        label=_(
            "I agree that the union processes my name, identity number, mobile number and "
            "employer to handle my membership, as the Personal Information Protection Law allows."
        ),
        required=True,
        error_messages={
            "required": _("Please agree to the processing of your personal information to join.")
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["id_number"].widget.attrs.update({"autocomplete": "off", "maxlength": "22"})
        self.fields["phone"].widget.attrs.update({"inputmode": "tel", "autocomplete": "tel"})
        self.fields["name"].widget.attrs.update({"autocomplete": "name"})
