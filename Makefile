# Kindred: `make run` on a fresh machine installs everything and runs the demo end to end;
# `make test` installs the same way and runs the test suite.
SHELL := /bin/bash
export UV_COMPILE_BYTECODE := 1
export KINDRED_HOME ?= $(CURDIR)/.kindred
# LightGBM's OpenMP threads otherwise spin while idle, which slows everything else on 2 cores.
export OMP_WAIT_POLICY := PASSIVE
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
VENV := .venv
BIN := $(VENV)/bin
DEMO := data/demo

.PHONY: install postgresql java run test test-fast bench ui mlflow-ui lint demo-data clean

$(UV):
	python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv

# The virtualenv is rebuilt from the lock file whenever the lock changes.
$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --locked --all-groups --extra spark
	touch $@

install: $(VENV)/.synced

# Tests and the CRM sync benchmark start their own PostgreSQL server from Debian's binaries; the
# package starts no cluster of its own.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq postgresql; }

# The Spark backend's test runs Splink on a local Spark session, which needs a Java runtime.
java:
	@command -v java >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq openjdk-17-jre-headless; }

$(DEMO)/ground_truth/records.csv: | install
	$(BIN)/kindred demo-data --out $(DEMO)

demo-data: $(DEMO)/ground_truth/records.csv

run: install demo-data
	$(BIN)/kindred run --config kindred.yaml

test: install postgresql java
	$(BIN)/python -m pytest -n 2 --durations=15

test-fast: install postgresql
	$(BIN)/python -m pytest -n 2 -m "not slow"

bench: install postgresql
	$(BIN)/python -m benchmarks.run_all

ui: install
	mkdir -p $(KINDRED_HOME)/dagster && cp dagster.yaml $(KINDRED_HOME)/dagster/dagster.yaml
	VIRTUAL_ENV=$(CURDIR)/$(VENV) DAGSTER_HOME=$(KINDRED_HOME)/dagster $(BIN)/dg dev --host 127.0.0.1 --port 3000

mlflow-ui: install
	$(BIN)/mlflow ui --host 127.0.0.1 --port 5000 \
	  --backend-store-uri sqlite:///$(KINDRED_HOME)/mlflow.db --default-artifact-root $(KINDRED_HOME)/mlartifacts

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(BIN)/dg check defs

clean:
	rm -rf .kindred data/demo
