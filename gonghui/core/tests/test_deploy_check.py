"""Production settings: `gonghui check --deploy` is clean, and missing secrets stop the start."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A clean environment (nothing inherited from the test settings) like a production host's."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "GONGHUI_HOME": str(tmp_path),
        "SECRET_KEY": secrets.token_urlsafe(64),
        "GONGHUI_FIELD_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "GONGHUI_INDEX_KEY": secrets.token_urlsafe(32),
        "ALLOWED_HOSTS": "gonghui.example.org",
    }
    env.update(extra)
    return {k: v for k, v in env.items() if v is not None}


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("database", ["unset", "sqlite-url"])
def test_check_deploy_has_no_warnings(tmp_path: Path, database: str) -> None:
    extra = {}
    if database == "sqlite-url":
        extra["DATABASE_URL"] = f"sqlite:///{tmp_path / 'prod.sqlite3'}"
    result = run(
        ["-m", "gonghui", "check", "--deploy", "--fail-level", "WARNING"],
        production_env(tmp_path, **extra),
        tmp_path,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output
    assert "WARNINGS" not in output


def test_check_deploy_catches_an_insecure_setting(tmp_path: Path) -> None:
    """The same run with HTTPS switched off must warn: proves the check above can fail."""
    result = run(
        ["-m", "gonghui", "check", "--deploy", "--fail-level", "WARNING"],
        production_env(tmp_path, SECURE_HTTPS="0"),
        tmp_path,
    )
    assert result.returncode != 0
    assert "security.W008" in result.stdout + result.stderr  # SECURE_SSL_REDIRECT


IMPORT_SETTINGS = ["-c", "import gonghui.settings"]


def test_settings_refuse_to_start_without_secret_key(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    del env["SECRET_KEY"]
    result = run(IMPORT_SETTINGS, env, tmp_path)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


@pytest.mark.parametrize("missing", ["GONGHUI_FIELD_KEY", "GONGHUI_INDEX_KEY"])
def test_settings_refuse_to_start_without_keys(tmp_path: Path, missing: str) -> None:
    env = production_env(tmp_path)
    del env[missing]
    result = run(IMPORT_SETTINGS, env, tmp_path)
    assert result.returncode != 0
    assert missing in result.stderr


def test_debug_mode_starts_without_secrets(tmp_path: Path) -> None:
    env = production_env(tmp_path, DEBUG="1")
    for name in ("SECRET_KEY", "GONGHUI_FIELD_KEY", "GONGHUI_INDEX_KEY"):
        del env[name]
    result = run(IMPORT_SETTINGS, env, tmp_path)
    assert result.returncode == 0, result.stderr


def test_bad_boolean_is_refused(tmp_path: Path) -> None:
    result = run(IMPORT_SETTINGS, production_env(tmp_path, DEBUG="maybe"), tmp_path)
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


@pytest.mark.parametrize("empty", ["SECRET_KEY", "GONGHUI_FIELD_KEY", "GONGHUI_INDEX_KEY"])
def test_empty_secrets_are_refused(tmp_path: Path, empty: str) -> None:
    """An .env file copied with blank values must not start a production server."""
    result = run(["-m", "gonghui", "check"], production_env(tmp_path, **{empty: ""}), tmp_path)
    assert result.returncode != 0
    assert empty in result.stderr
