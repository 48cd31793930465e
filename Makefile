# kubenats: `make up` starts a cluster, `make test` runs the tests. Both install what they need first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST := $(BIN)/pytest
KUBENATS := $(BIN)/kubenats

.PHONY: install up down status logs clean test test-unit test-integration test-e2e lint bench

install: $(STAMP)

# Re-installs only when the project's dependencies change, so a second `make install` takes no time.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

up: install
	$(KUBENATS) cluster up

down: install
	$(KUBENATS) cluster down

status: install
	$(KUBENATS) cluster status

logs: install
	$(KUBENATS) cluster logs $(F) $(C)

clean: down
	rm -rf .kubenats

test: install
	$(PYTEST) tests

test-unit: install
	$(PYTEST) tests/unit

test-integration: install
	$(PYTEST) tests/integration

test-e2e: install
	$(PYTEST) tests/e2e

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install
	@for script in bench/[!_]*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

.PHONY: bench-kv
bench-kv: install
	$(BIN)/python bench/kv.py

.PHONY: bench-api
bench-api: install
	$(BIN)/python bench/apiserver.py

.PHONY: bench-proxy
bench-proxy: install
	$(BIN)/python bench/proxy.py

# Every built-in resilience experiment against the running cluster (`make up` first): a summary table,
# and a report per experiment (result.json, summary.txt, plot.png) under .kubenats/experiments/.
.PHONY: experiments
experiments: install
	$(KUBENATS) experiment run experiments/*.yaml

.PHONY: bench-node-failure
bench-node-failure: install
	$(BIN)/python bench/node_failure.py $(ARGS)

.PHONY: bench-scale
bench-scale: install
	$(BIN)/python bench/scale.py $(ARGS)
