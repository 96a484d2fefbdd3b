# fleet.cache developer entry points. See README.md ("Testing") and CONTRIBUTING.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := $(CURDIR)/.venv
PYTHON := $(VENV)/bin/python
COLLECTIONS := $(CURDIR)/.build/collections
DEMO_PLAYBOOK ?= fleet.cache.report
DEMO_ARGS ?= -e pip_cache_report_dir=$(CURDIR)/.build/pip-cache-report
DEMO_INVENTORY := $(CURDIR)/.build/demo-inventory.ini

# The demo's environment: the collection as built and installed by hack/setup.sh, no host config.
DEMO_ENV := ANSIBLE_COLLECTIONS_PATH=$(COLLECTIONS) ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false \
	ANSIBLE_INVENTORY=$(DEMO_INVENTORY) ANSIBLE_CALLBACK_RESULT_FORMAT=yaml \
	ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_RETRY_FILES_ENABLED=false \
	$(if $(CI),ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0)

.PHONY: help setup demo test bench fmt clean

help:
	@echo "make demo    set up .venv + the collection, then run $(DEMO_PLAYBOOK) against localhost"
	@echo "make test    every test session (hack/run-tests.sh: nox -s test; nox -l lists them); last line: N passed, N failed, N skipped"
	@echo "make bench   bench/run.py: engine and modules against pip, du and rm (SIZES=, RUNS=, DESTRUCTIVE_RUNS=, DESTRUCTIVE_MAX=, BENCH_ARGS=)"
	@echo "make fmt     ruff format + ruff check --fix on plugins/ tests/ hack/ bench/ extensions/ noxfile.py"
	@echo "make clean   remove .venv, .build and test output"

setup:
	@hack/setup.sh

demo: setup
	@printf '%s\n' '[local]' 'localhost ansible_connection=local ansible_python_interpreter=$(PYTHON)' > $(DEMO_INVENTORY)
	@echo "demo: ansible-playbook $(DEMO_PLAYBOOK) against localhost (collection from .build/collections)"
	@$(DEMO_ENV) $(VENV)/bin/ansible-playbook $(DEMO_PLAYBOOK) $(DEMO_ARGS)

test:
	@hack/run-tests.sh $(ARGS)

# make bench SIZES=100000 RUNS=5 DESTRUCTIVE_RUNS=3 DESTRUCTIVE_MAX=1000000 BENCH_ARGS="--smoke" (bench/run.py --help)
BENCH_OPTS = $(if $(SIZES),--sizes $(SIZES)) $(if $(RUNS),--runs $(RUNS)) $(if $(DESTRUCTIVE_MAX),--destructive-max $(DESTRUCTIVE_MAX)) $(if $(DESTRUCTIVE_RUNS),--destructive-runs $(DESTRUCTIVE_RUNS)) $(BENCH_ARGS)

bench:
	@if [ -f bench/run.py ]; then hack/setup.sh && $(PYTHON) bench/run.py $(BENCH_OPTS); else echo "bench: not yet available (bench/run.py does not exist)"; fi

fmt:
	@hack/setup.sh --test
	@paths=$$(for p in plugins tests hack bench extensions noxfile.py; do [ -e $$p ] && echo $$p; done); \
	$(VENV)/bin/ruff format $$paths && $(VENV)/bin/ruff check --fix $$paths

clean:
	rm -rf .venv .build .nox .reports tests/output .mypy_cache .ruff_cache .pytest_cache
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
