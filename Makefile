# Two commands on a fresh machine: `make chat` runs the product, `make test` runs the checks.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.citewire-installed
DEMO_DIR ?= .citewire/demo
CHAT_DIR ?= .citewire/library
PORT ?= 7860
QUESTION ?= What did Xi say about multilateral governance?
# Where the CPU build of torch comes from: here, the machine's pip configuration (a local wheel);
# elsewhere, e.g. TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu".
TORCH_PIP_ARGS ?=

.PHONY: install chat demo test lint browser clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned: the local CPU wheel, never a CUDA build.
	$(BIN)/python -m pip install --quiet $(TORCH_PIP_ARGS) torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

chat: install
	$(BIN)/citewire chat --data-dir $(CHAT_DIR) --examples examples/articles --port $(PORT)

demo: install
	$(BIN)/citewire ingest examples/articles --data-dir $(DEMO_DIR)
	$(BIN)/citewire ask "$(QUESTION)" --data-dir $(DEMO_DIR)

lint: install
	$(BIN)/ruff check rag ingest ui eval tests bench
	$(BIN)/ruff format --check rag ingest ui eval tests bench
	$(BIN)/mypy

# The page's tests drive Debian's Chromium; install it when it is missing (needs root or sudo).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  SUDO=$$(command -v sudo || true); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }

test: lint browser
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .citewire .pytest_cache .mypy_cache .ruff_cache
