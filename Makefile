# tempcheck: `make demo` and `make test` work on a fresh Debian machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install assets system-deps pdf-deps demo test lint bench translations screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP) assets

# Front-end: GOV.UK Frontend and Sass from npm (node_modules/ is git-ignored), and tempcheck's
# stylesheet built from them (GOV.UK Frontend without GDS Transport) into build/assets/.
NODE_STAMP := node_modules/.installed
CSS := build/assets/tempcheck.css

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "Installing Node.js and npm (Debian packages)..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	npm ci --no-audit --no-fund --omit=optional
	touch $(NODE_STAMP)

$(CSS): $(NODE_STAMP) forms/static/tempcheck.scss
	mkdir -p build/assets
	node_modules/.bin/sass --no-source-map --style=compressed --load-path=node_modules forms/static/tempcheck.scss $(CSS)

assets: $(CSS)

# The tests need a real PostgreSQL server (binaries only: the tests start their own cluster)
# and its client tools of the same major version (pg_dump and pg_restore, for the backup
# tests; Debian's postgresql package brings both), Chromium, Pango for WeasyPrint (PDF
# reports), an emoji font for the PDF (text people type), pdftoppm (the tests render the
# PDF to PNG), nginx and openssl (the deploy/ configuration is tested through a real nginx
# with a certificate made in the test).
system-deps: pdf-deps
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v pg_dump >/dev/null 2>&1; then \
		echo "Installing PostgreSQL server binaries and client tools (Debian package postgresql)..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi
	@if ! command -v chromium >/dev/null 2>&1; then \
		echo "Installing Chromium for the browser tests (Debian package chromium)..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi
	@if ! command -v pdftoppm >/dev/null 2>&1; then \
		echo "Installing poppler-utils for the PDF report tests (pdftoppm)..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null; \
	fi
	@if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then \
		echo "Installing nginx for the deploy/ configuration's test (Debian package nginx)..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; \
	fi
	@if ! command -v openssl >/dev/null 2>&1; then \
		echo "Installing openssl for the deploy/ test's certificate (Debian package openssl)..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null; \
	fi

# WeasyPrint (PDF reports, the demo publishes some) needs Pango.
pdf-deps:
	@if ! dpkg -s libpango-1.0-0 libpangoft2-1.0-0 >/dev/null 2>&1; then \
		echo "Installing Pango for PDF reports (Debian packages libpango-1.0-0 libpangoft2-1.0-0)..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 >/dev/null; \
	fi
	@if ! dpkg -s fonts-noto-color-emoji >/dev/null 2>&1; then \
		echo "Installing an emoji font for PDF reports (Debian package fonts-noto-color-emoji)..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji >/dev/null; \
	fi
	@if ! dpkg -s fonts-noto-core >/dev/null 2>&1; then \
		echo "Installing fonts for Welsh, Urdu and other scripts in reports and pages (Debian package fonts-noto-core)..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-core >/dev/null; \
	fi

# The web app signs sessions with SECRET_KEY: the demo makes a random one in .env once.
# `tempcheck up` then runs the web server, the outbox dispatcher and a mail sink that saves
# the demo's emails under instance/mail/, and the Telegram bot when .env has TELEGRAM_BOT_TOKEN.
demo: install pdf-deps
	@grep -qs '^SECRET_KEY=' .env || { printf '\nSECRET_KEY=%s\n' "$$($(BIN)/python -c 'import secrets; print(secrets.token_hex(32))')" >> .env; \
		echo "Added a random SECRET_KEY to .env"; }
	$(BIN)/tempcheck demo-data --reset
	@echo
	@echo "Open a link above in a browser, or answer in the terminal with:  $(BIN)/tempcheck answer TOKEN"
	@echo "Starting the web server, the dispatcher, a local mail sink and, when TELEGRAM_BOT_TOKEN is set, the Telegram bot (Ctrl-C stops them all)..."
	$(BIN)/tempcheck up

# The suite runs on every core (pytest-xdist; PYTEST_WORKERS=0 runs it in one process) and
# prints its 20 slowest tests at the end.
PYTEST_WORKERS ?= auto

test: install system-deps
	$(BIN)/ruff check collector forms bot analysis tests
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal --durations=20

# The README's pictures (docs/images/), made with the suite's own browser and Telegram emulator
# on the demo data: run it when pages change, look at them, and commit them. About 3 minutes.
screenshots: install system-deps
	$(BIN)/python -m pytest -p no:cacheprovider -n 0 -q tests/e2e/screenshots.py
	@ls -l docs/images/

lint: install
	$(BIN)/ruff check collector forms bot analysis tests
	$(BIN)/mypy

# The benchmarks (never run by `make test`): each prints its progress, every run and the medians
# against its baseline, on SQLite and on a throwaway PostgreSQL cluster (Debian's postgresql
# binaries, as for the tests). About 50 minutes on 2 cores; one of them with its options:
# `.venv/bin/python bench/bench_kpi.py --sizes 10k,100k --databases sqlite`.
bench: install
	@start=$$(date +%s); failed=""; \
	for b in bench/bench_*.py; do \
		echo; echo "=== $$b"; $(BIN)/python "$$b" || failed="$$failed $$b"; \
	done; \
	echo; echo "make bench took $$(( ($$(date +%s) - start + 30) / 60 )) minutes"; \
	if [ -n "$$failed" ]; then echo "failed:$$failed"; exit 1; fi

# The interface's words for translators: gather the English ones marked N_(...) in the code into
# the template, then bring each language's catalog up to date with it (new words untranslated,
# changed ones marked fuzzy, both shown in English until a translator fills them in). A new
# language: `.venv/bin/pybabel init -i collector/locale/messages.pot -d collector/locale -l pl`.
translations: install
	$(BIN)/pybabel extract -F babel.cfg -o collector/locale/messages.pot --no-location \
		--sort-output --project tempcheck --copyright-holder "tempcheck contributors" \
		--msgid-bugs-address "" -c "TRANSLATORS:" .
	$(BIN)/pybabel update -i collector/locale/messages.pot -d collector/locale \
		--width 100 --ignore-obsolete

clean:
	rm -rf $(VENV) instance .pytest_cache node_modules build artifacts
