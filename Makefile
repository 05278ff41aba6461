# Two commands: `make demo` runs the site with its demo data, `make test` installs and tests.
PYTHON ?= python3
VENV ?= .venv
PORT ?= 8000
BIN := $(VENV)/bin

# What the tests run against: real PostgreSQL and Redis on this machine.
TEST_ENV := DATABASE_URL=$${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/leaderboard} \
	CELERY_BROKER_URL=$${TEST_BROKER_URL:-redis://127.0.0.1:6379/15} \
	CACHE_URL=$${TEST_CACHE_URL:-redis://127.0.0.1:6379/13} \
	DEBUG=false SECRET_KEY=test-only-secret-key-of-sufficient-length-0123456789abcdefghijklmnop

.PHONY: install demo test lint format bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

# exec: make's child is the script itself, which passes make's SIGTERM on to what it started.
demo: install
	VENV=$(VENV) PORT=$(PORT) exec scripts/demo.sh

test: install
	scripts/services.sh
	scripts/browser.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(TEST_ENV) $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	scripts/services.sh
	scripts/browser.sh
	$(BIN)/python bench/score_file.py
	$(BIN)/python bench/million.py
	$(BIN)/python bench/bootstrap.py
	$(BIN)/python bench/ranks.py
	$(BIN)/python bench/pages.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/latency.py

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache
