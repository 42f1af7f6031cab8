"""Field encryption, blind index and masking (gonghui.core.crypto)."""

from __future__ import annotations

import base64

import pytest
from cryptography.exceptions import InvalidTag
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from gonghui.core import crypto

KEY_A = crypto.generate_key()
KEY_B = crypto.generate_key()
ID = "410802199001011234"


def test_round_trip_and_format() -> None:
    token = crypto.encrypt(ID)
    assert token.startswith(f"g1${crypto.current_kid()}$")
    assert ID not in token
    assert crypto.decrypt(token) == ID


def test_round_trip_unicode_and_empty() -> None:
    for value in ("", "张三 ＸＹ", "<script>alert(1)</script>", "x" * 5000):
        assert crypto.decrypt(crypto.encrypt(value)) == value


def test_same_plaintext_encrypts_differently() -> None:
    assert crypto.encrypt(ID) != crypto.encrypt(ID)


def test_tampered_ciphertext_is_refused() -> None:
    prefix, kid, body = crypto.encrypt(ID).split("$")
    blob = bytearray(base64.urlsafe_b64decode(body))
    blob[-1] ^= 0x01  # flip one bit of the tag
    with pytest.raises(InvalidTag):
        crypto.decrypt(f"{prefix}${kid}${base64.urlsafe_b64encode(bytes(blob)).decode()}")
    blob = bytearray(base64.urlsafe_b64decode(body))
    blob[14] ^= 0x80  # flip one bit of the ciphertext
    with pytest.raises(InvalidTag):
        crypto.decrypt(f"{prefix}${kid}${base64.urlsafe_b64encode(bytes(blob)).decode()}")


@pytest.mark.parametrize("token", ["", "plain", "g2$abcd$xyz", "410802199001011234"])
def test_not_a_token(token: str) -> None:
    with pytest.raises(ValueError):
        crypto.decrypt(token)


def test_unknown_key_id_is_refused() -> None:
    with override_settings(GONGHUI_FIELD_KEY=[KEY_A]):
        token = crypto.encrypt(ID)
    with override_settings(GONGHUI_FIELD_KEY=[KEY_B]), pytest.raises(ValueError, match="no key"):
        crypto.decrypt(token)


def test_old_keys_decrypt_first_key_encrypts() -> None:
    with override_settings(GONGHUI_FIELD_KEY=[KEY_A]):
        old = crypto.encrypt(ID)
        kid_a = crypto.current_kid()
    with override_settings(GONGHUI_FIELD_KEY=[KEY_B, KEY_A]):
        assert crypto.decrypt(old) == ID
        new = crypto.encrypt(ID)
        assert crypto.token_kid(new) == crypto.current_kid() != kid_a


@pytest.mark.parametrize(
    "bad", ["short", base64.urlsafe_b64encode(b"x" * 16).decode(), "not base64 !!!"]
)
def test_bad_keys_fail_loudly(bad: str) -> None:
    with override_settings(GONGHUI_FIELD_KEY=[bad]), pytest.raises(ImproperlyConfigured):
        crypto.encrypt(ID)


def test_blind_index_is_keyed_and_separated_by_purpose() -> None:
    a = crypto.blind_index(ID, purpose="id_number")
    assert a == crypto.blind_index(ID, purpose="id_number")
    assert len(a) == 64 and ID not in a
    assert a != crypto.blind_index(ID, purpose="card_number")
    with override_settings(GONGHUI_INDEX_KEY="another-index-key"):
        assert crypto.blind_index(ID, purpose="id_number") != a
    # Not affected by the encryption key.
    with override_settings(GONGHUI_FIELD_KEY=[KEY_B]):
        assert crypto.blind_index(ID, purpose="id_number") == a


def test_mask() -> None:
    assert crypto.mask(ID) == "4108**********1234"
    assert crypto.mask("6235951234567890123", head=6, tail=4) == "623595*********0123"
    assert crypto.mask("12345678") == "********"
    assert crypto.mask("") == ""


def test_generate_key_is_32_random_bytes() -> None:
    key = crypto.generate_key()
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert key != crypto.generate_key()
