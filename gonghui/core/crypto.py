"""Encryption at rest for sensitive personal information, blind indexes and masking.

Ciphertext format: ``g1$<key id>$<base64url(nonce || AES-256-GCM ciphertext+tag)>``. The key id
lets several keys decrypt while only the first in ``GONGHUI_FIELD_KEY`` encrypts, so keys can be
rotated (``gonghui rotate_field_key``). Lookups use a keyed HMAC (blind index) from
``GONGHUI_INDEX_KEY``, which does not change when the encryption key rotates.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PREFIX = "g1"


@dataclass(frozen=True)
class FieldKey:
    kid: str
    aead: AESGCM


def _decode_key(raw: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(raw.encode() + b"=" * (-len(raw) % 4))
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured("GONGHUI_FIELD_KEY entries must be base64") from exc
    if len(key) != 32:
        raise ImproperlyConfigured(
            "GONGHUI_FIELD_KEY entries must decode to 32 bytes; "
            "make one with: gonghui generate_field_key"
        )
    return key


@lru_cache(maxsize=8)
def _keyring(raw_keys: tuple[str, ...]) -> tuple[FieldKey, ...]:
    ring = []
    for raw in raw_keys:
        key = _decode_key(raw)
        kid = hashlib.sha256(key).hexdigest()[:8]
        ring.append(FieldKey(kid=kid, aead=AESGCM(key)))
    return tuple(ring)


def keyring() -> tuple[FieldKey, ...]:
    return _keyring(tuple(settings.GONGHUI_FIELD_KEY))


def current_kid() -> str:
    return keyring()[0].kid


def encrypt(plaintext: str) -> str:
    key = keyring()[0]
    nonce = os.urandom(12)
    blob = nonce + key.aead.encrypt(nonce, plaintext.encode(), None)
    return f"{PREFIX}${key.kid}${base64.urlsafe_b64encode(blob).decode()}"


def decrypt(token: str) -> str:
    try:
        prefix, kid, body = token.split("$", 2)
    except ValueError as exc:
        raise ValueError("not an encrypted field value") from exc
    if prefix != PREFIX:
        raise ValueError("unknown ciphertext format")
    for key in keyring():
        if key.kid == kid:
            blob = base64.urlsafe_b64decode(body.encode())
            return key.aead.decrypt(blob[:12], blob[12:], None).decode()
    raise ValueError(f"no key with id {kid} in GONGHUI_FIELD_KEY")


def token_kid(token: str) -> str:
    return token.split("$", 2)[1]


@lru_cache(maxsize=4)
def _index_key(raw: str) -> bytes:
    return hashlib.sha256(b"gonghui-blind-index:" + raw.encode()).digest()


def blind_index(value: str, *, purpose: str) -> str:
    """Keyed hash of a normalised value; ``purpose`` separates ID numbers from card numbers."""
    key = _index_key(settings.GONGHUI_INDEX_KEY)
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def mask(value: str, *, head: int = 4, tail: int = 4) -> str:
    """``410802199001011234`` -> ``4108**********1234``; short values are masked whole."""
    if len(value) <= head + tail:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + value[-tail:]


def generate_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()
