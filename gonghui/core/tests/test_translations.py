"""The shipped zh-hans catalogue is complete, consistent with its .mo, and used by real pages.

The .po is parsed here with a small reader (no polib in the project); the compiled .mo is read
with the standard library's gettext.GNUTranslations, so these tests need no gettext tools.
"""

from __future__ import annotations

import ast
import gettext
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.urls import reverse

import gonghui

PACKAGE = Path(gonghui.__file__).resolve().parent
LC_MESSAGES = PACKAGE / "locale" / "zh_Hans" / "LC_MESSAGES"
PO_PATH = LC_MESSAGES / "django.po"
MO_PATH = LC_MESSAGES / "django.mo"

# python-format placeholders (%(name)s, %d, %%) and str.format fields ({name}).
PLACEHOLDER = re.compile(r"%\([^)]+\)[-#0 +]*\d*(?:\.\d+)?[sdifr]|%%|%[sdifr]|\{[A-Za-z_0-9]*\}")
MARKUP = re.compile(r"</?[A-Za-z][^>]*>|&[A-Za-z]+;|&#\d+;")
HAN = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class Entry:
    msgctxt: str | None = None
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0


def _unquote(text: str) -> str:
    return ast.literal_eval(text.strip())


def read_po(path: Path) -> tuple[Entry, list[Entry]]:
    """Return (header, entries); obsolete (#~) entries are skipped."""
    entries: list[Entry] = []
    current: Entry | None = None
    target: tuple[str, int] | None = None
    flags: set[str] = set()
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#~"):
            continue
        if line.startswith("#,"):
            flags |= {f.strip() for f in line[2:].split(",")}
            continue
        if line.startswith("#"):
            continue
        if line.startswith('"'):
            assert current is not None and target is not None, f"{path}:{number}: stray string"
            name, index = target
            if name == "msgstr":
                current.msgstr[index] += _unquote(line)
            else:
                setattr(current, name, (getattr(current, name) or "") + _unquote(line))
            continue
        keyword, _, rest = line.partition(" ")
        if keyword in ("msgctxt", "msgid") and (current is None or current.msgstr):
            current = Entry(line=number, flags=flags)
            flags = set()
            entries.append(current)
        assert current is not None, f"{path}:{number}: {keyword} before msgid"
        if keyword in ("msgctxt", "msgid", "msgid_plural"):
            setattr(current, keyword, _unquote(rest))
            target = (keyword, 0)
        elif keyword == "msgstr":
            current.msgstr[0] = _unquote(rest)
            target = ("msgstr", 0)
        elif m := re.fullmatch(r"msgstr\[(\d+)\]", keyword):
            current.msgstr[int(m[1])] = _unquote(rest)
            target = ("msgstr", int(m[1]))
        else:
            raise AssertionError(f"{path}:{number}: cannot read {raw!r}")
    header = next(e for e in entries if e.msgid == "" and e.msgctxt is None)
    return header, [e for e in entries if e is not header]


@pytest.fixture(scope="module")
def catalogue() -> tuple[Entry, list[Entry]]:
    return read_po(PO_PATH)


def _where(entry: Entry) -> str:
    return f"django.po:{entry.line} {entry.msgid!r}"


def test_header_is_simplified_chinese(catalogue):
    header, entries = catalogue
    meta = dict(line.split(": ", 1) for line in header.msgstr[0].splitlines() if ": " in line)
    assert meta["Language"] == "zh_Hans"
    assert "charset=UTF-8" in meta["Content-Type"]
    assert meta["Plural-Forms"].replace(" ", "") == "nplurals=1;plural=0;"
    assert "fuzzy" not in header.flags
    assert len(entries) > 500


def test_every_message_is_translated_and_not_fuzzy(catalogue):
    _, entries = catalogue
    untranslated = [_where(e) for e in entries if not all(e.msgstr.values()) or not e.msgstr]
    fuzzy = [_where(e) for e in entries if "fuzzy" in e.flags]
    plural_shape = [_where(e) for e in entries if e.msgid_plural and set(e.msgstr) != {0}]
    assert not untranslated, f"untranslated: {untranslated}"
    assert not fuzzy, f"fuzzy: {fuzzy}"
    assert not plural_shape, f"Chinese has one plural form (msgstr[0] only): {plural_shape}"


def test_placeholders_and_markup_are_kept(catalogue):
    _, entries = catalogue
    wrong = []
    for e in entries:
        sources = [e.msgid] + ([e.msgid_plural] if e.msgid_plural else [])
        for text in e.msgstr.values():
            found = sorted(PLACEHOLDER.findall(text))
            if not any(found == sorted(PLACEHOLDER.findall(s)) for s in sources):
                wrong.append(f"{_where(e)}: placeholders {found} in {text!r}")
            if sorted(MARKUP.findall(text)) != sorted(MARKUP.findall(e.msgid)):
                wrong.append(f"{_where(e)}: markup differs in {text!r}")
    assert not wrong, "\n".join(wrong)


def test_translations_are_chinese(catalogue):
    """A msgstr left in English is a missed translation (proper names excepted)."""
    _, entries = catalogue
    same_by_design = {"English"}  # a language's own name
    english = [
        _where(e)
        for e in entries
        if e.msgid not in same_by_design and not any(HAN.search(s) for s in e.msgstr.values())
    ]
    assert not english, f"msgstr without Chinese: {english}"


def test_compiled_mo_matches_po(catalogue):
    """Every .po translation is in the shipped .mo: the .mo was compiled from this .po."""
    _, entries = catalogue
    with MO_PATH.open("rb") as fh:
        mo = gettext.GNUTranslations(fh)
    assert mo.info().get("language") == "zh_Hans"
    stale = []
    for e in entries:
        if e.msgid_plural:
            got = (
                mo.npgettext(e.msgctxt, e.msgid, e.msgid_plural, 1)
                if e.msgctxt
                else mo.ngettext(e.msgid, e.msgid_plural, 1)
            )
        else:
            got = mo.pgettext(e.msgctxt, e.msgid) if e.msgctxt else mo.gettext(e.msgid)
        if got != e.msgstr[0]:
            stale.append(_where(e))
    assert not stale, f"django.mo is stale; run compilemessages. Out of date: {stale}"
    # No leftovers either: the .mo holds exactly the .po's messages (plus the header).
    assert len(mo._catalog) - 1 == sum(len(e.msgstr) for e in entries)  # type: ignore[attr-defined]


# --- source strings are in the catalogue -------------------------------------------------------

GETTEXT_FUNCS = {
    "_": (None, 0),
    "gettext": (None, 0),
    "gettext_lazy": (None, 0),
    "gettext_noop": (None, 0),
    "ngettext": (None, 0),
    "ngettext_lazy": (None, 0),
    "pgettext": (0, 1),
    "pgettext_lazy": (0, 1),
    "npgettext": (0, 1),
    "npgettext_lazy": (0, 1),
}
SKIP_PARTS = {"tests", "browser_tests", "migrations", "locale", "__pycache__", "bench"}
TEMPLATE_TRANSLATE = re.compile(
    r"""\{%\s*trans(?:late)?\s+(["'])(.*?)\1(?:\s+context\s+(["'])(.*?)\3)?"""
)
TEMPLATE_UNDERSCORE = re.compile(r"""_\((["'])(.*?)\1\)""")
ONE_PERCENT = re.compile(r"(?<!%)%(?!%)")


def _source_files(suffix: str):
    for path in sorted(PACKAGE.rglob(f"*{suffix}")):
        rel = path.relative_to(PACKAGE)
        if SKIP_PARTS.intersection(rel.parts) or rel.name == "conftest.py":
            continue
        yield rel, path


def _python_messages():
    for rel, path in _source_files(".py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name not in GETTEXT_FUNCS:
                continue
            ctx_index, id_index = GETTEXT_FUNCS[name]
            args = node.args
            if len(args) <= id_index:
                continue
            msgid, ctx = args[id_index], args[ctx_index] if ctx_index is not None else None
            if not (isinstance(msgid, ast.Constant) and isinstance(msgid.value, str)):
                continue
            context = ctx.value if isinstance(ctx, ast.Constant) else None
            yield f"{rel}:{node.lineno}", context, msgid.value


def _template_messages():
    for rel, path in _source_files(".html"):
        text = path.read_text(encoding="utf-8")
        for m in TEMPLATE_TRANSLATE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            yield f"{rel}:{line}", m[4], ONE_PERCENT.sub("%%", m[2])
        for m in TEMPLATE_UNDERSCORE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            yield f"{rel}:{line}", None, ONE_PERCENT.sub("%%", m[2])


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
