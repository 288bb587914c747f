# The two commands a user needs: `make demo` and `make test`. Both build .venv from pyproject.toml.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python

.PHONY: venv test lint demo bench sandbox clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

lint: venv
	$(VENV)/bin/ruff check pulumi_leadterra harness tests examples benchmarks
	$(VENV)/bin/mypy

test: lint
	$(VENV)/bin/pytest -q

demo: venv
	$(PY) examples/demo.py

bench: venv
	$(PY) benchmarks/bench.py

sandbox: venv
	$(PY) -m pulumi_leadterra.sandbox --campaign camp_demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .leadterra-sandbox
