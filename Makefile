# Two commands matter: `make run` (local API on :3000 with an embedded database) and
# `make test` (the whole suite). `make check` is the one gate CI runs. `make` alone prints help.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= $(shell scripts/find-python.sh)
VENV := .venv
PY := $(VENV)/bin/python
TOOLS := .venv-tools
SCAN := .venv-scan
export SAM_CLI_TELEMETRY := 0

.PHONY: help check bench soak run serve stop test unit integration reliability venv tools lint sam-check scan-tools openapi-check \
        migrate seed reset reconcile purge events simulate settle sweep rds-ca invoke clean certify browser \
        verify-ledger anchor sam-local

help:  ## this list
	@echo "make run     - the local API on :3000 with an embedded PostgreSQL (first of the README's two commands)"
	@echo "make test    - the whole test suite against a real PostgreSQL (the second)"
	@echo
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  \1\t\2/' | expand -t 18

check:  ## the one gate (what CI runs): lint, OpenAPI drift, `make test`, SAM checks
	$(MAKE) lint
	$(MAKE) openapi-check
	$(MAKE) test
	$(MAKE) sam-check
	@echo "make check: all gates passed"

bench: venv  ## benchmarks against pgbench in the same run -> bench/results.md (+ PNG); about eight minutes
	$(PY) -m pip install --quiet -r requirements-bench.txt
	$(PY) -m bench $(BENCH_ARGS)

$(VENV)/.installed: requirements-dev.txt layers/common/requirements.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11+ is needed (3.12 preferred)"; exit 1; }
	@echo "Creating $(VENV) with $(PYTHON) and installing dependencies ..."
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.installed

run: venv  ## embedded PostgreSQL (or DATABASE_URL), migrate, seed, local API on :3000 (LOCALDB_TCP=docker: the database on the Docker bridge too, for sam local)
	$(PY) -m devtools run

serve: venv
	$(PY) -m devtools serve

stop: venv  ## stop the embedded PostgreSQL now (it stops by itself when its last user exits)
	$(PY) -m devtools stop

test: venv  ## the whole test suite against a real PostgreSQL
	$(PY) -m pytest

unit: venv  ## unit tests only (no database)
	$(PY) -m pytest tests/unit

integration: venv  ## handler and wallet-rule tests against a real PostgreSQL
	$(PY) -m pytest tests/integration tests/api tests/aws tests/e2e tests/provider

reliability: venv  ## faults, fuzzing, concurrency and the model-based run
	$(PY) -m pytest tests/reliability

soak: venv  ## the long reliability runs (20,000+ model-based steps, 50,000 simulated settlement rounds)
	$(PY) -m pytest -m soak tests/reliability

CASINO_URL ?= http://127.0.0.1:3000
certify: venv  ## the contract's scenario suite against the local API (`make run` first; CASINO_URL=...) -> certify-report/
	$(PY) -m devtools certify --local --casino-url $(CASINO_URL) $(CERTIFY_ARGS)

browser: venv  ## Debian's headless chromium (installed when missing) renders the round page (its test)
	command -v chromium || (apt-get update && apt-get install -y chromium)
	$(PY) -m pytest tests/tools/test_round_page_browser.py

lint: venv  ## ruff (check + format), mypy, import contract, sqlfluff
	$(PY) -m ruff check layers functions devtools tests bench
	$(PY) -m ruff format --check layers functions devtools tests bench
	$(PY) -m mypy layers/common/seamless devtools tests bench
	@for f in functions/*/*/app.py; do $(PY) -m mypy --no-error-summary $$f || exit 1; done
	PYTHONPATH=layers/common $(VENV)/bin/lint-imports
	$(VENV)/bin/sqlfluff lint sql

openapi-check: venv  ## docs/openapi.json matches the models
	$(PY) -m devtools openapi --check

$(TOOLS)/.installed: requirements-tools.txt
	@test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	@$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-tools.txt
	@touch $@

tools: $(TOOLS)/.installed

$(SCAN)/.installed: requirements-scan.txt
	@test -x $(SCAN)/bin/python || $(PYTHON) -m venv $(SCAN)
	@$(SCAN)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-scan.txt
	@touch $@

scan-tools: $(SCAN)/.installed

sam-check: tools scan-tools  ## sam validate --lint, cfn-lint, rendered-template checks, checkov and sam build (needs python3.12)
	scripts/sam-check.sh

rds-ca:  ## before `sam build` for a deploy: the RDS CA bundle into the layer (DATABASE_SSLROOTCERT)
	scripts/fetch-rds-ca.sh

migrate seed reconcile purge events simulate settle sweep: venv  ## (settle: one durable-settlement run; sweep: finish rounds left open; purge: the retention jobs)
	$(PY) -m devtools $@

reset: venv
	$(PY) -m devtools reset --local

verify-ledger anchor: venv  ## the ledger's hash chains: recompute every chain against the newest anchor; publish the heads (docs/records.md)
	$(PY) -m devtools $@

invoke: venv  ## make invoke FN=DebitFunction EVENT=events/debit.json
	$(PY) -m devtools invoke $(FN) --event $(EVENT)

clean:
	rm -rf .aws-sam .pytest_cache

sam-local: venv tools  ## the real SAM CLI in Docker: every sample event via `sam local invoke` vs ours, start-api + conformance + simulateRound (README)
	$(PY) -m devtools.samlocal
