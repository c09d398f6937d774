"""The chat page: served by Gradio on loopback, driven through its API and a real headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, SEED_DIR, SEED_QUESTION, bbc_slice, free_port, needs_shared, wait_for

from ingest import ingest
from rag import Embedder, Library, Settings
from rag.library import open_library

pytestmark = needs_shared
SEED_TITLE = "China's Xi calls for cooperation on Internet regulation"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
PAYLOAD_TITLE = "Harbour festival <script>window.__xss = 1</script> draws crowds"
PAYLOAD_TEXT = (
    PAYLOAD_TITLE + "\n\n"
    "Published: 2015-06-01\n\n"
    "The harbour festival opened with a parade of boats, and a banner read "
    '<img src=x onerror="window.__xss = 2">.\n\n'
    "Organisers said the lantern parade along the harbour festival route drew about 4,000 visitors.\n"
)


@pytest.fixture(scope="module")
def ui_library(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Library:
    folder = tmp_path_factory.mktemp("ui-articles")
    (folder / "harbour.txt").write_text(PAYLOAD_TEXT)
    library = open_library(settings=Settings(data_dir=tmp_path_factory.mktemp("ui-lib")), embedder=embedder)
    report = ingest([SEED_DIR, folder, *bbc_slice(6)], library, progress=False)
    assert report.skipped == 0
    return library


@pytest.fixture(scope="module")
def served(ui_library: Library) -> Iterator[str]:
    from ui.app import build_app, launch

    app = build_app(ui_library, max_upload_mb=1)
    port = free_port()
    launch(app, host="127.0.0.1", port=port, max_upload_mb=1, block=False)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()


def test_api_serves_the_answer_record(served: str) -> None:
    from gradio_client import Client

    client = Client(served, verbose=False)
    record = client.predict(SEED_QUESTION, api_name="/ask")
    assert set(record) >= {"answer", "refused", "citations"}
    assert record["refused"] is False
    assert record["citations"][0]["n"] == 1
    assert record["citations"][0]["title"] == SEED_TITLE
    assert "multilateral" in record["citations"][0]["quote"]
    refused = client.predict("Who won the 2022 FIFA World Cup?", api_name="/ask")
    assert refused["refused"] is True and refused["citations"] == []
    # No top_k means the default. Until ends a date range, as in the chat and as --until does:
    # like Since, it leaves out undated articles, and the seed article gives no date.
    assert client.predict(SEED_QUESTION, None, api_name="/ask")["citations"][0]["title"] == SEED_TITLE
    assert client.predict(SEED_QUESTION, None, "", "2030-01-01", api_name="/ask")["refused"] is True
    # The HTTP API's limit on a question's length holds here too, with the same figure.
    with pytest.raises(Exception, match="at most 4,000"):
        client.predict("Why? " * 1_000, api_name="/ask")


WATCH_BOT = """
window.__seen = [];
const chat = document.getElementById('chat');
new MutationObserver(() => {
  const bots = chat.querySelectorAll('.message.bot, [data-testid="bot"]');
  if (bots.length) window.__seen.push(bots[bots.length - 1].innerText);
}).observe(chat, {childList: true, subtree: true, characterData: true});
"""


def bot_messages(driver: Any) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#chat .message.bot, #chat [data-testid=\"bot\"]'))"
        ".map(e => e.innerText)"
    )


def ask(driver: Any, question: str, count: int) -> str:
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.CSS_SELECTOR, "#question textarea")
    box.clear()
    box.send_keys(question)
    driver.find_element(By.ID, "ask").click()

    def settled() -> str | None:
        messages = bot_messages(driver)
        busy = ("Searching", "Loading content")
        last = messages[-1] if len(messages) >= count else ""
        if last and not any(b in last for b in busy) and not last.endswith("…"):
            return last
        return None

    return str(wait_for(settled, what=f"answer to {question!r}"))


def test_page_end_to_end(served: str, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver = browser
    driver.get(served)
    wait_for(lambda: driver.find_element(By.CSS_SELECTOR, "#question textarea"), what="the page")
    driver.execute_script(WATCH_BOT)

    # The seed question: streamed answer with [1], source card 1 on the seed article.
    answer = ask(driver, SEED_QUESTION, 1)
    assert "[1]" in answer and "multilateral" in answer
    seen = driver.execute_script("return window.__seen")
    assert len(set(seen)) >= 2, "the answer did not stream in"
    assert any("Searching" in s or s.endswith("…") for s in seen)
    driver.save_screenshot(str(SCREENSHOTS / "answer.png"))
    link = driver.find_element(By.CSS_SELECTOR, '#chat a[href$="#source-0-1"]')
    link.click()
    card = wait_for(
        lambda: driver.execute_script(
            "const c = document.getElementById('source-0-1'); return c && c.open && c"
        ),
        what="source card 1 to open",
    )
    assert SEED_TITLE in card.find_element(By.TAG_NAME, "summary").text
    mark = card.find_element(By.CSS_SELECTOR, "mark.cw-quote")
    assert mark.is_displayed() and "multilateral approach" in mark.text
    driver.save_screenshot(str(SCREENSHOTS / "source-open.png"))
    # Every [n] opens the card holding quote n; quotes of one passage share one card.
    for link in driver.find_elements(By.CSS_SELECTOR, '#chat a[href*="#source-0-"]'):
        target = link.get_attribute("href").split("#")[-1]
        link.click()
        focused = (
            f"const t = document.getElementById('{target}'), c = t && t.closest('details.cw-card');"
            "return Boolean(c && c.open && c.classList.contains('cw-focus'))"
        )
        wait_for(lambda: driver.execute_script(focused), what=f"the card of {target}")  # noqa: B023
    passages = driver.execute_script(
        "return Array.from(document.querySelectorAll('details.cw-turn[data-turn=\"0\"] .cw-passage'))"
        ".map(p => p.innerText)"
    )
    assert passages and len(passages) == len(set(passages)), passages

    # A follow-up resolved against the conversation answers from the same article.
    follow = ask(driver, "What else did he say about it?", 2)
    assert "[1]" in follow
    titles = driver.execute_script(
        "return Array.from(document.querySelectorAll('details.cw-turn[data-turn=\"1\"] .cw-card summary'))"
        ".map(s => s.innerText)"
    )
    assert titles and all(SEED_TITLE in t for t in titles), titles

    # Article text is shown as text: the payloads appear and run nothing.
    payload = ask(driver, "What happened at the harbour festival parade of boats?", 3)
    assert "<img src=x onerror=" in payload
    panel = driver.find_element(By.ID, "sources").text
    assert "<script>window.__xss = 1</script>" in panel
    assert driver.execute_script("return window.__xss") is None
    driver.save_screenshot(str(SCREENSHOTS / "payload-as-text.png"))

    # The conversation survives a reload.
    driver.refresh()
    restored = wait_for(
        lambda: any("harbour" in m for m in bot_messages(driver)) and bot_messages(driver),
        what="the restored conversation",
    )
    assert "multilateral" in restored[0]
    assert "Q3:" in driver.find_element(By.ID, "sources").text

    # The chat box's own Clear button starts a new conversation, as "New conversation" does:
    # nothing of the old one steers the next answer or comes back with a reload.
    clear = driver.execute_script(
        "return Array.from(document.querySelectorAll('#chat button'))"
        ".find(b => /clear/i.test(b.getAttribute('aria-label') || b.title || ''))"
    )
    assert clear is not None, "the chat box's Clear button"
    clear.click()
    wait_for(lambda: not bot_messages(driver) and "Q3:" not in driver.find_element(By.ID, "sources").text,
             what="the cleared conversation")  # fmt: skip
    driver.refresh()
    wait_for(lambda: driver.find_element(By.CSS_SELECTOR, "#question textarea"), what="the page")
    fresh = ask(driver, "What did Xi say about multilateral governance?", 1)
    assert "multilateral" in fresh
    panel = driver.find_element(By.ID, "sources").text
    assert "Q1:" in panel and "Q4:" not in panel  # Q4 had the old conversation come back

    # A typed link shows as typed and links where it points (a backslash used to end the link).
    typed = "Is this (http://example.org/a_b?x=1&y=2) in the *articles*?"
    ask(driver, typed, 2)
    said = driver.execute_script(
        "const u = document.querySelectorAll('#chat .message.user, #chat [data-testid=\"user\"]');"
        "const last = u[u.length - 1]; const a = last.querySelector('a');"
        "return [last.innerText, a && a.getAttribute('href')]"
    )
    assert said == [typed, "http://example.org/a_b?x=1&y=2"], said

    # Upload a file: it is listed; the same file again adds nothing.
    article = tmp_path / "canal-boats.md"
    article.write_text(
        "---\ntitle: Canal boat owners celebrate restored locks\npublished: 2016-05-02\n---\n"
        "Boat owners gathered on Saturday to celebrate the reopening of three restored canal locks.\n"
    )
    driver.execute_script(
        "document.querySelector('#library-panel button, #library-panel .label-wrap').click()"
    )
    upload = wait_for(
        lambda: driver.find_element(By.CSS_SELECTOR, "#upload input[type=file]"), what="upload box"
    )
    upload.send_keys(str(article))
    status = wait_for(
        lambda: (
            "Added" in driver.find_element(By.ID, "upload-status").text
            and driver.find_element(By.ID, "upload-status").text
        ),
        what="the upload result",
    )
    assert "Added 1" in status
    wait_for(lambda: "Canal boat owners" in driver.find_element(By.ID, "library").text, what="the listing")
    # A phone-width window reads the whole listing, ids too, without scrolling sideways.
    size = driver.get_window_size()
    driver.set_window_size(500, size["height"])
    overflow = "const e = document.getElementById('library'); return e.scrollWidth - e.clientWidth"
    assert wait_for(lambda: driver.execute_script(overflow) <= 1 and "fits", what="a narrow listing")
    driver.set_window_size(size["width"], size["height"])
    driver.save_screenshot(str(SCREENSHOTS / "upload.png"))
    upload = driver.find_element(By.CSS_SELECTOR, "#upload input[type=file]")
    upload.send_keys(str(article))
    wait_for(
        lambda: "already present 1" in driver.find_element(By.ID, "upload-status").text,
        what="the second upload",
    )
    # Gradio's copies of the uploads are gone once stored.
    import gradio as gr

    assert not list(Path(gr.utils.get_upload_folder()).rglob(article.name))


def test_library_panel_uploads_rejects_oversize_and_deletes(ui_library: Library, tmp_path: Path) -> None:

    from ui.app import EMPTY_CHAT, ChatPage

    page = ChatPage(ui_library, max_upload_bytes=2_000)
    good = tmp_path / "market.md"
    good.write_text(
        "---\ntitle: Farmers market moves indoors\n---\nThe weekly market moved into the old hall.\n"
    )
    big = tmp_path / "huge.txt"
    big.write_text("word " * 1_000)
    status = page.upload([str(good), str(big)])[0]
    # The files are named, since the line stays after a later upload the browser refuses.
    assert status.startswith('<div class="cw-upload"><p>Uploaded market.md, huge.txt. Added 1, ')
    assert "Added 1" in status and "skipped 1" in status and "; 1 passage indexed." in status
    assert "huge.txt: file is 0.005 MB, over the 0.002 MB upload limit" in status
    assert "Added 0" in page.upload([str(good)])[0]
    assert good.exists()  # a file outside Gradio's upload folder is never removed
    listed = {a.title: a.id for a in ui_library.sources()}
    assert "Farmers market moves indoors" in listed
    status, listing, *_ = page.delete(listed["Farmers market moves indoors"])
    assert "Deleted Farmers market moves indoors." in status and "Farmers market" not in listing
    # Delete with no article chosen says so in the panel's status line (an error raised would
    # cover the panel with error badges until each is closed).
    status, listing, *_ = page.delete(None)
    assert "Choose an article to delete first." in status and "Farmers market" not in listing
    # A bad date or an over-long question: a notice, the conversation kept in view, and the
    # question back in its box to mend (raised, they covered both with error badges).
    chat = {"messages": [{"role": "user", "content": "Earlier?"}], "turns": [], "answers": []}
    for question, since, said in (("When?", "April 2015", "Since must be a date"),
                                  ("Why? " * 1_000, "", "at most 4,000")):  # fmt: skip
        with pytest.warns(UserWarning, match=said):
            (messages, _, kept, box), *more = list(page.respond(question, chat, since, "", [], 5))
        assert not more and messages == chat["messages"] and kept == chat and box == question.strip()
    # An empty question is answered with a word on the page, not with silence.
    with pytest.warns(UserWarning, match="Type a question"):
        list(page.respond("  ", EMPTY_CHAT, "", "", [], 5))
    # A refusal under a filter says which articles were searched; one without a filter does not.
    *_, (messages, *_) = page.respond(SEED_QUESTION, EMPTY_CHAT, "", "2000-01-01", [], 5)
    said = messages[-1]["content"]
    assert "Not in the articles" in said
    assert "Only articles published on or before 2000-01-01 were searched" in said
    *_, (messages, *_) = page.respond("Who won the 2022 FIFA World Cup?", EMPTY_CHAT, "", "", [], 5)
    assert "Not in the articles" in messages[-1]["content"] and "Only articles" not in messages[-1]["content"]
    assert "Farmers market moves indoors" not in {a.title for a in ui_library.sources()}


def test_a_store_failure_on_upload_or_delete_is_shown_as_a_message(
    ui_library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gradio as gr

    from rag.errors import StoreError
    from ui.app import ChatPage

    def down(*_: object, **__: object) -> None:
        raise StoreError("The Chroma server at http://127.0.0.1:9 did not answer; start it and try again")

    page = ChatPage(ui_library, max_upload_bytes=100_000)
    monkeypatch.setattr(ui_library, "forget", down)
    with pytest.raises(gr.Error, match="did not answer"):
        page.delete("a123")
    monkeypatch.setattr(ui_library, "put", down)
    note = tmp_path / "note.md"
    note.write_text(
        "---\ntitle: Library hours change\n---\nThe reading room now opens at nine on Saturdays.\n"
    )
    with pytest.raises(gr.Error, match="did not answer"):
        page.upload([str(note)])
