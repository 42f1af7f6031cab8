# The SQL here is built from internal names only (fixed tables and columns, the generated staging
# table); every value is a query parameter or goes through COPY.
# ruff: noqa: S608
"""Set-based writing of validated rows, straight into the tables.

Per batch (``stage``): one query finds which identity numbers are already members (``= ANY`` on
PostgreSQL, ``IN`` chunks on SQLite) and one finds which card numbers are taken, so the rows the
database would refuse (the person belongs to another union, the card is someone else's) are known
before anything is written. Then (``apply``):

- new members get their ids reserved in one ``nextval`` over ``generate_series`` and are COPYed
  into ``members_member`` with those ids, followed by their memberships and cards (COPY);
- members already in this union are COPYed into a small temporary staging table and updated with
  one ``UPDATE … FROM`` (plus the card bookkeeping), as set-based SQL;
- people who had left (this union or another) go through the same staging table and come back as
  members of this union: active again, a new membership, their status change audited;
- one audit line per member is COPYed into the audit log.

On SQLite the same rows go through ``executemany`` (new members' ids are read back by their
blind index). A ``save()`` loop costs ~100× a COPY and ``bulk_create`` ~8×; this path writes
the member rows with the same COPY a bulk load would use.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from gonghui.audit.context import current_origin
from gonghui.members.importing.validation import RowError, StagedRow

# Positions in a StagedRow (validation.RowValidator.validate builds it in this order).
ROW, NAME, INITIALS, ID_ENC, ID_HASH, ID_MASKED, ID_TAIL, ID_KIND, GENDER, BIRTH = range(10)
PHONE, EMPLOYER, CATEGORY, KIND, EDUCATION, POLITICAL, JOINED = range(10, 17)
CARD_ENC, CARD_HASH, CARD_MASKED, CARD_BANK, CARD_IS_MEMBER, CARD_LUHN = range(17, 23)

STAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("row_no", "integer"),
    ("name", "text"),
    ("name_initials", "text"),
    ("id_enc", "text"),
    ("id_hash", "text"),
    ("id_masked", "text"),
    ("id_tail", "text"),
    ("id_kind", "text"),
    ("gender", "text"),
    ("birth_date", "date"),
    ("phone", "text"),
    ("employer", "text"),
    ("category", "text"),
    ("new_form_kind", "text"),
    ("education", "text"),
    ("political_status", "text"),
    ("joined_on", "date"),
    ("card_enc", "text"),
    ("card_hash", "text"),
    ("card_masked", "text"),
    ("card_bank", "text"),
    ("card_is_member", "boolean"),
    ("card_luhn", "boolean"),
    ("member_id", "bigint"),
)

MEMBER_COLUMNS = (
    "id",
    "name",
    "name_initials",
    "id_number_enc",
    "id_number_hash",
    "id_number_masked",
    "id_tail",
    "id_kind",
    "gender",
    "birth_date",
    "phone",
    "employer",
    "category",
    "new_form_kind",
    "education",
    "political_status",
    "status",
    "org_id",
    "joined_on",
    "created_at",
    "updated_at",
)
MEMBERSHIP_COLUMNS = (
    "member_id",
    "org_id",
    "started_on",
    "start_kind",
    "start_reason",
    "end_kind",
    "end_reason",
    "started_by_id",
)
CARD_COLUMNS = (
    "member_id",
    "number_enc",
    "number_hash",
    "number_masked",
    "bank_name",
    "is_member_card",
    "luhn_ok",
    "is_current",
    "added_at",
)
AUDIT_COLUMNS = (
    "at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "org_id",
    "changes",
    "reason",
    "ip_address",
    "user_agent",
    "source",
)
LOOKUP_CHUNK = 500  # SQLite: at most 999 parameters per statement in old builds


def member_values(
    row: StagedRow, *, member_id: int | None, org_id: int, today: Any, now: Any
) -> tuple[Any, ...]:
    """The members_member row an import writes for a new member (MEMBER_COLUMNS order)."""
    return (
        member_id,
        row[NAME],
        row[INITIALS],
        row[ID_ENC],
        row[ID_HASH],
        row[ID_MASKED],
        row[ID_TAIL],
        row[ID_KIND],
        row[GENDER],
        row[BIRTH],
        row[PHONE] or "",
        row[EMPLOYER] or "",
        row[CATEGORY] or "employee",
        row[KIND] or "",
        row[EDUCATION] or "",
        row[POLITICAL] or "",
        "active",
        org_id,
        row[JOINED] or today,
        now,
        now,
    )


class BatchWriter:
    def __init__(self, *, org_id: int, actor: Any, job_id: int | None, file_name: str):
        self.vendor = connection.vendor
        self.org_id = org_id
        self.job_id = job_id
        self.actor_id = actor.pk if getattr(actor, "username", None) else None
        self.actor_label = (getattr(actor, "username", None) or "system")[:150]
        self.reason = (_("Imported from %(name)s") % {"name": file_name})[:300]
        self.start_reason = self.reason[:200]
        self.now = timezone.now()
        self.today = timezone.localdate()
        self.table = f"gh_import_{uuid.uuid4().hex[:12]}"
        self.table_made = False
        self.created = 0
        self.updated = 0
        self.rejoined = 0
        self.timings: dict[str, float] = defaultdict(float)
        origin = current_origin()
        self.origin = (origin.ip_address, origin.user_agent, origin.source)
        self.job_json = json.dumps(job_id)
        # The batch between stage() and apply(): accepted rows, the ids of this union's members,
        # and people who had left (any union) with the union they left: the import brings them
        # back into this one.
        self._rows: list[StagedRow] = []
        self._existing: dict[str, int] = {}
        self._returning: dict[str, tuple[int, int]] = {}

    # -- low-level helpers ---------------------------------------------------------------------
    def _write(self, cur: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]):
        names = ", ".join(columns)
        if self.vendor == "postgresql":
            raw = cur.cursor  # the psycopg 3 cursor under Django's wrapper
            with raw.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                write = copy.write_row
                for row in rows:
                    write(row)
        else:
            marks = ", ".join(["%s"] * len(columns))
            cur.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(rows))

    def _lookup(self, cur: Any, sql: str, keys: list[str]) -> list[tuple[Any, ...]]:
        """Run ``sql`` (with ``{keys}`` where the key set goes) for all keys, in few queries."""
        if not keys:
            return []
        if self.vendor == "postgresql":
            cur.execute(sql.format(keys="= ANY(%s)"), [keys])
            return list(cur.fetchall())
        found: list[tuple[Any, ...]] = []
        for i in range(0, len(keys), LOOKUP_CHUNK):
            chunk = keys[i : i + LOOKUP_CHUNK]
            cur.execute(sql.format(keys=f"IN ({', '.join(['%s'] * len(chunk))})"), chunk)
            found.extend(cur.fetchall())
        return found

    def _reserve_ids(self, cur: Any, count: int) -> list[int] | None:
        if self.vendor != "postgresql" or not count:
            return None
        cur.execute(
            "SELECT nextval(pg_get_serial_sequence('members_member', 'id')) "
            "FROM generate_series(1, %s)",
            [count],
        )
        return [r[0] for r in cur.fetchall()]

    # -- table ---------------------------------------------------------------------------------
    def create(self) -> None:
        """Nothing up front: the staging table is made when the first existing member shows up."""

    def _make_table(self, cur: Any) -> None:
        if not self.table_made:
            cols = ", ".join(f"{n} {t}" for n, t in STAGE_COLUMNS)
            cur.execute(f"CREATE TEMPORARY TABLE {self.table} ({cols})")
            self.table_made = True

    def drop(self) -> None:
        if self.table_made:
            with connection.cursor() as cur:
                cur.execute(f"DROP TABLE IF EXISTS {self.table}")
            self.table_made = False

    # -- per batch -----------------------------------------------------------------------------
    def stage(self, rows: Sequence[StagedRow]) -> list[RowError]:
        """Check a batch against the database; return the refused rows and keep the others."""
        start = time.perf_counter()
        errors: list[RowError] = []
        with connection.cursor() as cur:
            found = self._lookup(
                cur,
                "SELECT id_number_hash, id, org_id, status FROM members_member "
                "WHERE id_number_hash {keys}",
                [r[ID_HASH] for r in rows],
            )
            existing: dict[str, int] = {}
            returning: dict[str, tuple[int, int]] = {}
            other_union: set[str] = set()
            for digest, member_id, org_id, status in found:
                if status == "left":
                    returning[digest] = (member_id, org_id)
                elif org_id == self.org_id:
                    existing[digest] = member_id
                else:
                    other_union.add(digest)
            card_rows = [r for r in rows if r[CARD_HASH] is not None]
            cards = dict(
                self._lookup(
                    cur,
                    "SELECT number_hash, member_id FROM members_membercard WHERE number_hash {keys}",
                    [r[CARD_HASH] for r in card_rows],
                )
            )
        accepted: list[StagedRow] = []
        for row in rows:
            digest = row[ID_HASH]
            if digest in other_union:
                errors.append(
                    RowError(
                        row[ROW],
                        "id_number",
                        row[ID_MASKED],
                        "id_other_union",
                        _(
                            "This person is already a member of another union. Ask that union "
                            "to transfer the member instead of importing."
                        ),
                    )
                )
                continue
            owner = cards.get(row[CARD_HASH]) if row[CARD_HASH] is not None else None
            person = existing.get(digest) or returning.get(digest, (None, None))[0]
            if owner is not None and owner != person:
                errors.append(
                    RowError(
                        row[ROW],
                        "card_number",
                        row[CARD_MASKED],
                        "card_taken",
                        _("This card number is already registered to another member."),
                    )
                )
                continue
            accepted.append(row)
        self._rows = accepted
        self._existing = existing
        self._returning = returning
        self.timings["conflict_checks"] += time.perf_counter() - start
        return errors

    def apply(self) -> None:
        """Write the staged batch: new members, updates, returning members, memberships, cards,
        audit lines."""
        rows, existing, returning = self._rows, self._existing, self._returning
        self._rows, self._existing, self._returning = [], {}, {}
        if not rows:
            return
        new = [r for r in rows if r[ID_HASH] not in existing and r[ID_HASH] not in returning]
        old = [r for r in rows if r[ID_HASH] in existing]
        back = [r for r in rows if r[ID_HASH] in returning]
        with connection.cursor() as cur:
            ids: dict[str, int] = dict(existing)
            ids.update((digest, pair[0]) for digest, pair in returning.items())
            if new:
                start = time.perf_counter()
                self._insert_members(cur, new, ids)
                self.created += len(new)
                self.timings["insert_members"] += time.perf_counter() - start
                start = time.perf_counter()
                self._write(
                    cur,
                    "members_membership",
                    MEMBERSHIP_COLUMNS,
                    (
                        (
                            ids[r[ID_HASH]],
                            self.org_id,
                            r[JOINED] or self.today,
                            "join",
                            self.start_reason,
                            "",
                            "",
                            self.actor_id,
                        )
                        for r in new
                    ),
                )
                self.timings["insert_memberships"] += time.perf_counter() - start
                start = time.perf_counter()
                now = self.now
                self._write(
                    cur,
                    "members_membercard",
                    CARD_COLUMNS,
                    (
                        (
                            ids[r[ID_HASH]],
                            r[CARD_ENC],
                            r[CARD_HASH],
                            r[CARD_MASKED],
                            r[CARD_BANK] or "",
                            bool(r[CARD_IS_MEMBER]),
                            r[CARD_LUHN] is not False,
                            True,
                            now,
                        )
                        for r in new
                        if r[CARD_HASH] is not None
                    ),
                )
                self.timings["cards"] += time.perf_counter() - start
            if old:
                start = time.perf_counter()
                self.updated += self._update_members(cur, old, existing)
                self.timings["update_members"] += time.perf_counter() - start
            if back:
                start = time.perf_counter()
                self.rejoined += self._rejoin_members(cur, back, returning)
                self.timings["rejoin_members"] += time.perf_counter() - start
            start = time.perf_counter()
            self._audit(cur, rows, ids, existing, returning)
            self.timings["audit_lines"] += time.perf_counter() - start

    def _insert_members(self, cur: Any, new: list[StagedRow], ids: dict[str, int]) -> None:
        reserved = self._reserve_ids(cur, len(new))
        org_id, today, now = self.org_id, self.today, self.now
        if reserved is not None:
            for row, member_id in zip(new, reserved, strict=True):
                ids[row[ID_HASH]] = member_id
            self._write(
                cur,
                "members_member",
                MEMBER_COLUMNS,
                (
                    member_values(row, member_id=member_id, org_id=org_id, today=today, now=now)
                    for row, member_id in zip(new, reserved, strict=True)
                ),
            )
            return
        self._write(
            cur,
            "members_member",
            MEMBER_COLUMNS[1:],
            (
                member_values(row, member_id=None, org_id=org_id, today=today, now=now)[1:]
                for row in new
            ),
        )
        ids.update(
            self._lookup(
                cur,
                "SELECT id_number_hash, id FROM members_member WHERE id_number_hash {keys}",
                [r[ID_HASH] for r in new],
            )
        )

    def _stage_rows(self, cur: Any, rows: list[StagedRow], member_ids: dict[str, int]) -> None:
        """Put ``rows`` (with their member ids) into the staging table, replacing what was there."""
        t = self.table
        self._make_table(cur)
        cur.execute(f"DELETE FROM {t}")
        self._write(
            cur,
            t,
            [n for n, _t in STAGE_COLUMNS],
            ((*row, member_ids[row[ID_HASH]]) for row in rows),
        )

    # The profile columns an import sets on a member it already knows; an empty cell keeps the
    # stored value.
    _PROFILE_SET = (
        "name = s.name, name_initials = s.name_initials, "
        "phone = COALESCE(s.phone, members_member.phone), "
        "employer = COALESCE(s.employer, members_member.employer), "
        "category = COALESCE(s.category, members_member.category), "
        "new_form_kind = CASE WHEN s.category IS NULL THEN members_member.new_form_kind "
        "ELSE COALESCE(s.new_form_kind, '') END, "
        "education = COALESCE(s.education, members_member.education), "
        "political_status = COALESCE(s.political_status, members_member.political_status), "
    )

    def _update_members(self, cur: Any, old: list[StagedRow], existing: dict[str, int]) -> int:
        """This union's members: profile columns from the file; returns how many were updated."""
        t = self.table
        self._stage_rows(cur, old, existing)
        cur.execute(
            f"UPDATE members_member SET {self._PROFILE_SET}"
            f"joined_on = COALESCE(s.joined_on, members_member.joined_on), "
            f"updated_at = %s "
            f"FROM {t} s WHERE s.member_id = members_member.id",
            [self.now],
        )
        updated = max(cur.rowcount, 0)
        if any(r[CARD_HASH] is not None for r in old):
            self._cards(cur)
        return updated

    def _rejoin_members(
        self, cur: Any, back: list[StagedRow], returning: dict[str, tuple[int, int]]
    ) -> int:
        """People who had left (this union or another): active again, in this union, with a new
        membership, as ``member_rejoin`` does one by one. The membership begins on the file's join
        date when that is after they left; a roster usually still carries the first join date,
        which is history, so then (or with no date) it begins today. Returns how many came back."""
        t = self.table
        self._stage_rows(cur, back, {d: pair[0] for d, pair in returning.items()})
        cur.execute(
            f"UPDATE members_member SET {self._PROFILE_SET}"
            f"status = 'active', org_id = %s, "
            f"joined_on = CASE WHEN s.joined_on > (SELECT MAX(m.ended_on) FROM members_membership m "
            f"WHERE m.member_id = s.member_id) THEN s.joined_on ELSE %s END, "
            f"updated_at = %s "
            f"FROM {t} s WHERE s.member_id = members_member.id AND members_member.status = 'left'",
            [self.org_id, self.today, self.now],
        )
        rejoined = max(cur.rowcount, 0)
        cur.execute(
            f"INSERT INTO members_membership ({', '.join(MEMBERSHIP_COLUMNS)}) "
            f"SELECT s.member_id, %s, mm.joined_on, 'rejoin', %s, '', '', %s "
            f"FROM {t} s JOIN members_member mm ON mm.id = s.member_id "
            f"WHERE NOT EXISTS (SELECT 1 FROM members_membership m "
            f"WHERE m.member_id = s.member_id AND m.ended_on IS NULL)",
            [self.org_id, self.start_reason, self.actor_id],
        )
        if any(r[CARD_HASH] is not None for r in back):
            self._cards(cur)
        return rejoined

    def _cards(self, cur: Any) -> None:
        """Cards of members already in the union: the imported card becomes the current one."""
        t = self.table
        mine = (
            f"EXISTS (SELECT 1 FROM {t} s WHERE s.member_id = members_membercard.member_id "
            f"AND s.card_hash = members_membercard.number_hash)"
        )
        cur.execute(
            f"UPDATE members_membercard SET is_current = FALSE WHERE is_current "
            f"AND member_id IN (SELECT member_id FROM {t} WHERE card_hash IS NOT NULL) "
            f"AND NOT {mine}"
        )
        cur.execute(
            f"UPDATE members_membercard SET is_current = TRUE WHERE NOT is_current AND {mine}"
        )
        cur.execute(
            "INSERT INTO members_membercard (member_id, number_enc, number_hash, number_masked, "
            "bank_name, is_member_card, luhn_ok, is_current, added_at) "
            "SELECT member_id, card_enc, card_hash, card_masked, COALESCE(card_bank, ''), "
            f"COALESCE(card_is_member, FALSE), COALESCE(card_luhn, TRUE), TRUE, %s FROM {t} s "
            "WHERE card_hash IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM members_membercard c WHERE c.number_hash = s.card_hash)",
            [self.now],
        )

    def _audit(
        self,
        cur: Any,
        rows: list[StagedRow],
        ids: dict[str, int],
        existing: dict[str, int],
        returning: dict[str, tuple[int, int]],
    ) -> None:
        """One audit line per member the import touched, in file order. A returning member's
        line is a status change that names the union they come back from."""
        now, actor_id, label, org_id, reason = (
            self.now,
            self.actor_id,
            self.actor_label,
            self.org_id,
            self.reason,
        )
        ip, agent, source = self.origin
        prefix = '{"import_job": ' + self.job_json + ', "row": '

        def line(r: StagedRow) -> tuple[Any, ...]:
            digest = r[ID_HASH]
            if digest in returning:
                action = "transition"
                moved = {"status": ["left", "active"], "org_id": [returning[digest][1], org_id]}
                changes = f"{prefix}{r[ROW]}, {json.dumps(moved)[1:]}"
            else:
                action = "update" if digest in existing else "create"
                changes = f"{prefix}{r[ROW]}}}"
            return (
                now,
                actor_id,
                label,
                action,
                "members.member",
                str(ids[digest]),
                f"{r[NAME]} ({r[ID_MASKED]})"[:200],
                org_id,
                changes,
                reason,
                ip,
                agent,
                source,
            )

        self._write(cur, "audit_auditevent", AUDIT_COLUMNS, (line(r) for r in rows))
