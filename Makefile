# minidl: make reproduce | make test | make lint | make bench | make notebooks | make lab
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export MPLBACKEND := agg

.PHONY: install test unit lint reproduce bench notebooks lab clean

install: $(STAMP)

# The venv is (re)built whenever the project's dependencies change.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]" -c constraints.txt
	touch $(STAMP)

test: $(STAMP)  ## unit tests, then every notebook under nbval
	$(BIN)/python -m pytest --nbval --nbval-current-env

unit: $(STAMP)  ## unit tests only
	$(BIN)/python -m pytest tests

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

reproduce: $(STAMP)  ## the report's 100-run table
	$(BIN)/python -m minidl reproduce

bench: $(STAMP)  ## minidl replicas and loop against torch.nn on the same work
	$(BIN)/python benchmarks/bench_reproduce.py

notebooks: $(STAMP)  ## re-execute every notebook in place (refreshes nbval's expected outputs)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.kernel_name=python3 notebooks/*.ipynb

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
