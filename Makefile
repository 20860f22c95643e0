# yibao — the two commands of README.md: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test lint demo bench bench-quick clean docs migration browser

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "yibao needs Python >= 3.11 (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

## install: create .venv with yibao installed editable, with the dev extras
install: $(STAMP)

## lint: ruff (rules and format), mypy (strict on yibao.core) and the import-layer contracts
lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

## browser: Debian's chromium and CJK fonts for the console's browser tests and screenshots
## (Playwright drives /usr/bin/chromium; its own browsers are never downloaded)
browser:
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	@fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || (apt-get update && apt-get install -y fonts-noto-cjk)

## test: lint, then the whole suite (database tests also on PostgreSQL when YIBAO_TEST_PG is set)
test: lint browser
	$(BIN)/python -m pytest -q -n 2 -m "not slow"

## demo: load the demo district into ./yibao.db (SQLite), then serve the API on
## 127.0.0.1:8000 with a demo hospital key and a curl example (Ctrl-C stops)
demo: $(STAMP)
	$(BIN)/yibao demo load
	$(BIN)/yibao demo serve

## migration: autogenerate the next store migration from the models (MSG="what changed")
migration: $(STAMP)
	$(BIN)/python -c 'import sys; from yibao.store.migrate import new_revision; print(new_revision(sys.argv[1]))' "$(MSG)"

## bench: the benchmarks; results go to docs/PERFORMANCE.md by hand, with machine and date
bench: $(STAMP)
	$(BIN)/python bench/run.py

## docs: regenerate docs/cli.md from --help (a test checks it is current)
docs: $(STAMP)
	$(BIN)/python -m yibao.adapters.cli.docgen > docs/cli.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist
