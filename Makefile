# learnrec: every target installs what it needs from requirements.lock first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := $(shell sed -n 's/^uv==//p' requirements.lock)
# The install is current when the lock file and the packaging are unchanged since it was made.
STAMP := $(VENV)/.installed-$(shell cat requirements.lock setup.cfg pyproject.toml | sha1sum | cut -c1-16)
# torch: the CPU build only. This kind of machine keeps the CPU wheel in /opt/wheels; elsewhere
# the PyTorch CPU index serves it. PyPI's default Linux torch is a multi-GB CUDA build.
TORCH_SOURCE := $(if $(wildcard /opt/wheels/torch-*),--find-links /opt/wheels,--extra-index-url https://download.pytorch.org/whl/cpu)
# Bytecode is compiled at install: these machines set PYTHONDONTWRITEBYTECODE, so without it every
# process (each Airflow task, CLI call and test worker) recompiles what it imports (airflow.sdk:
# 16 s -> 4 s to import).
UV_INSTALL := $(BIN)/uv pip sync --compile-bytecode --python $(BIN)/python --index-strategy unsafe-best-match $(TORCH_SOURCE)
PYTEST_ARGS ?=

.PHONY: help install demo test test-fast bench lint format airflow lock clean-state

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.lock setup.cfg pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(UV_INSTALL) requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)  ## create or update .venv from requirements.lock (no-op when current)

demo: $(STAMP)  ## generate a small world and run the pipeline end to end through Airflow
	$(BIN)/learnrec demo

test: $(STAMP)  ## run the whole test suite
	$(BIN)/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

test-fast: $(STAMP)  ## the tests not marked slow
	$(BIN)/pytest -n 2 --dist loadgroup -m "not slow" $(PYTEST_ARGS)

bench: $(STAMP)  ## run the benchmarks; results in benchmarks/results.json and benchmarks/RESULTS.md
	$(BIN)/learnrec bench

lint: $(STAMP)  ## ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)  ## ruff fix + format
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

airflow: $(STAMP)  ## the Airflow UI (standalone) on the embedded defaults, with this project's DAGs
	$(BIN)/learnrec airflow standalone

lock: $(STAMP)  ## re-resolve requirements.in into requirements.lock
	$(BIN)/uv pip compile requirements.in -o requirements.lock --python-version 3.11 \
	    --index-strategy unsafe-best-match $(TORCH_SOURCE) --override requirements-overrides.txt

clean-state:  ## delete all embedded state (warehouse, lake, MLflow, Airflow home, outbox)
	rm -rf .learnrec
