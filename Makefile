# The two commands a user needs: `make demo` and `make test`. Both build .venv from pyproject.toml.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: venv test test-floor lint demo bench sandbox engine engine-if-possible node node-if-possible schema sdk plugin clean

$(VENV)/.installed: pyproject.toml sdk/python/setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	# The generated Python SDK of the native plugin, installed as its users install it.
	$(PY) -m pip install --quiet --no-deps ./sdk/python
	touch $@

venv: $(VENV)/.installed

lint: venv
	$(VENV)/bin/ruff check pulumi_leadterra harness tests examples benchmarks
	$(VENV)/bin/mypy

# The real engine when it can be had (found, downloaded with checksums, or built), so that a fresh
# clone runs the real-engine suite too; when none can be had, the tests run without it and the
# last line says how many real-engine tests did not run. (.ci/run builds it first and requires it.)
engine-if-possible:
	@engine/build.sh || echo "make test: no Pulumi engine could be had (see above); the real-engine tests will not run"

# Node.js for the TypeScript SDK and its tests: @pulumi/pulumi (3.270 and later, the versions the
# Node.js SDK depends on) requires Node.js 22 ("engines": {"node": ">=22"}), newer than some
# machines have, so the suite uses this one, from npm's `node` package, in .node/ (harness/sdks.py
# puts it first on PATH). Without npm the TypeScript tests fail and say to run make node.
NODE_VERSION := 22.23.3
NODE := .node/node_modules/.bin/node

$(NODE):
	npm install --prefix .node --no-audit --no-fund --loglevel=error node@$(NODE_VERSION)

node: $(NODE)

node-if-possible:
	@if command -v npm >/dev/null; then $(MAKE) --no-print-directory node; \
	else echo "make test: no npm, so no Node.js $(NODE_VERSION): the TypeScript tests will fail"; fi

test: lint engine-if-possible node-if-possible
	@# Our language hosts' shared code has Go tests of its own (run wherever Go is installed).
	@if command -v go >/dev/null; then cd engine/cli && go test ./internal/...; fi
	@rm -f .pytest_cache/leadterra-e2e-skipped
	@$(VENV)/bin/pytest -q; status=$$?; \
	if [ -s .pytest_cache/leadterra-e2e-skipped ]; then \
	  echo "make test: $$(cat .pytest_cache/leadterra-e2e-skipped) real-engine tests did not run: no Pulumi CLI (make engine says why)"; \
	fi; exit $$status

# The protocol, day-2 and contract suites on the lowest pulumi SDK pyproject.toml declares.
PULUMI_FLOOR := $(shell sed -n 's/^ *"pulumi>=\([0-9.]*\),<4",/\1/p' pyproject.toml)
FLOOR_VENV := .venv-floor

$(FLOOR_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(FLOOR_VENV)
	$(FLOOR_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(FLOOR_VENV)/bin/python -m pip install --quiet -e '.[dev]' 'pulumi==$(PULUMI_FLOOR)'
	touch $@

test-floor: $(FLOOR_VENV)/.installed
	@echo "protocol suites on pulumi==$(PULUMI_FLOOR), the declared floor"
	$(FLOOR_VENV)/bin/pytest -q -p no:cacheprovider tests/test_engine_protocol.py tests/test_day2.py tests/test_engine_contract.py

demo: venv engine
	$(PY) examples/demo.py

bench: venv
	$(PY) benchmarks/bench.py

# A Pulumi CLI of the version in .pulumi.version, with its python and yaml hosts, in
# .pulumi-cli/bin: found, downloaded, or built from Pulumi's Go modules (engine/build.sh).
engine:
	engine/build.sh

# The plugin's schema as a file (provider/schema.json), and the SDKs generated from it by the real
# `pulumi package gen-sdk` (under sdk/; a test regenerates them and fails on any difference).
SDK_LANGUAGES ?= python nodejs go

schema: venv
	$(PY) -c "import json; from pulumi_leadterra.schema import SCHEMA; print(json.dumps(SCHEMA, indent=2, sort_keys=True))" > provider/schema.json

sdk: schema engine
	for language in $(SDK_LANGUAGES); do \
	  rm -rf sdk/$$language; \
	  PULUMI_SKIP_UPDATE_CHECK=1 .pulumi-cli/bin/pulumi package gen-sdk provider/schema.json --language $$language --out sdk || exit 1; \
	done

# The plugin archive a user of any language installs with `pulumi plugin install` (dist/).
plugin: venv
	engine/plugin-archive.sh

sandbox: venv
	$(PY) -m pulumi_leadterra.sandbox --campaign camp_demo --campaign camp_legacy=running

clean:
	rm -rf $(VENV) $(FLOOR_VENV) .node .pytest_cache .mypy_cache .ruff_cache .leadterra-sandbox
