# Two entry points for a fresh machine: `make demo` (the main job) and `make test` (every
# check). Both build their own virtual environment; nothing else needs installing first.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.roar-installed
DEV_STAMP := $(VENV)/.roar-dev-installed

.PHONY: demo test lint types contracts pytest bench system-deps clean

$(BIN)/python:
	$(PYTHON) scripts/check_python.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Bytecode for everything installed, compiled on every core: pip compiles one file at a
# time, and the dev extras are 17,000 files (about 110 s of CPU here, 70 s on two cores).
# Editable installs get none from pip at all, and with PYTHONDONTWRITEBYTECODE set every
# `roar` call would compile its modules again (30-50 ms each time). As with pip's own
# compile step, a file that does not compile (some packages ship files for newer Pythons)
# only goes without a cache: -qq and `|| true`.
# The optional C extensions (setup.py): a change to one rebuilds the install.
C_SOURCES = $(wildcard src/roar/*/*.c)
COMPILE = $(BIN)/python -m compileall -qq -j 0 src \
	"$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" || true
$(STAMP): pyproject.toml setup.py $(C_SOURCES) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --no-compile -e .
	$(COMPILE)
	touch $@

$(DEV_STAMP): pyproject.toml setup.py $(C_SOURCES) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --no-compile -e '.[dev]'
	$(COMPILE)
	touch $@ $(STAMP)

## demo: build .venv, install roar, run the example under roar in a throwaway project
demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash examples/demo.sh

## test: system packages (when root), .venv with dev extras, lint, types, contracts, pytest
test: system-deps $(DEV_STAMP) lint types contracts pytest

system-deps:
	bash scripts/ensure-system-deps.sh

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

types: $(DEV_STAMP)
	$(BIN)/mypy

contracts: $(DEV_STAMP)
	$(BIN)/lint-imports

# Two workers: much of the suite waits on subprocesses, servers and disk, so two
# processes keep both cores busy; worksteal balances the few long tests.
pytest: $(DEV_STAMP)
	$(BIN)/python scripts/run_pytest.py -n 2 --dist worksteal --durations=15

bench: $(DEV_STAMP)
	$(BIN)/python bench/hashing.py
	$(BIN)/python bench/trace.py
	$(BIN)/python bench/recording.py
	$(BIN)/python bench/lineage.py
	$(BIN)/python bench/status.py
	$(BIN)/python bench/reproduce.py
	$(BIN)/python bench/tasks.py
	$(BIN)/python bench/registry.py
	$(BIN)/python bench/checkpoints.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
