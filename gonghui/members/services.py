"""Every write to members, memberships, cards and join applications."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from gonghui.accounts.roles import Capability
from gonghui.accounts.scoping import can_see_org, require_capability
from gonghui.audit.models import AuditAction
from gonghui.audit.services import audit_record, diff
from gonghui.core import crypto
from gonghui.core.errors import ApplicationError, NotFound, PermissionDenied
from gonghui.members.models import (
    JOIN_TRANSITIONS,
    CardBin,
    Education,
    JoinApplication,
    JoinApplicationStatusChange,
    JoinStatus,
    Member,
    MemberCard,
    Membership,
    MembershipEvent,
    MemberStatus,
    NewFormKind,
    PoliticalStatus,
    WorkerCategory,
)
from gonghui.members.sensitive import (
    clean_name,
    clean_phone,
    id_hash,
    name_initials,
    seal_card,
    seal_id_number,
)
from gonghui.orgs.models import Org, OrgStatus


def _check_union(org: Org) -> None:
    if not org.holds_members:
        raise ApplicationError(
            _("Members belong to a base union or joint base union, not to a %(kind)s.")
            % {"kind": org.get_kind_display()},
            code="org_not_base",
            field="org",
        )
    if org.status != OrgStatus.ACTIVE:
        raise ApplicationError(_("This union is dissolved."), code="org_dissolved", field="org")


def clean_profile(fields: dict[str, Any]) -> dict[str, Any]:
    """Validate the plain profile fields shared by forms, the API and the import."""
    out: dict[str, Any] = {}
    if "name" in fields:
        out["name"] = clean_name(fields["name"])
        out["name_initials"] = name_initials(out["name"])
    if "phone" in fields:
        out["phone"] = clean_phone(fields["phone"], required=False)
    if "employer" in fields:
        employer = " ".join(str(fields["employer"] or "").split())
        if len(employer) > 100:
            raise ApplicationError(
                _("The employer may have at most 100 characters."),
                code="employer_long",
                field="employer",
            )
        out["employer"] = employer
    category = fields.get("category")
    if "category" in fields:
        if category not in WorkerCategory.values:
            raise ApplicationError(
                _("Choose a worker category."), code="category_invalid", field="category"
            )
        out["category"] = category
    if "new_form_kind" in fields or "category" in fields:
        kind = fields.get("new_form_kind") or ""
        if category == WorkerCategory.NEW_FORM_WORKER:
            if kind not in NewFormKind.values:
                raise ApplicationError(
                    _(
                        "For a new-form worker, choose truck driver, ride-hailing driver, courier or food-delivery rider."
                    ),
                    code="new_form_kind_missing",
                    field="new_form_kind",
                )
        elif kind:
            raise ApplicationError(
                _("Only new-form workers have a new-form worker kind."),
                code="new_form_kind_unexpected",
                field="new_form_kind",
            )
        out["new_form_kind"] = kind
    if "education" in fields:
        if fields["education"] and fields["education"] not in Education.values:
            raise ApplicationError(
                _("Choose an education level."), code="education_invalid", field="education"
            )
        out["education"] = fields["education"] or ""
    if "political_status" in fields:
        if fields["political_status"] and fields["political_status"] not in PoliticalStatus.values:
            raise ApplicationError(
                _("Choose a political status."), code="political_invalid", field="political_status"
            )
        out["political_status"] = fields["political_status"] or ""
    return out


def _snapshot(member: Member) -> dict[str, Any]:
    return {
        f: getattr(member, f)
        for f in (
            "name",
            "phone",
            "employer",
            "category",
            "new_form_kind",
            "education",
            "political_status",
            "status",
            "org_id",
            "id_number_masked",
        )
    }


@transaction.atomic
def member_register(
    *,
    actor: Any,
    org: Org,
    id_number: object,
    joined_on: dt.date | None = None,
    card_number: object = None,
    reason: str = "",
    **fields: Any,
) -> Member:
    require_capability(actor, Capability.EDIT_MEMBERS, org)
    _check_union(org)
    sealed = seal_id_number(id_number)
    fields.setdefault("category", WorkerCategory.EMPLOYEE)
    data = clean_profile(fields)
    if "name" not in data:
        raise ApplicationError(_("Enter the name."), code="name_empty", field="name")
    joined_on = joined_on or timezone.localdate()
    if joined_on > timezone.localdate():
        raise ApplicationError(
            _("The joining date cannot be in the future."), code="joined_future", field="joined_on"
        )
    known = Member.objects.select_for_update().filter(id_number_hash=sealed.hash).first()
    if known is not None and known.status == MemberStatus.LEFT:
        # Someone who left (this union or another) is registered again: the same person, back.
        try:
            member = member_rejoin(
                actor=actor,
                member=known,
                org=org,
                on=joined_on,
                reason=reason or _("Registered again after leaving"),
            )
        except ApplicationError as error:
            if error.field == "on":  # the rejoin's date is this form's joining date
                error.field = "joined_on"
            raise
        member = member_update(actor=actor, member=member, **fields)
        if card_number not in (None, ""):
            member_card_set(actor=actor, member=member, card_number=card_number)
        return member
    if known is not None:
        raise ApplicationError(
            _("A member with this identity number already exists."),
            code="id_taken",
            field="id_number",
        )
    member = Member(
        org=org,
        joined_on=joined_on,
        id_number_enc=sealed.enc,
        id_number_hash=sealed.hash,
        id_number_masked=sealed.masked,
        id_tail=sealed.tail,
        id_kind=sealed.parsed.kind,
        gender=sealed.parsed.gender,
        birth_date=sealed.parsed.birth_date,
        status=MemberStatus.ACTIVE,
        **data,
    )
    try:
        with transaction.atomic():
            member.save()
    except IntegrityError:
        raise ApplicationError(
            _("A member with this identity number already exists."),
            code="id_taken",
            field="id_number",
        ) from None
    Membership.objects.create(
        member=member,
        org=org,
        started_on=joined_on,
        start_kind=MembershipEvent.JOIN,
        start_reason=reason[:200],
        started_by=actor if getattr(actor, "username", None) else None,
    )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=member,
        org=org,
        changes=diff({}, _snapshot(member)),
        reason=reason,
    )
    if card_number not in (None, ""):
        member_card_set(actor=actor, member=member, card_number=card_number)
    return member


@transaction.atomic
def member_update(*, actor: Any, member: Member, **fields: Any) -> Member:
    member = Member.objects.select_for_update().select_related("org").get(pk=member.pk)
    require_capability(actor, Capability.EDIT_MEMBERS, member.org)
    before = _snapshot(member)
    if "category" in fields and "new_form_kind" not in fields:
        fields["new_form_kind"] = (
            member.new_form_kind if fields["category"] == WorkerCategory.NEW_FORM_WORKER else ""
        )
    if "new_form_kind" in fields and "category" not in fields:
        fields["category"] = member.category
    data = clean_profile(fields)
    for key, value in data.items():
        setattr(member, key, value)
    member.save()
    changes = diff(before, _snapshot(member))
    if changes:
        audit_record(
            actor=actor, action=AuditAction.UPDATE, obj=member, org=member.org, changes=changes
        )
    return member


def _open_membership(member: Member) -> Membership | None:
    return (
        Membership.objects.select_for_update().filter(member=member, ended_on__isnull=True).first()
    )


@transaction.atomic
def member_transfer(*, actor: Any, member: Member, to_org: Org, on: dt.date, reason: str) -> Member:
    member = Member.objects.select_for_update().select_related("org").get(pk=member.pk)
    require_capability(actor, Capability.EDIT_MEMBERS, member.org)
    require_capability(actor, Capability.EDIT_MEMBERS, to_org)
    _check_union(to_org)
    if member.status != MemberStatus.ACTIVE:
        raise ApplicationError(_("Only active members can be transferred."), code="not_active")
    if to_org.pk == member.org_id:
        raise ApplicationError(
            _("The member is already in this union."), code="same_org", field="org"
        )
    if not reason.strip():
        raise ApplicationError(
            _("Give a reason for the transfer."), code="reason_empty", field="reason"
        )
    current = _open_membership(member)
    if current and on < current.started_on:
        raise ApplicationError(
            _("The transfer date is before the current membership began."),
            code="date_before_start",
            field="on",
        )
    if on > timezone.localdate():
        raise ApplicationError(
            _("The date cannot be in the future."), code="date_future", field="on"
        )
    user = actor if getattr(actor, "username", None) else None
    if current:
        current.ended_on, current.end_kind, current.end_reason, current.ended_by = (
            on,
            "transfer",
            reason[:200],
            user,
        )
        current.save()
    Membership.objects.create(
        member=member,
        org=to_org,
        started_on=on,
        start_kind=MembershipEvent.TRANSFER,
        start_reason=reason[:200],
        started_by=user,
    )
    old_org = member.org
    member.org = to_org
    member.save(update_fields=["org", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.MOVE,
        obj=member,
        org=to_org,
        changes={"org_id": [str(old_org.pk), str(to_org.pk)]},
        reason=reason,
    )
    return member


@transaction.atomic
def member_leave(*, actor: Any, member: Member, on: dt.date, reason: str) -> Member:
    member = Member.objects.select_for_update().select_related("org").get(pk=member.pk)
    require_capability(actor, Capability.EDIT_MEMBERS, member.org)
    if member.status != MemberStatus.ACTIVE:
        raise ApplicationError(_("This member has already left."), code="already_left")
    if not reason.strip():
        raise ApplicationError(_("Give a reason for leaving."), code="reason_empty", field="reason")
    if on > timezone.localdate():
        raise ApplicationError(
            _("The date cannot be in the future."), code="date_future", field="on"
        )
    current = _open_membership(member)
    if current:
        if on < current.started_on:
            raise ApplicationError(
                _("The leaving date is before the membership began."),
                code="date_before_start",
                field="on",
            )
        current.ended_on, current.end_kind, current.end_reason = on, "leave", reason[:200]
        current.ended_by = actor if getattr(actor, "username", None) else None
        current.save()
    member.status = MemberStatus.LEFT
    member.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.TRANSITION,
        obj=member,
        org=member.org,
        changes={"status": [MemberStatus.ACTIVE, MemberStatus.LEFT]},
        reason=reason,
    )
    return member


def _check_rejoin_date(member: Member, on: dt.date, *, field: str) -> None:
    """A new membership begins no later than today and not before the last one ended."""
    if on > timezone.localdate():
        raise ApplicationError(
            _("The date cannot be in the future."), code="date_future", field=field
        )
    left_on = member.memberships.aggregate(last=Max("ended_on"))["last"]
    if left_on is not None and on < left_on:
        raise ApplicationError(
            _("This person left on %(date)s; the new membership cannot begin before that.")
            % {"date": left_on.isoformat()},
            code="date_before_leaving",
            field=field,
        )


@transaction.atomic
def member_rejoin(*, actor: Any, member: Member, org: Org, on: dt.date, reason: str = "") -> Member:
    """A person who left becomes a member again, of ``org`` (any union the actor may edit)."""
    member = Member.objects.select_for_update().select_related("org").get(pk=member.pk)
    require_capability(actor, Capability.EDIT_MEMBERS, org)
    _check_union(org)
    if member.status == MemberStatus.ACTIVE:
        raise ApplicationError(_("This person is already an active member."), code="already_active")
    _check_rejoin_date(member, on, field="on")
    Membership.objects.create(
        member=member,
        org=org,
        started_on=on,
        start_kind=MembershipEvent.REJOIN,
        start_reason=reason[:200],
        started_by=actor if getattr(actor, "username", None) else None,
    )
    before = _snapshot(member)
    member.status, member.org, member.joined_on = MemberStatus.ACTIVE, org, on
    member.save(update_fields=["status", "org", "joined_on", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.TRANSITION,
        obj=member,
        org=org,
        changes=diff(before, _snapshot(member)),
        reason=reason,
    )
    return member


def card_bin_lookup(number: str) -> CardBin | None:
    """Longest matching BIN prefix wins."""
    candidates = [number[:n] for n in range(min(10, len(number)), 3, -1)]
    bins = {b.prefix: b for b in CardBin.objects.filter(prefix__in=candidates)}
    for prefix in candidates:
        if prefix in bins:
            return bins[prefix]
    return None


@transaction.atomic
def member_card_set(*, actor: Any, member: Member, card_number: object) -> MemberCard:
    """Record the member's card. The Luhn check is a warning (``luhn_ok``), never a refusal."""
    require_capability(actor, Capability.EDIT_MEMBERS, member.org)
    sealed = seal_card(card_number)
    existing = MemberCard.objects.filter(number_hash=sealed.hash).first()
    if existing and existing.member_id != member.pk:
        raise ApplicationError(
            _("This card number is already registered to another member."),
            code="card_taken",
            field="card_number",
        )
    if existing and existing.is_current:
        return existing
    card_bin = card_bin_lookup(sealed.number)
    MemberCard.objects.filter(member=member, is_current=True).update(is_current=False)
    if existing:
        existing.is_current = True
        existing.save(update_fields=["is_current"])
        card = existing
    else:
        card = MemberCard.objects.create(
            member=member,
            number_enc=sealed.enc,
            number_hash=sealed.hash,
            number_masked=sealed.masked,
            bank_name=card_bin.bank_name if card_bin else "",
            is_member_card=bool(card_bin and card_bin.is_member_card),
            luhn_ok=sealed.luhn_ok,
            is_current=True,
        )
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=member,
        org=member.org,
        changes={"card": [None, sealed.masked], "bank": [None, card.bank_name]},
    )
    return card


REVEALABLE = {"id_number", "card_number"}


@transaction.atomic
def member_reveal(*, actor: Any, member: Member, field: str, reason: str) -> str:
    """Return the plaintext of a sensitive field; needs the capability and a reason; audited."""
    if not getattr(actor, "can", lambda _c: False)(Capability.REVEAL_SENSITIVE) or not can_see_org(
        actor, member.org
    ):
        raise PermissionDenied(_("You do not have permission to see unmasked numbers."))
    if field not in REVEALABLE:
        raise ApplicationError(_("This field cannot be revealed."), code="field_invalid")
    reason = " ".join(reason.split())
    if len(reason) < 2:
        raise ApplicationError(
            _("Say why you need the full number (for example: bank card issuance)."),
            code="reason_empty",
            field="reason",
        )
    if field == "id_number":
        value = crypto.decrypt(member.id_number_enc)
        shown = member.id_number_masked
    else:
        card = member.cards.filter(is_current=True).first()
        if card is None:
            raise NotFound(_("This member has no card on file."))
        value = crypto.decrypt(card.number_enc)
        shown = card.number_masked
    audit_record(
        actor=actor,
        action=AuditAction.REVEAL,
        obj=member,
        org=member.org,
        changes={"field": [field, shown]},
        reason=reason[:300],
    )
    return value


# --- Join by QR -------------------------------------------------------------------------------


def join_application_submit(
    *,
    org: Org,
    name: object,
    id_number: object,
    phone: object,
    employer: object = "",
    category: object = WorkerCategory.EMPLOYEE,
    new_form_kind: object = "",
) -> JoinApplication:
    """Public (the QR form). Waits for the union's approval; one pending application per person."""
    _check_union(org)
    sealed = seal_id_number(id_number)
    data = clean_profile(
        {
            "name": name,
            "phone": phone,
            "employer": employer,
            "category": category,
            "new_form_kind": new_form_kind,
        }
    )
    if not data.get("phone"):
        raise ApplicationError(_("Enter the mobile number."), code="phone_empty", field="phone")
    if Member.objects.filter(id_number_hash=sealed.hash, status=MemberStatus.ACTIVE).exists():
        raise ApplicationError(
            _("You are already a union member. To change union, ask your union to transfer you."),
            code="already_member",
            field="id_number",
        )
    try:
        with transaction.atomic():
            application = JoinApplication.objects.create(
                org=org,
                name=data["name"],
                id_number_enc=sealed.enc,
                id_number_hash=sealed.hash,
                id_number_masked=sealed.masked,
                phone=data["phone"],
                employer=data.get("employer", ""),
                category=data["category"],
                new_form_kind=data.get("new_form_kind", ""),
            )
            audit_record(
                actor=None,
                action=AuditAction.CREATE,
                obj=application,
                org=org,
                changes={"status": [None, JoinStatus.PENDING]},
            )
    except IntegrityError:
        raise ApplicationError(
            _("An application with this identity number is already waiting for approval."),
            code="application_pending",
            field="id_number",
        ) from None
    return application


@transaction.atomic
def join_application_transition(
    *, actor: Any, application: JoinApplication, to: str, reason: str = ""
) -> JoinApplication:
    """Compare-and-set the status; approval registers the member (or re-activates a leaver)."""
    require_capability(actor, Capability.APPROVE_JOINS, application.org)
    old = application.status
    if to not in JOIN_TRANSITIONS.get(old, set()):
        raise ApplicationError(
            _("This application has already been decided."), code="bad_transition"
        )
    if to == JoinStatus.REJECTED and not reason.strip():
        raise ApplicationError(
            _("Give a reason for rejecting."), code="reason_empty", field="reason"
        )
    user = actor if getattr(actor, "username", None) else None
    updated = JoinApplication.objects.filter(pk=application.pk, status=old).update(
        status=to, decided_by=user, decided_at=timezone.now(), decision_reason=reason[:200]
    )
    if updated == 0:
        raise ApplicationError(_("Someone else decided this application first."), code="conflict")
    JoinApplicationStatusChange.objects.create(
        application=application, old=old, new=to, actor=user, reason=reason[:200]
    )
    application.refresh_from_db()
    if to == JoinStatus.APPROVED:
        existing = Member.objects.filter(id_number_hash=application.id_number_hash).first()
        if existing is None:
            member = member_register(
                actor=actor,
                org=application.org,
                id_number=crypto.decrypt(application.id_number_enc),
                name=application.name,
                phone=application.phone,
                employer=application.employer,
                category=application.category,
                new_form_kind=application.new_form_kind,
                reason=_("Joined by QR code"),
            )
        elif existing.status == MemberStatus.LEFT:
            member = member_rejoin(
                actor=actor,
                member=existing,
                org=application.org,
                on=timezone.localdate(),
                reason=_("Joined by QR code"),
            )
        else:
            raise ApplicationError(
                _("This person is already an active member."), code="already_member"
            )
        JoinApplication.objects.filter(pk=application.pk).update(member=member)
        application.member = member
    audit_record(
        actor=actor,
        action=AuditAction.TRANSITION,
        obj=application,
        org=application.org,
        changes={"status": [old, to]},
        reason=reason,
    )
    return application


def member_lookup_by_id_number(*, actor: Any, id_number: object) -> Member:
    from gonghui.accounts.scoping import scoped

    try:
        return scoped(Member.objects.all(), actor=actor, member_field="pk").get(
            id_number_hash=id_hash(id_number)
        )
    except Member.DoesNotExist:
        raise NotFound() from None


# --- Card BIN table (configuration, kept by administrators in the admin) -----------------------


@transaction.atomic
def card_bin_save(
    *,
    actor: Any,
    card_bin: CardBin | None,
    prefix: object,
    bank_name: object,
    card_length: int = 19,
    is_member_card: bool = True,
) -> CardBin:
    """Create (``card_bin=None``) or change one BIN row; audited."""
    from gonghui.core.idnumbers import normalise

    code = normalise(prefix)
    if not (code.isdigit() and 4 <= len(code) <= 10):
        raise ApplicationError(
            _("A BIN prefix has 4 to 10 digits."), code="bin_prefix", field="prefix"
        )
    bank = " ".join(str(bank_name or "").split())
    if not bank or len(bank) > 50:
        raise ApplicationError(
            _("Enter the bank's name (at most 50 characters)."), code="bank_name", field="bank_name"
        )
    if not 12 <= int(card_length) <= 19:
        raise ApplicationError(
            _("A bank card number has 12 to 19 digits."), code="card_length", field="card_length"
        )
    clash = CardBin.objects.filter(prefix=code)
    if card_bin is not None:
        clash = clash.exclude(pk=card_bin.pk)
    if clash.exists():
        raise ApplicationError(
            _("This BIN prefix is already in the table."), code="bin_taken", field="prefix"
        )
    before = (
        {}
        if card_bin is None
        else {
            f: getattr(card_bin, f)
            for f in ("prefix", "bank_name", "card_length", "is_member_card")
        }
    )
    row = card_bin or CardBin()
    row.prefix, row.bank_name, row.card_length, row.is_member_card = (
        code,
        bank,
        int(card_length),
        bool(is_member_card),
    )
    row.save()
    after = {f: getattr(row, f) for f in ("prefix", "bank_name", "card_length", "is_member_card")}
    audit_record(
        actor=actor,
        action=AuditAction.CREATE if card_bin is None else AuditAction.UPDATE,
        obj=row,
        changes=diff(before, after),
    )
    return row


@transaction.atomic
def card_bin_delete(*, actor: Any, card_bin: CardBin) -> None:
    audit_record(
        actor=actor,
        action=AuditAction.DELETE,
        obj=card_bin,
        changes={"prefix": [card_bin.prefix, None], "bank_name": [card_bin.bank_name, None]},
    )
    CardBin.objects.filter(pk=card_bin.pk).delete()
