"""Join QR codes: the PNG decodes to the member join page of the union; rotating invalidates it."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from django.urls import reverse
from PIL import Image

from gonghui.audit.models import AuditEvent
from gonghui.conftest import World
from gonghui.console.tests.helpers import shows, snapshot, text
from gonghui.core.errors import NotFound
from gonghui.orgs.models import Org
from gonghui.orgs.selectors import org_by_join_token

pytestmark = pytest.mark.django_db


def decode(png: bytes) -> str:
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert len(results) == 1
    return results[0].text


def png_url(org: Org) -> str:
    return reverse("console:org_join_qr_png", args=[org.pk])


def test_png_decodes_to_the_join_url(world: World, login) -> None:
    response = login(world.jiefang_officer).get(png_url(world.jiefang_base))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Cache-Control"] == "no-store"
    url = decode(response.content)
    assert url == f"http://testserver/m/join/{world.jiefang_base.join_token}/"
    assert org_by_join_token(token=url.rstrip("/").rsplit("/", 1)[1]) == world.jiefang_base


def test_png_uses_public_base_url_when_set(world: World, login, settings) -> None:
    settings.GONGHUI_PUBLIC_BASE_URL = "https://gh.example.cn/"
    response = login(world.city_admin).get(png_url(world.jiefang_base))
    assert decode(response.content) == (
        f"https://gh.example.cn/m/join/{world.jiefang_base.join_token}/"
    )


def test_printable_page(world: World, login) -> None:
    response = login(world.jiefang_officer).get(
        reverse("console:org_join_qr", args=[world.jiefang_base.pk])
    )
    assert response.status_code == 200
    html = text(response)
    assert "焦作市解放区示范商贸有限公司工会委员会" in html
    assert "<svg" in html and "window.print()" in html
    assert f"/m/join/{world.jiefang_base.join_token}/" in html
    assert "@media print" in html and "@page" in html
    assert reverse("console:org_join_qr_rotate", args=[world.jiefang_base.pk]) in html


def test_viewer_sees_code_but_no_rotate_button(world: World, login) -> None:
    html = text(
        login(world.jiefang_viewer).get(
            reverse("console:org_join_qr", args=[world.jiefang_base.pk])
        )
    )
    assert reverse("console:org_join_qr_rotate", args=[world.jiefang_base.pk]) not in html


@pytest.mark.parametrize("org_attr", ["jiefang", "jiefang_township"])
def test_no_code_for_federations(world: World, login, org_attr: str) -> None:
    org = getattr(world, org_attr)
    client = login(world.city_admin)
    for url in (png_url(org), reverse("console:org_join_qr", args=[org.pk])):
        response = client.get(url)
        assert response.status_code == 400
    assert shows(response, "Only active base unions have a join QR code.")


def test_rotate_changes_token_and_old_code_stops_working(world: World, login) -> None:
    client = login(world.jiefang_officer)
    old_url = decode(client.get(png_url(world.jiefang_base)).content)
    old_token = world.jiefang_base.join_token
    events = AuditEvent.objects.count()
    response = client.post(reverse("console:org_join_qr_rotate", args=[world.jiefang_base.pk]))
    assert response.status_code == 302
    org = Org.objects.get(pk=world.jiefang_base.pk)
    assert org.join_token and org.join_token != old_token
    new_url = decode(client.get(png_url(org)).content)
    assert new_url != old_url and new_url.endswith(f"/m/join/{org.join_token}/")
    with pytest.raises(NotFound):
        org_by_join_token(token=old_token)
    assert org_by_join_token(token=org.join_token) == org
    assert AuditEvent.objects.count() == events + 1
    # The token itself never enters the audit log.
    assert old_token not in str(AuditEvent.objects.latest("id").changes)


def test_rotate_is_post_only(world: World, login) -> None:
    before = snapshot()
    response = login(world.jiefang_officer).get(
        reverse("console:org_join_qr_rotate", args=[world.jiefang_base.pk])
    )
    assert response.status_code == 405
    assert snapshot() == before


@pytest.mark.parametrize(
    "who,status",
    [("jiefang_viewer", 403), ("zhongzhan_officer", 404), ("member", 302), ("anonymous", 302)],
)
def test_rotate_refused_changes_nothing(world: World, login, who: str, status: int) -> None:
    if who == "member":
        client = login(member=world.jiefang_member)
    elif who == "anonymous":
        client = login()
    else:
        client = login(getattr(world, who))
    before = snapshot()
    response = client.post(reverse("console:org_join_qr_rotate", args=[world.jiefang_base.pk]))
    assert response.status_code == status
    assert snapshot() == before
    if status == 302:
        assert response["Location"].startswith(reverse("accounts:login"))
