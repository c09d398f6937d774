"""Faults against a real Chroma server (``chroma run``, killed with SIGKILL as a crash would):
during an ingest, a question, a chat-page upload and a chat-page question. Each gives one line
saying what failed and where, stores nothing twice and nothing by halves, and the same action
once the server is back completes the work."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    EXAMPLES,
    ROOT,
    SEED_DIR,
    SEED_QUESTION,
    ChromaServer,
    free_port,
    needs_shared,
    run,
    wait_for,
)

from ingest import ingest
from rag import Embedder, Library, Settings
from rag.library import open_library

pytestmark = pytest.mark.server
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


def server_library(server: ChromaServer, data_dir: Path, embedder: Embedder) -> Library:
    return open_library(settings=Settings(data_dir=data_dir, chroma_url=server.url), embedder=embedder)


def assert_whole(server: ChromaServer, data_dir: Path, embedder: Embedder, articles: int) -> None:
    """The server holds ``articles`` articles, each once, with exactly their passages, and a
    fresh client's BM25 index holds the same passages as Chroma."""
    library = server_library(server, data_dir, embedder)
    stored = library.sources()
    assert len(stored) == len({a.id for a in stored}) == articles
    assert library.store.count_chunks() == sum(a.chunks for a in stored)  # no passage without its article
    assert len(library.lexical) == library.store.count_chunks()


def one_line_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_a_server_dying_mid_ingest_is_one_line_and_the_same_command_finishes(
    chroma_server: ChromaServer, embedder: Embedder, tmp_path: Path
) -> None:
    server = chroma_server
    assert server.process is not None
    # Killed as the first group's article records are about to be written: its passages are on
    # the server, their articles not, the harshest place to stop.
    kill = ("rag.store:_article_meta", 1, f"kill:{server.process.pid}:{server.port}")
    command = ("ingest", str(EXAMPLES), "--quiet", "--chroma-url", server.url)
    died = run(*command, data_dir=tmp_path / "client", hook=kill)
    assert died.returncode == 1
    message = one_line_error(died.stderr)
    assert message.startswith(f"citewire: The Chroma server at {server.url} failed while storing articles (")
    assert "Start it again" in message and "try again: what was stored is kept" in message
    server.start()
    again = run(*command, data_dir=tmp_path / "client")
    assert again.returncode == 0, again.stderr
    assert "5 articles (5 added, 0 updated, 0 unchanged, 0 duplicates, 0 removed, 0 skipped)" in again.stdout
    assert_whole(server, tmp_path / "fresh", embedder, articles=5)
    assert run(*command, data_dir=tmp_path / "client").stdout.count("5 unchanged") == 1


def test_a_server_dying_mid_question_is_one_line_and_asking_again_answers(
    chroma_server: ChromaServer, embedder: Embedder, tmp_path: Path
) -> None:
    server = chroma_server
    assert server.process is not None
    ingest([EXAMPLES], server_library(server, tmp_path / "client", embedder), progress=False)
    kill = ("rag.store:ChromaStore.hits_for", 1, f"kill:{server.process.pid}:{server.port}")
    question = ("ask", "When did Philae land on the comet?", "--json", "--chroma-url", server.url)
    died = run(*question, data_dir=tmp_path / "client", hook=kill)
    assert died.returncode == 1
    message = one_line_error(died.stderr)
    said = {"message": message.removeprefix("citewire: "), "type": "store_unavailable"}
    assert json.loads(died.stdout) == {"error": said}
    assert message.startswith(f"citewire: The Chroma server at {server.url} failed while reading passages (")
    down = run(*question, data_dir=tmp_path / "client")  # down from the start: one line too
    assert down.returncode == 1 and f"{server.url}" in one_line_error(down.stderr)
    server.start()
    answered = run(*question, data_dir=tmp_path / "client")
    assert answered.returncode == 0, answered.stderr
    record = json.loads(answered.stdout)
    assert not record["refused"] and "Philae" in record["citations"][0]["title"]
    assert_whole(server, tmp_path / "fresh", embedder, articles=5)


def test_a_server_dying_during_a_page_upload_is_shown_and_uploading_again_stores_it_once(
    chroma_server: ChromaServer, embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gradio as gr

    from rag import store
    from ui.app import ChatPage

    server = chroma_server
    library = server_library(server, tmp_path / "client", embedder)
    real = store._article_meta

    def dying(*args: Any) -> Any:
        server.kill()
        return real(*args)

    monkeypatch.setattr(store, "_article_meta", dying)
    uploads = tmp_path / "gradio"
    page = ChatPage(library, max_upload_bytes=100_000, upload_folder=uploads)

    def uploaded(name: str) -> str:
        folder = uploads / f"{len(list(uploads.glob('*')))}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes((EXAMPLES / name).read_bytes())
        return str(folder / name)

    name = "philae-comet-landing-2014.html"
    with pytest.raises(gr.Error, match=f"The Chroma server at {server.url} failed while storing articles"):
        page.upload([uploaded(name)])
    monkeypatch.setattr(store, "_article_meta", real)
    listing = page.library_view()[0]  # the page's list says what is wrong instead of a bare error
    assert "The library cannot be listed: The Chroma server at" in listing
    server.start()
    status = page.upload([uploaded(name)])[0]
    assert "Added 1, updated 0, already present 0, skipped 0" in status
    assert "Added 0, updated 0, already present 1" in page.upload([uploaded(name)])[0]
    assert not list(uploads.rglob("*.html"))  # uploads are removed once stored, and after a failure
    assert_whole(server, tmp_path / "fresh", embedder, articles=1)


@needs_shared
def test_a_question_on_the_page_with_the_server_down_says_so_and_keeps_the_question(
    chroma_server: ChromaServer, embedder: Embedder, tmp_path: Path, browser: Any
) -> None:
    from gradio_client import Client
    from selenium.webdriver.common.by import By

    from ui.app import build_app, launch

    server = chroma_server
    library = server_library(server, tmp_path / "client", embedder)
    ingest([SEED_DIR], library, progress=False)
    app = build_app(library)
    port = free_port()
    launch(app, host="127.0.0.1", port=port, block=False)
    try:
        url = f"http://127.0.0.1:{port}/"
        browser.get(url)
        box = wait_for(lambda: browser.find_element(By.CSS_SELECTOR, "#question textarea"), what="the page")
        server.kill()
        box.send_keys(SEED_QUESTION)
        browser.find_element(By.ID, "ask").click()
        page = wait_for(
            lambda: (text := browser.find_element(By.TAG_NAME, "body").text) and server.url in text and text,
            what="the notice",
        )
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SCREENSHOTS / "store-down.png"))
        assert f"Could not answer: The Chroma server at {server.url} failed while" in page
        assert wait_for(lambda: box.get_attribute("value") == SEED_QUESTION, what="the question kept")
        assert not browser.find_elements(By.CSS_SELECTOR, "#chat .message")  # nothing half-asked shown
        assert "Error" not in browser.find_element(By.ID, "chat").text
        # The page's API says the same, where it said only that the app raised an exception.
        with pytest.raises(Exception, match=f"The Chroma server at {server.url} failed while"):
            Client(url, verbose=False).predict(SEED_QUESTION, api_name="/ask")
        server.start()
        browser.find_element(By.ID, "ask").click()
        wait_for(lambda: "[1]" in browser.find_element(By.ID, "chat").text, what="the answer once it is back")
    finally:
        app.close()
