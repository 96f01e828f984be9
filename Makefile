# Entrepairs: `make run` serves the demo forum, `make test` runs the whole suite.
# Needs only Python 3.11+ and make; everything else is installed into .venv from PyPI.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
HOST   ?= 127.0.0.1
PORT   ?= 8000

export PIP_DISABLE_PIP_VERSION_CHECK := 1
# Build-backend deprecation chatter is not for the person running `make run`.
export PYTHONWARNINGS := ignore

.PHONY: run test test-unit test-browser screenshots check-python clean lint

# umask 077: the database, its WAL and everything else the forum writes under var/ are readable
# by their owner only (the forum also creates its database files 0600 itself).
run: $(VENV)/.installed var/secret_key
	@umask 077 && $(BIN)/forum db upgrade
	@umask 077 && if [ ! -f var/.demo-seeded ]; then $(BIN)/forum demo && touch var/.demo-seeded; fi
	@umask 077 && FORUM_SECRET_KEY="$$(cat var/secret_key)" exec $(BIN)/forum run --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-test
	@$(MAKE) --no-print-directory test-unit
	@$(MAKE) --no-print-directory test-browser

test-unit: $(VENV)/.installed-test
	$(BIN)/pytest -m "not browser" -q

# Browser tests run in their own pytest process (sync Playwright and pytest-asyncio cannot
# share one). Without Chromium they are skipped with a printed reason. The Nu HTML Checker
# (npm package vnu-jar, pinned in tests/browser/package-lock.json) needs npm and Java.
NU_CHECKER := tests/browser/node_modules/vnu-jar/build/dist/vnu.jar

$(NU_CHECKER): tests/browser/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix tests/browser --ignore-scripts --no-audit --no-fund --loglevel=error && touch $@; \
	else \
		echo "npm is missing: the HTML validity test will be skipped (apt-get install npm)."; \
	fi

test-browser: $(VENV)/.installed-test $(NU_CHECKER)
	@if [ -x /usr/bin/chromium ]; then \
		$(BIN)/pip install -q -c requirements.lock -e ".[browser]" && $(BIN)/pytest -m browser -q tests/browser; \
	else \
		echo "Browser tests skipped: /usr/bin/chromium is missing (apt-get install chromium)."; \
	fi

screenshots: $(VENV)/.installed-test
	@$(BIN)/pip install -q -c requirements.lock -e ".[browser]"
	$(PY) -m tests.browser.screenshots

lint: $(VENV)/.installed-test
	$(BIN)/ruff check forum moderation tests migrations/env.py

# The load-and-fault harness (docs/RELIABILITY.md): the real server under a write storm,
# double submits, kill -9 and a held lock, on fresh SQLite files. For PostgreSQL (the database
# given is EMPTIED; its cluster is restarted once): make reliability
#   RELIABILITY_DATABASE=postgresql+asyncpg://postgres@127.0.0.1:5432/entrepairs_reliability
# RELIABILITY_ARGS="--short" runs the CI sizes; `python -m reliability --help` lists the rest.
.PHONY: reliability
RELIABILITY_DATABASE ?=
RELIABILITY_ARGS ?=
reliability: $(VENV)/.installed-test
	$(PY) -m reliability $(if $(RELIABILITY_DATABASE),--database $(RELIABILITY_DATABASE)) $(RELIABILITY_ARGS)

check-python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Entrepairs needs Python 3.11 or newer: install python3 (for example: sudo apt install python3)."; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || { echo "Entrepairs needs Python 3.11 or newer; $(PYTHON) is $$($(PYTHON) -V 2>&1). Install python3.11 and run: make PYTHON=python3.11 run"; exit 1; }
	@$(PYTHON) -c 'import venv, ensurepip' >/dev/null 2>&1 || { echo "Python's venv module is missing: install it (for example: sudo apt install python3-venv), then run make again."; exit 1; }

$(VENV)/.created: | check-python
	@$(PYTHON) -m venv $(VENV) >/dev/null || { echo "Could not create .venv: install python3-venv (sudo apt install python3-venv)."; rm -rf $(VENV); exit 1; }
	@touch $@

$(VENV)/.installed: $(VENV)/.created pyproject.toml requirements.lock
	@echo "Installing Entrepairs into $(VENV)…"
	@$(BIN)/pip install -q --upgrade pip >/dev/null 2>&1 || true
	@$(BIN)/pip install -q -c requirements.lock -e . || { echo "Installing the dependencies failed: check the network access to PyPI, then run make again."; exit 1; }
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	@$(BIN)/pip install -q -c requirements.lock -e ".[test]" || { echo "Installing the test dependencies failed: check the network access to PyPI."; exit 1; }
	@touch $@

var/secret_key:
	@mkdir -p var
	@umask 077 && $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(48))' > $@
	@echo "Generated a secret key in $@ (keep it private)."

clean:
	rm -rf $(VENV) build *.egg-info

# Extract every UI string (French, the source language) into locales/messages.pot, sorted and
# without line numbers or a creation date, so its diff shows exactly what is new for translators.
# English goes in locales/en/LC_MESSAGES/<area>.po; tests/forum/test_translations.py checks it.
.PHONY: messages
messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -o locales/messages.pot -c Translators: \
		--project Entrepairs --no-location --sort-output .
	@sed -i '/^"POT-Creation-Date: /d' locales/messages.pot

# The benchmark (bench/, docs/PERFORMANCE.md): generates the dataset once into bench/data/,
# serves it with `forum run --workers 2`, drives it with wrk, writes bench/results.json.
# Options: make bench BENCH_ARGS="--posts 1000000" (or --duration 10 --connections 32);
# on PostgreSQL: make bench BENCH_DATABASE=postgresql+asyncpg://… (the dataset is written
# there once, and replies are posted into it; FORUM_REDIS_URL in the environment puts
# sessions and counters in Redis, on PostgreSQL runs only).
# Live streams (bench/streams.py): --streams N per worker (0 skips them), --pages streams
# runs that stage alone; it uses Redis at 127.0.0.1:6379/15 when it answers (--streams-redis).
.PHONY: bench
bench: $(VENV)/.installed-test
	@command -v wrk >/dev/null 2>&1 || { echo "make bench needs wrk: sudo apt-get install wrk"; exit 1; }
	$(PY) -m bench $(if $(BENCH_DATABASE),--database '$(BENCH_DATABASE)') $(BENCH_ARGS)

# The crisis screen's learned head (docs/SAFETY.md): trained from the committed corpus and
# near-miss slices (moderation/data/crisis_corpus/ and crisis_extra/; about 8 minutes on two
# quiet cores, an hour on busy ones, 8 GB of memory) into moderation/data/crisis_head.npz and
# .json; a test fails when those files changed and this was not run again. Needs the train
# extra (scikit-learn), never needed to run the forum.
.PHONY: crisis-model
crisis-model: $(VENV)/.installed-test
	@$(BIN)/pip install -q -c requirements.lock -e ".[train]"
	OPENBLAS_NUM_THREADS=2 $(PY) -m moderation.crisis.train

# Security checks (issue 5): pip-audit on the installed dependencies (needs network access to
# the vulnerability service; an unaudited dependency fails) and bandit on forum/ and
# moderation/. Accepted findings are justified in .ci/bandit.yaml, .ci/bandit-baseline.json
# and .ci/pip-audit-ignores.txt.
.PHONY: audit lock
audit: $(VENV)/.installed-test
	@$(BIN)/pip install -q "pip-audit>=2.10" "bandit>=1.9"
	.ci/audit

# requirements.lock: the exact versions of a fresh install of the project with its test and
# browser extras (newest allowed by pyproject.toml), for `-c` and for pip-audit.
lock: check-python
	@rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	@.venv-lock/bin/pip install -q -e ".[test,browser,train]"
	@{ sed -n '1,3p' requirements.lock; .venv-lock/bin/pip freeze --exclude-editable; } > requirements.lock.new
	@mv requirements.lock.new requirements.lock && rm -rf .venv-lock
	@echo "requirements.lock updated: review the diff, run make test, commit."
