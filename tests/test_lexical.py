"""The BM25 index: bm25s's scores exactly, however it was built up, saved and loaded."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import bm25s
import numpy as np
import pytest
import Stemmer
from conftest import EXAMPLES

from rag.filters import PassageFilter
from rag.lexical import LexicalIndex
from rag.locks import folder_lock
from rag.records import Chunk

QUESTIONS = [
    "What did Xi say about internet governance?",
    "comet lander Philae harpoons",
    "Pluto flyby images New Horizons 2015",
    "earthquake Kathmandu deaths",
    "climate agreement Paris temperature 2 degrees degrees",  # a repeated word counts twice
]


def passages() -> list[Chunk]:
    """The example articles line by line, one chunk a line, each article on its own day."""
    found = []
    for n, path in enumerate(sorted(EXAMPLES.iterdir())):
        parts = [p.strip() for p in path.read_text(encoding="utf-8").splitlines() if len(p.split()) > 3]
        for i, text in enumerate(parts):
            found.append(
                Chunk(
                    f"{path.stem}:{i}",
                    path.stem,
                    i,
                    text,
                    0,
                    len(text),
                    path.stem.replace("-", " "),
                    published=date(2015, 1, 1) + timedelta(days=n),
                    source=path.suffix,
                )
            )
    return found


def bm25s_ranking(entries: list[Chunk], question: str) -> dict[str, float]:
    """What bm25s itself scores, built from scratch on ``entries``."""
    stemmer = Stemmer.Stemmer("english")
    texts = [f"{c.title}\n{c.text}" for c in entries]
    retriever = bm25s.BM25()
    retriever.index(
        bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False
    )
    query = bm25s.tokenize([question], stopwords="en", stemmer=stemmer, show_progress=False, return_ids=False)
    scores = retriever.get_scores(query[0])
    return {entries[i].id: float(s) for i, s in enumerate(scores) if s > 0}


def assert_same(index: LexicalIndex, entries: list[Chunk]) -> None:
    assert len(index) == len(entries)
    matched = 0
    for question in QUESTIONS:
        expected = bm25s_ranking(entries, question)
        got = dict(index.search(question, k=len(entries)))
        matched += len(expected)
        assert got.keys() == expected.keys(), question
        for chunk_id, score in expected.items():
            assert got[chunk_id] == pytest.approx(score, rel=1e-5), (question, chunk_id)
    assert matched > len(QUESTIONS)  # the comparison had something to compare


def test_scores_are_bm25s_scores() -> None:
    entries = passages()
    assert len(entries) > 20
    assert_same(LexicalIndex.build(entries), entries)


def test_added_removed_and_replaced_chunks_score_as_if_built_from_scratch(tmp_path: Path) -> None:
    entries = passages()
    index = LexicalIndex()
    for at in range(0, len(entries), 3):  # many small ingests: segments are merged as they come
        index = index.add(entries[at : at + 3])
    assert len(index.segments) <= int(np.log2(len(entries))) + 1
    gone = [e.id for e in entries[::4]]
    index = index.remove(gone)
    live = [e for e in entries if e.id not in gone]
    assert_same(index, live)
    changed = replace(live[0], text="A rewritten passage about Pluto and the New Horizons flyby.")
    index = index.add([changed])  # the same id again replaces the old passage
    live = [changed, *live[1:]]
    assert_same(index, live)
    passes = index.passes(index.allowed())  # ids found in whichever segment holds them live
    assert all(passes(e.id) for e in live) and not any(passes(g) for g in gone)
    assert set(index.ids) >= {e.id for e in live}  # deleted rows stay listed until a merge
    index.save(tmp_path / "bm25")
    loaded = LexicalIndex.load(tmp_path / "bm25")
    assert loaded is not None
    assert_same(loaded, live)
    assert loaded.published(live[1].id) is not None and loaded.published(gone[0]) is None
    assert sorted(p.name for p in (tmp_path / "bm25").iterdir()) == sorted(
        ["citewire.json", *(f"{s.name}.npz" for s in loaded.segments)]
    )


def test_saving_waits_for_another_holder_of_the_folder(tmp_path: Path) -> None:
    """Two clients of a Chroma server sharing a data directory save their indexes in turn: one
    never removes the files the other is writing, nor reads a manifest half written."""
    folder = tmp_path / "bm25"
    first, second = LexicalIndex.build(passages()[:10]), LexicalIndex.build(passages()[10:15])
    first.save(folder)
    with folder_lock(folder):  # as another process saving its index would
        saving = threading.Thread(target=second.save, args=(folder,))
        saving.start()
        saving.join(timeout=1.0)
        assert saving.is_alive()
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            ["citewire.json", *(f"{s.name}.npz" for s in first.segments)]
        )
    saving.join()
    loaded = LexicalIndex.load(folder)
    assert loaded is not None and len(loaded) == len(second)


def test_a_search_keeps_the_version_it_started_with() -> None:
    entries = passages()
    before = LexicalIndex.build(entries[:10])
    after = before.add(entries[10:]).remove([entries[0].id])
    assert len(before) == 10 and len(after) == len(entries) - 1
    assert_same(before, entries[:10])  # unchanged by what was built on it


def test_filters_and_deleted_rows_never_match() -> None:
    entries = passages()
    index = LexicalIndex.build(entries).remove([entries[0].id])
    allowed = index.allowed(PassageFilter(sources=(".md",)))
    # "mission" is in the Pluto (.md) and the comet (.html) articles: only the first may match.
    assert any(cid.startswith("philae-") for cid, _ in index.search("mission", k=100))
    found = index.search("mission", k=100, allowed=allowed) + index.search(
        "Xi internet", k=100, allowed=allowed
    )
    assert {cid.split("-")[0] for cid, _ in found} == {"new", "xi"}
    assert entries[0].id not in {cid for cid, _ in index.search(entries[0].text, k=100)}


def test_a_filter_keeps_the_same_chunks_in_chroma_in_metadata_and_in_the_index(tmp_path: Path) -> None:
    from datetime import date

    from rag import Article, Chunk, Settings
    from rag.chroma_records import ArticleWrite
    from rag.store import ChromaStore, _nearest

    store = ChromaStore.open(Settings(data_dir=tmp_path))
    rng = np.random.default_rng(3)
    days = [date(2022, 6, 1), date(2022, 6, 15), date(2022, 7, 1), None]
    writes = []
    for a in range(12):
        published, source = days[a % 4], ("wire", "paper", "blog")[a % 3]
        article = Article(
            id=f"t{a}", text=f"story {a} told twice", title=f"Story {a}", published=published, source=source
        )
        chunks = [
            Chunk(
                f"t{a}:{i}",
                article.id,
                i,
                f"story {a}",
                0,
                7,
                article.title,
                published=published,
                source=source,
            )
            for i in range(2)
        ]
        vectors = rng.standard_normal((2, 384)).astype(np.float32)
        writes.append(ArticleWrite(article, chunks, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)))
    store.put(writes)
    index = LexicalIndex.build(c for w in writes for c in w.chunks)
    vector = np.ones(384, dtype=np.float32) / np.sqrt(384)
    filters = [
        PassageFilter(),
        PassageFilter(since=date(2022, 6, 15)),
        PassageFilter(until=date(2022, 6, 15)),
        PassageFilter(date(2022, 6, 2), date(2022, 6, 30), ("wire", "paper")),
        PassageFilter(sources=("blog",)),
    ]
    for kept in filters:
        expected = {
            c.id
            for w in writes
            for c in w.chunks
            if (not kept.sources or c.source in kept.sources)
            and (kept.since is None or (c.published is not None and c.published >= kept.since))
            and (kept.until is None or (c.published is not None and c.published <= kept.until))
        }
        by_metadata = {cid for cid, _ in store.nearest(vector, 100, kept)}
        by_chroma = {cid for cid, _ in _nearest(store._chunks, vector, 100, kept.where())}
        mask = index.allowed(kept)
        by_index = {cid for cid, ok in zip(index.ids, mask, strict=True) if ok}
        assert expected and by_metadata == by_chroma == by_index == expected, kept
    assert len(expected) < len(index)  # the filters do leave chunks out
