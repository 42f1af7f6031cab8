"""Proof that no plaintext identity or card number reaches the database.

Members with cards, a join application and a reveal are written and committed, then the raw
database is read: on SQLite the bytes of the database file and its WAL plus an SQL dump of every
table; on PostgreSQL every text-like column of every table, and ``pg_dump --data-only`` when it is
installed. Neither the full numbers nor the 17 digits before an X check digit may appear anywhere;
the masked forms must (which shows the search looked in the right place).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.db import connection

from gonghui.accounts.models import User
from gonghui.core import crypto
from gonghui.members.services import (
    join_application_submit,
    member_card_set,
    member_register,
    member_reveal,
)
from gonghui.members.tests.factories import make_id_number
from gonghui.orgs.models import OrgKind
from gonghui.orgs.tests.factories import OrgFactory

CARD_MEMBER = "6235958765432109873"  # 中原银行 prefix, valid Luhn
CARD_OTHER = "6228481234567890128"


def id_with_x() -> str:
    for seq in range(7000, 8000):
        number = make_id_number(region="410811", seq=seq)
        if number.endswith("X"):
            return number
    raise AssertionError("no X number found")


def secrets_and_masks() -> tuple[list[str], list[str], list[str]]:
    ids = [make_id_number(region="410802", seq=6101), id_with_x()]
    applicant = make_id_number(region="410883", seq=6102)
    return ids, [applicant], [CARD_MEMBER, CARD_OTHER]


def forbidden(values: list[str]) -> set[str]:
    out = set()
    for value in values:
        out.add(value)
        out.add(value.lower())
        out.add(value[:17])  # the digits without the check digit (X or not)
    return out


def sqlite_dump() -> tuple[str, bytes]:
    raw = connection.connection
    text = "\n".join(raw.iterdump())
    name = Path(connection.settings_dict["NAME"])
    blob = b""
    for path in (name, Path(f"{name}-wal")):
        if path.exists():
            blob += path.read_bytes()
    return text, blob


def postgres_dump() -> tuple[str, bytes]:
    chunks: list[str] = []
    with connection.cursor() as cur:
        cur.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND data_type IN "
            "('text', 'character varying', 'character', 'json', 'jsonb', 'bytea')"
        )
        for table, column in cur.fetchall():
            cur.execute(
                f'SELECT "{column}"::text FROM "{table}" WHERE "{column}" IS NOT NULL'  # noqa: S608
            )
            chunks.extend(row[0] for row in cur.fetchall())
    blob = b""
    pg_dump = shutil.which("pg_dump")
    if pg_dump:
        settings_dict = connection.settings_dict
        env = {**os.environ, "PGPASSWORD": settings_dict.get("PASSWORD") or ""}
        args = [pg_dump, "--data-only", "--no-owner", "-d", settings_dict["NAME"]]
        if settings_dict.get("HOST"):
            args += ["-h", settings_dict["HOST"]]
        if settings_dict.get("PORT"):
            args += ["-p", str(settings_dict["PORT"])]
        if settings_dict.get("USER"):
            args += ["-U", settings_dict["USER"]]
        result = subprocess.run(args, capture_output=True, env=env, timeout=120, check=False)
        if result.returncode == 0:  # a client/server version mismatch leaves the SELECTs alone
            blob = result.stdout
    return "\n".join(chunks), blob


@pytest.mark.django_db(transaction=True)
def test_no_plaintext_sensitive_number_in_the_raw_database() -> None:
    ids, applicants, cards = secrets_and_masks()
    union = OrgFactory(parent=None, kind=OrgKind.BASE_UNION, name="隐私测试有限公司工会委员会")
    admin = User.objects.create_user(
        username="privacy_admin", password="x-Password-123", is_staff=True, is_superuser=True
    )
    first = member_register(
        actor=admin, org=union, id_number=ids[0], name="隐私甲", card_number=cards[0]
    )
    second = member_register(actor=None, org=union, id_number=ids[1].lower(), name="隐私乙")
    member_card_set(actor=None, member=second, card_number=" ".join([cards[1][:4], cards[1][4:]]))
    join_application_submit(
        org=union, name="隐私丙", id_number=applicants[0], phone="13700000123", employer="某公司"
    )
    # A reveal returns the plaintext to the caller but must log only the masked form.
    assert member_reveal(actor=admin, member=first, field="id_number", reason="核对身份") == ids[0]
    assert member_reveal(actor=admin, member=first, field="card_number", reason="办卡") == cards[0]

    if connection.vendor == "sqlite":
        text, blob = sqlite_dump()
        assert blob, "the SQLite database file was not found"
    else:
        text, blob = postgres_dump()
    assert text

    for secret in forbidden(ids + applicants + cards):
        assert secret not in text, f"plaintext {crypto.mask(secret)} found in a table dump"
        assert secret.encode() not in blob, f"plaintext {crypto.mask(secret)} found in raw bytes"

    masks = [crypto.mask(n) for n in ids + applicants] + [
        crypto.mask(c, head=6, tail=4) for c in cards
    ]
    for masked in masks:
        assert masked in text
        if blob:
            assert masked.encode() in blob
