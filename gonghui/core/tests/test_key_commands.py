"""`gonghui generate_field_key` and `gonghui rotate_field_key`."""

from __future__ import annotations

import base64
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from gonghui.audit.models import AuditAction, AuditEvent
from gonghui.core import crypto
from gonghui.members.models import JoinApplication, Member, MemberCard
from gonghui.members.services import join_application_submit, member_card_set
from gonghui.members.tests.factories import MemberFactory, make_id_number
from gonghui.orgs.models import OrgKind
from gonghui.orgs.tests.factories import OrgFactory

KEY_A = crypto.generate_key()
KEY_B = crypto.generate_key()
CARD = "6235951234567890125"


def tokens() -> list[str]:
    return [
        *Member.objects.values_list("id_number_enc", flat=True),
        *MemberCard.objects.values_list("number_enc", flat=True),
        *JoinApplication.objects.values_list("id_number_enc", flat=True),
    ]


def kid_of(key: str) -> str:
    with override_settings(GONGHUI_FIELD_KEY=[key]):
        return crypto.current_kid()


@pytest.fixture
def data_under_key_a(db: None) -> dict[str, str]:
    with override_settings(GONGHUI_FIELD_KEY=[KEY_A]):
        union = OrgFactory(parent=None, kind=OrgKind.BASE_UNION, name="测试工会委员会")
        plain = {}
        for n in range(3):
            number = make_id_number(region="410802", seq=500 + n)
            member = MemberFactory(org=union, id_number=number)
            plain[f"m{n}"] = number
        member_card_set(actor=None, member=member, card_number=CARD)
        applicant = make_id_number(region="410803", seq=900)
        join_application_submit(org=union, name="赵六", id_number=applicant, phone="13700000009")
        plain["app"] = applicant
    return plain


def test_generate_field_key_prints_a_usable_key() -> None:
    out = StringIO()
    call_command("generate_field_key", stdout=out)
    key = out.getvalue().strip()
    assert len(base64.urlsafe_b64decode(key)) == 32
    with override_settings(GONGHUI_FIELD_KEY=[key]):
        assert crypto.decrypt(crypto.encrypt("x")) == "x"


def test_rotate_moves_every_column_to_the_first_key(data_under_key_a: dict[str, str]) -> None:
    kid_a, kid_b = kid_of(KEY_A), kid_of(KEY_B)
    before_hashes = list(Member.objects.order_by("pk").values_list("id_number_hash", flat=True))
    assert {crypto.token_kid(t) for t in tokens()} == {kid_a}
    out = StringIO()
    with override_settings(GONGHUI_FIELD_KEY=[KEY_B, KEY_A]):
        call_command("rotate_field_key", "--batch", "2", stdout=out)
        assert {crypto.token_kid(t) for t in tokens()} == {kid_b}
    text = out.getvalue()
    assert "members.member.id_number_enc: 3 re-encrypted" in text
    assert "members.membercard.number_enc: 1 re-encrypted" in text
    assert "members.joinapplication.id_number_enc: 1 re-encrypted" in text
    # B alone decrypts everything; blind indexes did not change.
    with override_settings(GONGHUI_FIELD_KEY=[KEY_B]):
        ids = {crypto.decrypt(t) for t in Member.objects.values_list("id_number_enc", flat=True)}
        assert ids == {data_under_key_a[f"m{n}"] for n in range(3)}
        assert crypto.decrypt(MemberCard.objects.get().number_enc) == CARD
        app = JoinApplication.objects.get()
        assert crypto.decrypt(app.id_number_enc) == data_under_key_a["app"]
    assert (
        list(Member.objects.order_by("pk").values_list("id_number_hash", flat=True))
        == before_hashes
    )
    event = AuditEvent.objects.get(action=AuditAction.ROTATE)
    assert event.object_id == kid_b
    assert event.changes["members.member.id_number_enc"] == [None, 3]


def test_rotate_is_idempotent(data_under_key_a: dict[str, str]) -> None:
    with override_settings(GONGHUI_FIELD_KEY=[KEY_B, KEY_A]):
        call_command("rotate_field_key", stdout=StringIO())
        after_first = tokens()
        out = StringIO()
        call_command("rotate_field_key", stdout=out)
        assert tokens() == after_first  # nothing rewritten the second time
    assert "0 re-encrypted" in out.getvalue()
    assert "3 re-encrypted" not in out.getvalue()
    assert AuditEvent.objects.filter(action=AuditAction.ROTATE).count() == 2


def test_rotate_without_the_old_key_fails_and_changes_nothing(
    data_under_key_a: dict[str, str],
) -> None:
    before = tokens()
    with override_settings(GONGHUI_FIELD_KEY=[KEY_B]), pytest.raises(CommandError, match="5"):
        call_command("rotate_field_key", stdout=StringIO())
    assert tokens() == before


def test_rotate_refuses_bad_batch(db: None) -> None:
    with pytest.raises(CommandError):
        call_command("rotate_field_key", "--batch", "0", stdout=StringIO())
