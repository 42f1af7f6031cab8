"""The shipped zh-hans catalogues are complete, consistent with their .mo, and used by real pages.

Two catalogues: the project's own (``locale/``, kept by makemessages) and unfold's
(``locale_unfold/``, see docs/architecture.md); the checks on a catalogue's entries run on both.
Whether unfold's catalogue covers every string unfold uses is checked in
test_unfold_translations.py. The .po is read with ``catalogues.read_po``; the compiled .mo with the
standard library's gettext.GNUTranslations, so these tests need no gettext tools.
"""

from __future__ import annotations

import gettext
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.urls import reverse

import gonghui
from gonghui.core.tests.catalogues import (
    HAN,
    MARKUP,
    PLACEHOLDER,
    Entry,
    python_messages,
    read_po,
    template_messages,
)

PACKAGE = Path(gonghui.__file__).resolve().parent
LC_MESSAGES = PACKAGE / "locale" / "zh_Hans" / "LC_MESSAGES"
PO_PATH = LC_MESSAGES / "django.po"
UNFOLD_LC_MESSAGES = PACKAGE / "locale_unfold" / "zh_Hans" / "LC_MESSAGES"
# name -> (directory, at least this many entries)
CATALOGUES = {"project": (LC_MESSAGES, 500), "unfold": (UNFOLD_LC_MESSAGES, 150)}
LETTERS = re.compile(r"[A-Za-z]")


@dataclass
class Shipped:
    name: str
    directory: Path
    minimum: int
    header: Entry
    entries: list[Entry]

    def where(self, entry: Entry) -> str:
        return f"{self.name} django.po:{entry.line} {entry.msgid!r}"


@pytest.fixture(scope="module", params=sorted(CATALOGUES))
def shipped(request: pytest.FixtureRequest) -> Shipped:
    directory, minimum = CATALOGUES[request.param]
    header, entries = read_po(directory / "django.po")
    return Shipped(request.param, directory, minimum, header, entries)


@pytest.fixture(scope="module")
def catalogue() -> tuple[Entry, list[Entry]]:
    return read_po(PO_PATH)


def test_header_is_simplified_chinese(shipped):
    meta = dict(
        line.split(": ", 1) for line in shipped.header.msgstr[0].splitlines() if ": " in line
    )
    assert meta["Language"] == "zh_Hans"
    assert "charset=UTF-8" in meta["Content-Type"]
    assert meta["Plural-Forms"].replace(" ", "") == "nplurals=1;plural=0;"
    assert "fuzzy" not in shipped.header.flags
    assert len(shipped.entries) > shipped.minimum


def test_every_message_is_translated_and_not_fuzzy(shipped):
    entries, where = shipped.entries, shipped.where
    untranslated = [where(e) for e in entries if not all(e.msgstr.values()) or not e.msgstr]
    fuzzy = [where(e) for e in entries if "fuzzy" in e.flags]
    plural_shape = [where(e) for e in entries if e.msgid_plural and set(e.msgstr) != {0}]
    assert not untranslated, f"untranslated: {untranslated}"
    assert not fuzzy, f"fuzzy: {fuzzy}"
    assert not plural_shape, f"Chinese has one plural form (msgstr[0] only): {plural_shape}"


def test_placeholders_and_markup_are_kept(shipped):
    wrong = []
    for e in shipped.entries:
        sources = [e.msgid] + ([e.msgid_plural] if e.msgid_plural else [])
        for text in e.msgstr.values():
            found = sorted(PLACEHOLDER.findall(text))
            if not any(found == sorted(PLACEHOLDER.findall(s)) for s in sources):
                wrong.append(f"{shipped.where(e)}: placeholders {found} in {text!r}")
            if sorted(MARKUP.findall(text)) != sorted(MARKUP.findall(e.msgid)):
                wrong.append(f"{shipped.where(e)}: markup differs in {text!r}")
    assert not wrong, "\n".join(wrong)


def test_translations_are_chinese(shipped):
    """A msgstr left in English is a missed translation (proper names excepted)."""
    same_by_design = {"English"}  # a language's own name

    def has_words(msgid: str) -> bool:  # "%(class_name)s %(instance)s" has none to translate
        return LETTERS.search(PLACEHOLDER.sub("", msgid)) is not None

    english = [
        shipped.where(e)
        for e in shipped.entries
        if e.msgid not in same_by_design
        and has_words(e.msgid)
        and not any(HAN.search(s) for s in e.msgstr.values())
    ]
    assert not english, f"msgstr without Chinese: {english}"


def test_compiled_mo_matches_po(shipped):
    """Every .po translation is in the shipped .mo: the .mo was compiled from this .po."""
    with (shipped.directory / "django.mo").open("rb") as fh:
        mo = gettext.GNUTranslations(fh)
    assert mo.info().get("language") == "zh_Hans"
    stale = []
    for e in shipped.entries:
        if e.msgid_plural:
            got = (
                mo.npgettext(e.msgctxt, e.msgid, e.msgid_plural, 1)
                if e.msgctxt
                else mo.ngettext(e.msgid, e.msgid_plural, 1)
            )
        else:
            got = mo.pgettext(e.msgctxt, e.msgid) if e.msgctxt else mo.gettext(e.msgid)
        if got != e.msgstr[0]:
            stale.append(shipped.where(e))
    assert not stale, f"django.mo is stale; run compilemessages. Out of date: {stale}"
    # No leftovers either: the .mo holds exactly the .po's messages (plus the header).
    assert len(mo._catalog) - 1 == sum(len(e.msgstr) for e in shipped.entries)  # type: ignore[attr-defined]


# --- source strings are in the catalogue -------------------------------------------------------

SKIP_PARTS = {"tests", "browser_tests", "migrations", "locale", "__pycache__", "bench"}


def _source_files(suffix: str):
    for path in sorted(PACKAGE.rglob(f"*{suffix}")):
        rel = path.relative_to(PACKAGE)
        if SKIP_PARTS.intersection(rel.parts) or rel.name == "conftest.py":
            continue
        yield str(rel), path


def _python_messages():
    return python_messages(_source_files(".py"))


def _template_messages():
    return template_messages(_source_files(".html"))


def test_source_strings_are_in_the_catalogue(catalogue):
    """Fails when code marks a new string but makemessages was not re-run (or it is untranslated).

    Covers gettext calls with literal arguments in Python and {% translate %} / _("…") in
    templates; {% blocktranslate %} strings are covered by the page tests below.
    """
    _, entries = catalogue
    known = {(e.msgctxt, e.msgid) for e in entries if all(e.msgstr.values())}
    found = list(_python_messages()) + list(_template_messages())
    assert len(found) > 300
    missing = sorted(
        {f"{where}: {msgid!r}" for where, ctx, msgid in found if (ctx, msgid) not in known}
    )
    assert not missing, (
        "not translated in django.po (run makemessages and translate):\n" + "\n".join(missing)
    )


# --- real pages render in Chinese ---------------------------------------------------------------


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def test_staff_sign_in_page_is_chinese(client, db):
    page = _page(client, reverse("accounts:login"))
    for text in ("工作人员登录", "用户名", "密码", "登录", "会员请使用手机登录"):
        assert text in page
    for text in ("Staff sign-in", "User name", "Password", "Sign in"):
        assert text not in page


def test_member_sign_in_page_is_chinese(client, db):
    page = _page(client, reverse("mobile:login"))
    for text in ("会员登录", "获取验证码", "工会会员服务", "手机号码"):
        assert text in page
    for text in ("Member sign-in", "Send code", "Mobile number"):
        assert text not in page


def test_console_home_is_chinese(world, login):
    page = _page(login(world.city_admin), reverse("console:home"))
    for text in (
        "工作台",
        "会员管理",
        "入会申请",
        "审计日志",
        "在册会员",
        "新就业形态劳动者",
        "年度数据",
    ):
        assert text in page
    for text in ("Members", "Active members", "Audit log", "Join applications", "Figures for"):
        assert text not in page


def test_member_list_is_chinese(world, login):
    page = _page(login(world.city_admin), reverse("members:list"))
    assert "王小明" in page
    for text in ("会员管理", "登记会员", "搜索", "职工类别", "所属工会", "名会员"):
        assert text in page
    for text in ("Members", "Register a member", "Search", "Worker category", " members"):
        assert text not in page
