# Parley: `make run` starts a development server, `make test` runs everything CI runs.
VENV ?= .venv
PY := $(VENV)/bin/python
# `make run HOST=… PORT=… DB=…` passes these as flags; otherwise the server's own
# settings apply: PARLEY_HOST, PARLEY_PORT, PARLEY_DATABASE_URL (every flag's
# environment variable) from the environment, else its defaults (127.0.0.1:8080,
# sqlite:///var/parley.db). Only what is given on make's command line becomes a flag,
# so an exported PARLEY_* variable always wins over a default of this file.
HOST ?=
PORT ?=
DB ?=
given = $(if $(filter command line,$(origin $(1))),$(2) $($(1)))

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed ## create .venv and install Parley with its dev tools

run: install ## start Parley on SQLite with a development account
	$(PY) -m parley dev $(call given,HOST,--host) $(call given,PORT,--port) $(call given,DB,--database-url)

lint: install ## ruff format check and lint
	$(VENV)/bin/ruff format --check parley tests examples bench
	$(VENV)/bin/ruff check parley tests examples bench

types: install ## mypy --strict on the package
	$(VENV)/bin/mypy

pytest: install node-deps example-deps browser-deps ## the test suite only
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The real twilio-chat SDKs (tests/node) run inside pytest when Node is here;
# under CI=true Node is required (tests/node/test_twilio_chat.py fails without it).
NODE_STAMP := tests/node/node_modules/.parley-installed

node-deps: ## npm ci for the Node SDK conformance tests (when node is installed)
	@if command -v node >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory $(NODE_STAMP); \
	elif [ "$$CI" = "true" ]; then echo "CI=true: node is required" >&2; exit 1; \
	else echo "node not found: skipping the twilio-chat SDK tests"; fi

$(NODE_STAMP): tests/node/package.json tests/node/package-lock.json
	cd tests/node && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The console's browser tests (tests/console) drive Debian's chromium through
# playwright (never a downloaded browser); under CI=true they must run.
CHROMIUM ?= /usr/bin/chromium

browser-deps: ## apt-get install chromium for the console's browser tests (when missing)
	@if [ ! -x "$(CHROMIUM)" ]; then \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		{ $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
		|| if [ "$$CI" = "true" ]; then echo "CI=true: chromium is required" >&2; exit 1; \
		else echo "chromium not installed: skipping the console's browser tests"; fi; \
	fi

screenshots: install browser-deps ## retake the README's console screenshots (docs/img)
	PARLEY_SCREENSHOTS=docs/img $(PY) -m pytest -q tests/console/test_console_browser.py

# examples/node (docs/testing.md) runs inside pytest when Node is here;
# under CI=true Node is required (tests/test_examples.py fails without it).
EXAMPLE_STAMP := examples/node/node_modules/.parley-installed

example-deps: ## npm ci for the Node example of docs/testing.md (when node is installed)
	@if command -v node >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory $(EXAMPLE_STAMP); \
	elif [ "$$CI" = "true" ]; then echo "CI=true: node is required" >&2; exit 1; \
	else echo "node not found: skipping the Node example"; fi

$(EXAMPLE_STAMP): examples/node/package.json examples/node/package-lock.json
	cd examples/node && npm ci --no-audit --no-fund --loglevel=error
	touch $@

test: lint types pytest ## lint, types and the whole suite

coverage: install ## regenerate the README coverage table from the spec
	$(PY) -m parley.coverage --write README.md

bench: install ## benchmarks: Parley against its ceiling, SQLite and PostgreSQL (< 10 min)
	@command -v wrk >/dev/null 2>&1 || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq wrk; }
	$(PY) -m bench.run $(BENCH_ARGS)

fmt: install ## format the code
	$(VENV)/bin/ruff format parley tests examples bench
	$(VENV)/bin/ruff check --fix parley tests examples bench

.PHONY: help install run lint types pytest test coverage bench fmt node-deps example-deps \
	browser-deps screenshots
