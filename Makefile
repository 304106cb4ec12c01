# Entry points of the weather suite. The two that matter: `make demo` (the main job) and
# `make test` (everything CI checks). Both set up what they need on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
TOOLS := .tools/bin
PACKAGES := gen/python libs/runtime libs/dataplane libs/scores libs/tensors services/registry services/ingest services/preprocess services/trainer services/modelserver services/predictor cli/weatherctl
STAMP := $(VENV)/.installed

.PHONY: setup tools postgres proto lint format typecheck charts test pytest demo up bench-registry bench-preprocess bench-train bench-predictor bench-fuzz bench-faults lock clean

setup: $(STAMP) tools

$(STAMP): requirements/dev.lock $(addsuffix /pyproject.toml,$(PACKAGES))
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements/dev.lock
	$(PIP) install -q --no-deps $(addprefix -e ,$(PACKAGES))
	touch $(STAMP)

tools:
	bash tools/install_tools.sh

postgres:
	@bash tools/postgres.sh

proto: $(STAMP)
	$(PY) tools/genproto.py

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	cd protos && ../$(TOOLS)/buf lint

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: $(STAMP)
	$(VENV)/bin/mypy
	cd bench/registry && MYPYPATH=. ../../$(VENV)/bin/mypy --config-file ../../pyproject.toml .
	if [ -d bench/preprocess ]; then cd bench/preprocess && MYPYPATH=. ../../$(VENV)/bin/mypy --config-file ../../pyproject.toml .; fi
	cd bench/predictor && MYPYPATH=. ../../$(VENV)/bin/mypy --config-file ../../pyproject.toml .
	cd bench/fuzz && MYPYPATH=.:../.. ../../$(VENV)/bin/mypy --config-file ../../pyproject.toml .

# The test command: lint, types, contracts, charts and the whole pytest suite against a real
# PostgreSQL that this target installs (Debian package) and starts. The data-plane tests run in a
# pytest process of their own: ecCodes' wheels bundle OpenSSL, Kerberos and SQLite builds that
# clash with psycopg's and Python's sqlite3 in one process (the services never share a process: ingest
# loads ecCodes, the registry loads psycopg).
test: setup lint typecheck
	export WEATHER_TEST_POSTGRES_URL="$$(bash tools/postgres.sh | tail -n 1)" \
	  WEATHER_TEST_PROMETHEUS="$$(bash tools/prometheus.sh | tail -n 1)" \
	  PATH="$(CURDIR)/$(TOOLS):$$PATH" && \
	  $(VENV)/bin/pytest $(PYTEST_ARGS) --ignore=tests/ingest --ignore=tests/preprocess --ignore=tests/trainer --ignore=tests/dataplane && \
	  $(VENV)/bin/pytest $(PYTEST_ARGS) tests/dataplane tests/ingest tests/preprocess tests/trainer

# The main job: start the suite on embedded defaults, run the pipeline, stop everything.
demo: setup
	$(VENV)/bin/weatherctl demo

up: setup
	$(VENV)/bin/weatherctl up

bench-registry: setup
	export WEATHER_BENCH_POSTGRES_URL="$$(bash tools/postgres.sh | tail -n 1)" && $(PY) bench/registry/run.py

bench-preprocess: setup
	$(PY) bench/preprocess/run.py

bench-train: setup
	$(PY) bench/train/run.py

bench-predictor: setup
	$(PY) bench/predictor/run.py

bench-fuzz: setup
	$(PY) bench/fuzz/run.py

# The fault trials of issue 11 (worker kill, model server restart, registry and PostgreSQL
# outages, full and unwritable stores): each script writes bench/faults/results/<name>-<time>.json.
bench-faults: setup
	set -e; for script in bench/faults/*.py; do echo "== $$script"; $(PY) $$script; done

lock:
	rm -rf /tmp/weather-lock && $(PYTHON) -m venv /tmp/weather-lock
	/tmp/weather-lock/bin/pip install -q --upgrade pip
	/tmp/weather-lock/bin/pip install -q -r requirements/dev.in
	(echo "# Pinned resolution of requirements/dev.in (regenerate with \`make lock\`)."; \
	  /tmp/weather-lock/bin/pip freeze --exclude-editable | sort -f) > requirements/dev.lock

clean:
	rm -rf $(VENV) .tools var
