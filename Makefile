# Fieldwarden developer commands. Each target creates .venv when it is missing, so a fresh
# clone needs only Python 3.11+, make and git.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-test

.PHONY: demo test lint bench reliability clean venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test,tryton]'
	touch $(VENV)/.installed $@

venv: $(VENV)/.installed

demo: $(VENV)/.installed
	@rm -f config/demo.db config/demo-alerts.jsonl
	$(BIN)/fieldwarden --log-level warning reconcile -c config/demo.yaml --no-alerts; \
	  code=$$?; if [ $$code -le 1 ]; then echo "demo: reconcile finished (exit $$code: planted conflicts found)"; exit 0; fi; exit $$code

lint: $(STAMP)
	$(BIN)/ruff check detector connectors tests bench
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q -m "not slow"

# Bytecode is compiled up front, as a wheel install does, so that every timed process start
# measures Fieldwarden rather than the compiler (PYTHONDONTWRITEBYTECODE would otherwise make
# each start recompile the editable install's modules).
bench: $(VENV)/.installed
	$(BIN)/python -m compileall -q detector connectors bench
	$(BIN)/python -m bench.run

reliability: $(STAMP)
	$(BIN)/pytest -q tests/reliability
	$(BIN)/python -m tests.reliability.figures

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
