"""Forms of the benefits console and the public notice: they parse input (yuan → fen, dates,
choices); the services decide what is allowed and say so in their own words.

A service stops at the first thing wrong. So that a form names every wrong field at once (not
one per submit), the forms also run the services' own field checks (``clean_text``,
``clean_name``, ``clean_phone``, the campaign's ranges and orders) before the service runs them
again; the messages are the services' messages.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from django import forms
from django.core.validators import ProhibitNullCharactersValidator
from django.db.models import Min
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from gonghui.benefits.models import (
    MAX_FACE_VALUE_FEN,
    MAX_PER_MEMBER,
    MAX_QUOTA,
    Campaign,
    CampaignStatus,
    Distribution,
    Merchant,
    Store,
)
from gonghui.benefits.services import (
    amount_limit_message,
    clean_text,
    limit_over_quota_message,
    lottery_limit_message,
    split_mismatch_message,
    yuan_to_fen,
)
from gonghui.core.errors import ApplicationError
from gonghui.core.forms import apply_error
from gonghui.members.models import WorkerCategory
from gonghui.members.sensitive import clean_name, clean_phone
from gonghui.orgs.models import Org

MONEY_FIELDS = {
    "face_value": "face_value_fen",
    "subsidy": "subsidy_fen",
    "member_share": "member_share_fen",
    "concession": "concession_fen",
    "min_purchase": "min_purchase_fen",
}
SPLIT_FIELDS = ("face_value", "subsidy", "member_share", "concession")  # must add up
DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def _nfkc(value: str | None) -> str:
    return unicodedata.normalize("NFKC", value or "").strip()


AMOUNT_MESSAGE = _("Enter an amount in yuan, e.g. 68 or 68.50.")
# A whole amount with more digits than ``yuan_to_fen`` reads: typed right, only far too large.
_LONG_AMOUNT = re.compile(r"¥?\d{10,}(?:\.\d{0,2})?元?")


class TextField(forms.CharField):
    """A CharField that refuses a NUL character in the services' words (Django's own zh-hans
    message for it says "empty string", which sends the user looking for the wrong thing) and says
    a length limit plainly."""

    def __init__(self, **kwargs: Any) -> None:
        # Django's own zh-hans length message reads "确保该变量包含不超过 100 字符": say it plainly.
        kwargs["error_messages"] = {
            "max_length": _("At most %(limit_value)d characters (this has %(show_value)d)."),
            **(kwargs.get("error_messages") or {}),
        }
        super().__init__(**kwargs)
        self.validators = [
            v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)
        ]
        self.validators.append(
            ProhibitNullCharactersValidator(
                message=_("The text contains characters that are not allowed.")
            )
        )


def _money_field(label: Any, help_text: Any = "") -> TextField:
    """An amount in yuan as typed; an over-long one gets the amount message, not a length one."""
    return TextField(
        label=label,
        required=False,
        max_length=20,
        help_text=help_text,
        error_messages={"max_length": AMOUNT_MESSAGE},
    )


def _service_check(check: Callable[[], Any]) -> Any:
    """Run one of the services' field checks; its refusal becomes the field's error."""
    try:
        return check()
    except ApplicationError as exc:
        raise forms.ValidationError(str(exc.message), code=exc.code) from None


def _between(value: int | None, low: int, high: int, message: str) -> int | None:
    if value is not None and not low <= value <= high:
        raise forms.ValidationError(message)
    return value


class ApplicationErrorForm(forms.Form):
    """A form that shows a service's ApplicationError next to the field it names."""

    field_aliases: dict[str, str] = {}

    def add_application_error(self, exc: ApplicationError) -> None:
        apply_error(self, exc, fields=self.field_aliases)


class CampaignFilterForm(forms.Form):
    q = TextField(label=_("Search"), required=False, max_length=100)
    org = forms.ModelChoiceField(
        label=_("Organising union"),
        required=False,
        queryset=Org.objects.none(),
        empty_label=_("All"),
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("All")), *CampaignStatus.choices]
    )
    kind = forms.ChoiceField(
        label=_("Hand-out"), required=False, choices=[("", _("All")), *Distribution.choices]
    )

    def __init__(self, *args: Any, orgs: Any, org_choices: list[Org], **kwargs: Any) -> None:
        """``orgs``: the unions the actor may see (a hand-edited link may name any of them);
        ``org_choices``: those the select offers (the ones organising a campaign)."""
        super().__init__(*args, **kwargs)
        field = self.fields["org"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = orgs
        chosen = str(self.data.get("org") or "") if self.is_bound else ""
        if chosen.isdigit() and len(chosen) < 19 and all(str(o.pk) != chosen for o in org_choices):
            # A union of the actor's without campaigns, named by a link: shown as chosen.
            org_choices = sorted([*org_choices, *orgs.filter(pk=chosen)], key=lambda o: o.path)
        top = min((o.depth for o in org_choices), default=0)
        # Indented by depth, so a county's sub-unions read as its own.
        field.widget.choices = [
            ("", field.empty_label),
            *((o.pk, "\u3000" * (o.depth - top) + o.name) for o in org_choices),
        ]

    def clean_q(self) -> str:
        return _nfkc(self.cleaned_data.get("q"))


class CampaignForm(ApplicationErrorForm):
    """Create or edit (a draft) campaign. Money is typed in yuan and handed on in fen."""

    field_aliases = {
        **{fen: name for name, fen in MONEY_FIELDS.items()},
        "distribution": "distribution",
    }

    # No max_length on texts: the service's check says what is wrong, in its own words.
    name = TextField(label=_("Name"), required=False)
    distribution = forms.ChoiceField(label=_("Hand-out"), choices=Distribution.choices)
    org = forms.ModelChoiceField(label=_("Organising union"), queryset=Org.objects.none())
    merchant = forms.ModelChoiceField(label=_("Merchant"), queryset=Merchant.objects.none())
    stores = forms.ModelMultipleChoiceField(
        label=_("Stores"),
        queryset=Store.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    face_value = _money_field(_("Face value (yuan)"))
    subsidy = _money_field(_("Union subsidy (yuan)"))
    member_share = _money_field(_("Member pays (yuan)"))
    concession = _money_field(_("Merchant concession (yuan)"))
    min_purchase = _money_field(
        _("Minimum purchase (yuan)"),
        _(
            "The till refuses a voucher on a smaller purchase, usually the face value. "
            "Empty: any purchase."
        ),
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
    excluded_goods = TextField(
        label=_("Excluded goods"), required=False, widget=forms.Textarea({"rows": 3})
    )
    terms = TextField(label=_("Terms"), required=False, widget=forms.Textarea({"rows": 4}))
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
        self.campaign = campaign
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
        # The unions as a tree (the queryset is in path order): a county's base unions read as its
        # own, indented under it, not as one flat list of hundreds of names.
        top = orgs.aggregate(top=Min("depth"))["top"] or 0
        for name in ("org", "eligible_org"):
            self.fields[name].label_from_instance = (  # type: ignore[attr-defined]
                lambda o: "\u3000" * (o.depth - top) + o.name
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
        if not campaign.min_purchase_fen:
            initial["min_purchase"] = ""  # no minimum: the field stays empty, as it was typed
        return initial

    def _clean_money(self, name: str) -> int:
        raw = self.cleaned_data.get(name)
        too_large = forms.ValidationError(amount_limit_message(MONEY_FIELDS[name]), code="range")
        try:
            fen = yuan_to_fen(raw, field=name)
        except ApplicationError as exc:
            if _LONG_AMOUNT.fullmatch(_nfkc(raw).replace(",", "")):
                raise too_large from None
            raise forms.ValidationError(str(exc.message), code=exc.code) from None
        if fen > MAX_FACE_VALUE_FEN:
            raise too_large
        return fen

    def clean_face_value(self) -> int:
        return self._clean_money("face_value")

    def clean_subsidy(self) -> int:
        return self._clean_money("subsidy")

    def clean_member_share(self) -> int:
        return self._clean_money("member_share")

    def clean_concession(self) -> int:
        return self._clean_money("concession")

    def clean_min_purchase(self) -> int:
        if not _nfkc(self.cleaned_data.get("min_purchase")):
            return 0  # no minimum
        return self._clean_money("min_purchase")

    # The service's checks, repeated here so that every wrong field is named at once.

    def clean_name(self) -> str:
        value = self.cleaned_data.get("name")
        return str(_service_check(lambda: clean_text(value, field="name", max_length=100)))

    def clean_excluded_goods(self) -> str:
        value = self.cleaned_data.get("excluded_goods")
        return str(
            _service_check(
                lambda: clean_text(
                    value, field="excluded_goods", max_length=2000, required=False, multiline=True
                )
            )
        )

    def clean_terms(self) -> str:
        value = self.cleaned_data.get("terms")
        return str(
            _service_check(
                lambda: clean_text(
                    value, field="terms", max_length=5000, required=False, multiline=True
                )
            )
        )

    def clean_quota(self) -> int | None:
        return _between(
            self.cleaned_data.get("quota"),
            1,
            MAX_QUOTA,
            gettext("The number of vouchers must be between 1 and %(n)d.") % {"n": MAX_QUOTA},
        )

    def clean_per_member_limit(self) -> int | None:
        return _between(
            self.cleaned_data.get("per_member_limit"),
            1,
            MAX_PER_MEMBER,
            gettext("Vouchers per member must be between 1 and %(n)d.") % {"n": MAX_PER_MEMBER},
        )

    def clean_notice_days(self) -> int | None:
        return _between(
            self.cleaned_data.get("notice_days"),
            1,
            60,
            gettext("The public notice runs 1 to 60 days."),
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self._check_split(data)
        self._check_times(data)
        quota, limit = data.get("quota"), data.get("per_member_limit")
        if quota is not None and limit is not None and limit > quota:
            self.add_error("per_member_limit", limit_over_quota_message(quota))
        elif data.get("distribution") == Distribution.LOTTERY and limit not in (None, 1):
            self.add_error("per_member_limit", lottery_limit_message())
        if self.campaign is None and "stores" in data and "merchant" in data:
            stores = list(data["stores"] or [])
            if not stores:
                self.add_error("stores", gettext("Choose at least one store."))
            elif data["merchant"] and any(s.merchant_id != data["merchant"].pk for s in stores):
                self.add_error(
                    "stores", gettext("Every store must belong to the campaign's merchant.")
                )
        return data

    def _check_split(self, data: dict[str, Any]) -> None:
        if any(name not in data for name in SPLIT_FIELDS):
            return  # an amount is already refused; its own message says why
        face, subsidy = data["face_value"], data["subsidy"]
        share, concession = data["member_share"], data["concession"]
        if face <= 0:
            self.add_error("face_value", gettext("The face value must be more than zero."))
        elif subsidy + share + concession != face:
            self.add_error(
                "subsidy",
                split_mismatch_message(
                    face_value_fen=face,
                    subsidy_fen=subsidy,
                    member_share_fen=share,
                    concession_fen=concession,
                ),
            )

    def _check_times(self, data: dict[str, Any]) -> None:
        release: dt.datetime | None = data.get("release_at")
        start: dt.datetime | None = data.get("redeem_from")
        end: dt.datetime | None = data.get("redeem_until")
        if data.get("distribution") == Distribution.LOTTERY and "registration_closes_at" in data:
            closes: dt.datetime | None = data.get("registration_closes_at")
            if closes is None:
                self.add_error(
                    "registration_closes_at",
                    gettext("A lottery needs the time registration closes."),
                )
            elif release is not None and closes <= release:
                self.add_error(
                    "registration_closes_at", gettext("Registration must close after it opens.")
                )
            elif end is not None and closes > end:
                self.add_error(
                    "registration_closes_at",
                    gettext("Registration must close before the redemption window ends."),
                )
            elif start is not None and start < closes:
                self.add_error(
                    "redeem_from",
                    gettext(
                        "A lottery's redemption window can start only when registration has closed."
                    ),
                )
        if end is None:
            return
        if start is not None and end <= start:
            self.add_error(
                "redeem_until", gettext("The redemption window must end after it starts.")
            )
        elif release is not None and end <= release:
            self.add_error(
                "redeem_until", gettext("The redemption window must end after the release time.")
            )
        elif end <= timezone.now():
            # Saved, it could never be scheduled: say so while the dates are being typed.
            self.add_error(
                "redeem_until",
                gettext("The redemption window has already ended; change the dates first."),
            )

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
    reason = TextField(
        label=_("Reason"),
        required=False,
        help_text=_("Members holding a voucher of this campaign see it on the voucher."),
        widget=forms.Textarea({"rows": 2, "maxlength": 300}),
    )


class CloseForm(ApplicationErrorForm):
    reason = TextField(
        label=_("Why close it now"),
        required=False,
        help_text=_("Members holding a voucher not yet used see it on the voucher."),
        widget=forms.Textarea({"rows": 2, "maxlength": 300}),
    )


class SettlementUploadForm(ApplicationErrorForm):
    register = forms.FileField(label=_("Register (xlsx, from the template)"))
    invoice = forms.FileField(label=_("Invoice (PDF, PNG or JPEG)"))

    def clean_register(self) -> Any:
        f = self.cleaned_data["register"]
        # A spreadsheet's other formats go on to the service, which reads what the file is and
        # says what to do (save an .xls, .et or CSV as .xlsx; remove the macros).
        if not str(f.name or "").lower().endswith((".xlsx", ".xls", ".et", ".csv", ".xlsm")):
            raise forms.ValidationError(
                _("The register is not an Excel (.xlsx) file; use the template.")
            )
        return f


class NoticePublishForm(ApplicationErrorForm):
    field_aliases = {"days": "days"}
    days = forms.IntegerField(label=_("Days on public notice"))


class ApproveForm(ApplicationErrorForm):
    """Approving a settlement. Where the store's register and our records differ, the approver
    says why (the reason goes to the audit line); a clean match needs no words."""

    reason = TextField(
        label=_("Why approve despite the differences"),
        required=False,
        widget=forms.Textarea({"rows": 2, "maxlength": 300}),
    )

    def __init__(self, *args: Any, differences: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.differences = differences

    def clean_reason(self) -> str:
        value = self.cleaned_data.get("reason")
        if self.differences and not (value or "").strip():
            raise forms.ValidationError(
                _("The register and our records differ; say why you approve anyway."),
                code="reason_empty",
            )
        return str(
            _service_check(
                lambda: clean_text(
                    value, field="reason", max_length=300, required=False, multiline=True
                )
            )
        )


class ResolveForm(ApplicationErrorForm):
    resolution = TextField(label=_("Answer"), required=False, widget=forms.Textarea({"rows": 2}))


class PublicSearchForm(forms.Form):
    """The public index's search: a name (campaign, merchant or union) and what to show."""

    q = TextField(label=_("Search"), required=False, max_length=100)
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


class NoticeListForm(forms.Form):
    """The public notice list's filters: one store, one day (each optional)."""

    store = forms.TypedChoiceField(label=_("Store"), required=False, coerce=int, empty_value=None)
    day = forms.TypedChoiceField(
        label=_("Date"), required=False, coerce=dt.date.fromisoformat, empty_value=None
    )

    def __init__(self, data: Any, *, stores: list[tuple[int, str]], days: list[dt.date]) -> None:
        super().__init__(data)
        store_field = self.fields["store"]
        day_field = self.fields["day"]
        assert isinstance(store_field, forms.TypedChoiceField)
        assert isinstance(day_field, forms.TypedChoiceField)
        store_field.choices = [("", _("All stores")), *stores]
        day_field.choices = [("", _("All days")), *[(d.isoformat(), d.isoformat()) for d in days]]


class WinnerLookupForm(forms.Form):
    """The lottery page's "did registration N win?" (a number as typed: NFKC, spaces, "#")."""

    number = TextField(
        label=_("Registration number"),
        required=False,
        max_length=30,
        widget=forms.TextInput({"inputmode": "numeric", "autocomplete": "off"}),
    )

    def clean_number(self) -> int | None:
        text = "".join(_nfkc(self.cleaned_data.get("number")).split()).lstrip("#")
        if not text:
            return None
        if not re.fullmatch(r"[0-9]{1,12}", text, flags=re.ASCII):
            raise forms.ValidationError(
                _("A registration number is a whole number of up to 12 digits, e.g. 1024."),
                code="number",
            )
        return int(text)


class ObjectionForm(ApplicationErrorForm):
    """The public objection form. Each field is checked by the service's own check (so every
    wrong field is named at once, in the service's words); ``objection_submit`` checks again."""

    name = TextField(
        label=_("Your name"), required=False, widget=forms.TextInput({"maxlength": 50})
    )
    phone = TextField(
        label=_("Mobile phone"),
        required=False,
        widget=forms.TextInput({"maxlength": 20, "inputmode": "tel", "autocomplete": "tel"}),
    )
    text = TextField(
        label=_("Your objection"),
        required=False,
        widget=forms.Textarea({"rows": 4, "maxlength": 2000}),
    )

    def clean_name(self) -> str:
        value = self.cleaned_data.get("name")
        return str(_service_check(lambda: clean_name(value)))

    def clean_phone(self) -> str:
        value = self.cleaned_data.get("phone")
        return str(_service_check(lambda: clean_phone(value)))

    def clean_text(self) -> str:
        value = self.cleaned_data.get("text")
        if not str(value or "").strip():
            raise forms.ValidationError(_("Write what you object to."), code="text_required")
        return str(
            _service_check(lambda: clean_text(value, field="text", max_length=2000, multiline=True))
        )
