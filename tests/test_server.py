"""Server mode: the same library on a real ``chroma run`` server answers as the embedded one."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import EXAMPLES, ROOT, SEED_QUESTION, ChromaServer

from ingest import ingest
from rag import Embedder, Library, Query, Settings, lexical_sync
from rag.lexical import LexicalIndex
from rag.library import open_library


@pytest.mark.server
def test_server_mode_matches_embedded(
    chroma_server: ChromaServer, make_library: Callable[..., Library], embedder: Embedder, tmp_path: Path
) -> None:
    embedded = make_library()
    remote = open_library(
        settings=Settings(data_dir=tmp_path / "unused", chroma_url=chroma_server.url), embedder=embedder
    )
    for library in (embedded, remote):
        report = ingest([EXAMPLES], library, progress=False)
        assert report.added == 5
    again = ingest([EXAMPLES], remote, progress=False)
    assert again.added == 0 and again.unchanged == 5
    assert remote.store.count_chunks() == embedded.store.count_chunks()
    for question in (SEED_QUESTION, "When did Philae land on the comet?", "Who won the 2022 FIFA World Cup?"):
        a, b = embedded.ask(question), remote.ask(question)
        assert a.to_dict() == b.to_dict()
    # Vectors live on the server; only the BM25 index is kept locally.
    assert not (tmp_path / "unused" / "chroma").exists()
    assert (tmp_path / "unused" / "bm25" / "citewire").is_dir()
    assert remote.forget(remote.sources()[0].id)
    assert remote.store.count_articles() == 4


def harbour_story(plaque: str, days: int) -> str:
    """A made-up local story, one sentence per day of work: long enough for several passages."""
    lines = [
        f"On day {day} the volunteers of Tellmouth sanded, painted and bolted another part of the "
        f"old harbour crane, and the {plaque} guild brought tea to the quay."
        for day in range(1, days + 1)
    ]
    return "Harbour crane rebuilt\n\n" + " ".join(lines) + "\n"


@pytest.mark.server
def test_other_clients_writes_reach_an_open_library(
    chroma_server: ChromaServer, embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two clients of one server, each with its own data directory (as on two machines): what
    one adds, changes or forgets reaches the other's open library, BM25 index included, and a
    library opened later on the same data directory, without rebuilding its index."""

    def client(name: str) -> Library:
        settings = Settings(data_dir=tmp_path / name, chroma_url=chroma_server.url, sync_seconds=0)
        return open_library(settings=settings, embedder=embedder)

    def passages(library: Library, article_id: str) -> list[str]:
        return library.lexical.chunks_of(article_id)

    notes = tmp_path / "notes"
    notes.mkdir()
    story = notes / "harbour.txt"
    story.write_text(harbour_story("zorblax", 40), encoding="utf-8")
    writer, reader = client("writer"), client("reader")
    ingest([EXAMPLES / "nepal-earthquake-2015.txt", story], writer, progress=False)
    harbour = reader.search(Query("harbour crane Tellmouth", top_k=1))[0].chunk
    assert harbour.title == "Harbour crane rebuilt"
    assert len(passages(reader, harbour.article_id)) >= 3

    # Added by the other client after the reader opened: found by both halves of the search.
    ingest([EXAMPLES / "new-horizons-pluto-2015.md"], writer, progress=False)
    pluto = reader.search(Query("When did New Horizons fly past Pluto?", top_k=1))[0].chunk
    assert "pluto" in pluto.title.lower()
    assert reader.lexical.search("Pluto New Horizons", 1)[0][0].startswith(pluto.article_id)

    # Changed by the other client, to fewer passages: the reader's index holds the new ones only.
    story.write_text(harbour_story("quokka", 3), encoding="utf-8")
    assert ingest([story], writer, progress=False).updated == 1
    assert "quokka" in reader.search(Query("quokka guild tea", top_k=1))[0].chunk.text
    assert len(passages(reader, harbour.article_id)) == reader.store.article(harbour.article_id).chunks == 1
    assert not reader.lexical.search("zorblax", 3)

    # Both clients write the story, the reader over a version it has not looked at: its index
    # keeps only the passages of its own version, however many the version it wrote over had.
    story.write_text(harbour_story("zorblax", 40), encoding="utf-8")
    ingest([story], writer, progress=False)
    reader.search("zorblax guild tea")
    held = len(passages(reader, harbour.article_id))
    story.write_text(harbour_story("zorblax", 12), encoding="utf-8")
    ingest([story], writer, progress=False)
    assert 1 < writer.store.article(harbour.article_id).chunks < held
    story.write_text(harbour_story("quokka", 3), encoding="utf-8")
    assert ingest([story], reader, progress=False).updated == 1
    assert len(passages(reader, harbour.article_id)) == 1
    assert not reader.lexical.search("zorblax", 3)

    # Forgotten by the other client: gone from the reader's passages and its BM25 index.
    assert writer.forget(pluto.article_id)
    assert all(
        h.chunk.article_id != pluto.article_id for h in reader.search(Query("Pluto New Horizons", top_k=5))
    )
    assert not passages(reader, pluto.article_id)
    assert len(reader.lexical) == reader.store.count_chunks()

    # While no reader is open, the other client adds one article, changes another (same passage
    # count) and forgets a third. A library opened on the reader's data directory takes all
    # three in at its first search, without rebuilding its index, even where only the time its
    # index last looked (and no second look at the last minute) can tell what changed.
    monkeypatch.setattr(lexical_sync, "CLOCK_MARGIN", 0.0)
    nepal = next(a.id for a in writer.sources() if "nepal" in a.title.lower())
    story.write_text(harbour_story("pelican", 3), encoding="utf-8")
    ingest([story, EXAMPLES / "paris-climate-agreement-2015.md"], writer, progress=False)
    assert writer.forget(nepal)

    def no_rebuild(self: lexical_sync.LexicalSync) -> None:
        raise AssertionError("the index was rebuilt instead of catching up")

    monkeypatch.setattr(lexical_sync.LexicalSync, "rebuild", no_rebuild)
    again = client("reader")
    assert "pelican" in again.search(Query("pelican guild tea", top_k=1))[0].chunk.text
    assert again.lexical.search("pelican guild", 1)[0][0].startswith(harbour.article_id)
    assert not again.lexical.search("quokka", 1)
    assert "paris" in again.search(Query("Paris climate agreement", top_k=1))[0].chunk.title.lower()
    assert not passages(again, nepal)
    assert len(again.lexical) == again.store.count_chunks()


@pytest.mark.server
def test_clients_of_a_server_share_a_data_directory(
    chroma_server: ChromaServer, embedder: Embedder, tmp_path: Path
) -> None:
    """The chat page and a ``citewire ingest`` run beside it on one machine: both clients of one
    server, both on the default data directory. Both may open it, the ingest's articles reach
    the page's open library, the BM25 index both save there stays whole, and an embedded store
    is refused the directory while they hold it."""
    data = tmp_path / "data"
    page = open_library(
        settings=Settings(data_dir=data, chroma_url=chroma_server.url, sync_seconds=0), embedder=embedder
    )
    assert page.ask(SEED_QUESTION).refused

    def command(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ui.cli", *args, "--data-dir", str(data)],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    done = command("ingest", str(EXAMPLES), "--quiet", "--chroma-url", chroma_server.url)
    assert done.returncode == 0, done.stderr
    answer = page.ask(SEED_QUESTION)
    assert not answer.refused and "xi-world-internet-conference" in answer.citations[0].url
    saved = LexicalIndex.load(page.lexical_folder)
    assert saved is not None and len(saved) == page.store.count_chunks()
    embedded = command("sources")  # named: the page, still open, and not the ingest, finished
    assert embedded.returncode == 1 and "is in use by clients of a Chroma server" in embedded.stderr
    assert f"(pid {os.getpid()}: " in embedded.stderr and "ingest" not in embedded.stderr


def test_a_search_waits_for_a_servers_first_vector_index() -> None:
    """Found by bench/soak.py: for a second or so after the first records reach an empty
    collection, a Chroma server answers searches with "Nothing found on disk". A search waits
    for it (a stand-in collection replays the server's answers); any other error is raised."""
    import numpy as np
    from chromadb.errors import InternalError

    from rag import store

    race = "Error executing plan: Internal error: Error creating hnsw segment reader: Nothing found on disk"
    answers: list[Exception | dict[str, object]] = [
        InternalError(race),
        InternalError(race),
        {"ids": [["a1:0"]], "distances": [[0.25]]},
        InternalError("Error executing plan: Internal error: something else"),
    ]

    class Collection:
        def query(self, **_: object) -> dict[str, object]:
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer

    assert store._nearest(Collection(), np.ones(2), 1, None) == [("a1:0", 0.75)]
    with pytest.raises(InternalError, match="something else"):
        store._nearest(Collection(), np.ones(2), 1, None)
