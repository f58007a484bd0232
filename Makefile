# The two commands a new user types are `make run` and `make test` (README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2
# Readers' live sockets get workers of their own on PORT+1, ahead of the page workers for the CPU.
SOCKET_WORKERS ?= 2

# The test suite and benchmarks talk to the real services (docs/settings.md, Services).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/liveblog
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: run serve test lint bench demo clean

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# The demo: SQLite, the in-memory channel layer, DEBUG on, one process.
run: $(VENV)/.runtime
	DEBUG=1 $(PY) manage.py migrate --no-input
	DEBUG=1 $(PY) manage.py load_demo --site http://$(HOST):$(PORT)
	@# The scheduler runs beside the demo server; with the in-memory layer its events reach the server's
	@# readers through the server's own catch-up from the database (liveblog/fanout.py), within seconds.
	DEBUG=1 $(PY) manage.py run_scheduler & scheduler=$$!; trap 'kill $$scheduler' EXIT; \
	DEBUG=1 $(PY) manage.py runserver $(HOST):$(PORT)

# Production (docs/settings.md): DATABASE_URL, REDIS_URL and SECRET_KEY come from the environment.
serve: $(VENV)/.runtime
	DEBUG=0 $(PY) manage.py serve --host $(HOST) --port $(PORT) --workers $(WORKERS) --socket-workers $(SOCKET_WORKERS)

test: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	DJANGO_SETTINGS_MODULE=tests.settings DATABASE_URL=$(TEST_DATABASE_URL) $(PY) manage.py ensure_database
	DJANGO_SETTINGS_MODULE=tests.settings DATABASE_URL=$(TEST_DATABASE_URL) $(PY) manage.py makemigrations --check --dry-run
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(VENV)/bin/pytest

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(VENV)/.dev
	@# Each benchmark starts a redis-server of its own; readers run in processes of their own.
	DJANGO_SETTINGS_MODULE=tests.settings DATABASE_URL=$(TEST_DATABASE_URL) $(PY) manage.py ensure_database
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) bench/fanout.py
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) bench/pages.py
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) bench/reconnect.py
	@# Two hosts in network namespaces of its own (needs root), one of them killed.
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) bench/hosts.py
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) bench/desk.py

clean:
	rm -rf $(VENV) staticfiles .test-media
