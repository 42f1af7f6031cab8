"""Member export: masked by default, unmasked only with the capability and a reason, audited."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from gonghui.audit.models import AuditAction, AuditEvent
from gonghui.core import crypto
from gonghui.members.services import member_card_set


def sheet_rows(response) -> list[tuple]:
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).worksheets[0]
    return [tuple(r) for r in sheet.iter_rows(values_only=True)]


@pytest.mark.django_db
class TestExport:
    def test_masked_by_default_and_scoped(self, world, login):
        member_card_set(actor=None, member=world.jiefang_member, card_number="6222020200112345678")
        response = login(world.jiefang_officer).get(reverse("members:export"))
        assert response.status_code == 200
        rows = sheet_rows(response)
        assert rows[0][:2] == ("姓名", "身份证号")
        names = [r[0] for r in rows[1:]]
        assert names == ["王小明"] and "李秀英" not in names
        full = crypto.decrypt(world.jiefang_member.id_number_enc)
        flat = " ".join(str(v) for r in rows for v in r)
        assert full not in flat and "6222020200112345678" not in flat
        assert rows[1][1] == world.jiefang_member.id_number_masked and rows[1][9].endswith("5678")
        event = AuditEvent.objects.get(action=AuditAction.EXPORT)
        assert event.changes["count"] == 1 and event.changes["unmasked"] is False

    def test_filters_apply(self, world, login):
        client = login(world.city_admin)
        both = sheet_rows(client.get(reverse("members:export")))
        assert {r[0] for r in both[1:]} == {"王小明", "李秀英"}
        only = sheet_rows(client.get(reverse("members:export"), {"org": world.zhongzhan.pk}))
        assert [r[0] for r in only[1:]] == ["李秀英"]
        query = sheet_rows(
            client.get(
                reverse("members:export"), {"q": "王", "year": "abc", "category": "<script>"}
            )
        )
        assert [r[0] for r in query[1:]] == ["王小明"]

    def test_unmasked_needs_capability_and_reason_and_is_audited(self, world, login):
        url = reverse("members:export")
        officer = login(world.jiefang_officer)  # officers may export but not reveal
        response = officer.post(url, {"reason": "发卡"})
        assert response.status_code == 403
        assert not AuditEvent.objects.filter(action=AuditAction.EXPORT).exists()
        assert officer.get(reverse("members:export_unmasked")).status_code == 403

        admin = login(world.city_admin)
        assert admin.get(reverse("members:export_unmasked")).status_code == 200
        for reason in ("", "  ", "x"):
            response = admin.post(url, {"reason": reason})
            assert response.status_code == 400 and b'role="alert"' in response.content
        assert not AuditEvent.objects.filter(action=AuditAction.EXPORT).exists()

        response = admin.post(url + f"?org={world.jiefang.pk}", {"reason": "工会卡批量发卡"})
        assert response.status_code == 200
        rows = sheet_rows(response)
        assert rows[1][1] == crypto.decrypt(world.jiefang_member.id_number_enc)
        event = AuditEvent.objects.get(action=AuditAction.EXPORT)
        assert event.changes["unmasked"] is True and event.changes["count"] == 1
        assert event.reason == "工会卡批量发卡" and event.actor == world.city_admin

    def test_hostile_employer_is_not_a_formula_in_the_export(self, world, login):
        from gonghui.members.services import member_update

        member_update(
            actor=None, member=world.jiefang_member, employer='=HYPERLINK("http://x","y")'
        )
        rows = sheet_rows(login(world.jiefang_officer).get(reverse("members:export")))
        assert rows[1][3].startswith("'=")

    @pytest.mark.parametrize("who,status", [("jiefang_viewer", 403), ("zhongzhan_officer", 200)])
    def test_permission_matrix(self, world, login, who, status):
        response = login(getattr(world, who)).get(reverse("members:export"))
        assert response.status_code == status
        if status == 200:
            names = [r[0] for r in sheet_rows(response)[1:]]
            assert names == ["李秀英"]
        else:
            assert "王小明".encode() not in response.content

    def test_member_and_anonymous(self, world, login):
        for client in (login(member=world.jiefang_member), login()):
            response = client.get(reverse("members:export"))
            assert response.status_code in (302, 403)
            assert "王小明".encode() not in response.content
        assert not AuditEvent.objects.filter(action=AuditAction.EXPORT).exists()

    def test_command(self, world, tmp_path):
        from django.core.management import call_command

        out = tmp_path / "out.xlsx"
        call_command("export_members", "--org", str(world.jiefang.pk), "-o", str(out))
        rows = [r for r in load_workbook(out).worksheets[0].iter_rows(values_only=True)]
        assert [r[0] for r in rows[1:]] == ["王小明"]
