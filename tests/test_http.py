"""The HTTP API on a real uvicorn server on loopback, called with httpx and the official
``openai`` client, on the seed article among real BBC distractors."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import EXAMPLES, SEED_DIR, SEED_QUESTION, free_port, run

from rag import Library
from rag.offline import cl100k
from ui.api import ApiOptions, build_api
from ui.openai_chat import SOURCES_HEADING

SEED_TITLE = "China's Xi calls for cooperation on Internet regulation"
FIFA = "Who won the 2022 FIFA World Cup?"
KEY = "test-key-3f9a"


class Served:
    """A uvicorn server in a thread of this process, serving ``app`` on a free loopback port."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture(scope="module")
def served(news_library: Library) -> Iterator[Served]:
    """The API with a key (as ``citewire serve`` has off loopback) and the chat page at /."""
    with Served(build_api(news_library, ApiOptions(api_key=KEY, max_upload_bytes=200_000))) as s:
        yield s


@pytest.fixture(scope="module")
def http(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {KEY}"}, timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def openai_client(served: Served) -> Any:
    import openai

    return openai.OpenAI(base_url=f"{served.url}/v1", api_key=KEY, max_retries=0, timeout=120)


def assert_seed_answer(record: dict[str, Any]) -> None:
    assert not record["refused"] and "[1]" in record["answer"]
    first = record["citations"][0]
    assert first["n"] == 1 and first["title"] == SEED_TITLE and "multilateral approach" in first["quote"]


def test_ask_search_and_choose_answer_as_the_library_does(http: httpx.Client, news_library: Library) -> None:
    record = http.post("/v1/ask", json={"question": SEED_QUESTION}).json()
    assert_seed_answer(record)
    assert record == {**news_library.ask(SEED_QUESTION).to_dict(), "turn": record["turn"]}
    assert record["turn"]["question"] == SEED_QUESTION

    found = http.post("/v1/search", json={"question": SEED_QUESTION, "top_k": 3}).json()
    assert len(found["hits"]) == 3 and found["hits"][0]["title"] == SEED_TITLE
    assert found["hits"][0]["score"] >= found["hits"][1]["score"]

    picked = http.post(
        "/v1/choose",
        json={"question": SEED_QUESTION, "options": ["a multilateral approach", "a ban on search engines"]},
    ).json()
    assert picked["choice"] == "a multilateral approach" and picked["grounded"]

    refused = http.post("/v1/ask", json={"question": FIFA}).json()
    assert refused["refused"] and not refused["citations"]


def test_health_and_the_pages_need_no_key(served: Served, news_library: Library) -> None:
    health = httpx.get(f"{served.url}/healthz").json()
    assert health["status"] == "ok" and health["articles"] == news_library.count_articles() > 0
    assert health["chunks"] == news_library.store.count_chunks() and health["embedding_model_loaded"]
    assert httpx.head(f"{served.url}/healthz").status_code == 200  # as monitors probe
    docs = httpx.get(f"{served.url}/docs")
    assert docs.status_code == 200 and "/docs-static/swagger-ui-bundle.js" in docs.text
    assert "cdn." not in docs.text  # nothing loads from the network
    assert httpx.get(f"{served.url}/docs-static/swagger-ui-bundle.js").status_code == 200
    schema = httpx.get(f"{served.url}/openapi.json").json()
    assert {"/v1/ask", "/v1/chat/completions", "/v1/articles"} <= set(schema["paths"])
    page = httpx.get(f"{served.url}/", follow_redirects=True)
    assert page.status_code == 200 and "gradio" in page.text.lower()


def test_openai_chat_answers_with_citations_streamed_and_not(openai_client: Any) -> None:
    messages = [{"role": "user", "content": SEED_QUESTION}]
    whole = openai_client.chat.completions.create(model="citewire", messages=messages)
    content = whole.choices[0].message.content
    assert content.startswith(whole.citewire["answer"]) and "[1]" in content
    # The sources follow the answer, one line an article with its markers, for any client.
    sources = content.split(SOURCES_HEADING, 1)[1]
    seed = [f"[{c['n']}]" for c in whole.citewire["citations"] if c["title"] == SEED_TITLE]
    assert f"{' '.join(seed)} {SEED_TITLE}" in sources and sources.count(SEED_TITLE) == 1
    assert_seed_answer(whole.citewire)
    # usage, in cl100k_base tokens, as OpenAI clients and their cost trackers read it.
    encoding = cl100k()
    asked, replied = len(encoding.encode(SEED_QUESTION)), len(encoding.encode(content))
    assert (whole.usage.prompt_tokens, whole.usage.completion_tokens) == (asked, replied)
    assert whole.usage.total_tokens == asked + replied

    streamed = openai_client.chat.completions.create(
        model="citewire", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(streamed)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == content
    # The usage comes last, in a chunk of its own with no choices, as OpenAI sends it.
    *chunks, counted = chunks
    assert counted.choices == [] and counted.usage == whole.usage
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["citewire"] == whole.citewire
    unasked = list(openai_client.chat.completions.create(model="citewire", messages=messages, stream=True))
    assert all(c.choices and c.usage is None for c in unasked)

    models = openai_client.models.list()
    assert [m.id for m in models.data] == ["citewire"]

    refused = openai_client.chat.completions.create(
        model="citewire", messages=[{"role": "user", "content": FIFA}]
    )
    assert refused.citewire["refused"] and not refused.citewire["citations"]


def test_a_store_failure_before_the_answer_is_a_503_streamed_or_not(
    http: httpx.Client, news_library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Streamed, a store that failed before anything was answered got a 200 whose one event was
    the error; it is a 503 as without streaming. Once the answer has begun, the error is an event."""
    from rag.errors import StoreError

    ask = {"model": "citewire", "messages": [{"role": "user", "content": SEED_QUESTION}]}
    first = news_library.reply(SEED_QUESTION)

    def down(*_: object, **__: object) -> None:
        raise StoreError("The Chroma server at http://127.0.0.1:9 did not answer; start it and try again")

    def dies_after_one(*_: object, **__: object) -> Iterator[object]:
        yield first
        down()

    monkeypatch.setattr(news_library, "search", down)
    for stream in (False, True):
        failed = http.post("/v1/chat/completions", json={**ask, "stream": stream})
        assert failed.status_code == 503, (stream, failed.text)
        assert failed.json()["error"]["type"] == "store_unavailable"
    monkeypatch.setattr(news_library, "reply_stream", dies_after_one)
    begun = http.post("/v1/chat/completions", json={**ask, "stream": True})
    events = [json.loads(line[6:]) for line in begun.text.splitlines() if line.startswith("data: {")]
    assert begun.status_code == 200 and events[1]["choices"][0]["delta"]["content"] == first[0].answer
    assert events[-1]["error"]["type"] == "store_unavailable" and events[-1]["error"]["code"] == 503
    assert begun.text.endswith("data: [DONE]\n\n")


def test_upload_then_a_follow_up_then_delete(
    http: httpx.Client, openai_client: Any, news_library: Library
) -> None:
    before = http.get("/v1/articles").json()["count"]
    story = EXAMPLES / "philae-comet-landing-2014.html"
    files = [("files", (story.name, story.read_bytes(), "text/html")), ("files", ("notes.pdf", b"%PDF", "x"))]
    report = http.post("/v1/articles", files=files).json()
    assert report["added"] == 1 and len(report["ids"]) == 1 and report["skipped"] == 1
    assert (
        report["problems"][0]["file"] == "notes.pdf"
        and "unsupported file type" in report["problems"][0]["reason"]
    )
    article_id = report["ids"][0]
    try:
        again = http.post("/v1/articles", files=files[:1]).json()  # content ids: the same file is one article
        assert again["unchanged"] == 1 and again["ids"] == [article_id]
        assert http.get("/v1/articles").json()["count"] == before + 1
        # The seed file, stored from its folder already, uploaded: named, not stored twice.
        (seed_file,) = SEED_DIR.glob("*.txt")
        (seed,) = [a for a in http.get("/v1/articles").json()["articles"] if a["title"] == SEED_TITLE]
        copy = http.post(
            "/v1/articles", files=[("files", (seed_file.name, seed_file.read_bytes(), "text/plain"))]
        )
        assert (copy.json()["duplicates"], copy.json()["added"], copy.json()["ids"]) == (1, 0, [seed["id"]])
        assert http.get("/v1/articles").json()["count"] == before + 1

        opener = "When did the Philae lander touch down on the comet?"
        first = http.post("/v1/ask", json={"question": opener}).json()
        assert not first["refused"] and first["citations"][0]["article_id"] == article_id
        follow = http.post(
            "/v1/ask", json={"question": "Which agency ran the mission?", "conversation": [first["turn"]]}
        ).json()
        assert not follow["refused"] and follow["citations"][0]["article_id"] == article_id
        assert follow["turn"]["query"].startswith("Which agency ran the mission? ")

        said = openai_client.chat.completions.create(
            model="citewire", messages=[{"role": "user", "content": opener}]
        )
        turns = [
            {"role": "user", "content": opener},
            {"role": "assistant", "content": said.choices[0].message.content},
            {"role": "user", "content": "Which agency ran the mission?"},
        ]
        chatted = openai_client.chat.completions.create(model="citewire", messages=turns)
        assert chatted.citewire == {k: v for k, v in follow.items() if k != "turn"}
    finally:
        assert http.delete(f"/v1/articles/{article_id}").status_code == 204
    assert http.delete(f"/v1/articles/{article_id}").status_code == 404
    assert http.get("/v1/articles").json()["count"] == before


def test_bad_requests_get_clear_errors(served: Served, http: httpx.Client, openai_client: Any) -> None:
    import openai

    bare = httpx.post(f"{served.url}/v1/ask", json={"question": SEED_QUESTION})
    assert bare.status_code == 401 and bare.headers["www-authenticate"] == "Bearer"
    assert "API key" in bare.json()["error"]["message"]
    wrong = httpx.get(f"{served.url}/v1/models", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and KEY not in wrong.text

    bad = http.post("/v1/ask", json={"question": SEED_QUESTION, "top_k": 0})
    assert bad.status_code == 422 and bad.json()["error"]["param"] == "top_k"
    assert "top_k" in bad.json()["error"]["message"]
    missing = http.post("/v1/choose", json={"question": SEED_QUESTION})
    assert missing.status_code == 422 and missing.json()["error"]["param"] == "options"
    twice = http.post("/v1/choose", json={"question": SEED_QUESTION, "options": ["NASA", "ESA", "nasa "]})
    assert twice.status_code == 422 and twice.json()["error"]["param"] == "options"
    assert "each option once: 'nasa ' repeats 'NASA'" in twice.json()["error"]["message"]
    dates = http.post(
        "/v1/ask", json={"question": SEED_QUESTION, "since": "2016-01-01", "until": "2015-01-01"}
    )
    assert dates.status_code == 422 and "since" in dates.json()["error"]["message"]
    # The library's own checks name their field too, and JSON's true is no top_k.
    assert dates.json()["error"]["param"] == "since"
    blank = http.post("/v1/ask", json={"question": "   "})
    assert blank.status_code == 422 and blank.json()["error"]["param"] == "question"
    assert http.post("/v1/ask", json={"question": SEED_QUESTION, "top_k": True}).status_code == 422
    long_ago = {"question": "x" * 4_001, "query": None}  # an earlier turn too long to have been asked
    past = http.post("/v1/ask", json={"question": SEED_QUESTION, "conversation": [long_ago]})
    assert past.status_code == 422 and past.json()["error"]["param"] == "conversation.0.question"
    # A source no article has: the search and the choice say so rather than find nothing.
    for path, extra in (("/v1/search", {}), ("/v1/choose", {"options": ["ESA", "NASA"]})):
        misnamed = http.post(path, json={"question": SEED_QUESTION, "sources": ["Nope"], **extra})
        assert misnamed.status_code == 422 and misnamed.json()["error"]["param"] == "sources", path
        said = misnamed.json()["error"]["message"]
        assert said.startswith('No stored article is from the source "Nope". Sources are matched exactly')
    # No body, or no files for the upload: what to send.
    empty = http.post("/v1/ask", headers={"Content-Type": "application/json"})
    assert empty.status_code == 422 and "the request has no body" in empty.json()["error"]["message"]
    for sent in ({"json": {"files": []}}, {"files": {"file": ("a.txt", b"A story.")}}):
        unfiled = http.post("/v1/articles", **sent)  # type: ignore[arg-type]
        assert unfiled.status_code == 422 and unfiled.json()["error"]["param"] == "files"
        assert "multipart/form-data, each file in a form field named `files`" in unfiled.text
    for stamp in (0, "1450224000"):  # JSON numbers and strings of digits are not read as seconds
        seconds = http.post("/v1/ask", json={"question": SEED_QUESTION, "until": stamp})
        assert seconds.status_code == 422 and seconds.json()["error"]["param"] == "until"
        assert "is not a day like 2015-12-16" in seconds.json()["error"]["message"]
    assert http.post("/v1/ask", json={"question": SEED_QUESTION, "as_of": "today"}).status_code == 200
    garbled = http.post("/v1/ask", content=b'{"question": ', headers={"Content-Type": "application/json"})
    assert garbled.status_code == 422 and garbled.json()["error"]["param"] is None
    assert garbled.json()["error"]["message"] == "the body is not valid JSON (at character 13)"
    # Without the key, a body that cannot be read says only that the key is missing.
    unread = httpx.post(
        f"{served.url}/v1/ask", content=b'{"question": ', headers={"Content-Type": "application/json"}
    )
    assert unread.status_code == 401 and "API key" in unread.json()["error"]["message"]
    latin = '{"question": "caf\xe9?"}'.encode("latin-1")
    for headers in ({}, {"Authorization": "Bearer nope"}):
        denied = httpx.post(
            f"{served.url}/v1/ask", content=latin, headers={"Content-Type": "application/json", **headers}
        )
        assert denied.status_code == 401, denied.text
    undecoded = http.post("/v1/ask", content=latin, headers={"Content-Type": "application/json"})
    assert undecoded.status_code == 400
    assert (
        undecoded.json()["error"]["message"]
        == "the body is not UTF-8 text (byte 17); send JSON encoded as UTF-8"
    )

    # Beside the chat page (mounted at /), other /v1 paths and methods still answer as the API does.
    assert http.get("/v1/nothing").json()["error"]["message"].startswith("no endpoint /v1/nothing")
    assert http.post("/v1").json()["error"]["message"].startswith("no endpoint /v1;")
    wrong_method = http.get("/v1/ask")
    assert wrong_method.status_code == 405 and "use POST" in wrong_method.json()["error"]["message"]
    assert wrong_method.headers["allow"] == "POST"
    assert http.request("OPTIONS", "/v1/ask").json()["error"]["message"].startswith("OPTIONS /v1/ask")
    assert http.head("/v1/nothing").status_code == 404
    for method in ("GET", "DELETE"):  # without the key, nothing is said about which paths exist
        assert httpx.request(method, f"{served.url}/v1/nothing").status_code == 401
    assert httpx.get(f"{served.url}/v1/ask").status_code == 401
    plain = http.post(
        "/v1/ask", content=json.dumps({"question": "Who?"}), headers={"Content-Type": "text/plain"}
    )
    assert plain.status_code == 415
    assert plain.json()["error"]["message"] == (
        "the body came as text/plain; send JSON with `Content-Type: application/json`"
    )
    assert http.get("/v1/models/citewire").json()["id"] == "citewire"
    assert openai_client.models.retrieve("citewire").id == "citewire"
    assert http.get("/v1/models/gpt-4o").status_code == 404

    huge = http.post("/v1/ask", json={"question": "x" * 1_200_000})
    assert huge.status_code == 413 and "limit" in huge.json()["error"]["message"]

    def chunked() -> Iterator[bytes]:  # no length given: counted as it comes
        for _ in range(30):
            yield b"a" * 10_000

    upload = http.post(
        "/v1/articles", content=chunked(), headers={"Content-Type": "multipart/form-data; boundary=x"}
    )
    assert upload.status_code == 413

    with pytest.raises(openai.NotFoundError, match="does not exist"):
        openai_client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.UnprocessableEntityError, match="is empty"):
        openai_client.chat.completions.create(model="citewire", messages=[{"role": "user", "content": " "}])
    with pytest.raises(openai.UnprocessableEntityError, match="last message"):
        openai_client.chat.completions.create(
            model="citewire", messages=[{"role": "system", "content": "hi"}]
        )
    # The question's limit holds for the chat as for /v1/ask, streamed or not.
    for stream in (False, True):
        with pytest.raises(openai.UnprocessableEntityError, match=r"4,001 characters; ask in at most 4,000"):
            openai_client.chat.completions.create(
                model="citewire", messages=[{"role": "user", "content": "x" * 4_001}], stream=stream
            )


def test_serve_wants_a_key_and_a_login_off_loopback(tmp_path: Path) -> None:
    done = run("serve", "--host", "0.0.0.0", "--port", str(free_port()), data_dir=tmp_path)
    assert done.returncode == 1 and "--api-key-file" in done.stderr and "CITEWIRE_API_KEY" in done.stderr
    key_file = tmp_path / "key"
    key_file.write_text("\n", encoding="utf-8")
    done = run("serve", "--api-key-file", str(key_file), data_dir=tmp_path)
    assert done.returncode == 1 and "is empty" in done.stderr
    done = run("serve", "--host", "0.0.0.0", data_dir=tmp_path, CITEWIRE_API_KEY="sekrit-value")
    assert (
        done.returncode == 1 and "--auth" in done.stderr and "sekrit-value" not in done.stderr + done.stdout
    )
    # With no page there is no login to ask for: the key is enough (the busy port then stops it).
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        port = str(taken.getsockname()[1])
        done = run("serve", "--host", "0.0.0.0", "--port", port, "--no-page", data_dir=tmp_path,
                   CITEWIRE_API_KEY="sekrit-value")  # fmt: skip
    assert done.returncode == 1 and "--auth" not in done.stderr and port in done.stderr, done.stderr


def test_settle_loads_what_answers_need_and_sets_start_up_aside(tmp_path: Path, embedder: Any) -> None:
    """What ``citewire serve`` and ``citewire chat`` do before their first request."""
    import gc

    import rag
    from rag.text import _punkt, _stopwords
    from ui.serving import settle

    library = rag.open(tmp_path / "library", embedder=embedder)
    assert library._reader is None and gc.get_freeze_count() == 0
    _punkt.cache_clear()  # as in a fresh process: the sentence splitter and stop words not loaded
    _stopwords.cache_clear()
    try:
        settle(library)
        assert library._reader is not None and library.loaded()["embedding"]
        assert _punkt.cache_info().currsize == _stopwords.cache_info().currsize == 1
        assert gc.get_freeze_count() > 100_000  # the imported packages and the models, at least
    finally:
        gc.unfreeze()
