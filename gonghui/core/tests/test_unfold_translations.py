"""The registry (/admin/, django-unfold) speaks Chinese: unfold ships no translations, so the
project carries a catalogue of unfold's own strings (locale_unfold/, see docs/architecture.md).

The catalogue's entries are checked with the project's (translated, not fuzzy, placeholders and
markup kept, Chinese, .mo compiled from the .po) in test_translations.py. Here: it holds every
string the installed unfold marks, and nothing unfold no longer marks, so an upgrade of unfold that
brings new strings fails here until the catalogue is refreshed; and real pages show it.

Strings are found by scanning the installed package: gettext calls with literal arguments in
Python (``ast``), and {% translate "…" %}, _("…") and {% blocktranslate %} (with {% plural %},
``trimmed`` and ``context``) in templates. What no scan can see, makemessages cannot see either:
a gettext call on a variable, {% translate some_variable %}, or a string built at run time. The
scan sees one string makemessages misses (0.91.0: ``_('Welcome')`` inside an f-string), which is
why the refresh in the docs adds it by hand. unfold's scripts ask the admin's JavaScript catalogue
(djangojs), which is Django's own and complete for them (checked below).
"""

from __future__ import annotations

import gettext
import html
import re
from collections.abc import Iterator
from pathlib import Path

import django.contrib.admin
import pytest
import unfold
from django.urls import reverse

import gonghui
from gonghui.core.tests.catalogues import (
    Found,
    python_messages,
    read_po,
    template_block_messages,
    template_messages,
)

UNFOLD = Path(unfold.__file__).resolve().parent
PO_PATH = Path(gonghui.__file__).resolve().parent / "locale_unfold/zh_Hans/LC_MESSAGES/django.po"
ADMIN_LOCALE = Path(django.contrib.admin.__file__).resolve().parent / "locale"
SCRIPT_GETTEXT = re.compile(r"""\bn?gettext\(\s*(["'])(.*?)\1""")
REFRESH = "refresh locale_unfold as docs/architecture.md ('Translations') says"


def _unfold_files(pattern: str) -> Iterator[tuple[str, Path]]:
    for path in sorted(UNFOLD.rglob(pattern)):
        rel = path.relative_to(UNFOLD)
        if {"static", "__pycache__"}.isdisjoint(rel.parts):
            yield f"unfold/{rel}", path


@pytest.fixture(scope="module")
def found() -> list[Found]:
    return [
        *python_messages(_unfold_files("*.py")),
        *template_messages(_unfold_files("*.html")),
        *template_block_messages(_unfold_files("*.html")),
    ]


@pytest.fixture(scope="module")
def catalogue():
    return read_po(PO_PATH)[1]


def test_every_unfold_string_is_in_the_catalogue(found, catalogue):
    assert len(found) > 250  # the scan still finds unfold's strings
    known = {(e.msgctxt, e.msgid) for e in catalogue}
    known |= {(e.msgctxt, e.msgid_plural) for e in catalogue if e.msgid_plural}
    missing = sorted(
        {f"{where}: {msgid!r}" for where, ctx, msgid in found if (ctx, msgid) not in known}
    )
    assert not missing, f"unfold strings without a translation ({REFRESH}):\n" + "\n".join(missing)


def test_the_catalogue_holds_only_strings_unfold_uses(found, catalogue):
    used = {(ctx, msgid) for _, ctx, msgid in found}
    unused = [e.msgid for e in catalogue if (e.msgctxt, e.msgid) not in used]
    assert not unused, f"unfold no longer uses these ({REFRESH}): {unused}"


PROJECT_PO = Path(gonghui.__file__).resolve().parent / "locale/zh_Hans/LC_MESSAGES/django.po"
# The project's catalogue comes first in LOCALE_PATHS, so where it holds one of unfold's strings
# its translation is the one the registry shows. These differ in wording only, not in meaning.
SHADOWS_AGREEING = {"From": "从", "To": "至", "Summary": "概览"}


def test_the_project_catalogue_does_not_change_what_unfold_strings_mean(catalogue):
    """A project string that is also one of unfold's (same context and text) replaces unfold's
    translation in the registry: "System" as who moved a campaign (系统) turned unfold's theme
    switch into 系统 where it means "follow the system" (跟随系统). Such a project string takes a
    context (pgettext) unless the two translations mean the same."""
    ours = {(e.msgctxt, e.msgid): e.msgstr.get(0, "") for e in read_po(PROJECT_PO)[1]}
    shadowed = {
        e.msgid: (ours[(e.msgctxt, e.msgid)], e.msgstr.get(0, ""))
        for e in catalogue
        if (e.msgctxt, e.msgid) in ours and ours[(e.msgctxt, e.msgid)] != e.msgstr.get(0, "")
    }
    unexpected = {
        msgid: pair for msgid, pair in shadowed.items() if SHADOWS_AGREEING.get(msgid) != pair[1]
    }
    assert not unexpected, f"project translations replacing unfold's (ours, unfold's): {unexpected}"


def test_the_theme_switch_follows_the_system_in_chinese():
    from django.utils import translation

    theme_word = "System"  # a variable, so makemessages does not take it for a project string
    with translation.override("zh-hans"):
        assert translation.gettext(theme_word) == "跟随系统"


def test_unfold_scripts_are_translated_by_the_admin_script_catalogue():
    with (ADMIN_LOCALE / "zh_Hans/LC_MESSAGES/djangojs.mo").open("rb") as fh:
        djangojs = gettext.GNUTranslations(fh)
    messages = [
        (f"unfold/{path.relative_to(UNFOLD)}", m[2])
        for path in sorted((UNFOLD / "static/admin/js").glob("*.js"))
        for m in SCRIPT_GETTEXT.finditer(path.read_text(encoding="utf-8"))
    ]
    assert messages  # actions.js: the selection counter and the unsaved-changes warnings
    untranslated = [(where, msgid) for where, msgid in messages if djangojs.gettext(msgid) == msgid]
    assert not untranslated


# --- real pages ----------------------------------------------------------------------------------


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return html.unescape(response.content.decode())


def test_registry_home_is_chinese(world, login):
    page = _page(login(world.city_admin), reverse("admin:index"))
    for text in ("搜索应用和模型…", "输入以搜索", "筛选导航项目", "浅色", "深色", "退出登录"):
        assert text in page
    for text in ("Search apps and models", "Type to search", "Filter navigation items", "Log out"):
        assert text not in page
    assert not re.search(r">\s*(?:Light|Dark)\s*<", page)


def test_registry_list_with_filter_and_search_is_chinese(world, login):
    url = reverse("admin:members_member_changelist") + "?status__exact=active&q=王"
    page = _page(login(world.city_admin), url)
    assert "王小明" in page and "李秀英" not in page
    # the filter panel, the counts of a filtered list, the search box
    for text in ("筛选", "按状态", "清除所有筛选", "显示计数", "1 条结果", "共 2 条", "输入以搜索"):
        assert text in page
    for text in (" By ", "Clear all filters", "Show counts", " result", " total", "Type to search"):
        assert text not in page
    assert not re.search(r">\s*Filters\s*<", page)
