# Each target installs what it needs into .venv first, so each works on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint lint-openapi bench bench-backends install install-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'

run: install
	$(BIN)/python -m app serve --host $(HOST) --port $(PORT)

# The whole suite on SQLite; set TEST_DATABASE_URL=postgresql+psycopg://... to run it on PostgreSQL.
test: install-test
	$(BIN)/python -m pytest

lint: install-test
	$(BIN)/pip install --quiet ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Redocly's recommended rules on the exported OpenAPI document (redocly.yaml). Needs node and npm; the CLI
# is installed into .ci/redocly (ignored by git) from the version pinned in .ci/redocly/package.json.
REDOCLY := .ci/redocly/node_modules/.bin/redocly
$(REDOCLY): .ci/redocly/package.json
	cd .ci/redocly && npm install --no-save --no-audit --no-fund --loglevel=error
	touch $(REDOCLY)

lint-openapi: $(REDOCLY)
	$(REDOCLY) lint docs/openapi.json --config redocly.yaml

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache

# The benchmark against Datasette, a bare ASGI app and a no-database FastAPI route, on 127.0.0.1.
# Needs wrk (apt-get install wrk). BENCH_ARGS=--million adds 1M claims (minutes to build).
bench: install
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# The same API on SQLite and on PostgreSQL (BENCH_POSTGRES_URL), 1 and 2 workers, side by side.
bench-backends: install
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/backends.py $(BENCH_ARGS)
