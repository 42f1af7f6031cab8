"""Helpers that make many members fast, for race tests and the bench (never for real data)."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.db import transaction
from django.utils import timezone

from gonghui.members.models import Member, MemberCard, MemberStatus
from gonghui.orgs.models import Org


@transaction.atomic
def bulk_members(*, org: Org, count: int, tag: str, card_bank: str = "中原银行") -> list[int]:
    """``count`` active members of ``org`` with a current member card, in a few INSERTs.

    Identity and card values are synthetic placeholders (hashes of ``tag`` and the row number),
    unique per ``tag``; they are not valid numbers and never leave the test or bench database.
    """
    today = timezone.localdate()
    members = [
        Member(
            org=org,
            name=f"测试{i}",
            name_initials="cs",
            id_number_enc="bench",
            id_number_hash=hashlib.sha256(f"{tag}:id:{i}".encode()).hexdigest(),
            id_number_masked="4108**********0000",
            id_tail="0000",
            gender="M",
            birth_date=dt.date(1990, 1, 1),
            status=MemberStatus.ACTIVE,
            joined_on=today,
        )
        for i in range(count)
    ]
    created = Member.objects.bulk_create(members, batch_size=2000)
    ids = [m.pk for m in created]
    if any(pk is None for pk in ids):  # backends without RETURNING on bulk insert
        hashes = [m.id_number_hash for m in members]
        ids = list(
            Member.objects.filter(id_number_hash__in=hashes)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    MemberCard.objects.bulk_create(
        [
            MemberCard(
                member_id=pk,
                number_enc="bench",
                number_hash=hashlib.sha256(f"{tag}:card:{pk}".encode()).hexdigest(),
                number_masked="623595*********0000",
                bank_name=card_bank,
                is_member_card=True,
                is_current=True,
            )
            for pk in ids
        ],
        batch_size=2000,
    )
    return ids


def registration_closed(campaign_id: int, at: dt.datetime | None = None) -> None:
    """Tests: move a lottery's registration close to ``at`` (default: a second ago), as if time
    had passed. The seed hash's publication moves by as much, so it still comes first."""
    from django.db.models import F

    from gonghui.benefits.models import Campaign

    at = at or timezone.now() - dt.timedelta(seconds=1)
    closes = Campaign.objects.values_list("registration_closes_at", flat=True).get(pk=campaign_id)
    assert closes is not None, "not a lottery"
    Campaign.objects.filter(pk=campaign_id).update(
        registration_closes_at=at, seed_committed_at=F("seed_committed_at") + (at - closes)
    )
