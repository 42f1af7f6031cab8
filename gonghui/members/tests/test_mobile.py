"""Member pages under /m/: phone sign-in, my membership, join by QR code."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from gonghui.accounts.middleware import MEMBER_SESSION_KEY
from gonghui.accounts.models import SignInCode
from gonghui.accounts.sms import MemorySmsBackend
from gonghui.core import crypto
from gonghui.members.models import JoinApplication, JoinStatus, Member, NewFormKind, WorkerCategory
from gonghui.members.services import join_application_submit, member_card_set, member_leave
from gonghui.members.tests.factories import make_id_number
from gonghui.members.tests.helpers import luhn_complete, shows, t
from gonghui.orgs.services import org_rotate_join_token

LOGIN = "/m/login/"
HOME = "/m/"


@pytest.fixture(autouse=True)
def _clean():
    cache.clear()
    MemorySmsBackend.outbox.clear()
    yield
    MemorySmsBackend.outbox.clear()


def _text(response) -> str:
    return response.content.decode()


def _request_code(client: Client, phone: str, capture) -> object:
    with capture(execute=True):
        return client.post(LOGIN, {"step": "request", "phone": phone})


def _last_code(phone: str) -> str:
    texts = [text for to, text in MemorySmsBackend.outbox if to == phone]
    assert texts, "no SMS sent"
    match = re.search(r"\b(\d{6})\b", texts[-1])
    assert match
    return match.group(1)


# --- Sign-in ------------------------------------------------------------------------------------


def test_full_sign_in(world, django_capture_on_commit_callbacks):
    client = Client()
    session = client.session  # a session that exists before sign-in (fixation attempt)
    session["probe"] = "x"
    session.save()
    old_session = session.session_key
    assert client.get(LOGIN).status_code == 200
    response = _request_code(client, "13900000001", django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert 'name="code"' in _text(response)
    assert 'value="13900000001"' in _text(response)  # the phone is kept for step 2
    code = _last_code("13900000001")
    response = client.post(LOGIN, {"step": "verify", "phone": "13900000001", "code": code})
    assert response.status_code == 302 and response["Location"] == HOME
    assert client.session.session_key != old_session  # rotated on sign-in
    assert client.session[MEMBER_SESSION_KEY] == world.jiefang_member.pk
    home = client.get(HOME)
    assert home.status_code == 200
    assert "王小明" in _text(home) and world.jiefang_base.name in _text(home)
    assert world.jiefang_member.id_number_masked in _text(home)
    assert crypto.decrypt(world.jiefang_member.id_number_enc) not in _text(home)
    assert "李秀英" not in _text(home)
    # Already signed in: the login page sends the member home.
    assert client.get(LOGIN)["Location"] == HOME


def test_full_width_phone_accepted(world, django_capture_on_commit_callbacks):
    client = Client()
    response = _request_code(client, "１３９ ０００ ００００１", django_capture_on_commit_callbacks)
    assert response.status_code == 200
    code = _last_code("13900000001")
    response = client.post(
        LOGIN, {"step": "verify", "phone": "１３９０００００００１", "code": code}
    )
    assert response.status_code == 302


def test_unknown_phone_gets_the_same_answer_and_no_sms(world, django_capture_on_commit_callbacks):
    client = Client()
    response = _request_code(client, "13811112222", django_capture_on_commit_callbacks)
    assert response.status_code == 200 and 'name="code"' in _text(response)
    assert MemorySmsBackend.outbox == []


@pytest.mark.parametrize(
    "phone, message",
    [
        ("", "Enter the mobile number."),
        ("abc", "Enter an 11-digit mainland mobile number starting with 1."),
        ("1" * 300, None),
        ("<script>alert(1)</script>", "Enter an 11-digit mainland mobile number starting with 1."),
        ("' OR 1=1 --", "Enter an 11-digit mainland mobile number starting with 1."),
    ],
)
def test_bad_phone(world, phone, message, django_capture_on_commit_callbacks):
    client = Client()
    response = _request_code(client, phone, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    if message:
        assert shows(response, message)
    assert "<script>alert(1)</script>" not in _text(response)
    assert SignInCode.objects.count() == 0
    assert MemorySmsBackend.outbox == []


def test_wrong_code(world, django_capture_on_commit_callbacks):
    client = Client()
    _request_code(client, "13900000001", django_capture_on_commit_callbacks)
    code = _last_code("13900000001")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for bad, message in (
        (wrong, "The code is wrong or has expired. Check it, or ask for a new one."),
        ("", "Enter the 6-digit code from the text message."),
        ("abc", "The code is 6 digits; check the text message."),
        ("１２３", "The code is 6 digits; check the text message."),
        ("<script>", "The code is 6 digits; check the text message."),
    ):
        response = client.post(LOGIN, {"step": "verify", "phone": "13900000001", "code": bad})
        assert response.status_code == 400
        assert shows(response, message), bad
        assert 'value="13900000001"' in _text(response)
    # only the wrong code counted as an attempt
    assert list(SignInCode.objects.values_list("attempts", flat=True)) == [1]
    assert MEMBER_SESSION_KEY not in client.session
    assert client.get(HOME)["Location"] == LOGIN


def test_the_code_step_shows_the_number_as_it_is_and_takes_a_full_width_code(
    world, django_capture_on_commit_callbacks
):
    """The number typed as １３９ ０００ ０００ ０１ was shown back exactly so; it is shown as
    13900000001. The code typed on a Chinese keyboard (full-width digits) signs in."""
    client = Client()
    response = _request_code(
        client, "１３９ ０００ ０００ ０１", django_capture_on_commit_callbacks
    )
    page = _text(response)
    assert "<strong>13900000001</strong>" in page and "１３９" not in page
    code = _last_code("13900000001").translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    response = client.post(LOGIN, {"step": "verify", "phone": "13900000001", "code": code})
    assert response.status_code == 302
    assert client.session[MEMBER_SESSION_KEY] == world.jiefang_member.pk


def _resend_wait(response) -> int:
    """The seconds the code step's "send a new code" button waits before it can be tapped."""
    found = re.search(r'data-resend-wait="(\d+)"', _text(response))
    assert found, "the resend button carries no wait"
    return int(found[1])


def test_the_resend_button_waits_out_the_interval(world, django_capture_on_commit_callbacks):
    """On a slow network a member taps "send a new code" before the first text arrives and is
    refused for asking too soon. The button says how long until it can be tapped, counted from
    the server's time (a cheap phone's clock is not trusted), and after a wrong code too."""
    client = Client()
    response = _request_code(client, "13900000001", django_capture_on_commit_callbacks)
    assert 55 <= _resend_wait(response) <= 60
    code = _last_code("13900000001")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    response = client.post(LOGIN, {"step": "verify", "phone": "13900000001", "code": wrong})
    assert 1 <= _resend_wait(response) <= 60
    SignInCode.objects.update(created_at=timezone.now() - dt.timedelta(minutes=2))
    response = client.post(LOGIN, {"step": "verify", "phone": "13900000001", "code": wrong})
    assert _resend_wait(response) == 0


def test_expired_code(world, django_capture_on_commit_callbacks):
    client = Client()
    _request_code(client, "13900000001", django_capture_on_commit_callbacks)
    code = _last_code("13900000001")
    SignInCode.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = client.post(LOGIN, {"step": "verify", "phone": "13900000001", "code": code})
    assert response.status_code == 400
    assert shows(response, "The code is wrong or has expired. Check it, or ask for a new one.")
    assert MEMBER_SESSION_KEY not in client.session


def test_too_many_attempts(world, django_capture_on_commit_callbacks, settings):
    client = Client()
    _request_code(client, "13900000001", django_capture_on_commit_callbacks)
    code = _last_code("13900000001")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(settings.OTP_CODE_MAX_ATTEMPTS):
        client.post(LOGIN, {"step": "verify", "phone": "13900000001", "code": wrong})
    response = client.post(LOGIN, {"step": "verify", "phone": "13900000001", "code": code})
    assert response.status_code == 400
    assert shows(response, "Too many wrong codes. Ask for a new one.")
    assert MEMBER_SESSION_KEY not in client.session


def test_code_request_rate_limit(world, django_capture_on_commit_callbacks):
    client = Client()
    _request_code(client, "13900000001", django_capture_on_commit_callbacks)
    # Asking again at once (a reloaded page): no second code, and the page goes on to the step
    # that takes the code already sent.
    response = _request_code(client, "13900000001", django_capture_on_commit_callbacks)
    assert response.status_code == 429
    wait = t("A code was just sent. Please wait %(s)d seconds before asking again.")
    pattern = re.escape(wait).replace(re.escape("%(s)d"), r"(\d+)")
    seconds = re.search(pattern, _text(response))
    assert seconds and 55 <= int(seconds[1]) <= 60
    assert 'name="code"' in _text(response) and 'value="13900000001"' in _text(response)
    assert SignInCode.objects.count() == 1
    assert len(MemorySmsBackend.outbox) == 1
    # The resend button on step 2 shows the same message and keeps the phone.
    response = client.post(LOGIN, {"step": "resend", "phone": "13900000001"})
    assert response.status_code == 429
    assert 'value="13900000001"' in _text(response)
    assert SignInCode.objects.count() == 1
    # The code sent first still signs the member in.
    code = _last_code("13900000001")
    response = client.post(LOGIN, {"step": "verify", "phone": "13900000001", "code": code})
    assert response.status_code == 302 and MEMBER_SESSION_KEY in client.session


def test_hourly_rate_limit(world, django_capture_on_commit_callbacks, settings):
    settings.OTP_CODE_MIN_INTERVAL_SECONDS = 0
    client = Client()
    for _ in range(settings.OTP_CODE_MAX_PER_PHONE_PER_HOUR):
        _request_code(client, "13900000001", django_capture_on_commit_callbacks)
    response = _request_code(client, "13900000001", django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert shows(response, "Too many codes for this number. Try again in an hour.")


def test_logout(world, login):
    client = login(member=world.jiefang_member)
    assert client.get(HOME).status_code == 200
    assert client.get(LOGIN).status_code == 302
    response = client.post("/m/logout/")
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert client.get(HOME)["Location"] == LOGIN
    assert client.get("/m/logout/").status_code == 405


def test_every_member_page_offers_the_other_language(world, login):
    """The member pages have no staff header: the switch is at their foot, the sign-in page
    included, and it brings the member back to the page they were on, in that language."""
    anonymous = Client()
    page = _text(anonymous.get(LOGIN))
    assert 'name="language" value="en"' in page and "English" in page
    assert "{#" not in page and "{%" not in page  # template comments stay out of the page
    client = login(member=world.jiefang_member)
    for path in (HOME, "/m/benefits/"):
        assert 'name="language" value="en"' in _text(client.get(path))
    response = client.post("/i18n/setlang/", {"language": "en", "next": HOME})
    assert response.status_code == 302 and response["Location"] == HOME
    page = _text(client.get(HOME))
    assert "My membership" in page and 'name="language" value="zh-hans"' in page
    # A foreign "next" is not followed; a language the platform lacks changes nothing.
    response = client.post(
        "/i18n/setlang/", {"language": "zh-hans", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"
    client.post("/i18n/setlang/", {"language": "xx", "next": HOME})
    assert 'name="language" value="en"' in _text(client.get(HOME))  # still Chinese


# --- My membership --------------------------------------------------------------------------------


def test_home_requires_member_session(world, login):
    for client in (login(), login(world.city_admin)):
        response = client.get(HOME)
        assert response.status_code == 302 and response["Location"] == LOGIN


def test_home_shows_only_own_data(world, login):
    member_card_set(actor=None, member=world.jiefang_member, card_number=luhn_complete("621799"))
    member_card_set(actor=None, member=world.zhongzhan_member, card_number=luhn_complete("623595"))
    response = login(member=world.jiefang_member).get(HOME)
    text = _text(response)
    assert "王小明" in text and "中国邮政储蓄银行" in text
    assert shows(response, "Valid union member card")
    assert luhn_complete("621799") not in text
    assert "李秀英" not in text and "中原银行" not in text
    assert world.zhongzhan_base.name not in text
    assert response["Cache-Control"] == "private, no-store"


def test_home_warns_when_card_is_not_a_member_card(world, login):
    member_card_set(actor=None, member=world.jiefang_member, card_number=luhn_complete("622202"))
    response = login(member=world.jiefang_member).get(HOME)
    assert shows(
        response,
        "This card is not a union member card. Ask your union about the member service card.",
    )


def test_member_cannot_reach_staff_pages(world, login):
    client = login(member=world.jiefang_member)
    for url in (
        "/console/members/",
        f"/console/members/{world.jiefang_member.pk}/",
        f"/console/members/{world.zhongzhan_member.pk}/",
        "/console/members/join-applications/",
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]
        assert "李秀英" not in _text(response)


def test_left_member_session_is_dropped(world, login):
    client = login(member=world.jiefang_member)
    member_leave(actor=None, member=world.jiefang_member, on=timezone.localdate(), reason="离职")
    assert client.get(HOME)["Location"] == LOGIN


# --- Join by QR code ------------------------------------------------------------------------------


def _join_url(org) -> str:
    return reverse("mobile:join", args=[org.join_token])


def _join_data(**overrides):
    data = {
        "name": "孙扫码",
        "id_number": make_id_number(region="410802", seq=401),
        "phone": "13500000401",
        "employer": "焦作快递有限公司",
        "category": WorkerCategory.NEW_FORM_WORKER,
        "new_form_kind": NewFormKind.COURIER,
        "consent": "on",
    }
    data.update(overrides)
    return data


def test_join_page_shows_union(world):
    response = Client().get(_join_url(world.jiefang_base))
    assert response.status_code == 200
    assert world.jiefang_base.name in _text(response)
    assert 'name="consent"' in _text(response)
    assert "王小明" not in _text(response)


@pytest.mark.parametrize("token", ["nope", "x" * 40, "%3Cscript%3E", "' OR 1=1"])
def test_join_unknown_token(world, token):
    assert Client().get(f"/m/join/{token}/").status_code == 404


def test_join_rotated_token(world):
    old = world.jiefang_base.join_token
    org_rotate_join_token(actor=None, org=world.jiefang_base)
    assert Client().get(f"/m/join/{old}/").status_code == 404
    assert Client().post(f"/m/join/{old}/", _join_data()).status_code == 404
    assert not JoinApplication.objects.exists()


def test_join_not_for_federations(world):
    # Federations have no join token; an empty token never matches.
    assert world.jiefang.join_token == ""
    assert Client().get("/m/join//").status_code == 404


def test_join_happy_path_then_approval(world, login):
    client = Client()
    response = client.post(_join_url(world.jiefang_base), _join_data())
    assert response.status_code == 302
    done = client.get(response["Location"])
    assert done.status_code == 200 and world.jiefang_base.name in _text(done)
    application = JoinApplication.objects.get()
    assert application.status == JoinStatus.PENDING and application.org == world.jiefang_base
    # Visible to the union's officer, not to the sibling district.
    page = login(world.jiefang_officer).get("/console/members/join-applications/")
    assert "孙扫码" in _text(page)
    page = login(world.zhongzhan_officer).get("/console/members/join-applications/")
    assert "孙扫码" not in _text(page)
    denied = login(world.zhongzhan_officer).post(
        reverse("members:join_application_decide", args=[application.pk]),
        {"decision": "approved"},
    )
    assert denied.status_code == 404
    assert not Member.objects.filter(name="孙扫码").exists()
    login(world.base_clerk).post(
        reverse("members:join_application_decide", args=[application.pk]),
        {"decision": "approved"},
    )
    member = Member.objects.get(name="孙扫码")
    assert member.org == world.jiefang_base and member.new_form_kind == NewFormKind.COURIER
    assert member.memberships.get().org == world.jiefang_base


def test_join_accepts_full_width_spaces_lower_x(world):
    number = next(
        n
        for n in (make_id_number(region="410802", seq=s) for s in range(500, 3000))
        if n.endswith("X")
    )
    typed = (
        number[:6]
        + " "
        + number[6:14].translate(str.maketrans("0123456789", "０１２３４５６７８９"))
        + " "
        + number[14:-1]
        + "x"
    )
    response = Client().post(_join_url(world.jiefang_base), _join_data(id_number=typed))
    assert response.status_code == 302
    assert crypto.decrypt(JoinApplication.objects.get().id_number_enc) == number


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"consent": ""}, "Please agree to the processing of your personal information to join."),
        ({"name": ""}, "Enter the name."),
        ({"name": "孙" * 51}, "The name may have at most 50 characters."),
        (
            {"name": "<script>alert(1)</script>"},
            "The name contains characters that are not allowed.",
        ),
        ({"id_number": ""}, "Enter the identity number."),
        ({"id_number": "4.10802E+17"}, None),
        ({"id_number": "41080219900101123"}, None),
        ({"phone": ""}, "Enter the mobile number."),
        ({"phone": "1234"}, "Enter an 11-digit mainland mobile number starting with 1."),
        (
            {"new_form_kind": ""},
            "For a new-form worker, choose truck driver, ride-hailing driver, courier or food-delivery rider.",
        ),
        (
            {"category": WorkerCategory.EMPLOYEE},
            "Only new-form workers have a new-form worker kind.",
        ),
        ({"category": "boss"}, None),
        ({"employer": "单" * 101}, "The employer may have at most 100 characters."),
    ],
)
def test_join_bad_input(world, overrides, message):
    data = _join_data(**overrides)
    if data["consent"] == "":
        del data["consent"]
    response = Client().post(_join_url(world.jiefang_base), data)
    assert response.status_code == 400
    if message:
        assert shows(response, message)
    assert not JoinApplication.objects.exists()
    assert "<script>alert(1)</script>" not in _text(response)
    if overrides.get("name", "").startswith("孙"):
        assert 'value="' + "孙" * 51 + '"' in _text(response)  # typed values kept
    assert 'value="13500000401"' in _text(response) or "phone" in overrides


def test_join_wrong_checksum(world):
    good = make_id_number(region="410802", seq=402)
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    response = Client().post(_join_url(world.jiefang_base), _join_data(id_number=wrong))
    assert shows(response, "The identity number's check digit is wrong; please check every digit.")
    assert not JoinApplication.objects.exists()


def test_join_already_member(world):
    number = crypto.decrypt(world.zhongzhan_member.id_number_enc)
    response = Client().post(_join_url(world.jiefang_base), _join_data(id_number=number))
    assert response.status_code == 400
    assert shows(
        response,
        "You are already a union member. To change union, ask your union to transfer you.",
    )
    assert not JoinApplication.objects.exists()


def test_join_pending_duplicate(world):
    join_application_submit(
        org=world.zhongzhan_base,
        name="孙扫码",
        id_number=_join_data()["id_number"],
        phone="13500000401",
    )
    response = Client().post(_join_url(world.jiefang_base), _join_data())
    assert response.status_code == 400
    assert shows(
        response, "An application with this identity number is already waiting for approval."
    )
    assert JoinApplication.objects.count() == 1


def test_join_rate_limited_per_address(world, settings):
    settings.GONGHUI_JOIN_SUBMISSIONS_PER_HOUR = 2
    client = Client()
    url = _join_url(world.jiefang_base)
    for seq in (410, 411):
        data = _join_data(id_number=make_id_number(region="410802", seq=seq))
        assert client.post(url, data).status_code == 302
    response = client.post(url, _join_data(id_number=make_id_number(region="410802", seq=412)))
    assert response.status_code == 429
    assert shows(response, "Too many applications from your network. Please try again in an hour.")
    assert JoinApplication.objects.count() == 2
    # Another address is not affected.
    other = Client(REMOTE_ADDR="10.0.0.9")
    data = _join_data(id_number=make_id_number(region="410802", seq=413))
    assert other.post(url, data).status_code == 302


def test_new_form_kind_select_works_without_js(world):
    response = Client().get(_join_url(world.jiefang_base))
    text = _text(response)
    assert 'name="new_form_kind"' in text and "<script" not in text.split("</head>")[1]


@pytest.mark.django_db
def test_sign_in_returns_to_the_member_page_asked_for(world, django_capture_on_commit_callbacks):
    import re as _re

    from gonghui.accounts.sms import MemorySmsBackend

    MemorySmsBackend.outbox.clear()
    client = Client()
    page = client.get("/m/login/?next=/m/benefits/")
    assert 'value="/m/benefits/"' in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/m/login/", {"step": "request", "phone": "13900000001", "next": "/m/benefits/"}
        )
    code = _re.search(r"(\d{6})", MemorySmsBackend.outbox[-1][1]).group(1)
    response = client.post(
        "/m/login/",
        {"step": "verify", "phone": "13900000001", "code": code, "next": "/m/benefits/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/m/benefits/"


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/console/"])
def test_sign_in_never_sends_a_member_off_the_member_pages(world, target):
    client = Client()
    page = client.get("/m/login/", {"next": target}).content.decode()
    assert f'value="{target}"' not in page
