"""Import pages: upload, job page, error file, template; the permission matrix."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from gonghui.members.models import ImportJob, ImportStatus, Member
from gonghui.members.tests.factories import make_id_number
from gonghui.members.tests.import_helpers import xlsx_bytes

ID1 = make_id_number(region="410802", seq=301)
ROWS = [["张伟", ID1, "13800000001"], ["坏行", "123", ""]]


def upload(client, org, rows=ROWS, *, skip=False, name="m.xlsx", data=None):
    payload = {
        "org": org.pk,
        "file": SimpleUploadedFile(name, data if data is not None else xlsx_bytes(rows)),
    }
    if skip:
        payload["skip_bad_rows"] = "on"
    return client.post(reverse("members:import"), payload)


@pytest.mark.django_db
class TestUpload:
    def test_officer_uploads_and_sees_the_finished_job(self, world, login):
        client = login(world.jiefang_officer)
        page = client.get(reverse("members:import"))
        assert page.status_code == 200
        content = page.content.decode()
        assert world.jiefang_base.name in content and world.zhongzhan_base.name not in content
        response = upload(client, world.jiefang_base, skip=True)
        job = ImportJob.objects.get()
        assert response.status_code == 302 and response["Location"] == reverse(
            "members:import_job", args=[job.pk]
        )
        assert job.status == ImportStatus.PARTIAL and (job.rows_created, job.rows_failed) == (1, 1)
        detail = client.get(reverse("members:import_job", args=[job.pk]))
        assert (
            detail.status_code == 200
            and reverse("members:import_job_errors", args=[job.pk]) in detail.content.decode()
        )
        errors = client.get(reverse("members:import_job_errors", args=[job.pk]))
        assert errors.status_code == 200
        sheet = load_workbook(io.BytesIO(b"".join(errors.streaming_content))).worksheets[0]
        rows = list(sheet.iter_rows(min_row=2, values_only=True))
        assert rows[0][0] == 3 and rows[0][1] == "身份证号" and rows[0][3]

    def test_all_or_nothing_job_fails_and_writes_nothing(self, world, login):
        client = login(world.jiefang_officer)
        upload(client, world.jiefang_base)
        job = ImportJob.objects.get()
        assert job.status == ImportStatus.FAILED and job.rows_created == 0 and job.error_file
        assert not Member.objects.filter(name="张伟").exists()

    def test_the_job_page_counts_members_who_came_back(self, world, login):
        from django.utils import timezone

        from gonghui.core import crypto
        from gonghui.members.services import member_leave

        other = world.zhongzhan_member
        member_leave(
            actor=world.zhongzhan_officer, member=other, on=timezone.localdate(), reason="离职"
        )
        client = login(world.jiefang_officer)
        upload(client, world.jiefang_base, [["李秀英", crypto.decrypt(other.id_number_enc)]])
        job = ImportJob.objects.get()
        assert job.status == ImportStatus.SUCCEEDED
        assert (job.rows_created, job.rows_updated, job.rows_rejoined) == (0, 0, 1)
        assert "重新入会1人" in job.message
        detail = client.get(reverse("members:import_job", args=[job.pk])).content.decode()
        assert "<th>重新入会</th><td>1</td>" in detail
        listing = client.get(reverse("members:import")).content.decode()
        assert "<th>重新入会</th>" in listing

    def test_htmx_poll_returns_the_status_fragment(self, world, login):
        client = login(world.jiefang_officer)
        upload(client, world.jiefang_base, skip=True)
        job = ImportJob.objects.get()
        fragment = client.get(reverse("members:import_job", args=[job.pk]), HTTP_HX_REQUEST="true")
        assert fragment.status_code == 200 and b"<html" not in fragment.content
        assert b'id="import-status"' in fragment.content

    @pytest.mark.parametrize(
        "name,data",
        [("x.exe", b"MZ\x90\x00"), ("empty.csv", b""), ("h.csv", "姓名\n张伟\n".encode())],
    )
    def test_bad_file_stays_on_the_form(self, world, login, name, data):
        client = login(world.jiefang_officer)
        response = upload(client, world.jiefang_base, name=name, data=data)
        assert response.status_code == 400 and b'role="alert"' in response.content
        assert ImportJob.objects.count() == 0

    def test_union_outside_scope_or_not_a_base_union(self, world, login):
        client = login(world.jiefang_officer)
        for org in (world.zhongzhan_base, world.jiefang_township):
            response = upload(client, org, skip=True)
            assert response.status_code == 400
        assert ImportJob.objects.count() == 0 and not Member.objects.filter(name="张伟").exists()

    def test_template_download(self, world, login):
        response = login(world.jiefang_officer).get(reverse("members:import_template"))
        assert response.status_code == 200
        sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).worksheets[0]
        header = [c.value for c in sheet[1]]
        assert header[:2] == ["姓名*", "身份证号*"]
        assert sheet["B2"].number_format == "@" and isinstance(sheet["B2"].value, str)


@pytest.mark.django_db
class TestPermissionMatrix:
    @pytest.fixture
    def job(self, world, login):
        upload(login(world.jiefang_officer), world.jiefang_base, skip=True)
        return ImportJob.objects.get()

    @pytest.mark.parametrize(
        "who,status",
        [
            ("city_admin", 200),
            ("jiefang_officer", 200),
            ("zhongzhan_officer", 404),
            ("jiefang_viewer", 403),
        ],
    )
    def test_job_and_error_file(self, world, login, job, who, status):
        client = login(getattr(world, who))
        for url in (
            reverse("members:import_job", args=[job.pk]),
            reverse("members:import_job_errors", args=[job.pk]),
        ):
            response = client.get(url)
            assert response.status_code == status
            if status != 200:
                assert b"m.xlsx" not in response.content
                assert "张伟".encode() not in response.content

    def test_other_district_does_not_see_the_job_in_the_list(self, world, login, job):
        content = login(world.zhongzhan_officer).get(reverse("members:import")).content.decode()
        assert "m.xlsx" not in content and world.jiefang_base.name not in content

    def test_viewer_cannot_upload(self, world, login):
        response = upload(login(world.jiefang_viewer), world.jiefang_base, skip=True)
        assert response.status_code == 403
        assert ImportJob.objects.count() == 0 and not Member.objects.filter(name="张伟").exists()

    def test_member_and_anonymous(self, world, login, job):
        for client in (login(member=world.jiefang_member), login()):
            for url in (
                reverse("members:import"),
                reverse("members:import_job", args=[job.pk]),
                reverse("members:import_job_errors", args=[job.pk]),
            ):
                response = client.get(url)
                assert response.status_code in (302, 403)
                assert "张伟".encode() not in response.content
            response = upload(client, world.jiefang_base, skip=True)
            assert response.status_code in (302, 403)
        assert ImportJob.objects.count() == 1
