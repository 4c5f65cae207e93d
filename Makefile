# Gatehouse: `make run` serves the API with demo data; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2
TEST_WORKERS ?= 2

.PHONY: run test test-only lint setup serve clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

setup: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput
	$(PY) manage.py createcachetable
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py seed_demo --base-url http://$(HOST):$(PORT)

run: setup
	@echo "Serving on http://$(HOST):$(PORT)/  (Ctrl-C to stop)"
	$(VENV)/bin/gunicorn project.wsgi --bind $(HOST):$(PORT) --workers $(WORKERS)  # + gunicorn.conf.py

test: $(VENV)/.dev
	$(PY) manage.py collectstatic --noinput --verbosity 0  # Pages render hashed static URLs.
	$(PY) -m pytest -n $(TEST_WORKERS)

test-only:
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) -m pytest -n $(TEST_WORKERS)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache

# Benchmark (benchmarks/README.md): PostgreSQL + Redis on localhost, 10k and 100k projects, ~5 min.
# Extra options through BENCH_ARGS, e.g. make bench BENCH_ARGS="--db sqlite --sizes 10000".
.PHONY: bench
bench: $(VENV)/.runtime
	$(PY) benchmarks/run.py $(BENCH_ARGS)

# Side by side (issue 10): Gatehouse in one run with the anchors of ../shared/anchors (a bare WSGI
# app, a bare Django view, the Flask + flask-jwt-extended seed app, the plain DRF + simplejwt +
# guardian stack), each cell as % of the bare WSGI app of the same round. Every cell: ~35 min.
# Knobs go through the environment (../shared/anchors/README.md), e.g. for a few minutes:
#   make bench-anchors CONFIGS=sync GH_VARIANT_CONFIGS=none DURATION=5 ONLY='bare WSGI|/protected|me/$$'
ANCHORS ?= $(CURDIR)/../shared/anchors
.PHONY: bench-anchors
bench-anchors: $(VENV)/.runtime
	command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
	# From the anchors' folder: started in this checkout, gunicorn would read our gunicorn.conf.py for every peer.
	cd $(ANCHORS) && GATEHOUSE_SRC=$(CURDIR) GATEHOUSE=1 bash bench.sh

# Fault suite (docs/faults.md): private PostgreSQL + Redis, Gatehouse in production mode under
# gunicorn, a bounded load, each fault injected in turn, then the database audited. Never touches
# the shared services. Extra options through FAULTS_ARGS, e.g. FAULTS_ARGS="--only pg-fast --keep".
.PHONY: faults faults-short
faults: $(VENV)/.runtime
	$(PY) -m faults $(FAULTS_ARGS)

faults-short: $(VENV)/.runtime
	$(PY) -m faults --short $(FAULTS_ARGS)

# Generated clients (README "Generate a client"): a Python and a TypeScript client from the schema,
# each type-checked against and walking the README on a live server (.ci/clients), under a minute.
.PHONY: clients
clients: $(VENV)/.dev
	.ci/clients
