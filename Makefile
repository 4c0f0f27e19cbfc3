# The two commands of the README's quick start, and the set-up they share.
#   make run    set up, then run the medical-cost training pipeline on the `local` stack
#   make test   set up, then run the whole test suite
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
CONFIG ?= configs/insurance.yaml

# Telemetry off (no internet here; it would stall) and one thread per process on small machines.
export ZENML_ANALYTICS_OPT_IN := false
export DISABLE_DEEPCHECKS_ANONYMOUS_TELEMETRY := 1
export GE_USAGE_STATS := FALSE
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
export OMP_NUM_THREADS := 1
export OMP_WAIT_POLICY := PASSIVE

.PHONY: run test setup stack browser clean-state bench-slices

run: stack
	$(PY) run.py seed --config $(CONFIG)
	$(PY) run.py training --config $(CONFIG)

test: setup browser
	$(PY) -m pytest

# The dashboard test drives Debian's chromium (playwright cannot download a browser here).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; \
	  else echo "chromium is not installed: the dashboard test will skip (sudo apt-get install chromium)"; fi; }

setup: $(INSTALLED) .zen

stack: setup
	$(PY) -m stacks.register local --activate

$(INSTALLED): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

.zen: | $(INSTALLED)
	$(VENV)/bin/zenml init

# Benchmarks (never part of `make test`): figures are printed and written to benchmarks/results/.
.venv-sliceline/.installed: benchmarks/requirements-sliceline.txt
	@test -x .venv-sliceline/bin/python || $(PYTHON) -m venv .venv-sliceline
	.venv-sliceline/bin/python -m pip install --quiet --disable-pip-version-check -r benchmarks/requirements-sliceline.txt
	@touch $@

bench-slices: setup .venv-sliceline/.installed
	$(PY) benchmarks/slices.py

# Removes the local stack's data (artifacts, MLflow, demo database); ZenML's own store is kept.
clean-state:
	rm -rf state
