# corrbench developer entry points.  `make demo` and `make test` are the README's two commands.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
CONSTRAINTS := constraints.txt
PLUGIN_DIRS := $(patsubst %/setup.cfg,%,$(wildcard methods/*/setup.cfg))
PYTEST_WORKERS ?= 2

.PHONY: install demo test test-slow bench leaderboard-check leaderboard-update help

help:
	@echo "make install     install corrbench + all method plugins (editable, pinned torch)"
	@echo "make demo        install, then run the main job on the embedded 'synthetic' benchmark"
	@echo "make test        install, then run the test suite"
	@echo "make test-slow   the slow tests too (training runs)"
	@echo "make bench       speed/memory benchmarks, written to bench-results/"
	@echo "make leaderboard-check   re-run the embedded-benchmark rows, compare with leaderboards/"

install:
	$(PIP) install --quiet -c $(CONSTRAINTS) -e ".[test]" $(foreach dir,$(PLUGIN_DIRS),-e $(dir))

demo: install
	corrbench run --method feature-nn --dataset synthetic --no-leaderboard

test: install
	$(PYTHON) -m pytest -n $(PYTEST_WORKERS) -q

bench: install
	mkdir -p bench-results
	$(PYTHON) -m corrbench.bench --out bench-results/core.md
	for script in $(wildcard methods/*/bench_*.py); do $(PYTHON) $$script || exit 1; done

leaderboard-check: install
	corrbench leaderboard check

leaderboard-update: install
	corrbench leaderboard update

test-slow: install
	$(PYTHON) -m pytest -n $(PYTEST_WORKERS) -q -m slow
