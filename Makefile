# Two commands on a fresh machine: `make chat` runs the product, `make test` runs the checks.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.citewire-installed
DEMO_DIR ?= .citewire/demo
CHAT_DIR ?= .citewire/library
PORT ?= 7860
QUESTION ?= What did Xi say about multilateral governance?
# The news quizzes the reader learns from (citewire train); realtimeqa-dev stays the check.
QUIZZES ?= ../shared/data/realtimeqa-2023
# Where the CPU build of torch comes from: here, the machine's pip configuration (a local wheel);
# elsewhere, e.g. TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu".
TORCH_PIP_ARGS ?=
# llama-cpp-python builds from source. A native build (-march=native) crashed on its first decode
# on a CPU with AMX; this one runs on any x86-64 CPU with AVX2 (override for others).
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_BF16=OFF

.PHONY: install chat demo train docs test lint browser clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned: the local CPU wheel, never a CUDA build.
	$(BIN)/python -m pip install --quiet $(TORCH_PIP_ARGS) torch==2.13.0
	# Built here with the flags above, never taken from pip's cache of an earlier build (about 5 min).
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install --quiet --no-cache-dir \
	  'llama-cpp-python[server]>=0.3.16,<0.4'
	$(BIN)/python -m pip install --quiet -e '.[dev,llm]'
	touch $(STAMP)

chat: install
	$(BIN)/citewire chat --data-dir $(CHAT_DIR) --examples examples/articles --port $(PORT)

demo: install
	$(BIN)/citewire ingest examples/articles --data-dir $(DEMO_DIR)
	$(BIN)/citewire ask "$(QUESTION)" --data-dir $(DEMO_DIR)

# Ingests the quizzes' articles once (reused after), then collects, cross-validates and fits.
train: install
	$(BIN)/citewire train --articles $(QUIZZES)/articles.jsonl --questions $(QUIZZES)/questions.jsonl \
	  --out runs/train

# docs/settings.md from the Settings fields' docstrings and the commands' flags.
docs: install
	$(BIN)/python -m ui.settings_doc --write

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
