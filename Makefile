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

.PHONY: run test setup stack browser clean-state bench-slices services-up services-down containers-up containers-down

run: stack
	$(PY) run.py seed --config $(CONFIG)
	$(PY) run.py training --config $(CONFIG)

# The services stack's servers and the containers stack's engine run for the suite and are
# stopped after it (their state stays in state/services and state/containers; the images stay in
# podman's store, so a second run builds nothing). Where they cannot start, their tests skip,
# unless MLOPS_REQUIRE_SERVICES=1 (.ci/run sets it), which makes them fail instead.
test: setup browser
	@PYTHON=$(PY) stacks/containers/up --no-login || [ "$${MLOPS_REQUIRE_SERVICES:-0}" != 1 ]
	@status=0; $(PY) -m pytest || status=$$?; PYTHON=$(PY) stacks/containers/down; PYTHON=$(PY) stacks/services/down; exit $$status

# The production-like stack on this machine (stacks/services/control.py): start, log the ZenML
# client in and register the stacks; then `zenml stack set services` or `zenml stack set local`.
services-up: setup
	PYTHON=$(PY) stacks/services/up

services-down:
	PYTHON=$(PY) stacks/services/down

# Every step in its own container (stacks/containers/control.py): the services stack's servers,
# podman, a local registry, the images, and the `containers` stack; then `zenml stack set containers`.
containers-up: setup
	PYTHON=$(PY) stacks/containers/up

containers-down:
	PYTHON=$(PY) stacks/containers/down
	PYTHON=$(PY) stacks/services/down

# The dashboard test drives Debian's chromium (playwright cannot download a browser here).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; \
	  else echo "chromium is not installed: the dashboard test will skip (sudo apt-get install chromium)"; fi; }

# The project's folder is ZenML's repository root (source root of the steps). `zenml init` would
# only create this folder, after connecting to whatever store the user's client is logged in to
# (a stopped server would fail the set-up); ZenML writes .zen/config.yaml when a stack is set.
setup: $(INSTALLED) .zen

stack: setup
	$(PY) -m stacks.register local --activate

# pip byte-compiles at install (about a minute): where
# PYTHONDONTWRITEBYTECODE is set, as on this project's CI machines, nothing else would, and every
# process would compile what it imports again (tried: the suite ran minutes slower).
$(INSTALLED): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

.zen: | $(INSTALLED)
	mkdir -p .zen

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
