""".env.example lists every variable the settings read, with the defaults the settings use."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
READERS = r"(?:env_str|env_bool|env_int|env_list|os\.environ\.get)\(\s*\"([A-Z][A-Z0-9_]*)\""


def _listed() -> dict[str, str]:
    out = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        found = re.match(r"#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if found:
            out[found.group(1)] = found.group(2).strip()
    return out


def test_every_variable_the_settings_read_is_listed() -> None:
    read = set(re.findall(READERS, (ROOT / "gonghui" / "settings.py").read_text(encoding="utf-8")))
    assert len(read) > 30  # the pattern finds them (a broken one would pass with nothing)
    assert sorted(read - set(_listed())) == []


def test_listed_numbers_and_switches_are_the_defaults() -> None:
    """A number or switch written in the file is what the platform does without it (DEBUG off,
    the required keys given): an operator copying the file changes nothing by accident."""
    listed = _listed()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DEBUG": "0",
        "SECRET_KEY": "x" * 50,
        "GONGHUI_FIELD_KEY": "ZGV2LW9ubHktZmllbGQta2V5LWdvbmdodWktMDAwMDA=",
        "GONGHUI_INDEX_KEY": "y" * 32,
    }
    program = (
        "import json, sys, gonghui.settings as s\n"
        "names = json.loads(sys.argv[1])\n"
        "print(json.dumps({n: getattr(s, n) for n in names"
        " if isinstance(getattr(s, n, None), (bool, int))}))"
    )
    result = subprocess.run(  # noqa: S603 - our interpreter, a fixed program
        [sys.executable, "-c", program, json.dumps(sorted(listed))],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    defaults = json.loads(result.stdout)
    assert {"GONGHUI_GRAB_RATE_PER_ADDRESS", "OTP_CODE_MAX_PER_ADDRESS_PER_HOUR"} <= set(defaults)
    wrong = {
        name: (listed[name], value)
        for name, value in defaults.items()
        if listed[name] and listed[name] != str(int(value))
    }
    assert wrong == {}
