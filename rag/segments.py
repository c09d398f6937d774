"""The BM25 index's storage: a vocabulary of stems and segments of term postings.

A segment holds some chunks' term counts laid out by term, so one term's postings are one slice.
Segments never change once written; deleted rows are listed beside them (see ``rag.lexical``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from itertools import islice
from pathlib import Path

import numpy as np


class Vocabulary:
    """Stems and their term ids, shared by every version of an index (it only grows)."""

    def __init__(self, stems: Iterable[str] = ()) -> None:
        import bm25s
        import Stemmer

        self._tokenizer = bm25s.tokenization.Tokenizer(
            stopwords="en", stemmer=Stemmer.Stemmer("english").stemWord
        )
        self.stems: list[str] = []
        self.extend(stems)

    def __len__(self) -> int:
        return len(self.stems)

    def extend(self, stems: Iterable[str]) -> None:
        for stem in stems:
            self._tokenizer.stem_to_sid[stem] = len(self.stems)
            self.stems.append(stem)

    def terms(self, texts: Sequence[str], grow: bool) -> list[list[int]]:
        """Each text as term ids (repeats kept); ``grow`` gives new stems new ids."""
        found = list(self._tokenizer.streaming_tokenize(list(texts), update_vocab=grow, allow_empty=False))
        if grow:  # new stems were given ids in order, at the end of the tokenizer's dict
            by_id = self._tokenizer.stem_to_sid
            self.stems.extend(reversed(list(islice(reversed(by_id), len(by_id) - len(self.stems)))))
        return found


@dataclass(frozen=True)
class Segment:
    """Some chunks' term counts, as postings: term t's are ``rows[starts[t]:starts[t + 1]]``."""

    name: str
    ids: list[str]
    days: np.ndarray  # int32 YYYYMMDD, 0 when undated
    sources: list[str]
    lengths: np.ndarray  # float32: terms per chunk, repeats counted
    starts: np.ndarray  # int64, one more than the vocabulary it knew
    rows: np.ndarray  # int32, rows of this segment
    counts: np.ndarray  # uint16
    stems: list[str]  # stems first seen in this segment, in term-id order
    deleted: frozenset[int] = field(default=frozenset())

    def __len__(self) -> int:
        return len(self.ids)

    def postings(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        if term + 1 >= len(self.starts):
            return self.rows[:0], self.counts[:0]
        a, b = int(self.starts[term]), int(self.starts[term + 1])
        return self.rows[a:b], self.counts[a:b]

    def terms_at(self, positions: np.ndarray) -> np.ndarray:
        """The term of the postings at these positions (in ``rows``/``counts``)."""
        return np.searchsorted(self.starts, positions, side="right") - 1

    def document_frequencies(self, rows: Iterable[int] | None = None) -> np.ndarray:
        """Per term, how many of ``rows`` (default: the live ones) contain it."""
        if rows is None:
            keep = self.live()[self.rows]
        else:
            keep = np.isin(self.rows, np.fromiter(rows, dtype=np.int64))
        return np.bincount(self.terms_at(np.flatnonzero(keep)), minlength=len(self.starts) - 1)

    def live(self) -> np.ndarray:
        mask = np.ones(len(self), dtype=bool)
        mask[list(self.deleted)] = False
        return mask

    @cached_property
    def positions(self) -> dict[str, int]:
        """Each chunk id's row, worked out once per segment."""
        return {chunk_id: row for row, chunk_id in enumerate(self.ids)}

    @cached_property
    def source_column(self) -> np.ndarray:
        """``sources`` as an array, worked out once per segment."""
        return np.asarray(self.sources, dtype=object)

    def without(self, rows: Iterable[int]) -> Segment:
        """This segment with these rows deleted too; what it worked out about its ids carries over."""
        smaller = replace(self, deleted=self.deleted | frozenset(rows))
        for name in ("positions", "source_column"):
            if name in self.__dict__:
                smaller.__dict__[name] = self.__dict__[name]
        return smaller

    @classmethod
    def make(
        cls,
        name: str,
        entries: Sequence[tuple[str, int, str]],
        terms: Sequence[Sequence[int]],
        vocabulary_size: int,
        stems: list[str],
    ) -> Segment:
        """A segment of (chunk id, day, source) entries with their term ids."""
        lengths = np.asarray([len(t) for t in terms], dtype=np.int64)
        flat = np.fromiter((t for doc in terms for t in doc), dtype=np.int64, count=int(lengths.sum()))
        rows = np.repeat(np.arange(len(terms), dtype=np.int64), lengths)
        return cls._from_postings(
            name,
            [e[0] for e in entries],
            np.asarray([e[1] for e in entries], dtype=np.int32),
            [e[2] for e in entries],
            lengths.astype(np.float32),
            flat,
            rows,
            np.ones(len(flat), dtype=np.int64),
            vocabulary_size,
            stems,
        )

    @classmethod
    def _from_postings(
        cls,
        name: str,
        ids: list[str],
        days: np.ndarray,
        sources: list[str],
        lengths: np.ndarray,
        terms: np.ndarray,
        rows: np.ndarray,
        counts: np.ndarray,
        vocabulary_size: int,
        stems: list[str],
    ) -> Segment:
        """Sum ``counts`` per (term, row) and lay them out by term."""
        n = max(len(ids), 1)
        key, inverse = np.unique(terms * n + rows, return_inverse=True)
        summed = np.bincount(inverse, weights=counts, minlength=len(key))
        key_terms = key // n
        starts = np.zeros(vocabulary_size + 1, dtype=np.int64)
        np.cumsum(np.bincount(key_terms, minlength=vocabulary_size), out=starts[1:])
        return cls(
            name,
            ids,
            days,
            sources,
            lengths,
            starts,
            (key % n).astype(np.int32),
            np.minimum(summed, np.iinfo(np.uint16).max).astype(np.uint16),
            stems,
        )

    @classmethod
    def merge(cls, name: str, parts: Sequence[Segment], vocabulary_size: int) -> Segment:
        """One segment with the live rows of ``parts``, in order."""
        ids: list[str] = []
        sources: list[str] = []
        days, lengths, terms, rows, counts = [], [], [], [], []
        for part in parts:
            live = part.live()
            renumber = np.cumsum(live) - 1 + len(ids)
            keep = live[part.rows]
            terms.append(part.terms_at(np.flatnonzero(keep)))
            rows.append(renumber[part.rows[keep]])
            counts.append(part.counts[keep].astype(np.int64))
            ids.extend(i for i, alive in zip(part.ids, live, strict=True) if alive)
            sources.extend(s for s, alive in zip(part.sources, live, strict=True) if alive)
            days.append(part.days[live])
            lengths.append(part.lengths[live])
        return cls._from_postings(
            name,
            ids,
            np.concatenate(days) if days else np.zeros(0, np.int32),
            sources,
            np.concatenate(lengths) if lengths else np.zeros(0, np.float32),
            np.concatenate(terms) if terms else np.zeros(0, np.int64),
            np.concatenate(rows) if rows else np.zeros(0, np.int64),
            np.concatenate(counts) if counts else np.zeros(0, np.int64),
            vocabulary_size,
            [stem for part in parts for stem in part.stems],
        )

    def save(self, folder: Path) -> None:
        path = folder / f"{self.name}.npz"
        if path.exists():
            return  # segments never change once written; deletions live in the manifest
        partial = folder / f"{self.name}.partial.npz"
        np.savez(
            partial,
            ids=np.asarray([i.encode("utf-8") for i in self.ids], dtype=bytes),
            days=self.days,
            sources=np.asarray([s.encode("utf-8") for s in self.sources], dtype=bytes),
            lengths=self.lengths,
            starts=self.starts,
            rows=self.rows,
            counts=self.counts,
            stems=np.asarray([s.encode("utf-8") for s in self.stems], dtype=bytes),
        )
        os.replace(partial, path)

    @classmethod
    def load(cls, folder: Path, name: str, deleted: Iterable[int]) -> Segment:
        with np.load(folder / f"{name}.npz") as data:

            def strings(key: str) -> list[str]:
                return [b.decode("utf-8") for b in data[key].tolist()]

            return cls(
                name,
                strings("ids"),
                data["days"],
                strings("sources"),
                data["lengths"],
                data["starts"],
                data["rows"],
                data["counts"],
                strings("stems"),
                frozenset(deleted),
            )
