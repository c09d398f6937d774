"""The contract of ``rag.storage.Store``, run against every implementation: the Chroma store
embedded and against a real ``chroma run`` server on loopback. Vectors are made up (unit
vectors pointing where a test wants them), so no model is needed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from conftest import ChromaServer

from rag import Article, Chunk, Settings
from rag.chroma_records import ArticleWrite
from rag.filters import PassageFilter
from rag.storage import Store
from rag.store import ChromaStore

DIMS = 384


def unit(axis: int, lean: int | None = None) -> np.ndarray:
    """A unit vector along ``axis``, leaning a little towards ``lean``."""
    vector = np.zeros(DIMS, dtype=np.float32)
    vector[axis] = 1.0
    if lean is not None:
        vector[lean] = 0.3
    return vector / np.linalg.norm(vector)


def write(number: int, chunks: int, published: date | None = None, source: str = "wire") -> ArticleWrite:
    """Article ``a<number>`` with ``chunks`` passages, chunk i's vector along axis 10*number + i."""
    text = " ".join(f"Passage {i} of story {number}." for i in range(chunks))
    article = Article(
        id=f"a{number}", text=text, title=f"Story {number}", published=published, source=source, url=None
    )
    spans, at = [], 0
    for i in range(chunks):
        piece = f"Passage {i} of story {number}."
        spans.append(
            Chunk(
                f"a{number}:{i}",
                article.id,
                i,
                piece,
                at,
                at + len(piece),
                article.title,
                None,
                None,
                published,
                source,
            )
        )
        at += len(piece) + 1
    vectors = np.stack([unit(10 * number + i) for i in range(chunks)])
    return ArticleWrite(article, spans, vectors)


@pytest.fixture(params=["embedded", "server"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "embedded":
        yield ChromaStore.open(Settings(data_dir=tmp_path / "library"))
        return
    server = ChromaServer(tmp_path)
    server.start()
    try:
        yield ChromaStore.open(Settings(data_dir=tmp_path / "client", chroma_url=server.url))
    finally:
        server.stop()


def test_what_is_put_is_read_back(store: Store) -> None:
    first, second = write(1, 3, date(2022, 6, 1)), write(2, 2, source="paper")
    assert store.put([first, second]) == []
    assert store.count_articles() == 2 and store.count_chunks() == 5
    assert store.article_ids() == {"a1", "a2"}
    listed = {a.id: a for a in store.articles()}
    assert listed["a1"].chunks == 3 and listed["a1"].published == date(2022, 6, 1)
    assert listed["a1"].content_hash == first.article.content_hash
    assert listed["a2"].source == "paper" and listed["a2"].published is None
    assert [a.id for a in store.articles(ids=["a2"])] == ["a2"]
    assert store.article_text("a1") == first.article.text
    assert store.article_text("nope") is None
    chunks = sorted(store.iter_chunks(["a1"]), key=lambda c: c.chunk_index)
    assert [c.id for c in chunks] == ["a1:0", "a1:1", "a1:2"]
    assert chunks[0].published == date(2022, 6, 1) and chunks[0].title == first.article.title
    assert set(store.coherences()) == {"a1", "a2"}


def test_search_finds_the_nearest_and_keeps_to_its_filters(store: Store) -> None:
    store.put([write(1, 3, date(2022, 6, 1)), write(2, 2, date(2022, 7, 1), source="paper"), write(3, 1)])
    nearest = store.nearest(unit(21, lean=20), 3)
    assert [cid for cid, _ in nearest][:2] == ["a2:1", "a2:0"]
    assert nearest[0][1] == pytest.approx(1 / np.sqrt(1.09), abs=1e-4)  # the cosine
    june = PassageFilter(since=date(2022, 6, 1), until=date(2022, 6, 30))
    assert {cid for cid, _ in store.nearest(unit(21), 10, june)} == {"a1:0", "a1:1", "a1:2"}
    papers = PassageFilter(sources=("paper",))
    assert {cid for cid, _ in store.nearest(unit(10), 10, papers)} == {"a2:0", "a2:1"}
    kept = store.nearest(unit(10), 10, keep=lambda cid: cid.startswith("a3"))
    assert [cid for cid, _ in kept] == ["a3:0"]
    assert store.nearest_articles(unit(30), 1)[0][0] == "a3"
    hits = store.hits_for(["a2:0", "unknown", "a1:2"], unit(20))
    assert [h.chunk.id for h in hits] == ["a2:0", "a1:2"]
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    assert hits[0].chunk.text == "Passage 0 of story 2." and hits[0].chunk.source == "paper"


def test_a_new_version_replaces_the_old_and_delete_removes_it(store: Store) -> None:
    store.put([write(1, 3), write(2, 1)])
    shorter = write(1, 1)
    gone = store.put([ArticleWrite(
        Article("a1", "Passage 0 of story 1.", "Story 1 again"), shorter.chunks, shorter.vectors
    )])  # fmt: skip
    assert sorted(gone) == ["a1:1", "a1:2"]
    assert store.count_chunks() == 2 and store.count_articles() == 2
    assert {a.id: a.title for a in store.articles()}["a1"] == "Story 1 again"
    assert sorted(store.delete("a1") or []) == ["a1:0"]
    assert store.delete("a1") is None
    assert store.article_ids() == {"a2"} and store.count_chunks() == 1
    assert all(cid.startswith("a2") for cid, _ in store.nearest(unit(10), 5))
