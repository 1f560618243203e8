# chiso — two commands: `make run` (whole stack + demo pipeline) and `make test` (whole suite).
SHELL := /bin/bash
VENVS := .venvs
UV := $(VENVS)/uv/bin/uv
PYTHON ?= python3.11
UV_VERSION := 0.13.8
ENVS := airflow dbt superset
CHISO := ./chiso
PYTEST := $(VENVS)/airflow/bin/python -m pytest

.PHONY: run stop status test test-fast test-unit test-e2e lint bench venvs browser redis clean help

help:
	@echo "make run | stop | status | test | test-fast | lint | bench"
	@echo "  test       the whole suite (what CI runs)"
	@echo "  test-fast  tests that need no server: unit, DAG integrity, config and bundle checks, lint (< 2 min)"

## Virtualenvs from the committed lock files; re-synced only when a lock file changes.
venvs: $(addprefix $(VENVS)/,$(addsuffix /.synced,$(ENVS))) $(VENVS)/airflow/.chiso $(VENVS)/superset/.translations

$(UV):
	$(PYTHON) -m venv $(VENVS)/uv
	$(VENVS)/uv/bin/pip install -q uv==$(UV_VERSION)

# --compile-bytecode: this machine sets PYTHONDONTWRITEBYTECODE, so without .pyc files every Airflow task, dbt
# call and quality check would recompile its imports from source (Great Expectations: 7.5 s instead of 2.9 s).
$(VENVS)/%/.synced: requirements/%.lock.txt Makefile | $(UV)
	@echo "[make] syncing venv $* from $<"
	@[ -x $(VENVS)/$*/bin/python ] || $(UV) venv -q --python $(PYTHON) $(VENVS)/$*
	$(UV) pip sync -q --compile-bytecode --python $(VENVS)/$*/bin/python $<
	@touch $@

# The chiso package itself, editable, in the Airflow venv (sync above removes it, hence the dependency).
$(VENVS)/airflow/.chiso: $(VENVS)/airflow/.synced pyproject.toml
	$(UV) pip install -q --python $(VENVS)/airflow/bin/python --no-deps -e .
	@touch $@

# Superset ships no Vietnamese: install the repo's language packs into its translations folder (checked, idempotent).
$(VENVS)/superset/.translations: $(VENVS)/superset/.synced superset/translations/build.py $(wildcard superset/translations/*/LC_MESSAGES/messages.po)
	$(VENVS)/superset/bin/python superset/translations/build.py install
	@touch $@

## Headless Chromium for the browser tests (Debian package; Playwright cannot download browsers here).
browser:
	@command -v chromium >/dev/null || { \
	  echo "[make] installing chromium (apt)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

## Redis for CHISO_EXECUTOR=celery (Debian package, like chromium). The stack runs its own server, on loopback, on
## its own port (not the package's service on 6379: containers do not start it, other machines may).
redis:
	@[ -x /usr/bin/redis-server ] || { \
	  echo "[make] installing redis-server (apt)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server >/dev/null; }

run: venvs redis
	$(CHISO) up --pipeline

stop:
	@[ -x $(VENVS)/airflow/bin/chiso ] && $(CHISO) down || true

status:
	@$(CHISO) status

# Two lanes at once (tests/run_lanes): the Celery stack module beside the rest; the same tests as a plain pytest.
test: venvs browser redis
	./tests/run_lanes

# No server: deselects what needs PostgreSQL, dbt, Superset, the whole stack or the internet (markers are
# applied by tests/conftest.py); a test that still tries to start a server fails naming its missing marker.
FAST := not postgres and not dbt and not superset and not e2e and not network
test-fast: venvs
	$(PYTEST) -m "$(FAST)"

test-unit: venvs
	$(PYTEST) -m "not e2e"

test-e2e: venvs browser redis
	$(PYTEST) -m e2e

lint: venvs
	$(VENVS)/airflow/bin/ruff check src dags tests
	cd dbt_project && ../$(VENVS)/dbt/bin/sqlfluff lint models

bench: venvs
	$(VENVS)/airflow/bin/python -m chiso.bench $(BENCH)

clean: stop
	rm -rf var
