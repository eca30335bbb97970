# The Makefile is the interface: every target is one line a newcomer can read.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CDK    := node_modules/.bin/cdk
LOCKS  := requirements/dev.txt requirements/runtime.txt
CHROMIUM := /usr/bin/chromium
# jsii warns on every synth that Node 20 is past end of life; the pinned CDK still supports it.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: setup demo test unit lint format synth deploy bench bench-burst lock clean

setup: $(STAMP) $(CHROMIUM)  ## create .venv and install everything from the lock files (Python, the pinned CDK CLI, Debian's chromium)

$(STAMP): pyproject.toml $(LOCKS) package.json package-lock.json
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==26.3
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(STAMP)

# The browser tests (tests/browser) drive Debian's chromium through Playwright, which never downloads a browser here.
$(CHROMIUM):
	@if [ "$$(id -u)" != 0 ]; then echo "make setup: $(CHROMIUM) is missing; as root: apt-get install -y --no-install-recommends chromium (tests/browser need it)"; \
	else export DEBIAN_FRONTEND=noninteractive; apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
	|| { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }; fi

demo: $(STAMP)  ## the whole automation, locally, event by event
	$(BIN)/registrar demo

test: $(STAMP) $(CHROMIUM)  ## every test: unit, integration, infrastructure, e2e, reliability, bad input, browser
	$(BIN)/python -m pytest -n auto --dist loadfile

unit: $(STAMP)  ## the inner loop: unit tests only (no emulator, no synth, no demo)
	$(BIN)/python -m pytest tests/unit -q

lint: $(STAMP)  ## ruff check, ruff format --check, mypy (functions, tools, infra, tests, bench)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

synth: $(STAMP)  ## synthesize cdk.out/ offline, with cdk-nag, then cfn-lint every template
	PATH="$(CURDIR)/$(BIN):$$PATH" $(CDK) synth --quiet
	$(BIN)/cfn-lint cdk.out/*.template.json

deploy: synth  ## cdk deploy (needs AWS credentials); with several accounts, STACKS=Registrar, then each forwarder
	PATH="$(CURDIR)/$(BIN):$$PATH" $(CDK) deploy --app cdk.out $(STACKS)

bench: $(STAMP)  ## benchmarks: figures printed beside their budgets
	$(BIN)/python -m bench

bench-burst: $(STAMP)  ## 1,000 events with duplicates, faults and 4 workers through the local topology
	$(BIN)/python -m bench.burst

lock: $(STAMP)  ## re-resolve requirements/*.txt from pyproject.toml (needs PyPI)
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 --generate-hashes -q -o requirements/dev.txt
	$(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes -q -c requirements/dev.txt -o requirements/runtime.txt

clean:
	rm -rf $(VENV) node_modules cdk.out .build .pytest_cache .mypy_cache .ruff_cache
