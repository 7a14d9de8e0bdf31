# corrbench developer entry points.  `make demo` and `make test` are the README's two commands.
#
# Without an active virtual environment (VIRTUAL_ENV or CONDA_PREFIX), everything installs into ./.venv,
# never into the system Python; the venv sees the system's site-packages, so a torch already installed
# there is reused instead of downloaded again.  `make PYTHON=/path/to/python ...` uses that Python as is.
BASE_PYTHON ?= python3
ifeq ($(origin PYTHON), undefined)
  ifneq ($(VIRTUAL_ENV)$(CONDA_PREFIX),)
    PYTHON := python
  else
    PYTHON := .venv/bin/python
    VENV := .venv/bin/python
  endif
endif
PIP := $(PYTHON) -m pip
CONSTRAINTS := constraints.txt
PLUGIN_DIRS := $(patsubst %/setup.cfg,%,$(wildcard methods/*/setup.cfg))
PYTEST_WORKERS ?= 2

.PHONY: install demo test test-slow bench leaderboard-check leaderboard-update help

help:
	@echo "make install     install corrbench + all method plugins (editable, pinned torch)"
	@echo "make demo        install, then every method on the embedded 'synthetic' benchmark, one table (demo/)"
	@echo "make test        install, then run the test suite"
	@echo "make test-slow   the slow tests too (training runs)"
	@echo "make bench       speed/memory benchmarks, written to bench-results/"
	@echo "make leaderboard-check   re-run the embedded-benchmark rows, compare with leaderboards/"

.venv/bin/python:
	$(BASE_PYTHON) -m venv --system-site-packages .venv

install: $(VENV)
	$(PIP) install --quiet -c $(CONSTRAINTS) -e ".[test]" $(foreach dir,$(PLUGIN_DIRS),-e $(dir))

demo: install
	$(PYTHON) -m corrbench demo --out demo

test: install
	$(PYTHON) -m pytest -n $(PYTEST_WORKERS) -q

bench: install
	mkdir -p bench-results
	$(PYTHON) -m corrbench.bench --out bench-results/core.md
	for script in $(wildcard methods/*/bench_*.py); do $(PYTHON) $$script || exit 1; done

leaderboard-check: install
	$(PYTHON) -m corrbench leaderboard check

leaderboard-update: install
	$(PYTHON) -m corrbench leaderboard update

test-slow: install
	$(PYTHON) -m pytest -n $(PYTEST_WORKERS) -q -m slow
