# Two commands matter: `make run` (local API on :3000 with an embedded database) and
# `make test` (the whole suite). Everything else is a step of those or a tool.
SHELL := /bin/bash
PYTHON ?= $(shell scripts/find-python.sh)
VENV := .venv
PY := $(VENV)/bin/python
TOOLS := .venv-tools
export SAM_CLI_TELEMETRY := 0

bench: venv  ## benchmarks against pgbench in the same run -> bench/results.md (+ PNG)
	$(PY) -m pip install --quiet -r requirements-bench.txt
	$(PY) -m bench $(BENCH_ARGS)

.PHONY: bench soak run serve test venv tools lint sam-check migrate seed reset reconcile events simulate invoke clean

$(VENV)/.installed: requirements-dev.txt layers/common/requirements.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is needed (3.12 preferred)"; exit 1; }
	@echo "Creating $(VENV) with $(PYTHON) and installing dependencies ..."
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.installed

run: venv  ## embedded PostgreSQL (or DATABASE_URL), migrate, seed, local API on :3000
	$(PY) -m devtools run

serve: venv
	$(PY) -m devtools serve

test: venv  ## the whole test suite against a real PostgreSQL
	$(PY) -m pytest

soak: venv  ## the long reliability run (20,000+ model-based steps)
	$(PY) -m pytest -m soak tests/reliability

lint: venv
	$(PY) -m ruff check layers functions devtools tests
	$(PY) -m mypy layers/common/wallet_common devtools

$(TOOLS)/.installed: requirements-tools.txt
	@test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	@$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-tools.txt
	@touch $@

tools: $(TOOLS)/.installed

sam-check: tools  ## sam validate --lint, cfn-lint and sam build (needs python3.12)
	scripts/sam-check.sh

migrate seed reconcile events simulate: venv
	$(PY) -m devtools $@

reset: venv
	$(PY) -m devtools reset --local

invoke: venv  ## make invoke FN=DebitFunction EVENT=events/debit.json
	$(PY) -m devtools invoke $(FN) --event $(EVENT)

clean:
	rm -rf .aws-sam .pytest_cache
