"""``gonghui/gunicorn_conf.py``: what the environment may set, and one clear line when it is wrong.

The module is run afresh for each environment (``runpy``), as gunicorn does when it starts.
"""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gonghui.core import limits

NAMES = ("GUNICORN_BIND", "GUNICORN_WORKERS", "GUNICORN_THREADS", "GUNICORN_WORKER_CONNECTIONS")
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def opened(monkeypatch) -> list[int]:
    """The open-file limits the module asks for; the process's own limit is left alone."""
    asked: list[int] = []

    def fake(wanted: int) -> int:
        asked.append(wanted)
        return wanted

    monkeypatch.setattr(limits, "raise_open_file_limit", fake)
    return asked


def load(monkeypatch, **env: str) -> dict[str, Any]:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_module("gonghui.gunicorn_conf")


def refusal(monkeypatch, **env: str) -> str:
    with pytest.raises(SystemExit) as stopped:
        load(monkeypatch, **env)
    message = stopped.value.code
    assert isinstance(message, str)  # a message, so Python prints it and exits with status 1
    assert "\n" not in message and "\r" not in message
    return message


def test_defaults(monkeypatch, opened):
    conf = load(monkeypatch)
    assert conf["bind"] == ["127.0.0.1:8000"]
    assert conf["worker_class"] == "gthread"
    assert conf["workers"] == min(os.cpu_count() or 2, 64)
    assert conf["threads"] == 4
    assert conf["worker_connections"] == 10_000
    assert opened == [10_512]


@pytest.mark.parametrize("blank", ["", " ", "\t", "\u3000"])  # U+3000: a full-width space
def test_empty_means_the_default(monkeypatch, opened, blank):
    conf = load(monkeypatch, **dict.fromkeys(NAMES, blank))
    assert conf["bind"] == ["127.0.0.1:8000"]
    assert conf["workers"] == min(os.cpu_count() or 2, 64)
    assert (conf["threads"], conf["worker_connections"]) == (4, 10_000)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("1", 1),
        ("8", 8),
        (" 16 ", 16),
        ("064", 64),
        ("４", 4),
        ("１６", 16),
        ("\u30008\u3000", 8),
        ("8\n", 8),
    ],
)
def test_workers_and_threads_read_as_given(monkeypatch, opened, raw, value):
    conf = load(monkeypatch, GUNICORN_WORKERS=raw, GUNICORN_THREADS=raw)
    assert (conf["workers"], conf["threads"]) == (value, value)


def test_the_upper_bounds_are_allowed(monkeypatch, opened):
    conf = load(
        monkeypatch,
        GUNICORN_WORKERS="64",
        GUNICORN_THREADS="256",
        GUNICORN_WORKER_CONNECTIONS="１０００００",
    )
    assert (conf["workers"], conf["threads"], conf["worker_connections"]) == (64, 256, 100_000)
    assert opened == [100_512]


def test_worker_connections_as_asked_and_the_open_file_limit_raised_to_fit(monkeypatch, opened):
    assert load(monkeypatch, GUNICORN_WORKER_CONNECTIONS="50")["worker_connections"] == 50
    assert load(monkeypatch, GUNICORN_WORKER_CONNECTIONS="20000")["worker_connections"] == 20_000
    assert opened == [562, 20_512]


def test_worker_connections_lowered_to_a_low_hard_limit_but_not_below_100(monkeypatch):
    monkeypatch.setattr(limits, "raise_open_file_limit", lambda wanted: 4096)
    conf = load(monkeypatch, GUNICORN_WORKER_CONNECTIONS="20000")
    assert conf["worker_connections"] == 4096 - 512
    monkeypatch.setattr(limits, "raise_open_file_limit", lambda wanted: 256)
    assert load(monkeypatch)["worker_connections"] == 100


BAD_NUMBERS = [
    "abc",
    "0",
    "00",
    "-3",
    "－３",  # full-width minus and three
    "+3",
    "3.0",
    "1e3",
    "1_000",
    "0x10",
    "٤",  # ARABIC-INDIC DIGIT FOUR: a digit to int(), not one to an operator's eye
    "8 9",
    "\udcff",  # a byte that is not UTF-8, as os.environ decodes it
    "99999999999",
    "<script>alert(1)</script>",
    "'; DROP TABLE x; --",
    "\x1b[2J",
]


@pytest.mark.parametrize("raw", BAD_NUMBERS)
@pytest.mark.parametrize(
    ("name", "allowed", "default"),
    [
        ("GUNICORN_WORKERS", "1 to 64", None),
        ("GUNICORN_THREADS", "1 to 256", "4"),
        ("GUNICORN_WORKER_CONNECTIONS", "1 to 100,000", "10,000"),
    ],
)
def test_a_bad_number_stops_with_one_line(monkeypatch, opened, raw, name, allowed, default):
    message = refusal(monkeypatch, **{name: raw})
    default = default or f"{min(os.cpu_count() or 2, 64)}"
    assert message == (
        f"{name}={raw!r} is not allowed: give a whole number from {allowed},"
        f" or leave it empty for the default ({default})."
    )
    assert opened == []  # stopped before anything was done


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("GUNICORN_WORKERS", "65"),
        ("GUNICORN_THREADS", "257"),
        ("GUNICORN_WORKER_CONNECTIONS", "100001"),
    ],
)
def test_one_past_the_bound_is_refused(monkeypatch, opened, name, raw):
    assert refusal(monkeypatch, **{name: raw}).startswith(f"{name}={raw!r} is not allowed: ")


def test_a_huge_value_is_shown_cut_short(monkeypatch, opened):
    message = refusal(monkeypatch, GUNICORN_THREADS="9" * 5000)  # past int()'s digit limit too
    assert message.startswith(f"GUNICORN_THREADS={'9' * 60!r}... is not allowed: ")
    assert len(message) < 200


def test_control_characters_are_shown_escaped(monkeypatch, opened):
    message = refusal(monkeypatch, GUNICORN_WORKERS="4\x1b[31m\u202e")
    assert "\x1b" not in message and "\u202e" not in message
    assert message.startswith("GUNICORN_WORKERS='4\\x1b[31m\\u202e' is not allowed")


@pytest.mark.parametrize(
    ("raw", "bind"),
    [
        ("0.0.0.0:8080", ["0.0.0.0:8080"]),
        ("localhost", ["localhost"]),
        ("[::1]:8000", ["[::1]:8000"]),
        ("tcp://10.0.0.5:80", ["tcp://10.0.0.5:80"]),
        ("unix:/run/gonghui/web.sock", ["unix:/run/gonghui/web.sock"]),
        ("fd://3", ["fd://3"]),
        (" 127.0.0.1:8000, [::1]:8000 ", ["127.0.0.1:8000", "[::1]:8000"]),
        ("１２７．０．０．１：８０００，[::1]:8000", ["127.0.0.1:8000", "[::1]:8000"]),
        ("127.0.0.1:65535", ["127.0.0.1:65535"]),
    ],
)
def test_bind_forms(monkeypatch, opened, raw, bind):
    assert load(monkeypatch, GUNICORN_BIND=raw)["bind"] == bind


@pytest.mark.parametrize(
    ("raw", "bad"),
    [
        ("127.0.0.1:0", "127.0.0.1:0"),
        ("127.0.0.1:65536", "127.0.0.1:65536"),
        ("127.0.0.1:99999999999", "127.0.0.1:99999999999"),
        ("127.0.0.1:http", "127.0.0.1:http"),
        ("http://example.com:80", "http://example.com:80"),
        ("127.0.0.1:8000, :", ":"),
        ("local host:80", "local host:80"),
        ("unix:", "unix:"),
        ("fd://three", "fd://three"),
        ("<script>:80", "<script>:80"),
        ("127.0.0.1:８０００ｘ", "127.0.0.1:8000x"),
    ],
)
def test_a_bad_bind_stops_with_one_line(monkeypatch, opened, raw, bad):
    assert refusal(monkeypatch, GUNICORN_BIND=raw) == (
        f"GUNICORN_BIND={raw!r} is not allowed: {bad!r} is not HOST:PORT with a port from 1 to"
        " 65535 (e.g. 127.0.0.1:8000 or [::1]:8000), unix:PATH or fd://N; separate several with"
        " commas, or leave it empty for the default (127.0.0.1:8000)."
    )


def test_a_huge_bind_is_shown_cut_short(monkeypatch, opened):
    message = refusal(monkeypatch, GUNICORN_BIND="x" * 5000 + ":80:80")
    assert len(message) < 400 and message.count("...") == 2


def gunicorn(config: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in NAMES}
    return subprocess.run(
        [sys.executable, "-m", "gunicorn", "--config", config, "--check-config"]
        + ["gonghui.wsgi:application"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "gonghui.test_settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("config", ["python:gonghui.gunicorn_conf", "gonghui/gunicorn_conf.py"])
def test_gunicorn_itself_stops_with_the_line_and_no_traceback(config):
    done = gunicorn(config, GUNICORN_WORKERS="abc")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "GUNICORN_WORKERS='abc' is not allowed: give a whole number from 1 to 64,"
        f" or leave it empty for the default ({min(os.cpu_count() or 2, 64)})."
    )
    assert "Traceback" not in done.stdout + done.stderr


def test_gunicorn_accepts_good_values():
    done = gunicorn(
        "python:gonghui.gunicorn_conf",
        GUNICORN_WORKERS="２",
        GUNICORN_THREADS="",
        GUNICORN_BIND="127.0.0.1:8123",
    )
    assert done.returncode == 0, done.stderr
