"""`gonghui rotate_field_key`: re-encrypt every encrypted column under the current key.

The current key is the first in GONGHUI_FIELD_KEY; the others still decrypt. Rows already under the
current key are skipped, so the command can be interrupted and run again. Each row is rewritten by
compare-and-set (only if its ciphertext is still the one that was read), in batches of short
transactions. Blind indexes use GONGHUI_INDEX_KEY and do not change.
"""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidTag
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction

from gonghui.core import crypto


def encrypted_columns() -> list[tuple[type[models.Model], str]]:
    from gonghui.members.models import JoinApplication, Member, MemberCard

    return [
        (Member, "id_number_enc"),
        (MemberCard, "number_enc"),
        (JoinApplication, "id_number_enc"),
    ]


def rotate_column(model: type[models.Model], column: str, *, batch: int = 1000) -> tuple[int, int]:
    """Re-encrypt the rows of ``model.column`` not under the current key: (rewritten, unreadable)."""
    current = f"{crypto.PREFIX}${crypto.current_kid()}$"
    stale = model._default_manager.exclude(**{f"{column}__startswith": current}).exclude(
        **{column: ""}
    )
    rewritten = unreadable = 0
    last_pk: Any = 0
    while True:
        rows = list(stale.filter(pk__gt=last_pk).order_by("pk").values_list("pk", column)[:batch])
        if not rows:
            return rewritten, unreadable
        with transaction.atomic():
            for pk, token in rows:
                try:
                    plaintext = crypto.decrypt(token)
                except (ValueError, InvalidTag):  # counted and reported, never logged
                    unreadable += 1
                    continue
                rewritten += model._default_manager.filter(pk=pk, **{column: token}).update(
                    **{column: crypto.encrypt(plaintext)}
                )
        last_pk = rows[-1][0]


class Command(BaseCommand):
    help = (
        "Re-encrypt identity and card numbers under the first key in GONGHUI_FIELD_KEY. "
        "Idempotent; prints counts; writes one audit event."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=1000)

    def handle(self, *args: Any, **options: Any) -> None:
        from gonghui.audit.models import AuditAction
        from gonghui.audit.services import audit_record

        if options["batch"] < 1:
            raise CommandError("--batch must be at least 1")
        kid = crypto.current_kid()
        counts: dict[str, list[int]] = {}
        unreadable_total = 0
        for model, column in encrypted_columns():
            rewritten, unreadable = rotate_column(model, column, batch=options["batch"])
            label = f"{model._meta.label_lower}.{column}"
            counts[label] = [rewritten, unreadable]
            unreadable_total += unreadable
            self.stdout.write(f"{label}: {rewritten} re-encrypted, {unreadable} unreadable")
        audit_record(
            actor=None,
            action=AuditAction.ROTATE,
            object_type="core.fieldkey",
            object_id=kid,
            object_repr=f"field encryption key {kid}",
            changes={label: [None, n] for label, (n, _u) in counts.items()},
            reason="gonghui rotate_field_key",
        )
        if unreadable_total:
            raise CommandError(
                f"{unreadable_total} values could not be decrypted with any key in "
                "GONGHUI_FIELD_KEY; add the missing old key and run again."
            )
        self.stdout.write(self.style.SUCCESS(f"All encrypted values are under key {kid}."))
