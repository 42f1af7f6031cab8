"""Staff pages in a real browser: sign in, find a member, import a file with a bad row."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from openpyxl import Workbook

from gonghui.conftest import PASSWORD, World
from gonghui.members.models import ImportJob, Member
from gonghui.members.tests.factories import make_id_number

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}{reverse('accounts:login')}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit], form input[type=submit]").first.click()
    page.wait_for_load_state()
    assert "/accounts/login/" not in page.url, page.content()[:2000]


def test_find_a_member_and_open_their_page(
    live_server: Any, world: World, desktop: Any, screenshot: Any
) -> None:
    page = desktop
    sign_in(page, live_server.url, "jiefang_staff")
    page.goto(f"{live_server.url}{reverse('members:list')}")
    page.fill("input[name=q]", "王小明")
    page.locator("form[role=search] button[type=submit]").click()
    page.wait_for_load_state()
    link = page.get_by_role("link", name="王小明")
    link.first.click()
    page.wait_for_url(re.compile(r"/console/members/\d+/$"))
    assert page.url.endswith(reverse("members:detail", args=[world.jiefang_member.pk]))
    body = page.inner_text("body")
    assert "王小明" in body
    assert world.jiefang_member.id_number_masked in body
    assert "李秀英" not in body  # the other district's member
    screenshot(page, "member-detail")


def bad_row_workbook(path: Path) -> tuple[int, str]:
    """Two good rows and, in spreadsheet row 3, an identity number with a wrong check digit."""
    good = [make_id_number(region="410802", seq=8101), make_id_number(region="410802", seq=8102)]
    bad = make_id_number(region="410802", seq=8103)
    bad = bad[:-1] + ("0" if bad[-1] != "0" else "1")
    wb = Workbook()
    ws = wb.active
    ws.append(["姓名", "身份证号", "手机号", "工作单位"])
    ws.append(["浏览甲", good[0], "13700000001", "某某商贸有限公司"])
    ws.append(["浏览乙", bad, "13700000002", "某某商贸有限公司"])
    ws.append(["浏览丙", good[1], "13700000003", "某某商贸有限公司"])
    for row in ws.iter_rows(min_row=2, min_col=2, max_col=2):
        for cell in row:
            cell.number_format = "@"
    wb.save(path)
    return 3, bad


def test_import_shows_the_bad_row_and_reason(
    live_server: Any, world: World, desktop: Any, screenshot: Any, tmp_path: Path
) -> None:
    page = desktop
    path = tmp_path / "会员名单.xlsx"
    row, bad = bad_row_workbook(path)
    members_before = Member.objects.count()
    sign_in(page, live_server.url, "jiefang_staff")
    page.goto(f"{live_server.url}{reverse('members:import')}")
    page.select_option("select[name=org]", value=str(world.jiefang_base.pk))
    page.set_input_files("input[name=file]", str(path))
    page.locator("form[enctype='multipart/form-data'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"/console/members/import/\d+/$"))
    # The import runs as a background task; the page polls until it is done.
    page.wait_for_function(
        "() => !document.querySelector('#import-status[hx-trigger]')", timeout=30_000
    )
    body = page.inner_text("body")
    with translation.override("zh-hans"):
        reason = gettext("The identity number's check digit is wrong; please check every digit.")
    assert reason in body, body
    # The row number and the reason side by side: a table row starting with the number, or a
    # sentence such as "第3行" / "row 3".
    lines = page.locator("tr").all_inner_texts()
    in_table = any(re.match(rf"\s*(第\s*)?{row}\b", line) and reason in line for line in lines)
    in_text = re.search(rf"(第\s*{row}\s*行|[Rr]ow\s*{row}\b)", body)
    assert in_table or in_text, body
    assert bad not in body  # the bad value is shown masked
    job = ImportJob.objects.get()
    assert job.rows_failed == 1
    assert Member.objects.count() == members_before  # one bad row stops the whole import
    screenshot(page, "import-error")
