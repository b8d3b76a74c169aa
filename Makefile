# tempcheck: `make demo` and `make test` work on a fresh Debian machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install system-deps demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The tests need a real PostgreSQL server (binaries only: the tests start their own cluster).
system-deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "Installing PostgreSQL server binaries (Debian package postgresql)..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi

demo: install
	$(BIN)/tempcheck demo-data --reset
	@echo
	@echo "Answer a demo survey in the terminal with:  $(BIN)/tempcheck answer TOKEN"

test: install system-deps
	$(BIN)/ruff check collector forms bot analysis tests
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check collector forms bot analysis tests
	$(BIN)/mypy

bench: install
	@for b in bench/bench_*.py; do [ -f "$$b" ] && $(BIN)/python "$$b"; done; true

clean:
	rm -rf $(VENV) instance .pytest_cache
