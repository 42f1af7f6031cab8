"""Forms of the benefits console and the public notice: they parse input (yuan → fen, dates,
choices); the services decide what is allowed and say so in their own words."""

from __future__ import annotations

import unicodedata
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from gonghui.benefits.models import Campaign, CampaignStatus, Distribution, Merchant, Store
from gonghui.benefits.services import yuan_to_fen
from gonghui.core.errors import ApplicationError
from gonghui.core.forms import apply_error
from gonghui.members.models import WorkerCategory
from gonghui.orgs.models import Org

MONEY_FIELDS = {
    "face_value": "face_value_fen",
    "subsidy": "subsidy_fen",
    "member_share": "member_share_fen",
    "concession": "concession_fen",
}
DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def _nfkc(value: str | None) -> str:
    return unicodedata.normalize("NFKC", value or "").strip()


class ApplicationErrorForm(forms.Form):
    """A form that shows a service's ApplicationError next to the field it names."""

    field_aliases: dict[str, str] = {}

    def add_application_error(self, exc: ApplicationError) -> None:
        apply_error(self, exc, fields=self.field_aliases)


class CampaignFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All")), *CampaignStatus.choices]
    )
    kind = forms.ChoiceField(
        label=_("Hand-out"), required=False, choices=[("", _("All")), *Distribution.choices]
    )

    def clean_q(self) -> str:
        return _nfkc(self.cleaned_data.get("q"))


class CampaignForm(ApplicationErrorForm):
    """Create or edit (a draft) campaign. Money is typed in yuan and handed on in fen."""

    field_aliases = {
        **{fen: name for name, fen in MONEY_FIELDS.items()},
        "distribution": "distribution",
    }

    # No max_length on texts: the service says what is wrong, in its own words.
    name = forms.CharField(label=_("Name"), required=False)
    distribution = forms.ChoiceField(label=_("Hand-out"), choices=Distribution.choices)
    org = forms.ModelChoiceField(label=_("Organising union"), queryset=Org.objects.none())
    merchant = forms.ModelChoiceField(label=_("Merchant"), queryset=Merchant.objects.none())
    stores = forms.ModelMultipleChoiceField(
        label=_("Stores"),
        queryset=Store.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    face_value = forms.CharField(label=_("Face value (yuan)"), required=False, max_length=20)
    subsidy = forms.CharField(label=_("Union subsidy (yuan)"), required=False, max_length=20)
    member_share = forms.CharField(label=_("Member pays (yuan)"), required=False, max_length=20)
    concession = forms.CharField(
        label=_("Merchant concession (yuan)"), required=False, max_length=20
    )
    quota = forms.IntegerField(label=_("Vouchers"))
    per_member_limit = forms.IntegerField(label=_("Vouchers per member"), initial=1)
    eligible_org = forms.ModelChoiceField(
        label=_("For members of"),
        queryset=Org.objects.none(),
        required=False,
        help_text=_("Empty: every member of the organising union's subtree."),
    )
    require_member_card = forms.BooleanField(
        label=_("Union member card required"), required=False, initial=True
    )
    card_banks = forms.MultipleChoiceField(
        label=_("Issuing banks"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Empty: a member card of any bank."),
    )
    categories = forms.MultipleChoiceField(
        label=_("Worker categories"),
        required=False,
        choices=WorkerCategory.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Empty: every category."),
    )
    release_at = forms.DateTimeField(label=_("Release time"), widget=DATETIME_WIDGET)
    registration_closes_at = forms.DateTimeField(
        label=_("Lottery registration closes"),
        required=False,
        widget=DATETIME_WIDGET,
        help_text=_("Lottery only: registration runs from the release time to this time."),
    )
    redeem_from = forms.DateTimeField(label=_("Redeemable from"), widget=DATETIME_WIDGET)
    redeem_until = forms.DateTimeField(label=_("Redeemable until"), widget=DATETIME_WIDGET)
    excluded_goods = forms.CharField(
        label=_("Excluded goods"), required=False, widget=forms.Textarea({"rows": 3})
    )
    terms = forms.CharField(label=_("Terms"), required=False, widget=forms.Textarea({"rows": 4}))
    notice_days = forms.IntegerField(label=_("Public notice days"), initial=5)

    def __init__(
        self,
        *args: Any,
        orgs: Any,
        merchants: Any,
        stores: Any,
        banks: list[str],
        campaign: Campaign | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._set_queryset("org", orgs)
        self._set_queryset("eligible_org", orgs)
        self._set_queryset("merchant", merchants)
        self._set_queryset("stores", stores)
        banks_field = self.fields["card_banks"]
        assert isinstance(banks_field, forms.MultipleChoiceField)
        chosen = list(campaign.card_banks) if campaign else []
        banks_field.choices = [(b, b) for b in sorted(set(banks) | set(chosen))]
        self.fields["stores"].label_from_instance = (  # type: ignore[attr-defined]
            lambda s: f"{s.merchant.name} · {s.name}"
        )
        if campaign is not None:
            # What was promised about who organises and where it is redeemed is fixed at creation.
            for name in ("org", "merchant", "stores"):
                self.fields[name].disabled = True
                self.fields[name].required = False

    def _set_queryset(self, name: str, qs: Any) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = qs

    @staticmethod
    def initial_for(campaign: Campaign) -> dict[str, Any]:
        def yuan(fen: int) -> str:
            return f"{fen // 100}.{fen % 100:02d}"

        initial: dict[str, Any] = {
            f: getattr(campaign, f)
            for f in (
                "name",
                "distribution",
                "quota",
                "per_member_limit",
                "require_member_card",
                "card_banks",
                "categories",
                "release_at",
                "registration_closes_at",
                "redeem_from",
                "redeem_until",
                "excluded_goods",
                "terms",
                "notice_days",
            )
        }
        initial.update(
            org=campaign.org_id,
            merchant=campaign.merchant_id,
            stores=list(campaign.stores.values_list("pk", flat=True)),
            eligible_org=campaign.eligible_org_id,
        )
        for name, fen_field in MONEY_FIELDS.items():
            initial[name] = yuan(getattr(campaign, fen_field))
        return initial

    def _clean_money(self, name: str) -> int:
        try:
            return yuan_to_fen(self.cleaned_data.get(name), field=name)
        except ApplicationError as exc:
            raise forms.ValidationError(str(exc.message), code=exc.code) from None

    def clean_face_value(self) -> int:
        return self._clean_money("face_value")

    def clean_subsidy(self) -> int:
        return self._clean_money("subsidy")

    def clean_member_share(self) -> int:
        return self._clean_money("member_share")

    def clean_concession(self) -> int:
        return self._clean_money("concession")

    def service_fields(self) -> dict[str, Any]:
        """The keyword arguments of ``campaign_create`` / ``campaign_update`` (fen, not yuan)."""
        data = self.cleaned_data
        fields: dict[str, Any] = {fen: data[name] for name, fen in MONEY_FIELDS.items()}
        for f in (
            "name",
            "distribution",
            "quota",
            "per_member_limit",
            "eligible_org",
            "require_member_card",
            "card_banks",
            "categories",
            "release_at",
            "registration_closes_at",
            "redeem_from",
            "redeem_until",
            "excluded_goods",
            "terms",
            "notice_days",
        ):
            fields[f] = data.get(f)
        fields["name"] = fields["name"] or ""
        fields["card_banks"] = list(fields["card_banks"] or [])
        fields["categories"] = list(fields["categories"] or [])
        return fields


class CancelForm(ApplicationErrorForm):
    reason = forms.CharField(
        label=_("Reason"), required=False, widget=forms.Textarea({"rows": 2, "maxlength": 300})
    )


class SettlementUploadForm(ApplicationErrorForm):
    register = forms.FileField(label=_("Register (xlsx, from the template)"))
    invoice = forms.FileField(label=_("Invoice (PDF, PNG or JPEG)"))

    def clean_register(self) -> Any:
        f = self.cleaned_data["register"]
        if not str(f.name or "").lower().endswith(".xlsx"):
            raise forms.ValidationError(
                _("The register is not an Excel (.xlsx) file; use the template.")
            )
        return f


class NoticePublishForm(ApplicationErrorForm):
    field_aliases = {"days": "days"}
    days = forms.IntegerField(label=_("Days on public notice"))


class ResolveForm(ApplicationErrorForm):
    resolution = forms.CharField(
        label=_("Answer"), required=False, widget=forms.Textarea({"rows": 2})
    )


class PublicSearchForm(forms.Form):
    """The public index's search: a name (campaign, merchant or union) and what to show."""

    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    kind = forms.ChoiceField(
        label=_("Show"),
        required=False,
        choices=[
            ("", _("All campaigns")),
            ("notice", _("Settlement notices running now")),
            ("lottery", _("Lottery draws")),
        ],
    )

    def clean_q(self) -> str:
        return _nfkc(self.cleaned_data.get("q"))


class ObjectionForm(ApplicationErrorForm):
    """The public objection form. Lengths are the service's business (it says what is wrong)."""

    name = forms.CharField(label=_("Your name"), required=False, max_length=200)
    phone = forms.CharField(label=_("Mobile phone"), required=False, max_length=200)
    text = forms.CharField(
        label=_("Your objection"), required=False, widget=forms.Textarea({"rows": 4})
    )
