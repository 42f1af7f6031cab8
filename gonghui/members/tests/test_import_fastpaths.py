"""The import's fast paths give exactly what the general paths give.

The xlsx scanner against the expat reader, the plain identity-number check against
``validate_id_number``, the compact shared-strings table, and the direct COPY writer's
bookkeeping (ids, audit lines, cards of existing members).
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import pytest
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

from gonghui.audit.models import AuditAction, AuditEvent
from gonghui.core.errors import ApplicationError
from gonghui.core.idnumbers import validate_id_number
from gonghui.members.importing.service import import_file
from gonghui.members.importing.validation import plain_id_number
from gonghui.members.importing.xlsx import SharedStrings, iter_rows, iter_rows_expat
from gonghui.members.models import Member, MemberCard
from gonghui.members.tests.factories import make_id_number
from gonghui.members.tests.import_helpers import write, xlsx_bytes

WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)
SHARED = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    "<si><t>姓名*</t></si><si><t>身份证号*</t></si><si><t>张&amp;三</t></si>"
    "<si><r><t>李</t></r><r><t>四</t></r><rPh><t>li si</t></rPh></si>"
    '<si><t xml:space="preserve"> 410802199001010010 </t></si></sst>'
)


def raw_xlsx(sheet_xml: str, *, shared: str = SHARED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("xl/workbook.xml", WORKBOOK)
        zf.writestr("xl/_rels/workbook.xml.rels", RELS)
        zf.writestr("xl/worksheets/sheet1.xml", sheet_xml)
        zf.writestr("xl/sharedStrings.xml", shared)
    return out.getvalue()


def sheet(rows: str, *, root: str = "worksheet", ns: str = "") -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><{root} '
        f'xmlns{ns}="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<dimension ref='A1:D9'/><sheetData>{rows}</sheetData></{root}>"
    )


EXCEL_ROWS = (
    '<row r="1" spans="1:4"><c r="A1" s="1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
    '<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" s="2" t="s"><v>4</v></c>'
    '<c r="C2" s="3"><v>13800000000</v></c><c r="D2" t="b"><v>1</v></c></row>'
    '<row r="5"><c t="s" r="A5"><v>3</v></c><c r="C5"><f>SUM(1,2)</f><v>3</v></c>'
    '<c r="D5" t="str"><f t="shared" si="0"/><v>x</v></c></row>'
    '<row r="6"/><row><c r="A7" t="inlineStr"><is><r><t>王</t></r><r><t>五</t></r></is></c>'
    '<c t="inlineStr"><is><t>a&lt;b&gt;&#20013;</t></is></c><c r="D7"><v>1.5E3</v></c>'
    '<c r="E7"/><c r="F7" t="e"><v>#N/A</v></c><c r="G7" t="d"><v>2024-03-01</v></c></row>'
    "<row r='8'><c r='A8' t='s'><v>2</v></c><c r='B8' t='inlineStr'><is><t>x\r\ny</t></is></c>"
    "</row>"
)


class TestXlsxScanner:
    def read_both(self, tmp_path: Path, data: bytes) -> tuple[list, list]:
        path = write(tmp_path, "s.xlsx", data)
        return list(iter_rows(path)), list(iter_rows_expat(path))

    def test_excel_style_sheet_with_shared_strings(self, tmp_path):
        fast, slow = self.read_both(tmp_path, raw_xlsx(sheet(EXCEL_ROWS)))
        assert fast == slow
        assert fast[1] == ["张&三", " 410802199001010010 ", 13800000000, True]
        assert fast[2] == fast[3] == []  # missing rows keep Excel's numbering
        assert fast[4] == ["李四", None, "=SUM(1,2)", "="]  # phonetic text is left out
        assert fast[6][:4] == ["王五", "a<b>中", None, 1500.0]
        assert fast[7] == ["张&三", "x\ny"]

    @pytest.mark.parametrize(
        "rows",
        [
            '<row r="1"><c r="A1"><v><![CDATA[1]]></v></c></row>',  # CDATA: expat takes over
            '<row r="1"><c r="A1"><v>1</v></c></row><!-- note --><row r="2"/>',
        ],
    )
    def test_unusual_xml_falls_back_to_expat(self, tmp_path, rows):
        fast, slow = self.read_both(tmp_path, raw_xlsx(sheet(EXCEL_ROWS + rows)))
        assert fast == slow

    def test_prefixed_namespace_is_read_by_expat(self, tmp_path):
        rows = EXCEL_ROWS.replace("<", "<x:").replace("<x:/", "</x:")
        data = raw_xlsx(sheet(rows, root="x:worksheet", ns=":x"))
        fast, slow = self.read_both(tmp_path, data)
        assert fast == slow and fast[1][0] == "张&三"

    def test_openpyxl_workbook_with_every_kind_of_cell(self, tmp_path):
        rows = [
            ["<script>&amp;", 1, 2.5, True, dt.date(2024, 3, 1), None, "=1+2", "全角１２３"],
            [],
            ["A" * 300, -7, 1e20, False],
        ]
        fast, slow = self.read_both(tmp_path, xlsx_bytes(rows))
        assert fast == slow
        assert fast[1][:4] == ["<script>&amp;", 1, 2.5, True]

    def test_many_rows_across_chunks(self, tmp_path):
        rows = [[f"名{n}", str(n), n] for n in range(6000)]
        fast, slow = self.read_both(tmp_path, xlsx_bytes(rows))
        assert fast == slow and len(fast) == 6001


def test_shared_strings_table_is_compact_and_exact():
    table = SharedStrings()
    texts = ["张三", "", "410802199001010010", "a\u00e9\U0001f600"]
    for text in texts:
        table.append(text)
    assert [table[i] for i in range(len(table))] == texts
    with pytest.raises(IndexError):
        table[4]
    with pytest.raises(IndexError):
        table[-1]
    assert table.nbytes() < 100


def _with_check_digit(body: str) -> str:
    return body + ric.calc_check_digit(body + "0")


class TestPlainIdNumber:
    @given(
        body=st.text(alphabet="0123456789", min_size=17, max_size=17),
        fix=st.booleans(),
        lower=st.booleans(),
    )
    @settings(max_examples=400, deadline=None)
    def test_agrees_with_validate_id_number(self, body, fix, lower):
        raw = _with_check_digit(body) if fix else body + "7"
        if lower:
            raw = raw.lower()
        today = timezone.localdate()
        fast = plain_id_number(raw, today)
        try:
            slow = validate_id_number(raw)
        except ApplicationError:
            assert fast is None
        else:
            assert fast is None or fast == slow

    @pytest.mark.parametrize("seq", range(1, 40))
    def test_valid_numbers_take_the_fast_path(self, seq):
        number = make_id_number(region="410802", seq=seq)
        assert plain_id_number(number, timezone.localdate()) == validate_id_number(number)

    @pytest.mark.parametrize(
        "raw",
        [
            None,
            410802199001010010,
            4.10802e17,
            " 410802199001010010",
            "４１０８０２１９９００１０１００１０",
            "41080219900101001",
            "410802199013010010",
            "999999199001010010",
            "<script>alert(1)</script>",
        ],
    )
    def test_anything_unusual_goes_to_the_general_check(self, raw):
        assert plain_id_number(raw, timezone.localdate()) is None


def run(world, tmp_path: Path, rows: list[list], **kwargs):
    path = write(tmp_path, "f.xlsx", xlsx_bytes(rows))
    return import_file(
        actor=world.jiefang_officer,
        org=world.jiefang_base,
        path=path,
        file_name="f.xlsx",
        language="en",
        parallel=False,
        **kwargs,
    )


@pytest.mark.django_db
class TestDirectWriter:
    def test_audit_lines_name_the_members_in_file_order(self, world, tmp_path):
        ids = [make_id_number(region="410802", seq=300 + n) for n in range(3)]
        run(world, tmp_path, [["甲", ids[1]]])
        result = run(world, tmp_path, [["乙", ids[0]], ["丙改", ids[1]], ["丁", ids[2]]])
        assert (result.rows_created, result.rows_updated) == (2, 1)
        lines = AuditEvent.objects.filter(
            object_type="members.member", changes__import_job=None, changes__row__gte=2
        ).order_by("id")
        last = list(lines)[-3:]
        assert [(e.action, e.changes["row"]) for e in last] == [
            (AuditAction.CREATE, 2),
            (AuditAction.UPDATE, 3),
            (AuditAction.CREATE, 4),
        ]
        for event in last:
            member = Member.objects.get(pk=int(event.object_id))
            assert event.object_repr == f"{member.name} ({member.id_number_masked})"
            assert event.org_id == world.jiefang_base.pk and event.actor_label == "jiefang_staff"
        assert Member.objects.get(name="丙改").memberships.count() == 1

    def test_new_member_ids_follow_the_sequence(self, world, tmp_path):
        ids = [make_id_number(region="410803", seq=400 + n) for n in range(5)]
        run(world, tmp_path, [[f"员{n}", number] for n, number in enumerate(ids)])
        made = list(Member.objects.filter(name__startswith="员").order_by("id"))
        assert [m.name for m in made] == [f"员{n}" for n in range(5)]
        # A member created afterwards the ordinary way gets a fresh id, not a reserved one.
        later = Member.objects.create(
            name="后来",
            name_initials="hl",
            id_number_enc="x",
            id_number_hash="f" * 64,
            id_number_masked="x",
            id_tail="0000",
            gender="M",
            birth_date=dt.date(1990, 1, 1),
            org=world.jiefang_base,
            joined_on=dt.date(2024, 1, 1),
        )
        assert later.pk > made[-1].pk

    def test_card_of_an_existing_member_becomes_current(self, world, tmp_path):
        number = make_id_number(region="410811", seq=500)
        first, second = "6222020200112345678", "6222020200187654321"
        run(world, tmp_path, [["卡主", number, "", "", "", "", "", "", "", first]])
        result = run(world, tmp_path, [["卡主", number, "", "", "", "", "", "", "", second]])
        assert result.committed and result.rows_updated == 1
        member = Member.objects.get(name="卡主")
        cards = {
            c.number_masked[-4:]: c.is_current for c in MemberCard.objects.filter(member=member)
        }
        assert cards == {"5678": False, "4321": True}
        # Importing the first card again switches back, without a duplicate card row.
        run(world, tmp_path, [["卡主", number, "", "", "", "", "", "", "", first]])
        cards = {
            c.number_masked[-4:]: c.is_current for c in MemberCard.objects.filter(member=member)
        }
        assert cards == {"5678": True, "4321": False}

    def test_refused_rows_in_all_or_nothing_mode_write_nothing(self, world, tmp_path):
        from gonghui.core import crypto

        other = crypto.decrypt(world.zhongzhan_member.id_number_enc)
        fresh = make_id_number(region="410802", seq=600)
        before = (Member.objects.count(), AuditEvent.objects.count())
        result = run(world, tmp_path, [["新人", fresh], ["冒名", other]])
        assert not result.committed and [e.code for e in result.errors] == ["id_other_union"]
        assert Member.objects.count() == before[0]
        assert AuditEvent.objects.count() == before[1] + 1  # only the refused IMPORT event


def test_a_row_without_end_is_refused_not_buffered(tmp_path, monkeypatch):
    from gonghui.members.importing import xlsx

    monkeypatch.setattr(xlsx, "MAX_ROW_BYTES", 1000)
    monkeypatch.setattr(xlsx, "CHUNK", 100)
    body = '<row r="1"><c r="A1" t="inlineStr"><is><t>' + "x" * 5000 + "</t></is></c></row>"
    path = write(tmp_path, "long.xlsx", raw_xlsx(sheet(body)))
    with pytest.raises(xlsx.XlsxError):
        list(iter_rows(path))
