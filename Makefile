# Two commands: `make demo` and `make test`. Both bootstrap .venv from uv.lock with only Python >= 3.11.
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .uv/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv

.PHONY: demo test lint typecheck migrations-check pytest venv messages clean

$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

venv: .venv/.synced

demo: .venv/.synced
	DEBUG=1 SECURE_HTTPS=0 .venv/bin/gonghui demo $(DEMO_ARGS)

test: .venv/.synced
	./scripts/test.sh

lint: .venv/.synced
	.venv/bin/ruff check gonghui
	.venv/bin/ruff format --check gonghui

typecheck: .venv/.synced
	.venv/bin/mypy gonghui

messages: .venv/.synced
	cd gonghui && ../.venv/bin/gonghui makemessages -l zh_Hans --no-obsolete && ../.venv/bin/gonghui compilemessages -l zh_Hans

clean:
	rm -rf .venv .uv var/test-* .pytest_cache .mypy_cache .ruff_cache
