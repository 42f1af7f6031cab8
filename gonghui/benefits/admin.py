"""Benefits registries in the admin, scoped like the rest.

Merchants, stores and clerk accounts are added through their services; campaigns, vouchers and
redemptions are read-only here (campaigns change in the console, through the services, where every
status move is recorded). Voucher codes are bearer tokens: the admin shows only their last six
characters.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from gonghui.accounts.scoping import scoped
from gonghui.benefits.models import (
    MANAGE_BENEFITS,
    Campaign,
    CampaignStatusChange,
    Merchant,
    MerchantClerk,
    Redemption,
    Store,
    Voucher,
    VoucherStatusChange,
)
from gonghui.benefits.services import (
    fen_yuan,
    merchant_clerk_create,
    merchant_clerk_update,
    merchant_create,
    merchant_update,
    store_create,
    store_update,
)
from gonghui.core.admin_base import (
    ReadOnlyInline,
    ScopedModelAdmin,
    ScopedOrgListFilter,
    ServiceForm,
)


def _scoped_merchants(request: HttpRequest) -> Any:
    return scoped(Merchant.objects.filter(is_active=True), actor=request.user)


class MerchantForm(ServiceForm):
    class Meta:
        model = Merchant
        fields = (
            "org",
            "name",
            "uscc",
            "settlement_account_name",
            "settlement_bank",
            "settlement_account_no",
            "is_active",
        )

    def run_service(self) -> Merchant:
        data = self.cleaned_data
        if self.instance.pk:
            return merchant_update(
                actor=self.request.user,
                merchant=self.instance,
                name=data.get("name", ""),
                uscc=data.get("uscc", ""),
                settlement_account_name=data.get("settlement_account_name", ""),
                settlement_bank=data.get("settlement_bank", ""),
                settlement_account_no=data.get("settlement_account_no", ""),
                is_active=bool(data.get("is_active")),
            )
        return merchant_create(
            actor=self.request.user,
            org=data["org"],
            name=data.get("name", ""),
            uscc=data.get("uscc", ""),
            settlement_account_name=data.get("settlement_account_name", ""),
            settlement_bank=data.get("settlement_bank", ""),
            settlement_account_no=data.get("settlement_account_no", ""),
        )


class StoreInline(ReadOnlyInline):
    model = Store
    fields = ("name", "address", "is_active")
    readonly_fields = fields


@admin.register(Merchant)
class MerchantAdmin(ScopedModelAdmin):
    form = MerchantForm
    add_capability = MANAGE_BENEFITS
    change_capability = MANAGE_BENEFITS
    list_display = ("name", "org", "settlement_bank", "is_active", "created_at")
    list_filter = ("is_active", ("org", ScopedOrgListFilter))
    search_fields = ("name", "uscc")
    list_select_related = ("org",)
    inlines = (StoreInline,)

    def get_inlines(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.inlines if obj is not None else ()

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(MerchantForm.Meta.fields)
        return fields if obj is not None else [f for f in fields if f != "is_active"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The union a merchant belongs to is fixed; everything else goes through merchant_update.
        return ("org",) if obj is not None else ()


class StoreForm(ServiceForm):
    class Meta:
        model = Store
        fields = ("merchant", "name", "address", "is_active")

    def run_service(self) -> Store:
        data = self.cleaned_data
        if self.instance.pk:
            return store_update(
                actor=self.request.user,
                store=self.instance,
                name=data.get("name", ""),
                address=data.get("address", ""),
                is_active=bool(data.get("is_active")),
            )
        return store_create(
            actor=self.request.user,
            merchant=data["merchant"],
            name=data.get("name", ""),
            address=data.get("address", ""),
        )


@admin.register(Store)
class StoreAdmin(ScopedModelAdmin):
    form = StoreForm
    org_field = "merchant__org"
    add_capability = MANAGE_BENEFITS
    change_capability = MANAGE_BENEFITS
    list_display = ("name", "merchant", "address", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name", "address", "merchant__name")
    list_select_related = ("merchant",)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.related_model is Merchant:
            kwargs["queryset"] = _scoped_merchants(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None:
            return ("merchant", "name", "address", "is_active")
        return ("merchant", "name", "address")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("merchant",) if obj is not None else ()


class MerchantClerkForm(ServiceForm):
    username = forms.CharField(label=_("User name"), max_length=150)
    password = forms.CharField(
        label=_("Password"), widget=forms.PasswordInput(render_value=False)
    )  # the policy (length, letters and digits, not common) is the service's: one message

    class Meta:
        model = MerchantClerk
        fields = ("merchant", "is_supervisor", "is_active")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:  # a change: no new user name or password here
            for name in ("username", "password"):
                self.fields.pop(name, None)

    def run_service(self) -> MerchantClerk:
        data = self.cleaned_data
        if self.instance.pk:
            return merchant_clerk_update(
                actor=self.request.user,
                clerk=self.instance,
                is_supervisor=bool(data.get("is_supervisor")),
                is_active=bool(data.get("is_active")),
            )
        return merchant_clerk_create(
            actor=self.request.user,
            merchant=data["merchant"],
            username=data["username"],
            password=data["password"],
            is_supervisor=bool(data.get("is_supervisor")),
        )


@admin.register(MerchantClerk)
class MerchantClerkAdmin(ScopedModelAdmin):
    form = MerchantClerkForm
    org_field = "merchant__org"
    add_capability = MANAGE_BENEFITS
    change_capability = MANAGE_BENEFITS
    list_display = ("user", "merchant", "is_supervisor", "is_active")
    list_filter = ("is_supervisor", "is_active")
    search_fields = ("user__username", "merchant__name")
    list_select_related = ("user", "merchant")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.related_model is Merchant:
            kwargs["queryset"] = _scoped_merchants(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None:
            return ("user", "merchant", "is_supervisor", "is_active")
        return ("merchant", "username", "password", "is_supervisor")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("user", "merchant") if obj is not None else ()


class StatusChangeInline(ReadOnlyInline):
    model = CampaignStatusChange
    fields = ("at", "old", "new", "actor_label", "reason_code", "reason")
    readonly_fields = fields
    verbose_name_plural = _("status history")


def _yuan_column(field: str, label: Any, *, none: int | None = None) -> Any:
    """A read-only column showing the integer fen ``field`` in yuan ("100.00"), as the console
    does; ``none``: the value that means "not set", shown as a dash."""

    @admin.display(description=label)
    def column(self: Any, obj: Any) -> str:
        value = getattr(obj, field)
        return "—" if value == none else fen_yuan(value)

    return column


@admin.register(Campaign)
class CampaignAdmin(ScopedModelAdmin):
    """Read-only: a campaign changes only through the console's services."""

    list_display = ("name", "org", "merchant", "distribution", "status", "release_at", "quota")
    list_filter = ("status", "distribution", ("org", ScopedOrgListFilter))
    search_fields = ("name", "merchant__name")
    list_select_related = ("org", "merchant")
    inlines = (StatusChangeInline,)
    # Money in yuan and the card banks as words, as on the console's pages (not fen, not JSON).
    fields = (
        "console_link",
        "org",
        "name",
        "merchant",
        "stores",
        "distribution",
        "status",
        "face_value_yuan",
        "subsidy_yuan",
        "member_share_yuan",
        "concession_yuan",
        "min_purchase_yuan",
        "quota",
        "per_member_limit",
        "eligible_org",
        "require_member_card",
        "card_banks_text",
        "categories_text",
        "release_at",
        "registration_closes_at",
        "redeem_from",
        "redeem_until",
        "excluded_goods",
        "terms",
        "notice_days",
        "seed_hash",
        "seed_committed_at",
        "seed",
        "drawn_at",
        "created_by",
        "created_at",
    )
    readonly_fields = fields

    face_value_yuan = _yuan_column("face_value_fen", _("Face value (yuan)"))
    subsidy_yuan = _yuan_column("subsidy_fen", _("Union subsidy (yuan)"))
    member_share_yuan = _yuan_column("member_share_fen", _("Member pays (yuan)"))
    concession_yuan = _yuan_column("concession_fen", _("Merchant concession (yuan)"))
    min_purchase_yuan = _yuan_column("min_purchase_fen", _("Minimum purchase (yuan)"), none=0)

    @admin.display(description=_("Card issuing banks"))
    def card_banks_text(self, obj: Campaign) -> str:
        return "、".join(obj.card_banks or []) or "—"

    @admin.display(description=_("Worker categories"))
    def categories_text(self, obj: Campaign) -> str:
        from gonghui.members.models import WorkerCategory

        labels = dict(WorkerCategory.choices)
        return "、".join(str(labels.get(c, c)) for c in obj.categories or []) or "—"

    @admin.display(description=_("Console"))
    def console_link(self, obj: Campaign) -> str:
        url = reverse("benefits_console:detail", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Open in the console"))


class VoucherStatusChangeInline(ReadOnlyInline):
    """The platform's reason in the reader's language (its code's label), then the words a person
    typed (a reversal's or a cancellation's reason), as typed."""

    model = VoucherStatusChange
    fields = ("at", "old", "new", "actor_label", "reason_code", "reason")
    readonly_fields = fields
    ordering = ("at", "id")
    verbose_name_plural = _("status history")


@admin.register(Voucher)
class VoucherAdmin(ScopedModelAdmin):
    org_field = "campaign__org"
    list_display = ("code_tail", "campaign", "member", "status", "created_at", "used_at")
    list_filter = ("status",)
    search_fields = ("campaign__name", "member__name")
    list_select_related = ("campaign", "member")
    fields = ("code_tail", "campaign", "member", "slot", "status", "created_at", "used_at")
    readonly_fields = fields
    inlines = (VoucherStatusChangeInline,)

    @admin.display(description=_("code"))
    def code_tail(self, obj: Voucher) -> str:
        return "…" + obj.code[-6:]


@admin.register(Redemption)
class RedemptionAdmin(ScopedModelAdmin):
    org_field = "voucher__campaign__org"
    list_display = (
        "voucher_tail",
        "campaign",
        "store",
        "receipt_no",
        "amount_yuan",
        "subsidy_yuan",
        "at",
        "reversed_at",
    )
    search_fields = ("receipt_no", "voucher__campaign__name")
    list_select_related = ("voucher", "voucher__campaign", "store")
    fields = (
        "voucher_tail",
        "campaign",
        "store",
        "receipt_no",
        "amount_yuan",
        "subsidy_yuan",
        "at",
        "reversed_at",
        "reversed_by_label",
        "reverse_reason",
    )
    readonly_fields = fields

    amount_yuan = _yuan_column("amount_fen", _("Purchase (yuan)"))
    subsidy_yuan = _yuan_column("subsidy_fen", _("Subsidy (yuan)"))

    @admin.display(description=_("voucher"))
    def voucher_tail(self, obj: Redemption) -> str:
        return "…" + obj.voucher.code[-6:]

    @admin.display(description=_("campaign"))
    def campaign(self, obj: Redemption) -> str:
        return obj.voucher.campaign.name
