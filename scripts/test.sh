#!/usr/bin/env bash
# The whole suite: lint, types, migrations check, then pytest on SQLite and, when
# GONGHUI_TEST_POSTGRES_URL is set (CI sets it), again on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
export DJANGO_SETTINGS_MODULE=gonghui.test_settings
BIN=.venv/bin

echo "== ruff"
$BIN/ruff check gonghui
$BIN/ruff format --check gonghui
echo "== mypy"
$BIN/mypy gonghui
echo "== migrations are current"
$BIN/gonghui makemigrations --check --dry-run >/dev/null || {
  echo "models changed without a migration: run 'gonghui makemigrations'"; exit 1; }

echo "== pytest on SQLite"
env -u DATABASE_URL $BIN/pytest -q -p no:cacheprovider "$@"

if [ -n "${GONGHUI_TEST_POSTGRES_URL:-}" ]; then
  echo "== pytest on PostgreSQL (${GONGHUI_TEST_POSTGRES_URL})"
  DATABASE_URL="$GONGHUI_TEST_POSTGRES_URL" $BIN/pytest -q -p no:cacheprovider "$@"
else
  echo "== PostgreSQL run skipped: set GONGHUI_TEST_POSTGRES_URL=postgres://user@host:5432/gonghui to run it"
fi
