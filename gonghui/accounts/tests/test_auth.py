"""Staff sign-in: password policy, lockout, session timeout, TOTP two-factor; member one-time codes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from gonghui.accounts.models import SignInCode
from gonghui.accounts.services import (
    signin_code_request,
    signin_code_verify,
    totp_confirm,
    totp_start,
)
from gonghui.accounts.sms import MemorySmsBackend
from gonghui.audit.models import AuditEvent
from gonghui.conftest import PASSWORD
from gonghui.core.errors import ApplicationError


@pytest.mark.parametrize(
    "password",
    ["short1", "abcdefghijkl", "1234567890123", "password123", ""],
)
def test_password_policy_rejects_weak_passwords(password):
    with pytest.raises(ValidationError):
        validate_password(password)


def test_password_policy_accepts_a_decent_password():
    validate_password("Jiaozuo-union-2026")


def _post_login(client: Client, username: str, password: str):
    return client.post(reverse("accounts:login"), {"username": username, "password": password})


def test_staff_signs_in_and_reaches_console(world):
    client = Client()
    response = _post_login(client, "jiefang_staff", PASSWORD)
    assert response.status_code == 302
    assert "_auth_user_id" in client.session


def test_lockout_after_repeated_failures(world):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _post_login(client, "jiefang_staff", "wrong-password-1")
    # Even the right password is refused while locked out.
    response = _post_login(client, "jiefang_staff", PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_lockout_is_per_user_and_address(world):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _post_login(client, "jiefang_staff", "wrong-password-1")
    other = Client()
    assert _post_login(other, "zhongzhan_staff", PASSWORD).status_code == 302


def test_sessions_time_out_when_idle():
    assert settings.SESSION_COOKIE_AGE <= 30 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True


def test_two_factor_required_user_must_verify(world):
    user = world.jiefang_officer
    device = totp_start(user=user)
    assert totp_confirm(actor=user, user=user, device=device, token=f"{totp(device.bin_key):06d}")
    user.refresh_from_db()
    assert user.require_two_factor
    assert AuditEvent.objects.filter(
        object_id=str(user.pk), changes__has_key="require_two_factor"
    ).exists()

    client = Client()
    assert _post_login(client, "jiefang_staff", PASSWORD).status_code == 302
    # Signed in with the password but not verified: the console redirects to the code page.
    response = client.get(reverse("members:list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:verify"))
    # A wrong code keeps them out.
    response = client.post(reverse("accounts:verify"), {"token": "000000", "next": "/console/"})
    assert response.status_code == 200
    # The confirming code was spent (replay protection); simulate the next 30-second step.
    # The wrong code above started django-otp's throttling back-off: let it pass.
    TOTPDevice.objects.filter(user=user).update(
        last_t=-1, throttling_failure_count=0, throttling_failure_timestamp=None
    )
    device = TOTPDevice.objects.get(user=user)
    response = client.post(
        reverse("accounts:verify"), {"token": f"{totp(device.bin_key):06d}", "next": "/console/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/console/"


def test_verify_does_not_redirect_off_site(world):
    client = Client()
    client.force_login(world.jiefang_officer, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get(reverse("accounts:verify") + "?next=https://evil.example/")
    assert 'value="https://evil.example/"' not in response.content.decode()


def test_wrong_totp_code_does_not_enable_two_factor(world):
    user = world.jiefang_officer
    device = totp_start(user=user)
    assert not totp_confirm(actor=user, user=user, device=device, token="123456")
    user.refresh_from_db()
    assert not user.require_two_factor


# --- member one-time codes ---------------------------------------------------------------------


@pytest.fixture
def outbox():
    MemorySmsBackend.outbox.clear()
    yield MemorySmsBackend.outbox
    MemorySmsBackend.outbox.clear()


def _code_from(outbox: list[tuple[str, str]]) -> str:
    import re

    return re.search(r"\d{6}", outbox[-1][1]).group(0)


def test_member_signs_in_with_phone_and_code(world, outbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        signin_code_request(phone="13900000001")
    assert outbox and outbox[-1][0] == "13900000001"
    member = signin_code_verify(phone="13900000001", code=_code_from(outbox))
    assert member.pk == world.jiefang_member.pk
    # A code works once.
    with pytest.raises(ApplicationError):
        signin_code_verify(phone="13900000001", code=_code_from(outbox))


@pytest.mark.parametrize("phone", ["", "12345", "1390000000１２", "<script>", "139000000011234"])
def test_code_request_rejects_bad_phones(world, phone):
    before = SignInCode.objects.count()
    if phone == "1390000000１２":  # full-width digits are normalised, the number is just too long
        with pytest.raises(ApplicationError):
            signin_code_request(phone=phone)
    else:
        with pytest.raises(ApplicationError):
            signin_code_request(phone=phone)
    assert SignInCode.objects.count() == before


def test_full_width_phone_is_accepted(world, outbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        signin_code_request(phone="１３９ ０００ ０００ ０１")
    assert outbox[-1][0] == "13900000001"


def test_unknown_phone_gets_the_same_answer_but_no_sms(
    world, outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        signin_code_request(phone="13712345678")
    assert outbox == []
    with pytest.raises(ApplicationError) as exc:
        signin_code_verify(phone="13712345678", code="123456")
    assert exc.value.code == "code_invalid"


def test_codes_are_rate_limited(world, outbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        signin_code_request(phone="13900000001")
    with pytest.raises(ApplicationError) as exc:
        signin_code_request(phone="13900000001")
    assert exc.value.code == "code_too_soon"
    # Age the codes past the interval but within the hour, up to the hourly cap.
    for _ in range(settings.OTP_CODE_MAX_PER_PHONE_PER_HOUR):
        SignInCode.objects.update(created_at=timezone.now() - dt.timedelta(minutes=5))
        try:
            signin_code_request(phone="13900000001")
        except ApplicationError as error:
            assert error.code == "code_rate_limited"
            break
    else:
        pytest.fail("hourly limit never reached")


def test_codes_are_rate_limited_per_address(world, outbox, settings):
    """Many numbers from one address (a script sending texts to strangers) stop at the
    address's hourly cap; a refused request stores no code; another address is not held."""
    settings.OTP_CODE_MAX_PER_ADDRESS_PER_HOUR = 3
    for n in range(3):
        signin_code_request(phone=f"1390000010{n}", ip_address="198.51.100.7")
    with pytest.raises(ApplicationError) as exc:
        signin_code_request(phone="13900000109", ip_address="198.51.100.7")
    assert exc.value.code == "code_rate_limited"
    assert not SignInCode.objects.filter(phone="13900000109").exists()
    assert SignInCode.objects.count() == 3
    signin_code_request(phone="13900000109", ip_address="198.51.100.8")
    # codes older than the hour no longer count
    SignInCode.objects.update(created_at=timezone.now() - dt.timedelta(minutes=61))
    signin_code_request(phone="13900000110", ip_address="198.51.100.7")


def test_a_spent_code_does_not_hold_back_a_new_one(
    world, outbox, django_capture_on_commit_callbacks
):
    """The interval between codes keeps a reloaded page from sending a second text while the
    first code is still good. A code already used (signed in, then signed out or the session
    lost) or locked by wrong guesses is no code to wait for: a new one goes out at once. The
    hourly cap still counts them all."""
    with django_capture_on_commit_callbacks(execute=True):
        signin_code_request(phone="13900000001")
    signin_code_verify(phone="13900000001", code=_code_from(outbox))
    with django_capture_on_commit_callbacks(execute=True):
        signin_code_request(phone="13900000001")
    assert len(outbox) == 2
    right = _code_from(outbox)
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(settings.OTP_CODE_MAX_ATTEMPTS):
        with pytest.raises(ApplicationError):
            signin_code_verify(phone="13900000001", code=wrong)
    with django_capture_on_commit_callbacks(execute=True):
        signin_code_request(phone="13900000001")
    assert len(outbox) == 3
    assert signin_code_verify(phone="13900000001", code=_code_from(outbox)) is not None


def test_expired_code_is_refused(world, outbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        signin_code_request(phone="13900000001")
    SignInCode.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(ApplicationError) as exc:
        signin_code_verify(phone="13900000001", code=_code_from(outbox))
    assert exc.value.code == "code_invalid"


def test_too_many_wrong_codes_lock_the_code(world, outbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        signin_code_request(phone="13900000001")
    right = _code_from(outbox)
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(settings.OTP_CODE_MAX_ATTEMPTS):
        with pytest.raises(ApplicationError):
            signin_code_verify(phone="13900000001", code=wrong)
    with pytest.raises(ApplicationError) as exc:
        signin_code_verify(phone="13900000001", code=right)
    assert exc.value.code == "code_locked"


def test_codes_are_stored_hashed(world, outbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        signin_code_request(phone="13900000001")
    code = _code_from(outbox)
    assert not SignInCode.objects.filter(code_hash__contains=code).exists()


def test_two_factor_required_by_admin_without_device_leads_to_setup(world):
    user = world.jiefang_officer
    type(user).objects.filter(pk=user.pk).update(require_two_factor=True)
    client = Client()
    assert _post_login(client, "jiefang_staff", PASSWORD).status_code == 302
    response = client.get(reverse("members:list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:two_factor"))
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert b"<svg" in page.content  # the QR code to scan
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(
        reverse("accounts:two_factor") + "?next=/console/members/",
        {"token": f"{totp(device.bin_key):06d}", "next": "/console/members/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/console/members/"
    assert client.get("/console/members/").status_code == 200


def test_unverified_user_cannot_switch_two_factor_off(world):
    user = world.jiefang_officer
    device = totp_start(user=user)
    assert totp_confirm(actor=user, user=user, device=device, token=f"{totp(device.bin_key):06d}")
    client = Client()
    _post_login(client, "jiefang_staff", PASSWORD)
    client.post(reverse("accounts:two_factor"), {"action": "disable"})
    user.refresh_from_db()
    assert user.require_two_factor
    assert TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def test_language_can_be_switched_to_english_and_back(world, login):
    client = login(world.jiefang_officer)
    response = client.post(reverse("set_language"), {"language": "en", "next": "/console/"})
    assert response.status_code == 302
    assert 'lang="en"' in client.get("/console/").content.decode()
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/console/"})
    assert 'lang="zh-hans"' in client.get("/console/").content.decode()


def test_chinese_is_the_default_whatever_the_browser_asks(world, login):
    client = login(world.jiefang_officer)
    page = client.get("/console/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert 'lang="zh-hans"' in page


def _attempts() -> list[int]:
    return list(SignInCode.objects.order_by("pk").values_list("attempts", flat=True))


def test_a_code_typed_in_full_width_digits_or_with_spaces_signs_in(
    world, outbox, django_capture_on_commit_callbacks
):
    """A Chinese keyboard types １２３４５６: it was refused as wrong and used up an attempt."""
    for typed in (
        lambda c: c.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
        lambda c: f" {c[:3]} {c[3:]} ",
        lambda c: f"{c[:3]}\u3000{c[3:]}",  # an ideographic space
    ):
        with django_capture_on_commit_callbacks(execute=True):
            SignInCode.objects.update(created_at=timezone.now() - dt.timedelta(minutes=5))
            signin_code_request(phone="13900000001")
        member = signin_code_verify(phone="13900000001", code=typed(_code_from(outbox)))
        assert member.pk == world.jiefang_member.pk


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("", "code_required"),
        ("   ", "code_required"),
        (None, "code_required"),
        ("12345", "code_format"),
        ("1234567", "code_format"),
        ("12345a", "code_format"),
        ("<script>alert(1)</script>", "code_format"),
        ("١٢٣٤٥٦", "code_format"),  # Arabic-Indic digits are digits to isdigit(), not a code
        ("9" * 5000, "code_format"),
    ],
)
def test_a_code_that_cannot_be_one_is_refused_without_using_up_an_attempt(
    world, outbox, django_capture_on_commit_callbacks, typed, code
):
    with django_capture_on_commit_callbacks(execute=True):
        signin_code_request(phone="13900000001")
    with pytest.raises(ApplicationError) as exc:
        signin_code_verify(phone="13900000001", code=typed)
    assert exc.value.code == code and exc.value.field == "code"
    assert _attempts() == [0]
    # the right code still works
    assert signin_code_verify(phone="13900000001", code=_code_from(outbox)).pk


def test_a_wrong_code_says_to_check_it_and_counts(
    world, outbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        signin_code_request(phone="13900000001")
    right = _code_from(outbox)
    wrong = "000000" if right != "000000" else "111111"
    with pytest.raises(ApplicationError) as exc:
        signin_code_verify(phone="13900000001", code=wrong)
    assert exc.value.code == "code_invalid"
    assert _attempts() == [1]
