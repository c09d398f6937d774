"""BM25 over chunk texts: the keyword half of hybrid search (bm25s with a Snowball stemmer).

News questions are full of names and numbers that a small embedding model blurs; BM25 matches
them exactly. The index lives beside the library in ``<data_dir>/bm25/<collection>/`` (also
when the vectors live on a Chroma server) and is rebuilt from the store after every ingest or
forget that changed it; an index whose chunk count differs from the store's is rebuilt on open.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from rag.store import day_date, day_number

_META = "citewire.json"


def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


class LexicalIndex:
    """A BM25 index of chunks, with each chunk's published day and source for filtering."""

    def __init__(self, retriever: Any, ids: list[str], days: np.ndarray, sources: list[str]) -> None:
        self._retriever = retriever
        self.ids = ids
        self._days = days
        self._sources = np.asarray(sources, dtype=object)
        self._stem = _stemmer()
        self._position = {chunk_id: i for i, chunk_id in enumerate(ids)}

    def published(self, chunk_id: str) -> date | None:
        """The chunk's published date; None when undated or unknown."""
        at = self._position.get(chunk_id)
        return day_date(int(self._days[at])) if at is not None else None

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def build(cls, chunks: Iterable[tuple[str, str, dict[str, Any]]]) -> LexicalIndex:
        """Index (chunk id, text, metadata) triples."""
        import bm25s

        ids: list[str] = []
        texts: list[str] = []
        days: list[int] = []
        sources: list[str] = []
        for chunk_id, text, meta in chunks:
            ids.append(chunk_id)
            texts.append(f"{meta.get('title', '')}\n{text}")
            days.append(int(meta.get("published_day", 0) or 0))
            sources.append(str(meta.get("source", "")))
        retriever = bm25s.BM25()
        if texts:
            tokens = bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), show_progress=False)
            retriever.index(tokens, show_progress=False)
        return cls(retriever, ids, np.asarray(days, dtype=np.int32), sources)

    def save(self, folder: Path) -> None:
        """Write the index to ``folder`` (replacing what was there)."""
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        if self.ids:
            self._retriever.save(str(folder), show_progress=False)
        meta = {"ids": self.ids, "days": self._days.tolist(), "sources": self._sources.tolist()}
        (folder / _META).write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex | None:
        """The index saved in ``folder``, or None when there is none."""
        import bm25s

        meta_path = folder / _META
        if not meta_path.is_file():
            return None
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        retriever = bm25s.BM25.load(str(folder), show_progress=False) if meta["ids"] else bm25s.BM25()
        return cls(retriever, meta["ids"], np.asarray(meta["days"], dtype=np.int32), meta["sources"])

    def allowed(
        self,
        since: date | None = None,
        until: date | None = None,
        sources: Sequence[str] | None = None,
        as_of: date | None = None,
    ) -> np.ndarray:
        """A mask over ``ids``: the chunks that pass the filters (the store's ``chunk_filter``)
        and, with ``as_of``, were not published after it (undated chunks pass that test)."""
        allowed = np.ones(len(self.ids), dtype=bool)
        if as_of is not None:
            allowed &= (self._days == 0) | (self._days <= day_number(as_of))
        if since is not None or until is not None:
            allowed &= self._days > 0  # undated chunks are left out whenever a bound is given
        if since is not None:
            allowed &= self._days >= day_number(since)
        if until is not None:
            allowed &= self._days <= day_number(until)
        if sources:
            allowed &= np.isin(self._sources, list(sources))
        return allowed

    def passes(self, allowed: np.ndarray) -> Callable[[str], bool]:
        """A test of chunk ids against an ``allowed`` mask; unknown ids fail."""

        def test(chunk_id: str) -> bool:
            at = self._position.get(chunk_id)
            return at is not None and bool(allowed[at])

        return test

    def search(
        self,
        question: str,
        k: int,
        since: date | None = None,
        until: date | None = None,
        sources: Sequence[str] | None = None,
        allowed: np.ndarray | None = None,
    ) -> list[tuple[str, float]]:
        """The ``k`` best chunk ids for ``question`` with their BM25 scores, best first
        (``allowed``: a mask from ``allowed``, instead of the filters)."""
        import bm25s

        if not self.ids or k <= 0:
            return []
        query = bm25s.tokenize([question], stopwords="en", stemmer=self._stem, show_progress=False)
        if not query.vocab:
            return []
        if allowed is None:
            allowed = self.allowed(since, until, sources)
        if not allowed.any():
            return []
        found, scores = self._retriever.retrieve(
            query,
            k=min(k, int(allowed.sum())),
            show_progress=False,
            weight_mask=allowed.astype(np.float32),
            n_threads=1,
        )
        return [(self.ids[int(i)], float(s)) for i, s in zip(found[0], scores[0], strict=True) if s > 0]
