"""BM25 over chunk texts: the keyword half of hybrid search.

News questions are full of names and numbers that a small embedding model blurs; BM25 matches
them exactly. bm25s's tokenizer (English stop words, a Snowball stemmer) turns each chunk's
title and text into term ids, and the scores are bm25s's default BM25 (Lucene's, k1=1.5,
b=0.75), computed at query time from term counts so that they stay exact as the index changes.

The index is kept in segments, so an ingest or a forget costs in proportion to what it changed,
not to the library: an ingest adds a segment (small ones are merged, as in Lucene, so there are
few), a forget marks rows deleted (dropped when segments merge). An index is a value: ``add`` and
``remove`` return a new one that shares the unchanged segments, so a search running meanwhile
keeps a consistent view. On disk, in ``<data_dir>/bm25/<collection>/`` (also when the vectors
live on a Chroma server): ``citewire.json`` names the segments and deleted rows, each segment is
one ``.npz``; a segment is written before the manifest that names it.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from pathlib import Path

import numpy as np

from rag.filters import PassageFilter, day_date, day_number
from rag.locks import folder_lock
from rag.records import Chunk, chunk_id_for
from rag.segments import Segment, Vocabulary

_META = "citewire.json"
_FORMAT = 2
K1 = 1.5
B = 0.75
BATCH = 20_000  # chunks tokenized into one segment at a time when building from scratch
COMPACT_DELETED = 0.25  # merge everything once this share of the rows is deleted


class LexicalIndex:
    """A BM25 index of chunks, with each chunk's published day and source for filtering.

    Rows are the segments' chunks one after another; deleted rows stay until a merge drops them
    and never match. A new version costs in proportion to its segments' count and to numeric
    columns, not to a map of every chunk id: each segment keeps its own (see ``Segment.positions``).
    """

    def __init__(
        self,
        segments: Sequence[Segment] = (),
        vocabulary: Vocabulary | None = None,
        document_frequencies: np.ndarray | None = None,
    ) -> None:
        self.segments = tuple(segments)
        self.vocabulary = vocabulary or Vocabulary(stem for s in self.segments for stem in s.stems)
        self._offsets = np.cumsum([0] + [len(s) for s in self.segments])
        self._days = np.concatenate([s.days for s in self.segments] or [np.zeros(0, np.int32)])
        self._sources = np.concatenate([s.source_column for s in self.segments] or [np.zeros(0, object)])
        self._live = np.concatenate([s.live() for s in self.segments] or [np.zeros(0, bool)])
        self._count = int(self._live.sum())  # an id is live in one row at most: add replaces
        # Where to look an id up: each segment's own map, the largest first (an id is live in
        # one segment at most, so the order only decides how soon it is found).
        starts = self._offsets.tolist()
        self._lookup = sorted(
            ((s.positions, s.deleted, starts[at]) for at, s in enumerate(self.segments)),
            key=lambda entry: -len(entry[0]),
        )
        if document_frequencies is None:
            document_frequencies = np.zeros(len(self.vocabulary), dtype=np.int64)
            for s in self.segments:
                document_frequencies[: len(s.starts) - 1] += s.document_frequencies()
        self._df = document_frequencies
        lengths = np.concatenate([s.lengths for s in self.segments] or [np.zeros(0, np.float32)])
        average = float(lengths[self._live].mean()) if self._live.any() else 1.0
        self._norm = (K1 * ((1 - B) + B * lengths / max(average, 1e-9))).astype(np.float32)

    def __len__(self) -> int:
        """Live chunks."""
        return self._count

    @property
    def ids(self) -> list[str]:
        """The chunk id of every row, deleted ones included (a list as long as the index)."""
        return [chunk_id for s in self.segments for chunk_id in s.ids]

    def _row(self, chunk_id: str) -> int | None:
        """The live row holding ``chunk_id``, or None."""
        for positions, deleted, start in self._lookup:
            row = positions.get(chunk_id)
            if row is not None and row not in deleted:
                return start + row
        return None

    def _ids_at(self, rows: np.ndarray) -> list[str]:
        owners = (np.searchsorted(self._offsets, rows, side="right") - 1).tolist()
        local = (rows - self._offsets[owners]).tolist()
        return [self.segments[at].ids[row] for at, row in zip(owners, local, strict=True)]

    def chunks_of(self, article_id: str) -> list[str]:
        """The ids of an article's chunks in the index (an article's chunks are numbered from 0)."""
        found: list[str] = []
        while self._row(chunk_id_for(article_id, len(found))) is not None:
            found.append(chunk_id_for(article_id, len(found)))
        return found

    def published(self, chunk_id: str) -> date | None:
        """The chunk's published date; None when undated or unknown."""
        at = self._row(chunk_id)
        return day_date(int(self._days[at])) if at is not None else None

    @classmethod
    def build(cls, chunks: Iterable[Chunk]) -> LexicalIndex:
        """Index chunks from scratch, a batch at a time."""
        index = cls()
        batch: list[Chunk] = []
        for entry in chunks:
            batch.append(entry)
            if len(batch) >= BATCH:
                index, batch = index.add(batch), []
        return index.add(batch) if batch else index

    def add(self, chunks: Sequence[Chunk]) -> LexicalIndex:
        """This index with ``chunks`` added as a new segment; chunks with an id already here
        replace the old ones. Small segments are merged into their neighbour."""
        if not chunks:
            return self
        segments, df = self._without(c.id for c in chunks)
        recorded = sum(len(s.stems) for s in segments)  # stems past these get written with this segment
        terms = self.vocabulary.terms([f"{c.title}\n{c.text}" for c in chunks], grow=True)
        entries = [(c.id, day_number(c.published) if c.published else 0, c.source or "") for c in chunks]
        size = len(self.vocabulary)
        fresh = Segment.make(self._next_name(), entries, terms, size, self.vocabulary.stems[recorded:size])
        df = np.concatenate([df, np.zeros(size - len(df), dtype=np.int64)]) + fresh.document_frequencies()
        segments.append(fresh)
        while len(segments) > 1 and 2 * len(segments[-1]) >= len(segments[-2]):
            segments[-2:] = [Segment.merge(self._next_name(), segments[-2:], size)]
        return LexicalIndex(segments, self.vocabulary, df)._compacted()

    def remove(self, chunk_ids: Iterable[str]) -> LexicalIndex:
        """This index without these chunks (unknown ids are ignored)."""
        segments, df = self._without(chunk_ids)
        return LexicalIndex(segments, self.vocabulary, df)._compacted()

    def _without(self, chunk_ids: Iterable[str]) -> tuple[list[Segment], np.ndarray]:
        """The segments with these chunks' rows marked deleted, and the document frequencies left."""
        found = (self._row(c) for c in chunk_ids)
        rows = np.asarray(sorted({row for row in found if row is not None}), dtype=np.int64)
        segments = list(self.segments)
        df = self._df.copy()
        owners = np.searchsorted(self._offsets, rows, side="right") - 1
        for at in np.unique(owners).tolist():
            local = (rows[owners == at] - int(self._offsets[at])).tolist()
            gone = segments[at].document_frequencies(local)
            df[: len(gone)] -= gone
            segments[at] = segments[at].without(local)
        return segments, df

    def _compacted(self) -> LexicalIndex:
        deleted = len(self._live) - int(self._live.sum())
        if deleted == 0 or deleted < COMPACT_DELETED * len(self._live):
            return self
        merged = Segment.merge(self._next_name(), self.segments, len(self.vocabulary))
        return LexicalIndex([merged], self.vocabulary, self._df)

    @staticmethod
    def _next_name() -> str:
        """A name never used before, so a file left by a save that was cut short is never
        mistaken for a new segment."""
        return f"seg-{uuid.uuid4().hex[:16]}"

    def save(self, folder: Path, synced_at: float | None = None) -> None:
        """Write the index to ``folder``: new segments first, then the manifest; files of
        segments no longer named are removed last. ``synced_at`` (with a Chroma server: the time
        up to which the index holds other clients' writes) is kept in the manifest. Holds the
        folder's lock (``rag.locks.folder_lock``) throughout."""
        with folder_lock(folder):
            folder.mkdir(parents=True, exist_ok=True)
            for s in self.segments:
                s.save(folder)
            manifest = {
                "format": _FORMAT,
                "segments": [s.name for s in self.segments],
                "deleted": {s.name: sorted(s.deleted) for s in self.segments if s.deleted},
            }
            if synced_at is not None:
                manifest["synced_at"] = synced_at
            partial = folder / f"{_META}.partial"
            partial.write_text(json.dumps(manifest), encoding="utf-8")
            os.replace(partial, folder / _META)
            named = {f"{s.name}.npz" for s in self.segments}
            for path in folder.iterdir():
                if path.is_file() and path.name != _META and path.name not in named:
                    path.unlink()

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex | None:
        """The index saved in ``folder``, or None when there is none (or it is of an older format)."""
        return cls.load_synced(folder)[0]

    @classmethod
    def load_synced(cls, folder: Path) -> tuple[LexicalIndex | None, float | None]:
        """The index saved in ``folder`` and the ``synced_at`` it was saved with (None for each
        that is missing), read together under the folder's lock: another client sharing the
        folder cannot save between the two."""
        meta_path = folder / _META
        if not meta_path.is_file():
            return None, None
        with folder_lock(folder):
            try:
                manifest = json.loads(meta_path.read_text(encoding="utf-8"))
                if manifest.get("format") != _FORMAT:
                    return None, None
                deleted = manifest.get("deleted", {})
                names = manifest["segments"]
                segments = [Segment.load(folder, name, deleted.get(name, ())) for name in names]
            except (OSError, KeyError, ValueError):
                return None, None  # a damaged index is rebuilt from the store
        synced_at = manifest.get("synced_at")
        return cls(segments), float(synced_at) if isinstance(synced_at, int | float) else None

    def allowed(self, filters: PassageFilter | None = None, as_of: date | None = None) -> np.ndarray:
        """A mask over ``ids``: the live chunks that pass ``filters`` and, with ``as_of``, were
        not published after it (undated chunks pass that test)."""
        allowed = self._live.copy()
        if as_of is not None:
            allowed &= (self._days == 0) | (self._days <= day_number(as_of))
        if filters is not None and not filters.empty:
            allowed &= filters.mask(self._days, self._sources)
        return allowed

    def passes(self, allowed: np.ndarray) -> Callable[[str], bool]:
        """A test of chunk ids against an ``allowed`` mask; unknown ids fail."""

        def test(chunk_id: str) -> bool:
            at = self._row(chunk_id)
            return at is not None and bool(allowed[at])

        return test

    def search(self, question: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[str, float]]:
        """The ``k`` best chunk ids for ``question`` with their BM25 scores, best first, among
        the chunks an ``allowed`` mask keeps (default: every live one)."""
        if not self._count or k <= 0:
            return []
        known = len(self._df)  # the shared vocabulary may have grown since this version
        terms = [t for t in self.vocabulary.terms([question], grow=False)[0] if t < known]
        mask = self._live if allowed is None else allowed & self._live
        if not terms or not mask.any():
            return []
        total = self._count
        scores = np.zeros(len(self._live), dtype=np.float32)
        for term in terms:  # repeats count again, as in bm25s
            df = int(self._df[term])
            if df == 0:
                continue
            idf = math.log(1 + (total - df + 0.5) / (df + 0.5))
            for s, start in zip(self.segments, self._offsets, strict=False):
                rows, counts = s.postings(term)
                at = rows.astype(np.int64) + start
                tf = counts.astype(np.float32)
                scores[at] += idf * tf / (self._norm[at] + tf)
        scores[~mask] = 0
        k = min(k, int(np.count_nonzero(scores)))
        if k == 0:
            return []
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return list(zip(self._ids_at(best), scores[best].tolist(), strict=True))
