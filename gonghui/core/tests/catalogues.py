"""Reading the shipped .po catalogues and finding the messages a source tree marks for translation.

Shared by the translation tests of the project's own catalogue and of unfold's. The .po is parsed
with a small reader (no polib in the project); sources are scanned with ``ast`` (Python) and
regular expressions (templates), so these tests need no gettext tools.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

# python-format placeholders (%(name)s, %d, %%) and str.format fields ({name}).
PLACEHOLDER = re.compile(r"%\([^)]+\)[-#0 +]*\d*(?:\.\d+)?[sdifr]|%%|%[sdifr]|\{[A-Za-z_0-9]*\}")
MARKUP = re.compile(r"</?[A-Za-z][^>]*>|&[A-Za-z]+;|&#\d+;")
HAN = re.compile(r"[\u4e00-\u9fff]")

# A message found in a source: (where, msgctxt, msgid).
Found = tuple[str, str | None, str]


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


# --- messages marked in sources ---------------------------------------------------------------

# name -> (index of the context argument or None, index of the msgid argument)
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
TEMPLATE_TRANSLATE = re.compile(
    r"""\{%\s*trans(?:late)?\s+(["'])(.*?)\1(?:\s+context\s+(["'])(.*?)\3)?"""
)
TEMPLATE_UNDERSCORE = re.compile(r"""_\((["'])(.*?)\1\)""")
TEMPLATE_BLOCK = re.compile(
    r"\{%\s*blocktrans(?:late)?\b(?P<args>.*?)%\}(?P<body>.*?)\{%\s*endblocktrans(?:late)?\s*%\}",
    re.S,
)
BLOCK_CONTEXT = re.compile(r"""\bcontext\s+(["'])(.*?)\1""")
BLOCK_PLURAL = re.compile(r"\{%\s*plural\s*%\}")
BLOCK_VARIABLE = re.compile(r"\{\{\s*(\w+)\s*\}\}")
ONE_PERCENT = re.compile(r"(?<!%)%(?!%)")


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def python_messages(files: Iterable[tuple[str, Path]]) -> Iterator[Found]:
    """gettext calls whose msgid (and context) are literals; files are (name, path) pairs."""
    for name, path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if called not in GETTEXT_FUNCS:
                continue
            ctx_index, id_index = GETTEXT_FUNCS[called]
            args = node.args
            if len(args) <= id_index:
                continue
            msgid, ctx = args[id_index], args[ctx_index] if ctx_index is not None else None
            if not (isinstance(msgid, ast.Constant) and isinstance(msgid.value, str)):
                continue
            context = ctx.value if isinstance(ctx, ast.Constant) else None
            yield f"{name}:{node.lineno}", context, msgid.value


def template_messages(files: Iterable[tuple[str, Path]]) -> Iterator[Found]:
    """{% translate "…" %} (with its context) and _("…") in tags and filters."""
    for name, path in files:
        text = path.read_text(encoding="utf-8")
        for m in TEMPLATE_TRANSLATE.finditer(text):
            yield f"{name}:{_line(text, m.start())}", m[4], ONE_PERCENT.sub("%%", m[2])
        for m in TEMPLATE_UNDERSCORE.finditer(text):
            yield f"{name}:{_line(text, m.start())}", None, ONE_PERCENT.sub("%%", m[2])


def template_block_messages(files: Iterable[tuple[str, Path]]) -> Iterator[Found]:
    """{% blocktranslate %} bodies as makemessages writes them: {{ x }} becomes %(x)s, a literal
    % becomes %%, `trimmed` folds the lines; with {% plural %} both forms are yielded."""
    for name, path in files:
        text = path.read_text(encoding="utf-8")
        for m in TEMPLATE_BLOCK.finditer(text):
            context = BLOCK_CONTEXT.search(m["args"])
            trimmed = re.search(r"\btrimmed\b", m["args"]) is not None
            for form in BLOCK_PLURAL.split(m["body"]):
                msgid = BLOCK_VARIABLE.sub(r"%(\1)s", ONE_PERCENT.sub("%%", form))
                if trimmed:
                    msgid = re.sub(r"\s*\n\s*", " ", msgid.strip())
                yield f"{name}:{_line(text, m.start())}", context and context[2], msgid
