from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from gonghui.console.tests.conftest import OLD_YEAR, Figures
from gonghui.console.tests.helpers import shows, text

pytestmark = pytest.mark.django_db
URL = reverse("console:home")


def figure(html: str, name: str) -> str:
    match = re.search(rf'id="fig-{name}">([^<]*)<', html)
    assert match, name
    return match.group(1)


def test_city_dashboard_shows_figures_tables_and_svg_charts(figures: Figures, login) -> None:
    response = login(figures.world.city_admin).get(URL)
    assert response.status_code == 200
    html = text(response)
    assert figure(html, "total") == "9"
    assert figure(html, "new-form") == "5"
    assert figure(html, "new-members") == "9"
    assert figure(html, "new-unions") == "2"
    assert figure(html, "pending") == "2"
    assert re.findall(r"\d+(?:\.\d+)?", figure(html, "coverage-township_union")) == [
        "1",
        "2",
        "50.0",
    ]
    assert html.count("<svg") >= 3 and "<rect" in html
    assert "解放区总工会" in html and "中站区总工会" in html
    assert reverse("members:join_applications") in html
    assert '<script src="http' not in html  # no CDN, no chart library


def test_district_dashboard_excludes_sibling_district(figures: Figures, login) -> None:
    html = text(login(figures.world.jiefang_officer).get(URL))
    assert figure(html, "total") == "6"
    assert figure(html, "pending") == "1"
    assert "中站区总工会" not in html
    assert "焦作中站示范化工有限公司工会委员会" not in html
    assert "焦西街道工会联合会" in html


def test_year_parameter(figures: Figures, login) -> None:
    client = login(figures.world.city_admin)
    html = text(client.get(URL, {"year": OLD_YEAR}))
    assert figure(html, "new-members") == "1"
    assert figure(html, "new-unions") == "1"
    assert figure(html, "total") == "9"


@pytest.mark.parametrize(
    "year", ["abc", "１９９９x", "3000", "1800", "9" * 400, "<script>alert(1)</script>", "' OR 1=1"]
)
def test_bad_year_is_a_message_not_an_error(figures: Figures, login, year: str) -> None:
    response = login(figures.world.city_admin).get(URL, {"year": year})
    assert response.status_code == 200
    html = text(response)
    assert 'class="errorlist"' in html
    assert figure(html, "new-members") == "9"  # falls back to the current year
    assert "<script>alert(1)</script>" not in html


def test_full_width_year_is_accepted(figures: Figures, login) -> None:
    # Django's IntegerField reads full-width digits from a Chinese input method.
    html = text(login(figures.world.city_admin).get(URL, {"year": "２０２３"}))
    assert figure(html, "new-members") == "1"


def test_current_year_is_default(figures: Figures, login) -> None:
    response = login(figures.world.city_admin).get(URL)
    year = timezone.localdate().year
    assert f'<option value="{year}" selected>' in text(response)
    assert not shows(
        response, "Choose a year between %(first)d and %(last)d.", first=1949, last=year
    )
    bad = login(figures.world.city_admin).get(URL, {"year": "1800"})
    assert shows(bad, "Choose a year between %(first)d and %(last)d.", first=1949, last=year)
