"""Every write of member benefits: merchants, campaigns, the grab, the lottery, redemptions.

Settlement (register, reconciliation, public notice, payment) lives in ``settlement.py``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import logging
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar

import segno
from django.conf import settings
from django.core import signing
from django.db import IntegrityError, connection, transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.translation import gettext as _
from stdnum import luhn

from gonghui.accounts.scoping import can_see_org, require_capability
from gonghui.audit.context import current_origin
from gonghui.audit.models import AuditAction
from gonghui.audit.services import actor_label_of, audit_record, diff
from gonghui.benefits import grab_sql, hot, redeem_sql
from gonghui.benefits.models import (
    CAMPAIGN_TRANSITIONS,
    MANAGE_BENEFITS,
    MAX_FACE_VALUE_FEN,
    MAX_PER_MEMBER,
    MAX_QUOTA,
    Campaign,
    CampaignChangeReason,
    CampaignStatus,
    CampaignStatusChange,
    CampaignStock,
    Distribution,
    Merchant,
    MerchantClerk,
    Redemption,
    Registration,
    Store,
    Voucher,
    VoucherChangeReason,
    VoucherStatus,
    VoucherStatusChange,
)
from gonghui.core import crypto
from gonghui.core.errors import ApplicationError, NotFound, PermissionDenied
from gonghui.core.money import fen_yuan
from gonghui.ledger.models import Account, AccountKind
from gonghui.ledger.services import ledger_account_ensure, ledger_post
from gonghui.members.models import Member, MemberCard, MemberStatus, WorkerCategory
from gonghui.orgs.models import Org

logger = logging.getLogger(__name__)

_M = TypeVar("_M", bound="Model")

# ---------------------------------------------------------------------------------------------
# helpers


def require_manager(actor: Any, org: Org | None) -> None:
    """Staff with the benefits capability in ``org``'s subtree; ``None`` is the system itself."""
    require_capability(actor, MANAGE_BENEFITS, org)


_HOSTILE = set("<>\"'&;{}\\")


# Full-width letters, digits and the ideographic space become ASCII; Chinese punctuation
# (（）；，、。) stays as typed — NFKC would turn it into ASCII brackets and semicolons.
_FULL_WIDTH_ALNUM = {
    **{0xFF10 + i: 0x30 + i for i in range(10)},
    **{0xFF21 + i: 0x41 + i for i in range(26)},
    **{0xFF41 + i: 0x61 + i for i in range(26)},
    0x3000: 0x20,
}


def clean_text(
    raw: object, *, field: str, max_length: int, required: bool = True, multiline: bool = False
) -> str:
    text = str(raw if raw is not None else "").translate(_FULL_WIDTH_ALNUM).strip()
    # A browser sends a textarea's line breaks as CR LF: a line break, not a control character.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not multiline:
        text = " ".join(text.split())
    if not text:
        if required:
            raise ApplicationError(_("This field is required."), code=f"{field}_empty", field=field)
        return ""
    if len(text) > max_length:
        raise ApplicationError(
            _("At most %(n)d characters.") % {"n": max_length}, code=f"{field}_long", field=field
        )
    if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in text):
        raise ApplicationError(
            _("The text contains characters that are not allowed."),
            code=f"{field}_chars",
            field=field,
        )
    if not multiline and any(c in _HOSTILE for c in text):
        raise ApplicationError(
            _("The text contains characters that are not allowed."),
            code=f"{field}_chars",
            field=field,
        )
    return text


def clean_fen(raw: object, *, field: str, minimum: int = 0, maximum: int = 10**11) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ApplicationError(
            _("Amounts are whole numbers of fen."), code=f"{field}_type", field=field
        )
    if raw < minimum:
        raise ApplicationError(
            _("The amount must be at least ¥%(min)s.") % {"min": fen_yuan(minimum)},
            code=f"{field}_range",
            field=field,
        )
    if raw > maximum:
        raise ApplicationError(
            _("The amount may be at most ¥%(max)s.") % {"max": fen_yuan(maximum)},
            code=f"{field}_range",
            field=field,
        )
    return raw


def yuan_to_fen(raw: object, *, field: str = "amount") -> int:
    """ "68", "68.5", "６８.００" -> fen. No floats: the text is split at the point."""
    text = unicodedata.normalize("NFKC", str(raw if raw is not None else "")).strip()
    # A Chinese keyboard types the point as "。"; a comma only groups thousands ("1,280"), so
    # "12,50" is refused rather than read as 1250 yuan.
    text = text.replace("。", ".").removeprefix("¥").removesuffix("元").strip()
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d*)?", text):
        text = text.replace(",", "")
    if re.fullmatch(r"\d{10,}(?:\.\d*)?", text):
        raise ApplicationError(
            _("The amount is far too large; check it."), code=f"{field}_range", field=field
        )
    m = re.fullmatch(r"(\d{1,9})(?:\.(\d{0,2}))?", text)  # "50." is 50
    if not m:
        raise ApplicationError(
            _("Enter an amount in yuan, e.g. 68 or 68.50."), code=f"{field}_format", field=field
        )
    return int(m.group(1)) * 100 + int((m.group(2) or "0").ljust(2, "0"))


def mask_name(name: str) -> str:
    """王小明 -> 王*明, 李娜 -> 李*, anything longer keeps first and last characters."""
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


# ---------------------------------------------------------------------------------------------
# merchants


def _merchant_values(
    *,
    name: object,
    settlement_account_name: object,
    settlement_bank: object,
    settlement_account_no: object,
    uscc: object,
) -> dict[str, str]:
    from gonghui.core.idnumbers import validate_uscc

    account_no = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(settlement_account_no or "")))
    if not re.fullmatch(r"\d{8,32}", account_no):
        raise ApplicationError(
            _("Enter the settlement account number (8 to 32 digits)."),
            code="account_no_format",
            field="settlement_account_no",
        )
    uscc_text = str(uscc or "").strip()
    return {
        "name": clean_text(name, field="name", max_length=100),
        "uscc": validate_uscc(uscc_text).code if uscc_text else "",
        "settlement_account_name": clean_text(
            settlement_account_name, field="settlement_account_name", max_length=100
        ),
        "settlement_bank": clean_text(settlement_bank, field="settlement_bank", max_length=100),
        "settlement_account_no": account_no,
    }


@transaction.atomic
def merchant_create(
    *,
    actor: Any,
    org: Org,
    name: object,
    settlement_account_name: object,
    settlement_bank: object,
    settlement_account_no: object,
    uscc: object = "",
) -> Merchant:
    require_manager(actor, org)
    values = _merchant_values(
        name=name,
        settlement_account_name=settlement_account_name,
        settlement_bank=settlement_bank,
        settlement_account_no=settlement_account_no,
        uscc=uscc,
    )
    merchant = Merchant.objects.create(org=org, **values)
    audit_record(actor=actor, action=AuditAction.CREATE, obj=merchant, org=org)
    return merchant


@transaction.atomic
def merchant_update(
    *,
    actor: Any,
    merchant: Merchant,
    name: object,
    settlement_account_name: object,
    settlement_bank: object,
    settlement_account_no: object,
    uscc: object = "",
    is_active: bool = True,
) -> Merchant:
    """Change a merchant's details or switch it off (its clerks can then do nothing). A new
    settlement account applies to payments posted from now on; the audit line keeps the old."""
    merchant = Merchant.objects.select_for_update().get(pk=merchant.pk)
    require_manager(actor, merchant.org)
    values: dict[str, Any] = _merchant_values(
        name=name,
        settlement_account_name=settlement_account_name,
        settlement_bank=settlement_bank,
        settlement_account_no=settlement_account_no,
        uscc=uscc,
    )
    values["is_active"] = bool(is_active)
    return _update_with_audit(actor, merchant, values, org=merchant.org)


def _update_with_audit(actor: Any, obj: Any, values: dict[str, Any], *, org: Org) -> Any:
    before = {key: getattr(obj, key) for key in values}
    changes = diff(before, values)
    if not changes:
        return obj
    for key, value in values.items():
        setattr(obj, key, value)
    obj.save(update_fields=list(values))
    audit_record(actor=actor, action=AuditAction.UPDATE, obj=obj, org=org, changes=changes)
    return obj


@transaction.atomic
def store_create(*, actor: Any, merchant: Merchant, name: object, address: object = "") -> Store:
    require_manager(actor, merchant.org)
    store = Store.objects.create(
        merchant=merchant,
        name=clean_text(name, field="name", max_length=100),
        address=clean_text(address, field="address", max_length=200, required=False),
    )
    audit_record(actor=actor, action=AuditAction.CREATE, obj=store, org=merchant.org)
    return store


@transaction.atomic
def store_update(
    *, actor: Any, store: Store, name: object, address: object = "", is_active: bool = True
) -> Store:
    """Rename a store or switch it off: a switched-off store redeems nothing."""
    store = Store.objects.select_for_update().select_related("merchant__org").get(pk=store.pk)
    require_manager(actor, store.merchant.org)
    values = {
        "name": clean_text(name, field="name", max_length=100),
        "address": clean_text(address, field="address", max_length=200, required=False),
        "is_active": bool(is_active),
    }
    return _update_with_audit(actor, store, values, org=store.merchant.org)


@transaction.atomic
def merchant_clerk_create(
    *, actor: Any, merchant: Merchant, username: str, password: str, is_supervisor: bool = False
) -> MerchantClerk:
    """A merchant sign-in account: a non-staff ``User`` tied to one merchant, with a password that
    meets the platform's policy (a supervisor can reverse redemptions)."""
    from gonghui.accounts.models import User
    from gonghui.accounts.services import password_check

    require_manager(actor, merchant.org)
    username = clean_text(username, field="username", max_length=150)
    if User.objects.filter(username=username).exists():
        raise ApplicationError(
            _("This user name is taken."), code="username_taken", field="username"
        )
    user = User(username=username, is_staff=False)
    password_check(str(password or ""), user)
    user.set_password(password)
    user.save()
    clerk = MerchantClerk.objects.create(user=user, merchant=merchant, is_supervisor=is_supervisor)
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=clerk,
        org=merchant.org,
        changes={"supervisor": [None, is_supervisor]},
    )
    return clerk


@transaction.atomic
def merchant_clerk_update(
    *, actor: Any, clerk: MerchantClerk, is_supervisor: bool, is_active: bool
) -> MerchantClerk:
    """Make a clerk a supervisor or not, or switch the account off: a switched-off clerk's pages
    answer "not found" and the scan tickets already handed out stop working at once."""
    clerk = (
        MerchantClerk.objects.select_for_update()
        .select_related("merchant__org", "user")
        .get(pk=clerk.pk)
    )
    require_manager(actor, clerk.merchant.org)
    values = {"is_supervisor": bool(is_supervisor), "is_active": bool(is_active)}
    return _update_with_audit(actor, clerk, values, org=clerk.merchant.org)


# ---------------------------------------------------------------------------------------------
# campaigns

CAMPAIGN_FIELDS = {
    "name",
    "distribution",
    "face_value_fen",
    "subsidy_fen",
    "member_share_fen",
    "concession_fen",
    "min_purchase_fen",
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
}


def amount_limit_message(field: str) -> str:
    """The refusal of a campaign amount above ``MAX_FACE_VALUE_FEN``, naming the amount."""
    limit = f"{MAX_FACE_VALUE_FEN // 100:,}"
    messages = {
        "face_value_fen": _("The face value can be at most %(limit)s yuan."),
        "subsidy_fen": _("The union subsidy can be at most %(limit)s yuan."),
        "member_share_fen": _("The member's share can be at most %(limit)s yuan."),
        "concession_fen": _("The merchant concession can be at most %(limit)s yuan."),
        "min_purchase_fen": _("The minimum purchase can be at most %(limit)s yuan."),
    }
    return messages[field] % {"limit": limit}


def split_mismatch_message(
    *, face_value_fen: int, subsidy_fen: int, member_share_fen: int, concession_fen: int
) -> str:
    """The refusal of a split that does not add up, in yuan as the form is typed (not fen)."""
    return _(
        "Subsidy, member share and concession must add up to the face value "
        "(%(a)s + %(b)s + %(c)s ≠ %(f)s yuan)."
    ) % {
        "a": fen_yuan(subsidy_fen, grouped=False),
        "b": fen_yuan(member_share_fen, grouped=False),
        "c": fen_yuan(concession_fen, grouped=False),
        "f": fen_yuan(face_value_fen, grouped=False),
    }


def limit_over_quota_message(quota: int) -> str:
    return _("Vouchers per member cannot be more than the number of vouchers (%(n)d).") % {
        "n": quota
    }


def lottery_limit_message() -> str:
    return _("A lottery gives each winner one voucher: vouchers per member must be 1.")


def _clean_campaign(data: dict[str, Any], *, org: Org) -> dict[str, Any]:
    unknown = set(data) - CAMPAIGN_FIELDS
    if unknown:
        raise ApplicationError(
            _("Unknown field: %(f)s") % {"f": ", ".join(sorted(unknown))}, code="unknown_field"
        )
    out: dict[str, Any] = {}
    out["name"] = clean_text(data.get("name"), field="name", max_length=100)
    distribution = data.get("distribution", Distribution.GRAB)
    if distribution not in Distribution.values:
        raise ApplicationError(
            _("Choose grab or lottery."), code="distribution_invalid", field="distribution"
        )
    out["distribution"] = distribution
    for f in ("face_value_fen", "subsidy_fen", "member_share_fen", "concession_fen"):
        out[f] = clean_fen(data.get(f), field=f)
        if out[f] > MAX_FACE_VALUE_FEN:
            raise ApplicationError(amount_limit_message(f), code=f"{f}_range", field=f)
    if out["face_value_fen"] <= 0:
        raise ApplicationError(
            _("The face value must be more than zero."),
            code="face_value_fen_range",
            field="face_value_fen",
        )
    if (
        out["subsidy_fen"] + out["member_share_fen"] + out["concession_fen"]
        != out["face_value_fen"]
    ):
        raise ApplicationError(
            split_mismatch_message(
                face_value_fen=out["face_value_fen"],
                subsidy_fen=out["subsidy_fen"],
                member_share_fen=out["member_share_fen"],
                concession_fen=out["concession_fen"],
            ),
            code="split_mismatch",
            field="subsidy_fen",
        )
    out["min_purchase_fen"] = clean_fen(data.get("min_purchase_fen", 0), field="min_purchase_fen")
    if out["min_purchase_fen"] > MAX_FACE_VALUE_FEN:
        raise ApplicationError(
            amount_limit_message("min_purchase_fen"),
            code="min_purchase_fen_range",
            field="min_purchase_fen",
        )
    quota = data.get("quota")
    if isinstance(quota, bool) or not isinstance(quota, int) or not 1 <= quota <= MAX_QUOTA:
        raise ApplicationError(
            _("The number of vouchers must be between 1 and %(n)d.") % {"n": MAX_QUOTA},
            code="quota_range",
            field="quota",
        )
    out["quota"] = quota
    limit = data.get("per_member_limit", 1)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PER_MEMBER:
        raise ApplicationError(
            _("Vouchers per member must be between 1 and %(n)d.") % {"n": MAX_PER_MEMBER},
            code="limit_range",
            field="per_member_limit",
        )
    if limit > quota:
        # A promise the stock cannot keep: nobody could ever hold that many.
        raise ApplicationError(
            limit_over_quota_message(quota), code="limit_over_quota", field="per_member_limit"
        )
    if distribution == Distribution.LOTTERY and limit != 1:
        # The draw gives each winner one voucher (one entry per member): a higher limit would
        # promise members vouchers no draw hands out.
        raise ApplicationError(
            lottery_limit_message(), code="lottery_limit", field="per_member_limit"
        )
    out["per_member_limit"] = limit
    eligible_org = data.get("eligible_org")
    if eligible_org is not None and not eligible_org.path.startswith(org.path):
        raise ApplicationError(
            _("Eligible members must belong to the campaign union's own subtree."),
            code="eligible_org_outside",
            field="eligible_org",
        )
    out["eligible_org"] = eligible_org
    out["require_member_card"] = bool(data.get("require_member_card", True))
    banks = data.get("card_banks") or []
    if not isinstance(banks, list | tuple) or len(banks) > 20:
        raise ApplicationError(
            _("List the issuing banks."), code="banks_invalid", field="card_banks"
        )
    out["card_banks"] = [clean_text(b, field="card_banks", max_length=50) for b in banks]
    cats = list(data.get("categories") or [])
    if any(c not in WorkerCategory.values for c in cats):
        raise ApplicationError(
            _("Unknown worker category."), code="categories_invalid", field="categories"
        )
    out["categories"] = sorted(set(cats))
    for f in ("release_at", "redeem_from", "redeem_until"):
        value = data.get(f)
        if not isinstance(value, dt.datetime) or timezone.is_naive(value):
            raise ApplicationError(_("Enter a date and time."), code=f"{f}_invalid", field=f)
        out[f] = value
    closes = data.get("registration_closes_at")
    if distribution == Distribution.LOTTERY:
        if not isinstance(closes, dt.datetime) or timezone.is_naive(closes):
            raise ApplicationError(
                _("A lottery needs the time registration closes."),
                code="registration_closes_at_invalid",
                field="registration_closes_at",
            )
        if closes <= out["release_at"]:
            raise ApplicationError(
                _("Registration must close after it opens."),
                code="registration_order",
                field="registration_closes_at",
            )
        if closes > out["redeem_until"]:
            raise ApplicationError(
                _("Registration must close before the redemption window ends."),
                code="registration_order",
                field="registration_closes_at",
            )
        if out["redeem_from"] < closes:
            # Vouchers of a lottery exist only after the draw, which waits for registration to
            # close: a window opening earlier promises redemption nobody can make.
            raise ApplicationError(
                _("A lottery's redemption window can start only when registration has closed."),
                code="redeem_before_draw",
                field="redeem_from",
            )
        out["registration_closes_at"] = closes
    else:
        out["registration_closes_at"] = None
    if out["redeem_until"] <= out["redeem_from"]:
        raise ApplicationError(
            _("The redemption window must end after it starts."),
            code="window_order",
            field="redeem_until",
        )
    if out["redeem_until"] <= out["release_at"]:
        raise ApplicationError(
            _("The redemption window must end after the release time."),
            code="window_order",
            field="redeem_until",
        )
    out["excluded_goods"] = clean_text(
        data.get("excluded_goods", ""),
        field="excluded_goods",
        max_length=2000,
        required=False,
        multiline=True,
    )
    out["terms"] = clean_text(
        data.get("terms", ""), field="terms", max_length=5000, required=False, multiline=True
    )
    days = data.get("notice_days", 5)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 60:
        raise ApplicationError(
            _("The public notice runs 1 to 60 days."), code="notice_days_range", field="notice_days"
        )
    out["notice_days"] = days
    return out


@transaction.atomic
def campaign_create(
    *, actor: Any, org: Org, merchant: Merchant, stores: Sequence[Store], **fields: Any
) -> Campaign:
    require_manager(actor, org)
    # The merchant is one the actor may see (as the form offers): a county's staff cannot put
    # another county's shop into a campaign by posting its id.
    if actor is not None and not can_see_org(actor, merchant.org):
        raise PermissionDenied()
    data = _clean_campaign(fields, org=org)
    if not merchant.is_active:
        raise ApplicationError(_("This merchant is not active."), code="merchant_inactive")
    stores = list(stores)
    if not stores:
        raise ApplicationError(_("Choose at least one store."), code="stores_empty", field="stores")
    if any(s.merchant_id != merchant.pk for s in stores):
        raise ApplicationError(
            _("Every store must belong to the campaign's merchant."),
            code="store_merchant",
            field="stores",
        )
    campaign = Campaign.objects.create(
        org=org,
        merchant=merchant,
        created_by=actor if getattr(actor, "username", None) else None,
        **data,
    )
    campaign.stores.set(stores)
    _stock_reset(campaign, handed_out=0)
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=campaign,
        org=org,
        changes={k: [None, _jsonable(v)] for k, v in data.items()},
    )
    return campaign


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | bool | list):
        return value
    if hasattr(value, "pk"):
        return value.pk
    return str(value)


@transaction.atomic
def campaign_update(*, actor: Any, campaign: Campaign, **fields: Any) -> Campaign:
    """Change a draft. Once scheduled, a campaign's terms are what members were promised."""
    require_manager(actor, campaign.org)
    current = {f: getattr(campaign, f) for f in CAMPAIGN_FIELDS}
    data = _clean_campaign({**current, **fields}, org=campaign.org)
    # Read afresh, the row locked: the seed may have been committed since ``campaign`` was
    # loaded (another manager's button), and a commit waits for this change to finish.
    published = (
        Campaign.objects.select_for_update()
        .filter(pk=campaign.pk)
        .values_list("seed_committed_at", flat=True)
        .first()
    )
    closes = data["registration_closes_at"]
    if published and closes and closes <= published:
        # The public page promises the hash came before registration closed.
        raise ApplicationError(
            _(
                "Registration must close after the seed hash was published (%(t)s), "
                "as the public page promises."
            )
            % {"t": timezone.localtime(published).strftime("%Y-%m-%d %H:%M:%S")},
            code="registration_before_seed",
            field="registration_closes_at",
        )
    changed = {k: [_jsonable(current[k]), _jsonable(v)] for k, v in data.items() if current[k] != v}
    updated = Campaign.objects.filter(pk=campaign.pk, status=CampaignStatus.DRAFT).update(**data)
    if not updated:
        raise ApplicationError(
            _("Only a draft campaign can be changed."), code="campaign_not_draft"
        )
    campaign.refresh_from_db()
    _stock_reset(campaign, handed_out=0)
    audit_record(
        actor=actor, action=AuditAction.UPDATE, obj=campaign, org=campaign.org, changes=changed
    )
    return campaign


MAX_STOCK_SHARDS = 16


def _stock_reset(campaign: Campaign, *, handed_out: int) -> None:
    """(Re)write the stock shards: the quota less what was handed out, split as evenly as can be.

    Only for a campaign nobody can grab from (a draft, or a lottery inside its draw)."""
    shards = max(1, min(MAX_STOCK_SHARDS, campaign.quota))
    base, extra = divmod(campaign.quota, shards)
    allotments = [base + (1 if i < extra else 0) for i in range(shards)]
    left = campaign.quota - handed_out
    rows = []
    for i, allotment in enumerate(allotments):
        take = min(allotment, left)
        left -= take
        rows.append(CampaignStock(campaign=campaign, shard=i, allotment=allotment, remaining=take))
    CampaignStock.objects.filter(campaign=campaign).delete()
    CampaignStock.objects.bulk_create(rows)


def campaign_transition(
    *,
    campaign: Campaign,
    new: str,
    actor: Any,
    reason: str = "",
    reason_code: CampaignChangeReason | None = None,
    expected: str | None = None,
) -> Campaign:
    """Move ``campaign`` to ``new`` by compare-and-set and record the move.

    ``reason_code`` is why the platform itself moved it (stored as a code, shown in the reader's
    language); ``reason`` is what a person typed. ``expected`` is the status the caller saw; the
    move fails if someone else moved it first.
    """
    code = CampaignChangeReason(reason_code).value if reason_code else ""
    old = expected or campaign.status
    if new not in CAMPAIGN_TRANSITIONS.get(old, set()):
        raise ApplicationError(
            _("A campaign cannot go from %(old)s to %(new)s.")
            % {"old": CampaignStatus(old).label, "new": CampaignStatus(new).label}
            if new in CampaignStatus.values and old in CampaignStatus.values
            else _("Unknown status."),
            code="campaign_transition",
        )
    with transaction.atomic():
        moved = Campaign.objects.filter(pk=campaign.pk, status=old).update(status=new)
        if not moved:
            raise ApplicationError(
                _("Someone else changed this campaign first; reload and try again."),
                code="campaign_conflict",
            )
        CampaignStatusChange.objects.create(
            campaign=campaign,
            old=old,
            new=new,
            actor=actor if getattr(actor, "username", None) else None,
            actor_label=actor_label_of(actor)[:150],
            reason_code=code,
            reason=reason[:300],
        )
        audit_record(
            actor=actor,
            action=AuditAction.TRANSITION,
            obj=campaign,
            org=campaign.org,
            changes={"status": [old, new]},
            reason=reason or code,
        )
    campaign.status = new
    return campaign


def campaign_schedule(*, campaign: Campaign, actor: Any) -> Campaign:
    require_manager(actor, campaign.org)
    if campaign.distribution == Distribution.LOTTERY and not campaign.seed_hash:
        raise ApplicationError(
            _("Commit the lottery seed before scheduling, so its hash can be published."),
            code="seed_missing",
        )
    if campaign.redeem_until <= timezone.now():
        # It would open and close at the clock's next tick, having handed nothing out.
        raise ApplicationError(
            _("The redemption window has already ended; change the dates first."),
            code="window_over",
        )
    return campaign_transition(campaign=campaign, new=CampaignStatus.SCHEDULED, actor=actor)


def campaign_cancel(*, campaign: Campaign, actor: Any, reason: str) -> Campaign:
    """Cancel a campaign that has not closed; open vouchers are cancelled with it."""
    require_manager(actor, campaign.org)
    reason = clean_text(reason, field="reason", max_length=300)
    _refuse_if_used(campaign)
    try:
        _campaign_cancel_locked(campaign=campaign, actor=actor, reason=reason)
    except ApplicationError:
        campaign.refresh_from_db()  # the transition above was undone with the rest
        raise
    return campaign


def _campaign_cancel_locked(*, campaign: Campaign, actor: Any, reason: str) -> None:
    with transaction.atomic():
        # Empty the stock first. The UPDATE waits for any grab holding a stock row (it decremented
        # and is still writing its voucher), and no grab can take one afterwards; so the vouchers
        # cancelled below include every voucher a grab will ever have made.
        CampaignStock.objects.filter(campaign=campaign).update(remaining=0)
        campaign_transition(
            campaign=campaign, new=CampaignStatus.CANCELLED, actor=actor, reason=reason
        )
        _vouchers_move(
            Voucher.objects.filter(campaign=campaign, status=VoucherStatus.OPEN),
            new=VoucherStatus.CANCELLED,
            actor=actor,
            reason_code=VoucherChangeReason.CAMPAIGN_CANCELLED,
            reason=reason,
        )
        # Asked again now that the open vouchers are locked: a scan that was writing when the
        # question above was asked has committed by now (its voucher was waited for), and no
        # scan can use a voucher from here on. Refusing then undoes everything above.
        _refuse_if_used(campaign)


def _refuse_if_used(campaign: Campaign) -> None:
    if Redemption.objects.filter(voucher__campaign=campaign, reversed_at__isnull=True).exists():
        raise ApplicationError(
            _("Vouchers of this campaign have been used; close it and settle instead."),
            code="campaign_has_redemptions",
        )


def campaign_unschedule(
    *, campaign: Campaign, actor: Any, now: dt.datetime | None = None
) -> Campaign:
    """Take a scheduled campaign back to draft, so that its terms can be changed, before it opens.

    Once the release time has come members may have grabbed or registered: the terms are then
    what they were promised, and only cancelling (or closing) is left."""
    require_manager(actor, campaign.org)
    now = now or timezone.now()
    if campaign.status == CampaignStatus.SCHEDULED and campaign.release_at <= now:
        raise ApplicationError(
            _("The release time has passed; the campaign can no longer go back to draft."),
            code="release_passed",
        )
    # The clock opens a scheduled campaign by the same compare-and-set: whichever comes first
    # wins, and the other is told the campaign changed.
    return campaign_transition(campaign=campaign, new=CampaignStatus.DRAFT, actor=actor)


def campaign_close(
    *, campaign: Campaign, actor: Any, reason: str, now: dt.datetime | None = None
) -> Campaign:
    """Close an open campaign ahead of its date: the redemption window ends now.

    For a campaign whose vouchers have been used (it can no longer be cancelled) and that must
    stop early. The clock would close it at ``redeem_until``; here the window's end becomes now,
    so that everything keyed on the window (the till, the member's voucher, the nightly expiry)
    agrees, and the vouchers not used expire at once with the manager's reason. The date first
    promised stays in the audit line. Settlement follows as after any close."""
    require_manager(actor, campaign.org)
    reason = clean_text(reason, field="reason", max_length=300)
    now = now or timezone.now()
    if campaign.status == CampaignStatus.OPEN:
        if campaign.distribution == Distribution.LOTTERY and campaign.drawn_at is None:
            raise ApplicationError(
                _("The draw has not run, so nobody holds a voucher; cancel the campaign instead."),
                code="lottery_not_drawn",
            )
        if now <= campaign.redeem_from:
            raise ApplicationError(
                _("Redemption has not started yet; cancel the campaign instead."),
                code="window_not_started",
            )
    promised_until = campaign.redeem_until
    with transaction.atomic():
        # As cancelling does: empty the stock first, so that a grab waiting for a stock row finds
        # none left and every voucher a grab will ever make is among those expired below.
        CampaignStock.objects.filter(campaign=campaign).update(remaining=0)
        campaign_transition(
            campaign=campaign,
            new=CampaignStatus.CLOSED,
            actor=actor,
            reason=reason,
        )
        Campaign.objects.filter(pk=campaign.pk).update(redeem_until=now)
        campaign.redeem_until = now
        _vouchers_move(
            Voucher.objects.filter(campaign=campaign, status=VoucherStatus.OPEN),
            new=VoucherStatus.EXPIRED,
            actor=actor,
            reason_code=VoucherChangeReason.WINDOW_ENDED,
            reason=reason,
        )
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            obj=campaign,
            org=campaign.org,
            changes={"redeem_until": [_jsonable(promised_until), _jsonable(now)]},
            reason=reason,
        )
    return campaign


def campaigns_advance(*, now: dt.datetime | None = None) -> dict[str, int]:
    """The clock's moves: scheduled → open at release, a lottery's draw once its registration has
    closed, open → closed after the window."""
    now = now or timezone.now()
    opened = closed = drawn = 0
    for c in Campaign.objects.filter(status=CampaignStatus.SCHEDULED, release_at__lte=now):
        try:
            campaign_transition(
                campaign=c,
                new=CampaignStatus.OPEN,
                actor=None,
                reason_code=CampaignChangeReason.RELEASE_TIME,
            )
            opened += 1
        except ApplicationError:
            pass
    # Nobody has to remember the draw: its winners are decided by the seed and the entries alone,
    # not by when it runs, and every day it waits is a day of the redemption window lost to them.
    # Staff may still run it first from the console.
    for c in Campaign.objects.filter(
        status=CampaignStatus.OPEN,
        distribution=Distribution.LOTTERY,
        drawn_at__isnull=True,
        registration_closes_at__lte=now,
        redeem_until__gt=now,
    ).exclude(seed_hash=""):
        try:
            lottery_draw(campaign=c, actor=None, now=now)
            drawn += 1
        except ApplicationError:
            pass  # drawn from the console meanwhile, or cancelled
    for c in Campaign.objects.filter(status=CampaignStatus.OPEN, redeem_until__lte=now):
        try:
            campaign_transition(
                campaign=c,
                new=CampaignStatus.CLOSED,
                actor=None,
                reason_code=CampaignChangeReason.WINDOW_ENDED,
            )
            closed += 1
        except ApplicationError:
            pass
    expired = vouchers_expire(now=now)
    return {"opened": opened, "drawn": drawn, "closed": closed, "expired": expired}


def _open_if_due(campaign: Campaign, now: dt.datetime) -> None:
    if campaign.status == CampaignStatus.SCHEDULED and now >= campaign.release_at:
        try:
            campaign_transition(
                campaign=campaign,
                new=CampaignStatus.OPEN,
                actor=None,
                reason_code=CampaignChangeReason.RELEASE_TIME,
            )
        except ApplicationError:
            campaign.refresh_from_db(fields=["status"])


# ---------------------------------------------------------------------------------------------
# eligibility


@dataclass(frozen=True)
class Eligibility:
    ok: bool
    code: str = "ok"
    message: str = ""


def _grab_member(pk: int) -> Member | None:
    """The member as the grab needs it, in one plain query: the fields eligibility reads and the
    current card's facts (``grab_card``). Building an ORM query with subqueries cost a winner
    ~1 ms before it ran; this is the hottest path of the platform.

    The result is a read-only partial instance (status, category, org path, card facts): the
    grab never saves it, and nothing else should get hold of it.
    """
    member_table = Member._meta.db_table
    org_table = Org._meta.db_table
    card_table = MemberCard._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT m.id, m.status, m.category, m.org_id, o.path, c.is_member_card, c.bank_name "  # noqa: S608 (table names from _meta)
            f"FROM {member_table} m JOIN {org_table} o ON o.id = m.org_id "
            f"LEFT JOIN {card_table} c ON c.member_id = m.id AND c.is_current = %s "
            f"WHERE m.id = %s",
            [True, pk],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    member_id, status, category, org_id, path, card_ok, card_bank = row
    member = Member(id=member_id, status=status, category=category, org_id=org_id)
    member.org = Org(id=org_id, path=path)
    member.grab_card = CardFacts.of(card_ok, card_bank)  # type: ignore[attr-defined]
    return member


@dataclass(frozen=True)
class CardFacts:
    """What the eligibility check reads of a member's current card."""

    is_member_card: bool
    bank_name: str

    @classmethod
    def of(cls, is_member_card: bool | None, bank_name: str | None) -> CardFacts | None:
        """From a query's columns of a LEFT JOIN: None when the member has no current card."""
        return None if is_member_card is None else cls(bool(is_member_card), bank_name or "")


# ``card=`` of ``member_eligibility`` when the caller has not loaded the card.
LOAD_CARD: Final = "load"


def member_eligibility(
    *, member: Member, campaign: Campaign, card: CardFacts | None | Literal["load"] = LOAD_CARD
) -> Eligibility:
    """Whether ``member`` may receive a voucher of ``campaign``, and if not, why (code + message).
    ``card``: the member's current card as the caller loaded it (None: no card), so that a list
    of campaigns checks them all without one card query each; by default it is read here."""
    if member.status != MemberStatus.ACTIVE:
        return Eligibility(False, "member_inactive", _("Only active union members can take part."))
    root = campaign.eligible_org or campaign.org
    if not member.org.path.startswith(root.path):
        return Eligibility(
            False,
            "org_outside",
            _("This campaign is for members of %(org)s.") % {"org": root.name},
        )
    if campaign.categories and member.category not in campaign.categories:
        labels = "、".join(str(WorkerCategory(c).label) for c in campaign.categories)
        return Eligibility(
            False, "category", _("This campaign is for: %(cats)s.") % {"cats": labels}
        )
    if campaign.require_member_card:
        if card == LOAD_CARD:  # the grab's member (``_grab_member``) comes with its card
            card = getattr(member, "grab_card", LOAD_CARD)
        if card != LOAD_CARD:
            current: MemberCard | CardFacts | None = card
        else:
            # No .first(): its ORDER BY id LIMIT 1 tempts PostgreSQL into walking the primary key.
            current = next(
                iter(
                    MemberCard.objects.filter(member=member, is_current=True)
                    .order_by()
                    .only("is_member_card", "bank_name")[:1]
                ),
                None,
            )
        if current is None:
            return Eligibility(False, "card_missing", _("Register your union member card first."))
        if not current.is_member_card or (
            campaign.card_banks and current.bank_name not in campaign.card_banks
        ):
            banks = "、".join(campaign.card_banks) or _("the listed banks")
            return Eligibility(
                False,
                "card_bank",
                _("Only union member cards issued by %(banks)s are accepted.") % {"banks": banks},
            )
    return Eligibility(True)


# ---------------------------------------------------------------------------------------------
# the grab


class GrabOutcome:
    WON = "won"
    ALREADY = "already"
    SOLD_OUT = "sold_out"
    NOT_ELIGIBLE = "not_eligible"
    LIMIT = "limit_reached"
    NOT_OPEN = "not_open"
    CLOSED = "closed"


@dataclass(frozen=True)
class GrabResult:
    outcome: str
    message: str
    voucher: Voucher | None = None
    code: str = ""

    @property
    def ok(self) -> bool:
        return self.voucher is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "code": self.code or self.outcome,
            "message": self.message,
            "voucher": self.voucher.code if self.voucher else None,
            "voucher_id": self.voucher.pk if self.voucher else None,
        }


class RateLimited(ApplicationError):
    status = 429


def grab_rate_check(*, member_id: int, address: str) -> None:
    """Per-member and per-address request limits for the grab (fixed windows)."""
    if not hot.hit_all(
        {
            f"m:{member_id}": settings.GONGHUI_GRAB_RATE_PER_MEMBER,
            f"a:{address}": settings.GONGHUI_GRAB_RATE_PER_ADDRESS,
        },
        window=settings.GONGHUI_GRAB_RATE_WINDOW_SECONDS,
    ):
        raise RateLimited(
            _("Too many attempts; wait a few seconds."),
            code="rate_limited",
            # A window on, what was counted now weighs in only in part (the sliding estimate of
            # core.ratelimit): a member who stopped tapping is under the limit again by then.
            extra={"retry_after": settings.GONGHUI_GRAB_RATE_WINDOW_SECONDS},
        )


GRAB_TICKET_SALT = "gonghui.benefits.grab-ticket"
GRAB_TICKET_MAX_AGE = 6 * 3600


def grab_ticket_issue(*, member: Member, campaign: Campaign) -> str:
    """A signed, expiring ticket the campaign page hands to the member's browser.

    The grab request carries it in a header and is sent without cookies, so the hot endpoint
    needs neither the session nor the member row to answer "sold out" (and, being no ambient
    credential, it needs no CSRF token either).
    """
    return signing.dumps([member.pk, campaign.pk], salt=GRAB_TICKET_SALT, compress=False)


def grab_ticket_read(*, ticket: str, campaign_id: int) -> int:
    """The member id in a valid ticket for ``campaign_id``; else ``ticket_invalid``."""
    try:
        member_id, ticket_campaign = signing.loads(
            ticket, salt=GRAB_TICKET_SALT, max_age=GRAB_TICKET_MAX_AGE
        )
    except (signing.BadSignature, ValueError, TypeError):
        raise ApplicationError(
            _("Your session has expired; reload the page."), code="ticket_invalid"
        ) from None
    if ticket_campaign != campaign_id or not isinstance(member_id, int):
        raise ApplicationError(
            _("Your session has expired; reload the page."), code="ticket_invalid"
        )
    return member_id


_REQUEST_KEY = re.compile(r"[A-Za-z0-9_\-:.]{1,64}")


def clean_request_key(raw: object) -> str:
    key = str(raw or "").strip()
    if key and not _REQUEST_KEY.fullmatch(key):
        raise ApplicationError(
            _("The request key is malformed."), code="request_key_invalid", field="request_key"
        )
    return key


def _sold_out() -> GrabResult:
    return GrabResult(GrabOutcome.SOLD_OUT, _("All vouchers have been taken."))


def _won(voucher: Voucher, *, already: bool) -> GrabResult:
    if already:
        return GrabResult(GrabOutcome.ALREADY, _("You already have this voucher."), voucher)
    return GrabResult(GrabOutcome.WON, _("You got a voucher."), voucher)


def _existing_voucher(campaign: Campaign, member_id: int, request_key: str) -> Voucher | None:
    # Unordered on purpose: the (campaign, member, slot) unique index answers it directly.
    qs = Voucher.objects.filter(campaign_id=campaign.pk, member_id=member_id).order_by()
    if campaign.per_member_limit == 1:
        return next(iter(qs[:1]), None)
    if request_key:
        return next(iter(qs.filter(request_key=request_key)[:1]), None)
    return None


class _SoldOutSignal(Exception):
    pass


class _LimitSignal(Exception):
    pass


# The guarded decrement of one stock shard of an open campaign. ``{lock}`` is
# "FOR UPDATE OF s SKIP LOCKED" (the shard row only, never the campaign row) for the first,
# non-blocking try on PostgreSQL (take a shard nobody is holding), empty for the blocking try (wait for a shard, then re-check ``remaining > 0`` on the
# row as committed). Never read-then-write: the UPDATE itself checks and decrements.
_DECREMENT_SQL = """
UPDATE benefits_campaignstock SET remaining = remaining - 1
WHERE id = (
    SELECT s.id FROM benefits_campaignstock s
    JOIN benefits_campaign c ON c.id = s.campaign_id
    WHERE s.campaign_id = %s AND c.status = %s AND s.remaining > 0
    ORDER BY (s.shard + %s) %% %s
    LIMIT 1 {lock}
) AND remaining > 0
RETURNING remaining
"""
_STOCK_LEFT_SQL = """
SELECT 1 FROM benefits_campaignstock s JOIN benefits_campaign c ON c.id = s.campaign_id
WHERE s.campaign_id = %s AND c.status = %s AND s.remaining > 0 LIMIT 1
"""


def _decrement(campaign_id: int, *, spread: int) -> int | None:
    """Take one voucher from some shard; None when no shard has any left (sold out).

    ``spread`` picks where in the shard ring to start, so concurrent grabs hit different rows.
    A failed try means another grab took that shard's last voucher meanwhile: stock only ever
    goes down, so the loop ends when a committed read finds no shard with any left."""
    tries = ["FOR UPDATE OF s SKIP LOCKED", ""] if connection.vendor == "postgresql" else [""]
    params: list[int | str] = [campaign_id, CampaignStatus.OPEN, spread, MAX_STOCK_SHARDS]
    with connection.cursor() as cursor:
        while True:
            for lock in tries:
                cursor.execute(_DECREMENT_SQL.replace("{lock}", lock), params)
                row = cursor.fetchone()
                if row is not None:
                    return int(row[0])
            cursor.execute(_STOCK_LEFT_SQL, [campaign_id, CampaignStatus.OPEN])
            if cursor.fetchone() is None:
                return None


VOUCHER_CODE_DIGITS = 15


def new_voucher_code() -> str:
    """15 digits: 14 random ones (the first never 0) and a Luhn check digit.

    Digits because a clerk types the code when the camera fails, on a phone's number pad, and a
    QR of digits is smaller (easier for a cheap camera). 9×10¹³ codes keep a guess hopeless (a
    scan also needs a clerk of the campaign's merchant) and a clash rare; a clash is refused by
    the unique constraint and the code drawn again. The check digit catches a mistyped or swapped
    digit before anything is looked up. 15 digits survive a spreadsheet, which keeps 15
    significant digits of a number (a 16th would be rounded). Codes made before are 22 base64url
    characters and stay valid."""
    body = str(10**13 + secrets.randbelow(9 * 10**13))
    return body + luhn.calc_check_digit(body)


def new_voucher_codes(n: int, *, draw: Callable[[], str] = new_voucher_code) -> list[str]:
    """``n`` new codes, distinct and not yet taken: one clash would undo a whole draw.
    ``draw`` makes one code (a test passes one that clashes)."""
    codes: set[str] = set()
    while len(codes) < n:
        fresh = {draw() for _ in range(n - len(codes))} - codes
        taken: set[str] = set()
        batch = sorted(fresh)
        for start in range(0, len(batch), 500):
            taken.update(
                Voucher.objects.filter(code__in=batch[start : start + 500]).values_list(
                    "code", flat=True
                )
            )
        codes |= fresh - taken
    return list(codes)


def voucher_code_display(code: str) -> str:
    """A digit code in groups of five, as shown to the member ("12345 67890 12345")."""
    if len(code) == VOUCHER_CODE_DIGITS and code.isdigit():
        return " ".join(code[i : i + 5] for i in range(0, VOUCHER_CODE_DIGITS, 5))
    return code


def grab_precheck(*, campaign: Campaign, member: Member, now: dt.datetime) -> GrabResult | None:
    """The answers that need no stock: not open, closed, not eligible. None: go ahead."""
    if campaign.distribution != Distribution.GRAB:
        return GrabResult(
            GrabOutcome.NOT_OPEN, _("This campaign is a lottery; register for the draw instead.")
        )
    _open_if_due(campaign, now)
    if (
        campaign.status in {CampaignStatus.DRAFT, CampaignStatus.SCHEDULED}
        or now < campaign.release_at
    ):
        return GrabResult(
            GrabOutcome.NOT_OPEN,
            _("Vouchers are released at %(t)s.")
            % {"t": timezone.localtime(campaign.release_at).strftime("%Y-%m-%d %H:%M")},
        )
    if campaign.status != CampaignStatus.OPEN or now >= campaign.redeem_until:
        return GrabResult(GrabOutcome.CLOSED, _("This campaign has ended."))
    eligibility = member_eligibility(member=member, campaign=campaign)
    if not eligibility.ok:
        return GrabResult(GrabOutcome.NOT_ELIGIBLE, eligibility.message, code=eligibility.code)
    return None


def voucher_grab(
    *,
    campaign: Campaign,
    member: Member | int,
    request_key: str = "",
    now: dt.datetime | None = None,
) -> GrabResult:
    """First come, first served. Never oversells, never gives a member more than the limit, and a
    retried request (same member, same request key) returns the voucher it already made.

    Order of answers: sold out (from the hot flag, no database) → not open / not eligible →
    already have one → the guarded decrement.
    """
    now = now or timezone.now()
    request_key = clean_request_key(request_key)
    key = hot.campaign_key(campaign)
    member_id = member if isinstance(member, int) else member.pk
    if hot.sold_out(key):
        voucher_id, sure = hot.known_winner(key, member_id)
        if voucher_id is not None:
            voucher = Voucher.objects.filter(pk=voucher_id).first()
            if voucher is not None:
                return _won(voucher, already=True)
        elif not sure:
            # The shared cache lost its winner markers (Redis restarted) or cannot be asked:
            # a winner who asks again must still get the voucher, not "sold out". Writing the
            # markers and the flag again spares the next answers this query.
            existing = _existing_voucher(campaign, member_id, request_key)
            campaign_mark_sold_out(campaign=campaign)
            if existing is not None:
                return _won(existing, already=True)
        return _sold_out()
    if isinstance(member, int):
        # Only now, past the sold-out answer, is the member row worth a query.
        found = _grab_member(member)
        if found is None:
            return GrabResult(
                GrabOutcome.NOT_ELIGIBLE,
                _("Only active union members can take part."),
                code="member_inactive",
            )
        member = found
    refusal = grab_precheck(campaign=campaign, member=member, now=now)
    if refusal is not None:
        return refusal
    fast_path = settings.GONGHUI_GRAB_FASTPATH and settings.REDIS_URL
    if fast_path or campaign.per_member_limit > 1:
        # With a limit of one the database path needs no look-up first: the unique
        # (campaign, member, slot) row refuses a second voucher and the IntegrityError branch of
        # grab_in_database answers with the existing one. One round trip less per winner.
        existing = _existing_voucher(campaign, member.pk, request_key)
        if existing is not None:
            return _won(existing, already=True)
    if fast_path:
        from gonghui.benefits import fastpath

        return fastpath.grab(campaign=campaign, member=member, request_key=request_key)
    return grab_in_database(campaign=campaign, member=member, request_key=request_key)


def campaign_mark_sold_out(*, campaign: Campaign) -> None:
    """Once the database has said "sold out": remember it (``hot``), with every winner so far,
    so that a winner who asks again is still answered with the voucher."""

    def winners() -> Iterator[tuple[int, int]]:
        rows = Voucher.objects.filter(campaign_id=campaign.pk).order_by("pk")
        return rows.values_list("member_id", "pk").iterator(chunk_size=2000)

    hot.mark_sold_out(hot.campaign_key(campaign), winners=winners)


def campaign_has_stock(*, campaign: Campaign) -> bool:
    """Whether the database, as committed, still has a voucher of the open campaign to give."""
    with connection.cursor() as cursor:
        cursor.execute(_STOCK_LEFT_SQL, [campaign.pk, CampaignStatus.OPEN])
        return cursor.fetchone() is not None


def grab_in_database(*, campaign: Campaign, member: Member, request_key: str) -> GrabResult:
    """The authoritative grab: voucher insert and guarded decrement in one transaction.

    The insert goes first so the hot campaign row is locked only from the decrement to the commit.
    A concurrent duplicate (double tap) hits the unique constraint and gets the existing voucher.
    """
    key = hot.campaign_key(campaign)
    limit = campaign.per_member_limit
    if limit == 1 and connection.vendor == "postgresql":
        won = _grab_statement(campaign=campaign, member=member, request_key=request_key, key=key)
        if won is not None:
            return won
    for _attempt in range(limit + 2):
        left: int | None = None
        try:
            with transaction.atomic():
                slot = 1
                if limit > 1:
                    slot = (
                        Voucher.objects.filter(campaign_id=campaign.pk, member_id=member.pk).count()
                        + 1
                    )
                    if slot > limit:
                        raise _LimitSignal
                voucher = Voucher.objects.create(
                    campaign_id=campaign.pk,
                    member_id=member.pk,
                    slot=slot,
                    per_member_limit=limit,
                    code=new_voucher_code(),
                    request_key=request_key,
                )
                audit_record(
                    actor=member,
                    action=AuditAction.CREATE,
                    obj=voucher,
                    object_repr=f"voucher {campaign.pk}/{member.pk}/{slot}",
                    org=campaign.org,
                    changes={"campaign": campaign.pk, "slot": slot},
                )
                left = _decrement(campaign.pk, spread=member.pk)
                if left is None:
                    raise _SoldOutSignal
        except _SoldOutSignal:
            campaign_mark_sold_out(campaign=campaign)
            return _sold_out()
        except _LimitSignal:
            return GrabResult(
                GrabOutcome.LIMIT,
                _("You already have %(n)d vouchers of this campaign, the most allowed.")
                % {"n": limit},
            )
        except IntegrityError:
            existing = _existing_voucher(campaign, member.pk, request_key)
            if existing is not None:
                return _won(existing, already=True)
            continue  # another slot was taken by a parallel request of the same member
        transaction.on_commit(
            lambda v=voucher.pk, m=member.pk: hot.mark_winner(key, m, v)  # type: ignore[misc]
        )
        return _won(voucher, already=False)
    return GrabResult(GrabOutcome.LIMIT, _("Please try again."), code="retry")


def _as_stored(obj: _M) -> _M:
    """A model instance built from a statement's ``RETURNING`` row, marked as saved."""
    obj._state.adding = False
    obj._state.db = connection.alias
    return obj


def _loaded(model: type[_M], **values: Any) -> _M:
    """An instance of ``model`` with only these fields loaded, as a query with ``only()`` makes
    it: any other field is read from the database when asked for, never a made-up default."""
    names = [f.attname for f in model._meta.concrete_fields if f.attname in values]
    assert len(names) == len(values), set(values) - set(names)
    return model.from_db(connection.alias, names, [values[n] for n in names])


def _grab_statement(
    *, campaign: Campaign, member: Member, request_key: str, key: str
) -> GrabResult | None:
    """A winner in one prepared statement (``grab_sql``); None: take the ORM path. ``key``: the
    campaign's ``hot`` key, as the caller has it."""
    origin = current_origin()
    code = new_voucher_code()
    try:
        won = grab_sql.run(
            campaign_id=campaign.pk,
            org_id=campaign.org_id,
            member_id=member.pk,
            code=code,
            request_key=request_key,
            spread=member.pk,
            shards=MAX_STOCK_SHARDS,
            ip_address=origin.ip_address,
            user_agent=origin.user_agent,
            source=origin.source,
        )
    except IntegrityError:  # a double tap: the member's voucher exists (or is being made)
        existing = _existing_voucher(campaign, member.pk, request_key)
        return _won(existing, already=True) if existing is not None else None
    if won is None:
        return None
    voucher = _as_stored(
        Voucher(
            id=won.voucher_id,
            campaign_id=campaign.pk,
            member_id=member.pk,
            slot=1,
            per_member_limit=1,
            code=code,
            request_key=request_key,
            status=VoucherStatus.OPEN,
            created_at=won.created_at,
        )
    )
    transaction.on_commit(lambda: hot.mark_winner(key, member.pk, won.voucher_id))
    return _won(voucher, already=False)


# ---------------------------------------------------------------------------------------------
# lottery


def lottery_seed_hash(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def _lottery_rank_key(seed: str, campaign_id: int, registration_id: int) -> str:
    return hmac.new(
        seed.encode(), f"{campaign_id}:{registration_id}".encode(), hashlib.sha256
    ).hexdigest()


def lottery_verify(
    *,
    seed: str,
    seed_hash: str,
    campaign_id: int,
    registration_ids: Iterable[int],
    quota: int,
    passed_over: Iterable[int] = (),
) -> list[int]:
    """Re-run a draw: the winners are the ``quota`` registrations with the smallest
    HMAC-SHA256(seed, "campaign_id:registration_id"), passing over the ``passed_over`` ones (their
    members were no longer eligible when the draw reached them). Anyone with the published seed,
    hash and registration numbers gets the same list."""
    if not hmac.compare_digest(lottery_seed_hash(seed), seed_hash):
        raise ApplicationError(
            _("The seed does not match the published hash."), code="seed_mismatch"
        )
    skipped = set(passed_over)
    return [
        rid for rid in _lottery_ranked(seed, campaign_id, registration_ids) if rid not in skipped
    ][:quota]


def _lottery_ranked(seed: str, campaign_id: int, registration_ids: Iterable[int]) -> list[int]:
    """Every registration in the draw's order (the smallest HMAC first)."""
    return sorted(
        set(registration_ids), key=lambda rid: (_lottery_rank_key(seed, campaign_id, rid), rid)
    )


def _lottery_pick(campaign: Campaign, ranked: list[int]) -> tuple[list[int], dict[int, str]]:
    """Walk the ranking and take the first ``quota`` entries whose member is still eligible
    (active, in the campaign's unions, of its categories, with an accepted card): one who left
    the union or whose card was cancelled since registering would hold a voucher nobody can
    honour, in place of someone who can. Returns the winners and, for each entry passed over on
    the way, the reason's code; entries below the last winner are not looked at (they lost
    anyway). Two queries per batch of as many entries as winners are still wanted."""
    winners: list[int] = []
    passed_over: dict[int, str] = {}
    at = 0
    while len(winners) < campaign.quota and at < len(ranked):
        batch = ranked[at : at + campaign.quota - len(winners)]
        at += len(batch)
        entries = {
            r.pk: r.member
            for r in Registration.objects.filter(pk__in=batch).select_related("member__org")
        }
        cards = {
            member_id: CardFacts(bool(is_member_card), bank_name or "")
            for member_id, is_member_card, bank_name in MemberCard.objects.filter(
                member_id__in=[m.pk for m in entries.values()], is_current=True
            ).values_list("member_id", "is_member_card", "bank_name")
        }
        for rid in batch:
            member = entries[rid]
            eligibility = member_eligibility(
                member=member, campaign=campaign, card=cards.get(member.pk)
            )
            if eligibility.ok:
                winners.append(rid)
            else:
                passed_over[rid] = eligibility.code
    return winners, passed_over


@transaction.atomic
def lottery_commit_seed(*, campaign: Campaign, actor: Any, seed: str | None = None) -> str:
    """Commit to a secret seed: its SHA-256 is published now, the seed itself after the draw.

    Returns the seed (for the operator's sealed record); the platform keeps it encrypted.
    """
    require_manager(actor, campaign.org)
    if campaign.distribution != Distribution.LOTTERY:
        raise ApplicationError(_("This campaign has no lottery."), code="not_lottery")
    seed = seed if seed is not None else secrets.token_hex(32)
    if not re.fullmatch(r"[0-9A-Za-z_\-]{32,128}", seed):
        raise ApplicationError(
            _("The seed must be 32 to 128 letters or digits."), code="seed_format", field="seed"
        )
    digest = lottery_seed_hash(seed)
    now = timezone.now()
    updated = Campaign.objects.filter(
        pk=campaign.pk,
        seed_hash="",
        status__in=[CampaignStatus.DRAFT, CampaignStatus.SCHEDULED],
        registration_closes_at__gt=now,
    ).update(seed_hash=digest, seed_enc=crypto.encrypt(seed), seed_committed_at=now)
    if not updated:
        raise ApplicationError(
            _("The seed can be committed once, before registration closes."),
            code="seed_commit_refused",
        )
    campaign.refresh_from_db()
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=campaign,
        org=campaign.org,
        changes={"seed_hash": ["", digest]},
    )
    return seed


def _lottery_entry_open(campaign_id: int) -> bool:
    """Whether the draw has yet to run, read under a lock the draw's ``FOR UPDATE`` waits for.

    Until this transaction commits the draw cannot lock the campaign, so it will count the entry
    written here; a draw that holds the lock already is waited for, and its ``drawn_at`` seen.
    The foreign key's own check does not serve: Django's are deferred to the commit. (SQLite
    has one writer at a time: the plain read is enough.)"""
    lock = " FOR KEY SHARE" if connection.vendor == "postgresql" else ""
    table = connection.ops.quote_name(Campaign._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {table} WHERE id = %s AND drawn_at IS NULL AND status = %s{lock}",  # noqa: S608
            [campaign_id, CampaignStatus.OPEN.value],
        )
        return cursor.fetchone() is not None


def lottery_register(
    *, campaign: Campaign, member: Member, now: dt.datetime | None = None
) -> Registration:
    now = now or timezone.now()
    if campaign.distribution != Distribution.LOTTERY:
        raise ApplicationError(_("This campaign has no lottery."), code="not_lottery")
    _open_if_due(campaign, now)
    closes = campaign.registration_closes_at
    if campaign.status == CampaignStatus.CANCELLED:
        raise ApplicationError(_("The campaign was cancelled."), code="campaign_cancelled")
    if campaign.status in {CampaignStatus.DRAFT, CampaignStatus.SCHEDULED} or (
        now < campaign.release_at
    ):
        raise ApplicationError(_("Registration has not opened."), code="registration_not_open")
    if (
        campaign.status != CampaignStatus.OPEN
        or closes is None
        or now >= closes
        or campaign.drawn_at is not None
    ):
        # closed, settling or settled: over, not "not open yet"
        raise ApplicationError(_("Registration has closed."), code="registration_closed")
    eligibility = member_eligibility(member=member, campaign=campaign)
    if not eligibility.ok:
        raise ApplicationError(eligibility.message, code=eligibility.code)
    existing = Registration.objects.filter(campaign=campaign, member=member).first()
    if existing:
        return existing
    try:
        with transaction.atomic():
            if not _lottery_entry_open(campaign.pk):
                # The draw ran after this request read the campaign: an entry written now would
                # be in the published list without having been in the draw.
                raise ApplicationError(_("Registration has closed."), code="registration_closed")
            registration = Registration.objects.create(campaign=campaign, member=member)
            audit_record(
                actor=member, action=AuditAction.CREATE, obj=registration, org=campaign.org
            )
    except IntegrityError:
        return Registration.objects.get(campaign=campaign, member=member)
    return registration


@transaction.atomic
def lottery_draw(*, campaign: Campaign, actor: Any, now: dt.datetime | None = None) -> list[int]:
    """After registration closes: reveal the seed, rank, hand vouchers to the winners (passing
    over entries whose member is no longer eligible, ``_lottery_pick``)."""
    require_manager(actor, campaign.org)
    now = now or timezone.now()
    if campaign.distribution != Distribution.LOTTERY:
        raise ApplicationError(_("This campaign has no lottery."), code="not_lottery")
    if campaign.registration_closes_at is None or now < campaign.registration_closes_at:
        raise ApplicationError(_("The draw runs after registration closes."), code="draw_too_early")
    if not campaign.seed_hash:
        raise ApplicationError(_("No seed was committed."), code="seed_missing")
    # A lottery nobody registered for may not have been opened yet, if the clock has not run.
    _open_if_due(campaign, now)
    locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if locked.drawn_at is not None:
        raise ApplicationError(_("The draw has already run."), code="draw_done")
    if locked.status != CampaignStatus.OPEN:
        raise ApplicationError(_("This campaign is not open."), code="campaign_not_open")
    seed = crypto.decrypt(locked.seed_enc)
    if not hmac.compare_digest(lottery_seed_hash(seed), locked.seed_hash):
        raise ApplicationError(
            _("The seed does not match the published hash."), code="seed_mismatch"
        )
    reg_ids = list(Registration.objects.filter(campaign=locked).values_list("pk", flat=True))
    winners, passed_over = _lottery_pick(locked, _lottery_ranked(seed, locked.pk, reg_ids))
    members = dict(Registration.objects.filter(pk__in=winners).values_list("pk", "member_id"))
    Voucher.objects.bulk_create(
        [
            Voucher(
                campaign=locked,
                member_id=members[rid],
                slot=1,
                per_member_limit=locked.per_member_limit,
                code=code,
                request_key=f"lottery-{rid}",
            )
            for rid, code in zip(winners, new_voucher_codes(len(winners)), strict=True)
        ]
    )
    Registration.objects.filter(campaign=locked).update(won=False)
    Registration.objects.filter(pk__in=winners).update(won=True)
    for code in set(passed_over.values()):
        Registration.objects.filter(
            pk__in=[rid for rid, why in passed_over.items() if why == code]
        ).update(passed_over=code)
    Campaign.objects.filter(pk=locked.pk).update(drawn_at=now, seed=seed)
    _stock_reset(locked, handed_out=len(winners))
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=locked,
        org=locked.org,
        changes={
            "draw": {
                "registrations": len(reg_ids),
                "winners": len(winners),
                "passed_over": len(passed_over),
                "seed": seed,
            }
        },
    )
    campaign.refresh_from_db()
    return winners


# ---------------------------------------------------------------------------------------------
# vouchers: QR, redemption, reversal, expiry


def voucher_qr_png(voucher: Voucher, *, scale: int = 8) -> bytes:
    """The voucher's code as a QR image; the scan page reads the code back."""
    buf = io.BytesIO()
    segno.make(voucher.code, error="m", micro=False).save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


def voucher_qr_svg(voucher: Voucher, *, scale: int = 6) -> str:
    return segno.make(voucher.code, error="m", micro=False).svg_inline(scale=scale)


_CODE = re.compile(r"[A-Za-z0-9_\-]{16,32}")
_RECEIPT = re.compile(r"[A-Za-z0-9\-_/#.]{1,40}")


# What a clerk's keyboard makes of a code's "-" and "_": dashes of every kind, and the "——" a
# Chinese input method types for shift+minus. Codes hold no spaces, so any typed ones go.
_CODE_TYPED = str.maketrans({c: "-" for c in "\u2010\u2011\u2012\u2013\u2212"})


def clean_voucher_code(raw: object) -> str:
    code = unicodedata.normalize("NFKC", str(raw or "")).replace("\u2014\u2014", "_")
    code = "".join(code.translate(_CODE_TYPED).split())
    if not code:
        raise ApplicationError(
            _("Scan or enter the voucher code."), code="code_empty", field="code"
        )
    digits = code.replace("-", "")
    if digits.isascii() and digits.isdigit():
        if len(digits) != VOUCHER_CODE_DIGITS:
            raise ApplicationError(
                _("A voucher code has %(n)d digits; this one has %(got)d.")
                % {"n": VOUCHER_CODE_DIGITS, "got": len(digits)},
                code="code_length",
                field="code",
            )
        if not luhn.is_valid(digits):
            raise ApplicationError(
                _("One digit of this code is wrong; check it against the member's screen."),
                code="code_checksum",
                field="code",
            )
        return digits
    if not _CODE.fullmatch(code):
        raise ApplicationError(_("This is not a voucher code."), code="code_invalid", field="code")
    return code


def clean_receipt_no(raw: object) -> str:
    receipt = unicodedata.normalize("NFKC", str(raw or "")).strip()
    if not receipt:
        raise ApplicationError(
            _("Enter the receipt number."), code="receipt_empty", field="receipt_no"
        )
    if not _RECEIPT.fullmatch(receipt):
        raise ApplicationError(
            _("The receipt number may have up to 40 letters, digits and - _ / # ."),
            code="receipt_invalid",
            field="receipt_no",
        )
    return receipt


_DAY = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?", re.ASCII)


def clean_day(raw: object) -> dt.date | None:
    """A calendar day as a clerk types or a date picker sends it (``2026-04-24``, ``2026/4/24``,
    ``2026年4月24日``, full-width digits too); None when left empty."""
    text = unicodedata.normalize("NFKC", str(raw or "")).strip()
    if not text:
        return None
    match = _DAY.fullmatch(text[:20])
    day = None
    if match is not None:
        try:
            day = dt.date(*(int(part) for part in match.groups()))
        except ValueError:  # 2026-02-30 and the like
            day = None
    if day is None or not 2000 <= day.year <= 2100:
        raise ApplicationError(_("Enter a date like 2026-04-24."), code="day_invalid", field="day")
    return day


def _vouchers_move(
    qs: Any, *, new: str, actor: Any, reason_code: VoucherChangeReason, reason: str = ""
) -> int:
    """Move the vouchers of ``qs`` to ``new`` for the platform's ``reason_code`` (stored as a
    code, shown in the reader's language); ``reason`` is what a person typed, if anyone did.
    Runs inside the caller's transaction.

    The vouchers are locked before they are read (PostgreSQL; on SQLite the caller's transaction
    already holds the write lock): a scan still writing one of them is waited for and, once it
    has used the voucher, the voucher is no longer in ``qs``. So the rows moved and the history
    rows written are the same vouchers, and a voucher used at that moment keeps a history that
    says so (no "open → expired" line for a used voucher)."""
    code = VoucherChangeReason(reason_code).value
    now = timezone.now()
    ids = list(qs.select_for_update(of=("self",)).order_by("pk").values_list("pk", "status"))
    if not ids:
        return 0
    moved = 0
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        for old in sorted({s for _pk, s in chunk}):
            pks = [pk for pk, s in chunk if s == old]
            updated = Voucher.objects.filter(pk__in=pks, status=old).update(
                status=new, status_changed_at=now
            )
            if updated != len(pks):  # impossible under the lock; never record an unmade move
                raise RuntimeError("vouchers changed while locked")
            moved += updated
            VoucherStatusChange.objects.bulk_create(
                [
                    VoucherStatusChange(
                        voucher_id=pk,
                        old=old,
                        new=new,
                        actor_label=actor_label_of(actor),
                        reason_code=code,
                        reason=reason[:300],
                        at=now,
                    )
                    for pk in pks
                ]
            )
    return moved


def vouchers_expire(*, now: dt.datetime | None = None) -> int:
    """Mark vouchers still open after their redemption window as expired."""
    now = now or timezone.now()
    with transaction.atomic():
        return _vouchers_move(
            Voucher.objects.filter(status=VoucherStatus.OPEN, campaign__redeem_until__lte=now),
            new=VoucherStatus.EXPIRED,
            actor=None,
            reason_code=VoucherChangeReason.WINDOW_ENDED,
        )


def subsidy_accounts(campaign: Campaign) -> tuple[Account, Account]:
    """The chart used by vouchers: subsidy expense (5301) and payable to the merchant (2202.M<id>)."""
    expense = ledger_account_ensure(
        org=campaign.org, code="5301", name="会员普惠补贴支出", kind=AccountKind.EXPENSE
    )
    payable = ledger_account_ensure(
        org=campaign.org,
        code=f"2202.M{campaign.merchant_id}",
        name=f"应付商户补贴—{campaign.merchant.name}"[:100],
        kind=AccountKind.LIABILITY,
    )
    return expense, payable


def bank_account(org: Org) -> Account:
    return ledger_account_ensure(org=org, code="1002", name="银行存款", kind=AccountKind.ASSET)


SCAN_TICKET_SALT = "gonghui.benefits.scan-ticket"
SCAN_TICKET_MAX_AGE = 12 * 3600  # one long shift at the till


@dataclass(frozen=True)
class ScanAuth:
    """A clerk as a scan ticket names them: the clerk's id and a fingerprint of the user's
    password hash, so a password change voids every ticket issued before it."""

    clerk_id: int
    fingerprint: str


def password_fingerprint(password_hash: str) -> str:
    """16 hex digits of MD5 over the (already salted and stretched) password hash; the scan
    statement computes the same with PostgreSQL's md5()."""
    return hashlib.md5(password_hash.encode(), usedforsecurity=False).hexdigest()[:16]


def scan_ticket_issue(*, clerk: MerchantClerk) -> str:
    """A signed, expiring ticket the merchant page hands to the clerk's browser.

    The page's scan request carries it in a header and is sent without cookies, so the scan
    needs neither the session nor the user and clerk rows in Python: the scan statement checks
    that the clerk, the user and the merchant are still active and the password unchanged.
    Being no ambient credential, it needs no CSRF token either.
    """
    return signing.dumps(
        [clerk.pk, password_fingerprint(clerk.user.password)],
        salt=SCAN_TICKET_SALT,
        compress=False,
    )


def scan_ticket_read(ticket: str) -> ScanAuth:
    """The clerk named by a valid, unexpired scan ticket; else ``ticket_invalid``."""
    try:
        clerk_id, fingerprint = signing.loads(
            ticket, salt=SCAN_TICKET_SALT, max_age=SCAN_TICKET_MAX_AGE
        )
    except (signing.BadSignature, ValueError, TypeError):
        raise _ticket_invalid() from None
    if not isinstance(clerk_id, int) or not isinstance(fingerprint, str):
        raise _ticket_invalid()
    return ScanAuth(clerk_id, fingerprint)


class SignInRequired(ApplicationError):
    status = 401


def _ticket_invalid() -> ApplicationError:
    return SignInRequired(
        _("Your sign-in has expired; reload the page and sign in again."), code="ticket_invalid"
    )


def _scan_parties(
    clerk: MerchantClerk | ScanAuth, store: Store | int
) -> tuple[MerchantClerk | None, Store | None]:
    """The clerk and store objects behind a scan's ids (the ORM path needs them): None for a
    clerk that does not exist or whose ticket no longer matches its password, and for a store
    id that is not one of the clerk's merchant's stores."""
    if isinstance(clerk, ScanAuth):
        found = (
            MerchantClerk.objects.select_related("user", "merchant")
            .filter(pk=clerk.clerk_id)
            .first()
        )
        if found is None or password_fingerprint(found.user.password) != clerk.fingerprint:
            return None, None
        clerk = found
    if not isinstance(store, Store):
        return clerk, Store.objects.filter(pk=store, merchant_id=clerk.merchant_id).first()
    return clerk, store


def _wrong_store_error(names: list[str]) -> ApplicationError:
    """The voucher is for other stores: which ones, so the clerk can send the member there."""
    if not names:
        return ApplicationError(
            _("This voucher cannot be used at this store."), code="wrong_store", field="code"
        )
    most = redeem_sql.STORES_NAMED
    shown = "、".join(names[:most]) + ("…" if len(names) > most else "")
    return ApplicationError(
        _("This voucher cannot be used at this store. It can be used at: %(stores)s.")
        % {"stores": shown},
        code="wrong_store",
        field="code",
    )


def _scan_refusal(
    facts: redeem_sql.ScanFacts, *, store_given: bool, amount: int, now: dt.datetime
) -> Exception | None:
    """Why a scan with these ``facts`` may not redeem, or None if it may. The one place the
    rules live, whichever way the facts were read. ``store_given``: the caller passed a store
    object (a signed-in page), not an id to look up."""
    if not facts.clerk_known:
        return _ticket_invalid()
    if not (store_given or facts.store_of_merchant):
        return NotFound()
    if not facts.parties_active:
        return PermissionDenied(clerk_switched_off_message())
    if not facts.voucher_known:
        # Another merchant's voucher gets the same answer as a code that does not exist.
        return ApplicationError(_("No such voucher."), code="voucher_unknown", field="code")
    if not facts.at_store:
        return _wrong_store_error(facts.campaign_stores or [])
    assert facts.redeem_from is not None and facts.redeem_until is not None
    if facts.status == VoucherStatus.USED:
        return _already_used_error(facts.used_store, facts.used_at, facts.used_receipt)
    if facts.status == VoucherStatus.EXPIRED or now >= facts.redeem_until:
        return ApplicationError(_("This voucher has expired."), code="expired")
    if facts.status == VoucherStatus.CANCELLED or facts.campaign_status != CampaignStatus.OPEN:
        return ApplicationError(_("This voucher is no longer valid."), code="voucher_void")
    if now < facts.redeem_from:
        return ApplicationError(
            _("This voucher can be used from %(t)s.")
            % {"t": timezone.localtime(facts.redeem_from).strftime("%Y-%m-%d %H:%M")},
            code="not_yet",
        )
    if amount < (facts.min_purchase_fen or 0):
        return ApplicationError(
            _(
                "This voucher needs a purchase of at least ¥%(min)s; this one is ¥%(amount)s. "
                "Nothing was redeemed."
            )
            % {"min": fen_yuan(facts.min_purchase_fen or 0), "amount": fen_yuan(amount)},
            code="purchase_below_minimum",
            field="amount",
        )
    return None


def clerk_switched_off_message() -> str:
    """What a clerk is told whose sign-in, merchant or store was switched off mid-shift: what
    happened and whom to ask, not "you do not have permission", which reads as their mistake."""
    return _(
        "This clerk, the merchant or the store has been switched off; nothing was redeemed. "
        "Ask your supervisor or the union."
    )


def _scan_paused(window: int) -> ApplicationError:
    return RateLimited(
        _(
            "Too many codes that are not vouchers of this merchant were entered; this sign-in "
            "may not redeem for up to %(minutes)d minutes. Ask the union if this is a mistake."
        )
        % {"minutes": max(1, window // 60)},
        code="scan_paused",
        extra={"retry_after": window},
    )


def voucher_redeem(
    *,
    code: object,
    store: Store | int,
    clerk: MerchantClerk | ScanAuth,
    receipt_no: object,
    amount_fen: object,
    now: dt.datetime | None = None,
) -> Redemption:
    """Use a voucher at a store. Concurrent scans of one code: exactly one succeeds.

    ``clerk`` is a clerk object (a signed-in page) or a scan ticket's ``ScanAuth``; ``store``
    an object or an id. On PostgreSQL a valid scan is one prepared statement (``redeem_sql``),
    shared with the scans other threads of this process make at the same moment, and a scan
    it does not take is explained from one more (``redeem_sql.facts``); every scan on SQLite
    takes the ORM path. Either way ``_scan_refusal`` says why a scan is refused.

    The same clerk's same sale sent again (store, receipt and amount; within the reversal
    window) is not refused as "already used": it returns the first redemption, ``repeated``.
    The first answer was lost on a bad line or the clerk pressed twice; nothing is written.

    A clerk who scans many codes that pass the check digit but are no voucher of the merchant
    is guessing: past ``GONGHUI_SCAN_UNKNOWN_PER_CLERK`` in the window the clerk's scans are
    refused (``scan_paused``, the real codes too, so a guess that lands is not paid), and
    nothing is looked up.
    """
    clerk_id = clerk.clerk_id if isinstance(clerk, ScanAuth) else clerk.pk
    window = settings.GONGHUI_SCAN_UNKNOWN_WINDOW_SECONDS
    if hot.scan_paused(clerk_id):
        raise _scan_paused(window)
    try:
        return _voucher_redeem(
            code=code,
            store=store,
            clerk=clerk,
            receipt_no=receipt_no,
            amount_fen=amount_fen,
            now=now,
        )
    except ApplicationError as error:
        if error.code == "voucher_unknown" and not hot.scan_unknown_count(
            clerk_id, limit=settings.GONGHUI_SCAN_UNKNOWN_PER_CLERK, window=window
        ):
            logger.warning("benefits: scans of clerk %s paused, too many unknown codes", clerk_id)
            raise _scan_paused(window) from None
        raise


def _voucher_redeem(
    *,
    code: object,
    store: Store | int,
    clerk: MerchantClerk | ScanAuth,
    receipt_no: object,
    amount_fen: object,
    now: dt.datetime | None = None,
) -> Redemption:
    """``voucher_redeem`` without the pause on guessing."""
    now = now or timezone.now()
    code = clean_voucher_code(code)
    receipt = clean_receipt_no(receipt_no)
    amount = clean_fen(amount_fen, field="amount_fen", minimum=1, maximum=10**9)
    if not isinstance(store, Store) and not 0 < store < 2**63:
        raise NotFound()  # no row has such an id (and the database could not compare it)
    if connection.vendor == "postgresql":
        store_id = store.pk if isinstance(store, Store) else store
        clerk_id = clerk.clerk_id if isinstance(clerk, ScanAuth) else clerk.pk
        origin = current_origin()
        scan = redeem_sql.Scan(
            code=code,
            store_id=store_id,
            clerk_id=clerk_id,
            fingerprint=clerk.fingerprint if isinstance(clerk, ScanAuth) else None,
            receipt=receipt,
            amount_fen=amount,
            now=now,
            ip_address=origin.ip_address,
            user_agent=origin.user_agent,
            source=origin.source,
        )
        done = redeem_sql.run(scan)
        if done is not None:
            # The voucher and its campaign as far as the statement returned them: enough for the
            # clerk's answer (any other field is loaded when asked for).
            voucher = _loaded(
                Voucher,
                id=done.voucher_id,
                campaign_id=done.campaign_id,
                code=done.code,
                status=VoucherStatus.USED,
                used_at=done.at,
            )
            voucher.campaign = _loaded(
                Campaign,
                id=done.campaign_id,
                name=done.campaign_name,
                face_value_fen=done.face_value_fen,
                member_share_fen=done.member_share_fen,
                subsidy_fen=done.subsidy_fen,
            )
            return _as_stored(
                Redemption(
                    id=done.redemption_id,
                    voucher=voucher,
                    store_id=store_id,
                    clerk_id=clerk_id,
                    receipt_no=receipt,
                    amount_fen=amount,
                    subsidy_fen=done.subsidy_fen,
                    at=done.at,
                )
            )
        # Not taken: say why from one more statement; only a scan that is valid as it stands
        # (an open voucher whose ledger accounts do not exist yet, say) goes on to the ORM path.
        facts = redeem_sql.facts(scan)
        refusal = _scan_refusal(facts, store_given=isinstance(store, Store), amount=amount, now=now)
        if refusal is not None:
            return _repeat_or_raise(
                refusal,
                facts,
                clerk_id=clerk_id,
                store_id=store_id,
                receipt=receipt,
                amount=amount,
                now=now,
            )
    return _voucher_redeem_orm(
        code=code, store=store, clerk=clerk, receipt=receipt, amount=amount, now=now
    )


REDEMPTION_MEMO_PREFIX = redeem_sql.MEMO_PREFIX


def _voucher_redeem_orm(
    *,
    code: str,
    store: Store | int,
    clerk: MerchantClerk | ScanAuth,
    receipt: str,
    amount: int,
    now: dt.datetime,
) -> Redemption:
    """Read a scan's facts with the ORM, refuse by ``_scan_refusal``, else write what
    ``redeem_sql`` writes."""
    store_given = isinstance(store, Store)
    found_clerk, found_store = _scan_parties(clerk, store)
    voucher = None
    if found_clerk is not None:
        voucher = (
            Voucher.objects.select_related("campaign", "campaign__org", "campaign__merchant")
            .filter(code=code, campaign__merchant_id=found_clerk.merchant_id)
            .first()
        )
    used = _live_redemption(voucher) if voucher and voucher.status == VoucherStatus.USED else None
    campaign = voucher.campaign if voucher else None
    store_of_merchant = parties_active = False
    if (
        found_clerk is not None
        and found_store is not None
        and found_store.merchant_id == found_clerk.merchant_id
    ):
        store_of_merchant = True
        parties_active = (
            found_clerk.is_active
            and found_clerk.user.is_active
            and found_clerk.merchant.is_active
            and found_store.is_active
        )
    at_store = (
        campaign is not None
        and found_store is not None
        and campaign.stores.filter(pk=found_store.pk).exists()
    )
    facts = redeem_sql.ScanFacts(
        clerk_known=found_clerk is not None,
        store_of_merchant=store_of_merchant,
        parties_active=parties_active,
        voucher_known=voucher is not None,
        at_store=at_store,
        status=voucher.status if voucher else None,
        campaign_status=campaign.status if campaign else None,
        redeem_from=campaign.redeem_from if campaign else None,
        redeem_until=campaign.redeem_until if campaign else None,
        min_purchase_fen=campaign.min_purchase_fen if campaign else None,
        used_store=used.store.name if used else None,
        used_at=used.at if used else None,
        used_receipt=used.receipt_no if used else None,
        used_id=used.pk if used else None,
        used_clerk_id=used.clerk_id if used else None,
        used_store_id=used.store_id if used else None,
        used_amount_fen=used.amount_fen if used else None,
        campaign_stores=list(
            campaign.stores.filter(is_active=True)
            .order_by("pk")
            .values_list("name", flat=True)[: redeem_sql.STORES_NAMED + 1]
        )
        if campaign is not None and not at_store
        else None,
    )
    refusal = _scan_refusal(facts, store_given=store_given, amount=amount, now=now)
    if refusal is not None:
        if found_clerk is None or found_store is None:
            raise refusal
        return _repeat_or_raise(
            refusal,
            facts,
            clerk_id=found_clerk.pk,
            store_id=found_store.pk,
            receipt=receipt,
            amount=amount,
            now=now,
        )
    assert found_clerk is not None and found_store is not None
    assert voucher is not None and campaign is not None
    clerk, store = found_clerk, found_store
    with transaction.atomic():
        moved = Voucher.objects.filter(pk=voucher.pk, status=VoucherStatus.OPEN).update(
            status=VoucherStatus.USED, used_at=now, status_changed_at=now
        )
        if not moved:  # another scan of the code got there first (and has committed)
            used = _live_redemption(voucher)
            repeat = _repeat_of(
                used, clerk_id=clerk.pk, store_id=store.pk, receipt=receipt, amount=amount, now=now
            )
            if repeat is not None:
                return _repeated(repeat)
            raise _already_used_error(
                used.store.name if used else None,
                used.at if used else None,
                used.receipt_no if used else None,
            )
        redemption = Redemption.objects.create(
            voucher=voucher,
            store=store,
            clerk=clerk,
            receipt_no=receipt,
            amount_fen=amount,
            subsidy_fen=campaign.subsidy_fen,
            at=now,
        )
        VoucherStatusChange.objects.create(
            voucher=voucher,
            old=VoucherStatus.OPEN,
            new=VoucherStatus.USED,
            actor_label=clerk.audit_label,
            at=now,
        )
        changes: dict[str, Any] = {"receipt_no": receipt, "amount_fen": amount, "store": store.pk}
        if campaign.subsidy_fen:
            expense, payable = subsidy_accounts(campaign)
            txn = ledger_post(
                entries=[(expense, campaign.subsidy_fen), (payable, -campaign.subsidy_fen)],
                memo=f"{REDEMPTION_MEMO_PREFIX}{campaign.name}"[:200],
                reference=f"benefits.redemption:{redemption.pk}",
                actor=clerk,
                audit=False,  # the redemption's line below names the transaction
            )
            changes["ledger_transaction"] = txn.pk
        audit_record(
            actor=clerk,
            action=AuditAction.CREATE,
            obj=redemption,
            org=campaign.org,
            changes=changes,
        )
    voucher.status = VoucherStatus.USED
    voucher.used_at = now
    return redemption


def _live_redemption(voucher: Voucher) -> Redemption | None:
    """The voucher's latest redemption that was not reversed, with its store."""
    return (
        Redemption.objects.select_related("store")
        .filter(voucher_id=voucher.pk, reversed_at__isnull=True)
        .order_by("-at")
        .first()
    )


@dataclass(frozen=True)
class _UsedFacts:
    """Where a used voucher was used, as a scan's facts read it (``redeem_sql.facts``)."""

    pk: int
    at: dt.datetime | None
    clerk_id: int | None
    store_id: int | None
    receipt_no: str | None
    amount_fen: int | None


def _repeat_of(
    used: Redemption | _UsedFacts | None,
    *,
    clerk_id: int,
    store_id: int,
    receipt: str,
    amount: int,
    now: dt.datetime,
) -> int | None:
    """The id of ``used`` if a scan is the same clerk's same sale again (store, receipt and amount), made
    within the reversal window: a first answer the clerk never saw (a bad line, a press
    repeated). Anyone else's scan of a used voucher, or another sale, is refused as used."""
    if used is None or used.at is None:
        return None
    same_sale = (used.clerk_id, used.store_id, used.receipt_no, used.amount_fen) == (
        clerk_id,
        store_id,
        receipt,
        amount,
    )
    window = dt.timedelta(minutes=settings.GONGHUI_REDEMPTION_REVERSAL_MINUTES)
    return used.pk if same_sale and now - used.at <= window else None


def _repeat_or_raise(
    refusal: Exception,
    facts: redeem_sql.ScanFacts,
    *,
    clerk_id: int,
    store_id: int,
    receipt: str,
    amount: int,
    now: dt.datetime,
) -> Redemption:
    """The redemption a refused scan repeats (see ``_repeat_of``), else raise the refusal."""
    if isinstance(refusal, ApplicationError) and refusal.code == "already_used" and facts.used_id:
        used = _UsedFacts(
            pk=facts.used_id,
            at=facts.used_at,
            clerk_id=facts.used_clerk_id,
            store_id=facts.used_store_id,
            receipt_no=facts.used_receipt,
            amount_fen=facts.used_amount_fen,
        )
        repeat = _repeat_of(
            used, clerk_id=clerk_id, store_id=store_id, receipt=receipt, amount=amount, now=now
        )
        if repeat is not None:
            return _repeated(repeat)
    raise refusal


def _repeated(pk: int) -> Redemption:
    """The redemption a repeated scan is answered with, marked so the answer can say so."""
    redemption = Redemption.objects.select_related("voucher__campaign", "store").get(pk=pk)
    redemption.repeated = True
    return redemption


def _already_used_error(
    store: str | None, at: dt.datetime | None, receipt: str | None
) -> ApplicationError:
    """Says where and when, so a clerk whose first press did go through (a double tap, an answer
    lost on the network) recognises its own receipt instead of suspecting the customer. The
    voucher is the clerk's own merchant's: the redemption names one of its stores."""
    if store is None or at is None:
        return ApplicationError(_("This voucher has already been used."), code="already_used")
    return ApplicationError(
        _("This voucher was already used at %(store)s on %(t)s, receipt %(receipt)s.")
        % {
            "store": store,
            "t": timezone.localtime(at).strftime("%Y-%m-%d %H:%M"),
            "receipt": receipt,
        },
        code="already_used",
    )


def _may_reverse(supervisor: Any, redemption: Redemption) -> bool:
    if isinstance(supervisor, MerchantClerk):
        return (
            supervisor.is_active
            and supervisor.is_supervisor
            and supervisor.merchant_id == redemption.store.merchant_id
        )
    campaign = redemption.voucher.campaign
    return bool(getattr(supervisor, "can", lambda _c: False)(MANAGE_BENEFITS)) and can_see_org(
        supervisor, campaign.org
    )


def redemption_reverse(
    *, redemption: Redemption, supervisor: Any, reason: object, now: dt.datetime | None = None
) -> Redemption:
    """Undo a redemption within the reversal window; the voucher is open again and the subsidy
    accrual is reversed in the ledger by a new transaction. The same supervisor's same reversal
    sent again returns the redemption as reversed and writes nothing more."""
    now = now or timezone.now()
    redemption = Redemption.objects.select_related(
        "store",
        "voucher",
        "voucher__campaign",
        "voucher__campaign__org",
        "voucher__campaign__merchant",
    ).get(pk=redemption.pk)
    if not _may_reverse(supervisor, redemption):
        raise PermissionDenied()
    if not unicodedata.normalize("NFKC", str(reason or "")).strip():
        raise ApplicationError(
            _("Write why the redemption is reversed."), code="reason_empty", field="reason"
        )
    why = clean_text(reason, field="reason", max_length=300)
    limit = dt.timedelta(minutes=settings.GONGHUI_REDEMPTION_REVERSAL_MINUTES)
    if now - redemption.at > limit:
        raise ApplicationError(
            _("A redemption can be reversed only within %(n)d minutes.")
            % {"n": settings.GONGHUI_REDEMPTION_REVERSAL_MINUTES},
            code="reversal_too_late",
        )
    campaign = redemption.voucher.campaign
    if campaign.status != CampaignStatus.OPEN:
        raise ApplicationError(_("This campaign is closed."), code="campaign_not_open")
    label = actor_label_of(supervisor)[:150]
    with transaction.atomic():
        done = Redemption.objects.filter(pk=redemption.pk, reversed_at__isnull=True).update(
            reversed_at=now, reversed_by_label=label, reverse_reason=why
        )
        if not done:
            # The same supervisor's same reversal sent again (a double press on a slow line, a
            # first answer lost) is the reversal already made, not a refusal.
            if Redemption.objects.filter(
                pk=redemption.pk, reversed_by_label=label, reverse_reason=why
            ).exists():
                redemption.refresh_from_db()
                return redemption
            raise ApplicationError(
                _("This redemption has already been reversed."), code="already_reversed"
            )
        Voucher.objects.filter(pk=redemption.voucher_id, status=VoucherStatus.USED).update(
            status=VoucherStatus.OPEN, used_at=None, status_changed_at=now
        )
        VoucherStatusChange.objects.create(
            voucher_id=redemption.voucher_id,
            old=VoucherStatus.USED,
            new=VoucherStatus.OPEN,
            actor_label=label,
            reason=why,
            at=now,
        )
        if redemption.subsidy_fen:
            expense, payable = subsidy_accounts(campaign)
            ledger_post(
                entries=[(payable, redemption.subsidy_fen), (expense, -redemption.subsidy_fen)],
                memo=f"撤销核销 {campaign.name}"[:200],
                reference=f"benefits.redemption:{redemption.pk}",
                actor=supervisor,
            )
        audit_record(
            actor=supervisor,
            action=AuditAction.UPDATE,
            obj=redemption,
            org=campaign.org,
            changes={"reversed": [False, True]},
            reason=why,
        )
    redemption.refresh_from_db()
    return redemption
