# Two commands on a fresh machine: `make run` (the service) and `make test` (every check).
# Both create .venv and install from pyproject.toml + constraints.txt on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
FAKE_PHASE ?= kill-test

.PHONY: install run test lint types unit system-packages fake-upstream lock clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,local,eval]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)  ## Serve on HOST:PORT (default 127.0.0.1:8000), configured from the environment/.env
	$(BIN)/python -m app

test: lint types unit  ## Format, lint, types and tests: what CI runs

lint: $(STAMP)
	$(BIN)/ruff format --check app evaluation local_model tests bench
	$(BIN)/ruff check app evaluation local_model tests bench

types: $(STAMP)
	$(BIN)/mypy

# REQUIRE_ALL=1: a test whose extra or binary is missing fails instead of skipping (tests/needs.py),
# so this target can never go green by skipping.
unit: $(STAMP) system-packages
	REQUIRE_ALL=1 $(BIN)/pytest

# The store tests run against a real Redis server (started by the tests on a free loopback port);
# the docs test drives Debian's chromium (tests/api/test_docs_browser.py; no browser download).
system-packages:
	@command -v redis-server >/dev/null 2>&1 || { \
		echo "installing redis-server (Debian package) for the store tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }
	@test -x /usr/bin/chromium || { \
		echo "installing chromium (Debian package) for the docs browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

fake-upstream: $(STAMP)  ## A fake provider server on 127.0.0.1:9100 for curl sessions without keys
	$(BIN)/python -m tests.fakes.upstream --port 9100 --phase $(FAKE_PHASE)

lock:  ## Refresh constraints.txt from the current venv
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^orchestrator' > constraints.txt

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
