# Two commands on a fresh machine: `make demo` runs the product, `make test` runs the checks.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.citewire-installed
DEMO_DIR ?= .citewire/demo
QUESTION ?= What did Xi say about multilateral governance?

.PHONY: install demo test lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned: the local CPU wheel, never a CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/citewire ingest examples/articles --data-dir $(DEMO_DIR)
	$(BIN)/citewire ask "$(QUESTION)" --data-dir $(DEMO_DIR)

lint: install
	$(BIN)/ruff check rag ingest ui eval tests
	$(BIN)/ruff format --check rag ingest ui eval tests
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .citewire .pytest_cache .mypy_cache .ruff_cache
