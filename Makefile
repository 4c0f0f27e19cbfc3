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

.PHONY: run test setup stack clean-state

run: stack
	$(PY) run.py seed --config $(CONFIG)
	$(PY) run.py training --config $(CONFIG)

test: setup
	$(PY) -m pytest

setup: $(INSTALLED) .zen

stack: setup
	$(PY) -m stacks.register local --activate

$(INSTALLED): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

.zen: | $(INSTALLED)
	$(VENV)/bin/zenml init

# Removes the local stack's data (artifacts, MLflow, demo database); ZenML's own store is kept.
clean-state:
	rm -rf state
