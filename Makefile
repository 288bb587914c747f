# The two commands a user needs: `make demo` and `make test`. Both build .venv from pyproject.toml.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: venv test test-floor lint demo bench sandbox engine engine-if-possible node node-if-possible schema sdk plugin plugin-lock release bench-plugin-builds clean

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

# This machine's plugin archive (the plugin frozen by PyInstaller: an executable and its
# _internal/ folder, no Python needed where it runs), with the package's wheel, into $(DIST).
# PyInstaller builds for the machine it runs on only: the release workflow runs this on one
# runner per platform and hands the archives to `make release PLUGINS=<folder>`.
DIST ?= dist

plugin: venv
	$(PY) -m harness.release --dist $(DIST) plugin

# The plugin's dependencies, and PyInstaller's, pinned with sha256 hashes for every platform and
# Python >= 3.11 (engine/plugin-requirements.txt, engine/freeze-requirements.txt; pip installs
# them in hash-checking mode).
plugin-lock: venv
	$(VENV)/bin/uv pip compile pyproject.toml --universal --generate-hashes --python-version 3.11 \
	  --quiet --custom-compile-command "make plugin-lock" -o engine/plugin-requirements.txt
	$(VENV)/bin/uv pip compile engine/freeze-requirements.in --universal --generate-hashes --python-version 3.11 \
	  --quiet --custom-compile-command "make plugin-lock" -o engine/freeze-requirements.txt

# Every artifact of a release, from the one version in pulumi_leadterra/_version.py, into $(DIST)
# with a sha256 checksums file (harness/release.py lists them; docs/release.md). Plugin archives
# of other platforms come from PLUGINS=<folder>; PLATFORMS=linux-amd64 releases this one only.
# The release workflow runs this after the tests; tests/e2e/test_release_rehearsal.py too.
release: venv
	$(PY) -m harness.release --dist $(DIST) $(if $(PLUGINS),--plugins $(PLUGINS)) $(if $(PLATFORMS),--platforms $(PLATFORMS))

# The plugin archive as shipped (PyInstaller) against a python-runtime archive of the same pins:
# sizes, install times, cold start (docs/release.md has the figures of record).
bench-plugin-builds: venv engine
	$(PY) benchmarks/plugin_builds.py

sandbox: venv
	$(PY) -m pulumi_leadterra.sandbox --campaign camp_demo --campaign camp_legacy=running

clean:
	rm -rf $(VENV) $(FLOOR_VENV) .node .venv-freeze .release.lock .pytest_cache .mypy_cache .ruff_cache .leadterra-sandbox
