# Outage Radar. `make run` starts the product on SQLite with a server-less broker;
# `make test` runs lint, types and tests against PostgreSQL and Redis.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TEST_DATABASE_URL ?= postgres://$(shell id -un)@127.0.0.1:5432/outages
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
# The read bench flushes its cache database between requests: one of its own.
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/12
# Mutation workers: database <MUTATION_DATABASE_URL>_<n> and the n-th Redis db each.
MUTATION_DATABASE_URL ?= postgres://$(shell id -un)@127.0.0.1:5432/outages_mut
MUTATION_REDIS_URL ?= redis://127.0.0.1:6379
MUTATION_REDIS_DBS ?= 8,9,10,11

.PHONY: run test lint messages bench bench-designs bench-detect bench-outlook bench-events loadtest chaos services \
	clean docker-check audit mutation

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(PY)
	@echo "== installing Outage Radar into $(VENV)"
	$(PIP) install --progress-bar on -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	@echo "== installing Outage Radar with development tools into $(VENV)"
	$(PIP) install --progress-bar on -e ".[dev]"
	touch $(VENV)/.installed $@

# The translations: locale/*/LC_MESSAGES/*.po compiled to .mo (not committed) by gettext's
# msgfmt, whenever a catalogue is newer than its compiled file.
PO := $(wildcard locale/*/LC_MESSAGES/*.po)
MO := $(PO:.po=.mo)
messages: $(MO)
$(MO): %.mo: %.po
	@./scripts/ensure-gettext.sh
	msgfmt --check -o $@ $<

# collectstatic minifies the scripts and stylesheets with esbuild (node_modules).
run: $(VENV)/.installed messages node_modules/.installed
	PY=$(PY) ./scripts/run.sh

services:
	./scripts/ensure-services.sh

lint: $(VENV)/.installed-dev
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .
	$(PY) -m mypy .
	$(VENV)/bin/lint-imports --no-cache

# axe-core (the browser tests), Lighthouse (make audit) and esbuild (collectstatic minifies the
# site's scripts and stylesheets with it), from npm; Node from Debian.
node_modules/.installed: package.json
	./scripts/ensure-node.sh
	npm install --no-audit --no-fund
	touch $@

test: $(VENV)/.installed-dev services messages node_modules/.installed lint docker-check
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest

# Each script prints one JSON line: intake (HTTP, COPY), analytics (rollup, detection), then
# reads (pages and read API at 10 M reports).
bench: $(VENV)/.installed-dev services node_modules/.installed
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) bench/intake.py
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) bench/analytics.py
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) $(PY) bench/reads.py

# Pages and reads through gunicorn under wrk at 32 and 256 connections, beside the bare view.
loadtest: $(VENV)/.installed-dev services node_modules/.installed
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) $(PY) bench/loadtest.py

# The product as in production on a PostgreSQL, Redis, gunicorn, Celery worker and beat of
# its own (free loopback ports), under reports while Redis, PostgreSQL and the worker fail in
# turn, then a flood from one address and a corpus of hostile requests: one JSON line per
# scenario (bench/chaos.py). CHAOS_WORKER_DOWN_SECONDS=10 CHAOS_LOAD_SECONDS=5
# CHAOS_OUTAGE_SECONDS=5 for a short run.
chaos: $(VENV)/.installed-dev node_modules/.installed
	$(PY) bench/chaos.py

# The single report's write designs at their least (Redis + INSERT, one PostgreSQL statement).
bench-designs: $(VENV)/.installed-dev services
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) $(PY) bench/intake_designs.py

# One JSON line: detection quality on simulated series (plain and with real streams'
# behaviours) and NAB scores on the five real series in bench/realdata; no services needed.
bench-detect: $(VENV)/.installed-dev
	$(PY) bench/detect_quality.py

# "When will it be back": the share of incidents ending inside the ranges given (simulated).
bench-outlook: $(VENV)/.installed-dev
	$(PY) bench/outlook.py

# Events on simulated co-spikes: precision and recall of membership, the named cause (JSON).
bench-events: $(VENV)/.installed-dev
	$(PY) bench/events.py

# Mutation score of the core modules (scripts/mutation.toml): mutmut 3, a module per worker,
# each worker with its own PostgreSQL database and Redis db; prints each module's score and
# its survivors, and fails below a module's target. Not part of `make test`.
mutation: $(VENV)/.installed-dev services messages
	MUTATION_DATABASE_URL=$(MUTATION_DATABASE_URL) MUTATION_REDIS_URL=$(MUTATION_REDIS_URL) \
		MUTATION_REDIS_DBS=$(MUTATION_REDIS_DBS) $(PY) scripts/mutation.py

docker-check:
	./docker/check.sh

# Lighthouse on every page, desktop and phone, against a server with the test page data; one
# JSON document with each page's four category scores and layout shift.
audit: $(VENV)/.installed-dev services node_modules/.installed
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) CHROME_PATH=/usr/bin/chromium \
		$(PY) bench/audit.py

clean:
	rm -rf $(VENV) var node_modules $(MO)
