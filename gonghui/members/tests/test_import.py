"""The member import service: formats, validation, all-or-nothing, skip mode, re-import."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext
from openpyxl import load_workbook

from gonghui.audit.models import AuditAction, AuditEvent
from gonghui.core.errors import ApplicationError, PermissionDenied
from gonghui.members.importing.service import import_file
from gonghui.members.models import (
    Member,
    MemberCard,
    Membership,
    MemberStatus,
    WorkerCategory,
)
from gonghui.members.services import member_leave
from gonghui.members.tests.factories import make_id_number
from gonghui.members.tests.import_helpers import csv_bytes, write, xlsx_bytes

ID1 = make_id_number(region="410802", seq=101)
ID2 = make_id_number(region="410803", seq=102)
ID3 = make_id_number(region="410811", seq=103)
TODAY = timezone.localdate
GOOD = [
    ["张伟", ID1, "13800000001", "焦作甲公司", "职工", "", "本科", "中共党员", "2023-05-01", ""],
    [
        "王芳",
        ID2,
        "13800000002",
        "焦作乙公司",
        "新就业形态劳动者",
        "快递员",
        "大专",
        "群众",
        "",
        "",
    ],
    ["李娜", ID3, "", "", "", "", "", "", "", ""],
]


def run(world, tmp_path: Path, name: str, data: bytes, **kwargs):
    path = write(tmp_path, name, data)
    kwargs.setdefault("actor", world.jiefang_officer)
    kwargs.setdefault("org", world.jiefang_base)
    return import_file(path=path, file_name=name, language="en", parallel=False, **kwargs)


def import_transition(member: Member) -> AuditEvent:
    """The audit line of an import that brought ``member`` back (a status change)."""
    return AuditEvent.objects.get(
        object_id=str(member.pk), action=AuditAction.TRANSITION, reason__startswith="Imported"
    )


def report_rows(result) -> list[tuple]:
    assert result.error_file is not None
    sheet = load_workbook(result.error_file).worksheets[0]
    return [tuple(r) for r in sheet.iter_rows(min_row=2, values_only=True)]


@pytest.mark.django_db
class TestFormats:
    def test_xlsx_imports_members_memberships_and_audit(self, world, tmp_path):
        result = run(world, tmp_path, "m.xlsx", xlsx_bytes(GOOD))
        assert result.committed and (result.rows_total, result.rows_created) == (3, 3)
        wang = Member.objects.get(name="王芳")
        assert wang.category == WorkerCategory.NEW_FORM_WORKER
        assert wang.new_form_kind == "courier" and wang.education == "college"
        assert wang.org == world.jiefang_base and wang.id_number_masked.endswith(ID2[-4:])
        zhang = Member.objects.get(name="张伟")
        assert str(zhang.joined_on) == "2023-05-01" and zhang.political_status == "cpc_member"
        assert Membership.objects.filter(member=zhang, org=world.jiefang_base).count() == 1
        lines = AuditEvent.objects.filter(object_type="members.member", object_id=str(zhang.pk))
        assert lines.filter(action=AuditAction.CREATE, changes__row=2).exists()
        job_event = AuditEvent.objects.get(action=AuditAction.IMPORT)
        assert job_event.changes["created"] == 3 and job_event.changes["file"] == "m.xlsx"

    @pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
    def test_csv_encodings(self, world, tmp_path, encoding):
        result = run(world, tmp_path, "m.csv", csv_bytes(GOOD, encoding=encoding))
        assert result.committed and result.rows_created == 3
        assert set(
            Member.objects.filter(org=world.jiefang_base).values_list("name", flat=True)
        ) >= {
            "张伟",
            "王芳",
            "李娜",
        }

    def test_full_width_digits_and_lower_case_x(self, world, tmp_path):
        number = next(
            make_id_number(region="410802", seq=s)
            for s in range(200, 4000)
            if make_id_number(region="410802", seq=s).endswith("X")
        )
        wide = number[:-1].translate(str.maketrans("0123456789", "０１２３４５６７８９")) + "x"
        result = run(
            world, tmp_path, "w.xlsx", xlsx_bytes([["赵敏", wide, "１３８００００００１１"]])
        )
        assert result.committed, result.errors
        member = Member.objects.get(name="赵敏")
        assert member.id_tail == number[-4:] and member.phone == "13800000011"

    def test_numbers_typed_as_numbers_in_xlsx(self, world, tmp_path):
        # A phone as a number cell is fine; an integer ID with all 18 digits is fine too.
        result = run(world, tmp_path, "n.xlsx", xlsx_bytes([["杨磊", ID1, 13800000021]]))
        assert result.committed and Member.objects.get(name="杨磊").phone == "13800000021"


@pytest.mark.django_db
class TestBadRows:
    BAD = ["坏行", "410802199001011235", "12345", "", "宇航员", "", "", "", "", ""]

    def test_all_or_nothing_writes_nothing_and_reports_row_column_reason(self, world, tmp_path):
        before = Member.objects.count()
        result = run(world, tmp_path, "b.xlsx", xlsx_bytes([GOOD[0], self.BAD, GOOD[1]]))
        assert not result.committed
        assert (result.rows_total, result.rows_created, result.rows_failed) == (3, 0, 1)
        assert Member.objects.count() == before
        assert not Member.objects.filter(name="张伟").exists()
        codes = {(e.row, e.column, e.code) for e in result.errors}
        assert codes == {
            (3, "id_number", "id_checksum"),
            (3, "phone", "phone_format"),
            (3, "category", "category_invalid"),
        }
        rows = report_rows(result)
        with translation.override("en"):  # the report speaks the import's language
            reason = gettext(
                "The identity number's check digit is wrong; please check every digit."
            )
        assert (3, "身份证号", "4108**********1235", reason) in rows
        assert AuditEvent.objects.filter(
            action=AuditAction.IMPORT, changes__committed=False
        ).exists()
        assert not AuditEvent.objects.filter(
            object_type="members.member", changes__has_key="import_job"
        ).exists()

    def test_skip_mode_writes_the_good_rows(self, world, tmp_path):
        result = run(
            world, tmp_path, "b.xlsx", xlsx_bytes([GOOD[0], self.BAD, GOOD[1]]), skip_bad_rows=True
        )
        assert result.committed and (result.rows_created, result.rows_failed) == (2, 1)
        assert set(
            Member.objects.filter(org=world.jiefang_base).values_list("name", flat=True)
        ) == {"王小明", "张伟", "王芳"}

    @pytest.mark.parametrize("cell", [4.10802199001011e17, "4.10802E+17", "41080219900101100"])
    def test_excel_mangled_id_says_how_to_fix(self, world, tmp_path, cell):
        result = run(world, tmp_path, "e.xlsx", xlsx_bytes([["张伟", cell]]))
        assert not result.committed
        (error,) = result.errors
        assert error.code == "id_excel_number" and error.column == "id_number"
        assert "Format the column as Text" in error.message
        assert Member.objects.filter(name="张伟").count() == 0

    def test_duplicate_in_file_is_a_bad_row(self, world, tmp_path):
        result = run(
            world,
            tmp_path,
            "d.xlsx",
            xlsx_bytes([GOOD[0], ["张伟二", ID1.lower()]]),
            skip_bad_rows=True,
        )
        assert result.rows_created == 1
        (error,) = result.errors
        assert (error.row, error.code) == (3, "id_duplicate_in_file")
        assert "row 2" in error.message

    @pytest.mark.parametrize(
        "name,employer,code",
        [
            ("<script>alert(1)</script>", "", "name_chars"),
            ('=HYPERLINK("http://evil","x")', "", "formula"),
            ("张伟", "=1+2", "formula"),
            ("'; DROP TABLE members_member; --", "", "name_chars"),
            ("", "", "name_empty"),
            ("张" * 51, "", "name_long"),
        ],
    )
    def test_hostile_and_wrong_values(self, world, tmp_path, name, employer, code):
        before = Member.objects.count()
        result = run(world, tmp_path, "h.xlsx", xlsx_bytes([[name, ID1, "", employer]]))
        assert not result.committed and code in {e.code for e in result.errors}
        assert Member.objects.count() == before
        for row in report_rows(result):
            assert not str(row[2]).startswith("=")  # the report never carries a live formula

    def test_new_form_kind_without_category_implies_new_form_worker(self, world, tmp_path):
        result = run(world, tmp_path, "k.xlsx", xlsx_bytes([["陈静", ID1, "", "", "", "外卖骑手"]]))
        assert result.committed
        assert Member.objects.get(name="陈静").category == WorkerCategory.NEW_FORM_WORKER

    def test_kind_for_employee_is_refused(self, world, tmp_path):
        result = run(
            world, tmp_path, "k.xlsx", xlsx_bytes([["陈静", ID1, "", "", "职工", "快递员"]])
        )
        assert {e.code for e in result.errors} == {"new_form_kind_unexpected"}

    def test_future_join_date(self, world, tmp_path):
        result = run(
            world,
            tmp_path,
            "f.xlsx",
            xlsx_bytes([["陈静", ID1, "", "", "", "", "", "", "2999-01-01"]]),
        )
        assert {e.code for e in result.errors} == {"joined_future"}


@pytest.mark.django_db
class TestReimport:
    def test_same_person_updates_never_duplicates(self, world, tmp_path):
        run(world, tmp_path, "a.xlsx", xlsx_bytes([GOOD[0]]))
        member = Member.objects.get(name="张伟")
        changed = ["张伟", ID1, "13800000099", "新单位", "", "", "", "", "", ""]
        result = run(world, tmp_path, "b.xlsx", xlsx_bytes([changed, GOOD[1]]))
        assert (result.rows_created, result.rows_updated) == (1, 1)
        assert Member.objects.filter(id_number_hash=member.id_number_hash).count() == 1
        member.refresh_from_db()
        assert (member.phone, member.employer, member.education) == (
            "13800000099",
            "新单位",
            "bachelor",
        )
        assert Membership.objects.filter(member=member).count() == 1
        assert AuditEvent.objects.filter(
            object_id=str(member.pk), action=AuditAction.UPDATE
        ).exists()

    def test_member_of_another_union_is_refused(self, world, tmp_path):
        other = world.zhongzhan_member
        from gonghui.core import crypto

        number = crypto.decrypt(other.id_number_enc)
        result = run(world, tmp_path, "o.xlsx", xlsx_bytes([["冒名", number]]), skip_bad_rows=True)
        assert result.rows_created == result.rows_updated == 0
        assert [e.code for e in result.errors] == ["id_other_union"]
        other.refresh_from_db()
        assert other.name == "李秀英" and other.org == world.zhongzhan_base

    def test_a_member_who_left_this_union_rejoins(self, world, tmp_path):
        run(world, tmp_path, "a.xlsx", xlsx_bytes([GOOD[0]]))
        zhang = Member.objects.get(name="张伟")
        member_leave(actor=world.jiefang_officer, member=zhang, on=TODAY(), reason="调离")
        # The roster still carries the first join date (2023-05-01), from before they left.
        back = ["张伟", ID1, "13800000077", "", "", "", "", "", "2023-05-01", ""]
        result = run(world, tmp_path, "b.xlsx", xlsx_bytes([back, GOOD[1]]))
        assert (result.rows_created, result.rows_updated, result.rows_rejoined) == (1, 0, 1)
        zhang.refresh_from_db()
        assert (zhang.status, zhang.org, zhang.phone) == (
            MemberStatus.ACTIVE,
            world.jiefang_base,
            "13800000077",
        )
        # A join date from before they left is history: the member joins again today.
        assert zhang.joined_on == TODAY()
        stretches = list(Membership.objects.filter(member=zhang).order_by("id"))
        assert [(m.ended_on is None, m.start_kind) for m in stretches] == [
            (False, "join"),
            (True, "rejoin"),
        ]
        assert stretches[1].org == world.jiefang_base and stretches[1].started_on == TODAY()
        line = import_transition(zhang)
        assert line.changes["status"] == ["left", "active"]
        assert line.changes["org_id"] == [world.jiefang_base.pk, world.jiefang_base.pk]
        assert line.changes["row"] == 2

    def test_a_member_who_left_another_union_joins_this_one(self, world, tmp_path):
        from gonghui.core import crypto

        other = world.zhongzhan_member
        Membership.objects.filter(member=other).update(started_on=dt.date(2020, 3, 1))
        left_on = dt.date(2025, 12, 31)
        member_leave(actor=world.zhongzhan_officer, member=other, on=left_on, reason="离职")
        number = crypto.decrypt(other.id_number_enc)
        card = "6222020200112345678"
        row = ["李秀英", number, "", "新单位", "", "", "", "", "2026-01-05", card]
        result = run(world, tmp_path, "r.xlsx", xlsx_bytes([row]))
        assert result.committed and result.errors == []
        assert (result.rows_created, result.rows_updated, result.rows_rejoined) == (0, 0, 1)
        other.refresh_from_db()
        assert (other.status, other.org, other.employer) == (
            MemberStatus.ACTIVE,
            world.jiefang_base,
            "新单位",
        )
        assert other.joined_on.isoformat() == "2026-01-05"
        current = Membership.objects.get(member=other, ended_on__isnull=True)
        assert (current.org, current.started_on.isoformat()) == (world.jiefang_base, "2026-01-05")
        assert MemberCard.objects.get(member=other, is_current=True).number_masked.endswith("5678")
        line = import_transition(other)
        assert line.changes["org_id"] == [world.zhongzhan_base.pk, world.jiefang_base.pk]
        # Imported again: now simply this union's member, updated.
        result = run(world, tmp_path, "r2.xlsx", xlsx_bytes([row]))
        assert (result.rows_updated, result.rows_rejoined) == (1, 0)
        assert Membership.objects.filter(member=other).count() == 2

    def test_a_returning_member_with_another_persons_card_is_refused(self, world, tmp_path):
        from gonghui.core import crypto

        card = "6222020200112345678"
        run(world, tmp_path, "c.xlsx", xlsx_bytes([GOOD[0][:9] + [card]]))
        other = world.zhongzhan_member
        member_leave(actor=world.zhongzhan_officer, member=other, on=TODAY(), reason="离职")
        row = ["李秀英", crypto.decrypt(other.id_number_enc), "", "", "", "", "", "", "", card]
        result = run(world, tmp_path, "c2.xlsx", xlsx_bytes([row]), skip_bad_rows=True)
        assert [e.code for e in result.errors] == ["card_taken"]
        other.refresh_from_db()
        assert (other.status, other.org) == (MemberStatus.LEFT, world.zhongzhan_base)

    def test_a_bad_row_leaves_a_returning_member_as_they_were(self, world, tmp_path):
        run(world, tmp_path, "a.xlsx", xlsx_bytes([GOOD[0]]))
        zhang = Member.objects.get(name="张伟")
        member_leave(actor=world.jiefang_officer, member=zhang, on=TODAY(), reason="调离")
        result = run(world, tmp_path, "b.xlsx", xlsx_bytes([GOOD[0], ["", ID2]]))
        assert not result.committed
        assert (result.rows_created, result.rows_updated, result.rows_rejoined) == (0, 0, 0)
        zhang.refresh_from_db()
        assert zhang.status == MemberStatus.LEFT
        assert not Membership.objects.filter(member=zhang, ended_on__isnull=True).exists()

    def test_cards_are_recorded_and_a_taken_card_is_refused(self, world, tmp_path):
        card = "6222020200112345678"
        result = run(world, tmp_path, "c.xlsx", xlsx_bytes([GOOD[0][:9] + [card]]))
        assert result.committed
        zhang = Member.objects.get(name="张伟")
        assert MemberCard.objects.get(member=zhang, is_current=True).number_masked.endswith("5678")
        result = run(
            world, tmp_path, "c2.xlsx", xlsx_bytes([GOOD[1][:9] + [card]]), skip_bad_rows=True
        )
        assert [e.code for e in result.errors] == ["card_taken"]
        assert MemberCard.objects.count() == 1


@pytest.mark.django_db
class TestFileProblems:
    @pytest.mark.parametrize(
        "name,data,code",
        [
            ("empty.xlsx", b"", "file_empty"),
            ("empty.csv", b"", "file_empty"),
            ("x.pdf", b"%PDF-1.4 hello", "file_type"),
            ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"0" * 100, "file_xls"),
            ("fake.xlsx", b"name,id\n", "file_corrupt"),
            ("bin.csv", b"PK\x03\x04binary", "file_corrupt"),
            ("h.csv", "姓名,手机号\n张伟,13800000001\n".encode(), "header_missing"),
            ("only.csv", "姓名*,身份证号*\n".encode(), "file_no_rows"),
        ],
    )
    def test_refused_files(self, world, tmp_path, name, data, code):
        before = Member.objects.count()
        with pytest.raises(ApplicationError) as info:
            run(world, tmp_path, name, data)
        assert info.value.code == code and str(info.value.message)
        assert Member.objects.count() == before

    def test_too_big(self, world, tmp_path, settings):
        settings.GONGHUI_IMPORT_MAX_BYTES = 100
        with pytest.raises(ApplicationError) as info:
            run(world, tmp_path, "big.csv", csv_bytes(GOOD * 5))
        assert info.value.code == "file_too_big"

    def test_header_missing_id_column_names_it(self, world, tmp_path):
        with pytest.raises(ApplicationError) as info:
            run(world, tmp_path, "h.xlsx", xlsx_bytes([["张伟"]], header=["姓名"]))
        assert "身份证号" in str(info.value.message)

    def test_title_row_above_header_is_skipped(self, world, tmp_path):
        data = xlsx_bytes([["焦作市会员花名册"], HEADER_ROW, GOOD[0]], header=["会员名册"])
        result = run(world, tmp_path, "t.xlsx", data)
        assert result.committed and result.rows_created == 1
        assert AuditEvent.objects.filter(changes__row=4).exists()

    def test_target_must_be_visible_and_a_base_union(self, world, tmp_path):
        with pytest.raises(PermissionDenied):
            run(world, tmp_path, "m.xlsx", xlsx_bytes(GOOD), org=world.zhongzhan_base)
        with pytest.raises(ApplicationError) as info:
            run(world, tmp_path, "m.xlsx", xlsx_bytes(GOOD), org=world.jiefang_township)
        assert info.value.code == "org_not_base"
        with pytest.raises(PermissionDenied):
            run(world, tmp_path, "m.xlsx", xlsx_bytes(GOOD), actor=world.jiefang_viewer)
        assert not Member.objects.filter(name="张伟").exists()


HEADER_ROW = [
    "姓名*",
    "身份证号*",
    "手机号",
    "工作单位",
    "职工类别",
    "新就业形态类型",
    "学历",
    "政治面貌",
    "入会日期",
    "会员卡号",
]


@pytest.mark.django_db
def test_parallel_worker_gives_the_same_result(world, tmp_path):
    path = write(tmp_path, "p.xlsx", xlsx_bytes([GOOD[0], TestBadRows.BAD, GOOD[1]]))
    result = import_file(
        actor=world.jiefang_officer,
        org=world.jiefang_base,
        path=path,
        file_name="p.xlsx",
        skip_bad_rows=True,
        language="en",
        parallel=True,
    )
    assert result.committed and (result.rows_created, result.rows_failed) == (2, 1)
    assert result.worker_maxrss_kb > 0


@pytest.mark.django_db
def test_import_members_command(world, tmp_path):
    from django.core.management import CommandError, call_command

    path = write(tmp_path, "c.xlsx", xlsx_bytes([GOOD[0], TestBadRows.BAD]))
    with pytest.raises(CommandError):
        call_command("import_members", str(path), "--org", str(world.jiefang_base.pk))
    assert not Member.objects.filter(name="张伟").exists()
    assert (tmp_path / "c-errors.xlsx").exists()
    call_command(
        "import_members", str(path), "--org", str(world.jiefang_base.pk), "--skip-bad-rows"
    )
    assert Member.objects.filter(name="张伟", org=world.jiefang_base).exists()
    events = AuditEvent.objects.filter(action=AuditAction.IMPORT).order_by("id")
    assert [e.changes["committed"] for e in events] == [False, True]
    assert {(e.actor_label, e.source) for e in events} == {("system", "cli")}


@pytest.mark.django_db
def test_xlsx_date_cells_and_row_numbers_after_blank_rows(world, tmp_path):
    import datetime as dt

    rows = [GOOD[0][:8] + [dt.date(2021, 7, 1)], [], [], ["坏行", "123"]]
    result = run(world, tmp_path, "g.xlsx", xlsx_bytes(rows), skip_bad_rows=True)
    assert result.committed and result.rows_created == 1
    assert str(Member.objects.get(name="张伟").joined_on) == "2021-07-01"
    assert [e.row for e in result.errors] == [5]  # blank rows keep Excel's numbering


@pytest.mark.django_db
def test_the_templates_example_row_is_refused(world, tmp_path):
    from gonghui.members.importing.report import template_workbook

    path = tmp_path / "template.xlsx"
    template_workbook(path)
    before = Member.objects.count()
    result = import_file(
        path=path,
        file_name="template.xlsx",
        actor=world.jiefang_officer,
        org=world.jiefang_base,
        language="en",
        parallel=False,
    )
    assert not result.committed
    assert [e.code for e in result.errors] == ["example_row"]
    assert Member.objects.count() == before
