"""Staff accounts, roles, member sign-in codes and API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import unicodedata
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gonghui.accounts.models import API_TOKEN_NAME_MAX, ApiToken, RoleGrant, SignInCode, User
from gonghui.accounts.roles import Capability, Role
from gonghui.accounts.scoping import can_see_org
from gonghui.accounts.selectors import api_token_usable, signin_code_wait_seconds
from gonghui.accounts.sms import get_sms_backend
from gonghui.audit.models import AuditAction
from gonghui.audit.services import audit_record
from gonghui.core.errors import ApplicationError, PermissionDenied
from gonghui.members.sensitive import clean_phone
from gonghui.orgs.models import Org


@transaction.atomic
def password_check(password: str, user: User) -> None:
    """The platform's password policy (``AUTH_PASSWORD_VALIDATORS``) for any new account, staff or
    merchant clerk: every broken rule in one message on the password field."""
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ApplicationError(
            " ".join(exc.messages), code="password_weak", field="password"
        ) from None


def staff_create(
    *,
    actor: Any,
    username: str,
    password: str,
    org: Org,
    roles: list[str],
    full_name: str = "",
    phone: str = "",
) -> User:
    if actor is not None and not (actor.can(Capability.MANAGE_STAFF) and can_see_org(actor, org)):
        raise PermissionDenied()
    if User.objects.filter(username=username).exists():
        raise ApplicationError(
            _("This user name is taken."), code="username_taken", field="username"
        )
    user = User(username=username, org=org, full_name=full_name, phone=phone, is_staff=True)
    password_check(password, user)
    user.set_password(password)
    user.save()
    for role in roles:
        role_grant(actor=actor, user=user, role=role)
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=user,
        org=org,
        changes={"username": [None, username]},
    )
    return user


@transaction.atomic
def role_grant(*, actor: Any, user: User, role: str) -> RoleGrant:
    if role not in Role.values:
        raise ApplicationError(_("Unknown role."), code="role_invalid", field="role")
    if actor is not None and not (
        actor.can(Capability.MANAGE_STAFF) and can_see_org(actor, user.org)
    ):
        raise PermissionDenied()
    grant, created = RoleGrant.objects.get_or_create(
        user=user,
        role=role,
        defaults={"granted_by": actor if getattr(actor, "username", None) else None},
    )
    if created:
        audit_record(
            actor=actor,
            action=AuditAction.GRANT,
            obj=user,
            org=user.org,
            changes={"role": [None, role]},
        )
    user.__dict__.pop("role_codes", None)
    return grant


@transaction.atomic
def role_revoke(*, actor: Any, user: User, role: str) -> None:
    if actor is not None and not (
        actor.can(Capability.MANAGE_STAFF) and can_see_org(actor, user.org)
    ):
        raise PermissionDenied()
    deleted, _n = RoleGrant.objects.filter(user=user, role=role).delete()
    if deleted:
        audit_record(
            actor=actor,
            action=AuditAction.REVOKE,
            obj=user,
            org=user.org,
            changes={"role": [role, None]},
        )
    user.__dict__.pop("role_codes", None)


# --- Member sign-in by phone and one-time code -----------------------------------------------


def _code_hash(phone: str, code: str) -> str:
    return hmac.new(
        settings.SECRET_KEY.encode(), f"{phone}:{code}".encode(), hashlib.sha256
    ).hexdigest()


def signin_code_request(*, phone: object, ip_address: str | None = None) -> None:
    """Send a 6-digit code. Rate-limited per phone (interval and hourly) and per address.

    The answer is the same whether or not the phone belongs to a member, so the form cannot be used
    to find out who is a member.
    """
    from gonghui.members.models import Member, MemberStatus

    phone = clean_phone(phone)
    now = timezone.now()
    recent = SignInCode.objects.filter(phone=phone, created_at__gte=now - dt.timedelta(hours=1))
    wait = signin_code_wait_seconds(phone=phone, now=now)
    if wait:
        raise ApplicationError(
            _("A code was just sent. Please wait %(s)d seconds before asking again.") % {"s": wait},
            code="code_too_soon",
        )
    is_demo = (
        bool(settings.GONGHUI_DEMO_MEMBER_PHONE) and phone == settings.GONGHUI_DEMO_MEMBER_PHONE
    )
    # The demo's one number (only in the processes ``make demo`` starts) is tried again and again
    # by everyone looking at the demo; it sends no text, so the hourly cap does not apply to it.
    if recent.count() >= settings.OTP_CODE_MAX_PER_PHONE_PER_HOUR and not is_demo:
        raise ApplicationError(
            _("Too many codes for this number. Try again in an hour."), code="code_rate_limited"
        )
    if (
        ip_address
        and SignInCode.objects.filter(
            ip_address=ip_address, created_at__gte=now - dt.timedelta(hours=1)
        ).count()
        >= settings.OTP_CODE_MAX_PER_ADDRESS_PER_HOUR
    ):
        raise ApplicationError(
            _("Too many requests from your network. Try again later."), code="code_rate_limited"
        )
    code = settings.GONGHUI_DEMO_MEMBER_CODE if is_demo else f"{secrets.randbelow(10**6):06d}"
    SignInCode.objects.create(
        phone=phone,
        code_hash=_code_hash(phone, code),
        expires_at=now + dt.timedelta(seconds=settings.OTP_CODE_TTL_SECONDS),
        ip_address=ip_address,
    )
    if Member.objects.filter(phone=phone, status=MemberStatus.ACTIVE).exists() and not is_demo:
        text = _(
            "Your gonghui sign-in code is %(code)s, valid for %(m)d minutes. Do not share it."
        ) % {
            "code": code,
            "m": settings.OTP_CODE_TTL_SECONDS // 60,
        }
        transaction.on_commit(lambda: get_sms_backend().send(phone=phone, text=text))


_SIX_DIGITS = re.compile(r"[0-9]{6}")


def clean_signin_code(raw: object) -> str:
    """The six digits of a sign-in code as typed: full-width digits (a Chinese keyboard) read as
    digits, spaces ignored. Anything else is a typing slip, refused without counting as a wrong
    code: no code has another form, so the slip cannot be a guess."""
    code = "".join(unicodedata.normalize("NFKC", str(raw or "")).split())
    if not code:
        raise ApplicationError(
            _("Enter the 6-digit code from the text message."), code="code_required", field="code"
        )
    if not _SIX_DIGITS.fullmatch(code):
        raise ApplicationError(
            _("The code is 6 digits; check the text message."), code="code_format", field="code"
        )
    return code


def signin_code_verify(*, phone: object, code: object) -> Any:
    """Return the member for a valid, unexpired, unused code; otherwise raise one generic error."""
    from gonghui.members.models import Member, MemberStatus

    phone = clean_phone(phone)
    code = clean_signin_code(code)
    generic = ApplicationError(
        _("The code is wrong or has expired. Check it, or ask for a new one."),
        code="code_invalid",
        field="code",
    )
    # The failed-attempt count must survive the error: decide inside the transaction, raise after
    # it has committed.
    error: ApplicationError | None = None
    member = None
    with transaction.atomic():
        entry = (
            SignInCode.objects.select_for_update()
            .filter(phone=phone, used_at__isnull=True, expires_at__gt=timezone.now())
            .order_by("-created_at")
            .first()
        )
        if entry is None:
            error = generic
        elif entry.attempts >= settings.OTP_CODE_MAX_ATTEMPTS:
            error = ApplicationError(
                _("Too many wrong codes. Ask for a new one."), code="code_locked"
            )
        elif not hmac.compare_digest(entry.code_hash, _code_hash(phone, code)):
            SignInCode.objects.filter(pk=entry.pk).update(attempts=entry.attempts + 1)
            error = generic
        else:
            member = (
                Member.objects.filter(phone=phone, status=MemberStatus.ACTIVE)
                .order_by("-id")
                .first()
            )
            if member is None:
                error = generic
            else:
                SignInCode.objects.filter(pk=entry.pk).update(used_at=timezone.now())
    if error is not None:
        raise error
    return member


# --- API tokens --------------------------------------------------------------------------------


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# Full-width letters and digits (a Chinese keyboard) and the ideographic space read as ASCII, so
# "ＯＡ同步" and "OA同步" are one name; Chinese punctuation stays as typed.
_FULL_WIDTH_ALNUM = {
    **{0xFF10 + i: 0x30 + i for i in range(10)},
    **{0xFF21 + i: 0x41 + i for i in range(26)},
    **{0xFF41 + i: 0x61 + i for i in range(26)},
    0x3000: 0x20,
}

# Control, format (zero-width, bidirectional overrides), private-use, surrogate and unassigned
# characters: invisible or shown differently from what is stored, so two names that look the
# same could differ, or a name could hide what it says.
_INVISIBLE = {"Cc", "Cf", "Co", "Cs", "Cn"}


def clean_api_token_name(raw: object) -> str:
    """A token's name as typed, runs of spaces made one; refused if empty, too long or holding
    characters that do not show as themselves."""
    name = " ".join(str(raw if raw is not None else "").translate(_FULL_WIDTH_ALNUM).split())
    if not name:
        raise ApplicationError(
            _("Give the token a name of at most 60 characters."), code="name_empty", field="name"
        )
    if len(name) > API_TOKEN_NAME_MAX:
        raise ApplicationError(
            _("At most %(n)d characters.") % {"n": API_TOKEN_NAME_MAX},
            code="name_long",
            field="name",
        )
    if any(unicodedata.category(c) in _INVISIBLE for c in name):
        raise ApplicationError(
            _("The text contains characters that are not allowed."),
            code="name_chars",
            field="name",
        )
    return name


def _require_token_manager(actor: Any, owner: User) -> None:
    """A token is made or revoked by its owner, by staff who manage staff over the owner's
    union, or by the system (``actor`` None: a management command)."""
    if (
        actor is not None
        and actor != owner
        and not (actor.can(Capability.MANAGE_STAFF) and can_see_org(actor, owner.org))
    ):
        raise PermissionDenied()


@transaction.atomic
def api_token_create(*, actor: Any, user: User, name: object) -> tuple[ApiToken, str]:
    """Create a token; the secret is returned once and never stored (only its SHA-256)."""
    _require_token_manager(actor, user)
    name = clean_api_token_name(name)
    # The owner's row is the lock: two creations at once cannot both pass the cap or both take
    # the same name (on SQLite the write transaction is already exclusive).
    owner = User.objects.select_for_update().get(pk=user.pk)
    if not api_token_usable(owner):
        raise ApplicationError(
            _(
                "API tokens are for staff who can use the console; a token for this account "
                "would be refused by the API."
            ),
            code="token_useless",
        )
    active = list(
        ApiToken.objects.filter(user=owner, revoked_at__isnull=True).values_list("name", flat=True)
    )
    cap = settings.GONGHUI_API_TOKENS_PER_USER
    if len(active) >= cap:
        raise ApplicationError(
            _(
                "You already have %(n)d active tokens, the most allowed. Revoke one that is no "
                "longer used, then create the new one."
            )
            % {"n": cap},
            code="token_cap",
        )
    if name.casefold() in {n.casefold() for n in active}:
        raise ApplicationError(
            _(
                "An active token already has this name. Choose another name, or revoke the old "
                "token first."
            ),
            code="name_taken",
            field="name",
        )
    secret = "gh_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=owner, name=name, prefix=secret[:8], key_hash=_token_hash(secret)
    )
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=token,
        org=owner.org,
        changes={"token": [None, token.prefix]},
    )
    return token, secret


def api_token_authenticate(*, secret: str) -> User | None:
    if not secret or len(secret) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user", "user__org")
        .filter(key_hash=_token_hash(secret), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


@transaction.atomic
def api_token_revoke(*, actor: Any, token: ApiToken) -> ApiToken:
    """Revoke by compare-and-set: the first of two revocations wins, the second is told."""
    owner = token.user
    _require_token_manager(actor, owner)
    now = timezone.now()
    if not ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now):
        raise ApplicationError(_("This token was already revoked."), code="token_revoked")
    token.revoked_at = now
    audit_record(
        actor=actor,
        action=AuditAction.REVOKE,
        obj=token,
        org=owner.org,
        changes={"token": [token.prefix, None]},
    )
    return token


# --- TOTP two-factor sign-in -------------------------------------------------------------------


def totp_start(*, user: User) -> Any:
    """The user's TOTP device: the confirmed one, or a fresh unconfirmed one to set up."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device:
        return device
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)


@transaction.atomic
def totp_confirm(*, actor: Any, user: User, device: Any, token: str) -> bool:
    if not device.verify_token(token):
        return False
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    User.objects.filter(pk=user.pk).update(require_two_factor=True)
    user.require_two_factor = True
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=user,
        org=user.org,
        changes={"require_two_factor": [False, True]},
    )
    return True


@transaction.atomic
def totp_disable(*, actor: Any, user: User) -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.filter(user=user).delete()
    User.objects.filter(pk=user.pk).update(require_two_factor=False)
    user.require_two_factor = False
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=user,
        org=user.org,
        changes={"require_two_factor": [True, False]},
    )


STAFF_EDITABLE = ("full_name", "phone", "is_active", "require_two_factor")


@transaction.atomic
def staff_update(*, actor: Any, user: User, **fields: Any) -> User:
    """Change a staff user's plain fields (name, phone, active, two-factor flag); audited."""
    user = User.objects.select_for_update(of=("self",)).select_related("org").get(pk=user.pk)
    if actor is not None and not (
        actor.can(Capability.MANAGE_STAFF) and can_see_org(actor, user.org)
    ):
        raise PermissionDenied()
    if "full_name" in fields:
        full_name = " ".join(str(fields["full_name"] or "").split())
        if len(full_name) > 50:
            raise ApplicationError(
                _("The name may have at most 50 characters."), code="name_long", field="full_name"
            )
        fields["full_name"] = full_name
    if "phone" in fields:
        fields["phone"] = clean_phone(fields["phone"], required=False)
    if actor is not None and actor.pk == user.pk and fields.get("is_active") is False:
        raise ApplicationError(
            _("You cannot deactivate your own account."), code="self_deactivate", field="is_active"
        )
    before = {f: getattr(user, f) for f in STAFF_EDITABLE}
    for key in STAFF_EDITABLE:
        if key in fields:
            setattr(user, key, fields[key])
    update_fields = [f for f in STAFF_EDITABLE if f in fields]
    if update_fields:
        user.save(update_fields=update_fields)
    after = {f: getattr(user, f) for f in STAFF_EDITABLE}
    changes = {k: [before[k], after[k]] for k in STAFF_EDITABLE if before[k] != after[k]}
    if changes:
        audit_record(
            actor=actor, action=AuditAction.UPDATE, obj=user, org=user.org, changes=changes
        )
    return user
