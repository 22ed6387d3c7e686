# One entry point for people and CI. `make test` is the contract: it works on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV       ?= .venv
PY         := $(VENV)/bin/python
BOOTSTRAP  ?= $(shell command -v python3.11 || command -v python3)
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

# `sam build` needs the Lambda runtime's interpreter (python3.13) on PATH. Prefer one already on PATH that
# really runs, else the newest pyenv 3.13.x.
PY313_BIN := $(shell \
  if python3.13 -c 'import sys' >/dev/null 2>&1; then dirname "$$(python3.13 -c 'import sys; print(sys.executable)')"; \
  else ls -d "$$(pyenv root 2>/dev/null || echo $$HOME/.pyenv)"/versions/3.13*/bin 2>/dev/null | sort -V | tail -n 1; fi)

.PHONY: help dev lint pytest unit integration e2e test cfn-lint validate build demo reliability bench mutation clean

help: ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(BOOTSTRAP) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

dev: $(VENV)/.installed ## create .venv and install everything

lint: dev ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

pytest: dev ## pytest: every test folder, on all cores
	$(VENV)/bin/pytest --numprocesses auto

unit: dev ## the decisions on plain data, no AWS (tests/unit)
	$(VENV)/bin/pytest --numprocesses auto tests/unit

integration: dev ## handlers, the state machine, the CLI, the fakes and the templates against moto
	$(VENV)/bin/pytest --numprocesses auto tests/integration tests/statemachine tests/cli tests/sandbox tests/infra

e2e: dev ## the sandbox end to end: the demo scenario, replay, reliability at small size
	$(VENV)/bin/pytest --numprocesses auto tests/e2e tests/reliability

# cfn-lint with the serverless rules (cfn-lint-serverless). Two of them cannot see what this template does and are
# off: ES1007 looks for AWS::Lambda::EventInvokeConfig resources, not SAM's EventInvokeConfig property; WS1004 cannot
# match a log group named with !Sub to its function. tests/infra checks both properties on every function instead.
cfn-lint: dev ## cfn-lint (with the serverless rules) on both templates
	$(VENV)/bin/cfn-lint template.yaml accounts/workload-account.yaml \
		--append-rules cfn_lint_serverless.rules --ignore-checks ES1007 WS1004

validate: dev ## sam validate --lint (offline)
	$(VENV)/bin/sam validate --lint --template template.yaml

build: dev ## sam build without Docker (needs python3.13)
	@if [ -z "$(PY313_BIN)" ]; then \
	  echo "error: sam build needs python3.13 on PATH (the Lambda runtime) and none was found."; \
	  echo "       install one (e.g. 'pyenv install 3.13') or put its bin folder on PATH."; exit 1; fi
	PATH="$(PY313_BIN):$$PATH" $(VENV)/bin/sam build --template template.yaml --parallel --cached

test: lint pytest cfn-lint validate build ## everything CI runs

demo: dev ## run the whole lifecycle locally (moto, four accounts, no AWS, no Docker)
	$(PY) -m sandbox demo

bench: dev build ## performance table: cold init, warm latency, HPO burst, deployment cost, sizes (about 15 min)
	PY313_BIN="$(PY313_BIN)" $(PY) -m benchmarks.run

reliability: dev ## the lifecycle under duplicates, faults and hostile input; prints the figures (< 5 min)
	$(PY) -m tests.reliability.runner --size full

# Mutation testing of the decision code (tests/mutation/runner.py; what is mutated: tests/mutation/mutation.toml).
# Not part of `make test`: a coverage pass of the suite, then each mutant judged by the tests that run its line.
# SAMPLE=N judges a seeded random sample of N mutants; JOBS mutants run at once; AGAIN=1 judges again only what the
# last run left alive or could not judge (after adding tests). Fails below 90% in total or 80% in any module, or on
# a mutant the runner could not judge.
SAMPLE ?=
JOBS   ?= 2
AGAIN  ?=
mutation: dev ## mutation testing of the decision code (SAMPLE=150: a seeded sample, < 30 min on 2 cores)
	PYTHONPATH=layers/lifecycle:. $(PY) -m tests.mutation.runner --jobs $(JOBS) $(if $(SAMPLE),--sample $(SAMPLE)) \
		$(if $(AGAIN),--again)

clean: ## remove build output and the venv
	rm -rf .aws-sam $(VENV)
