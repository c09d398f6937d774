"""``Store``: what a ``Library`` needs of the place its articles, passages and vectors live.

``rag.store.ChromaStore`` implements it, embedded and against a Chroma server;
``tests/test_store_contract.py`` is the contract every implementation runs. Another vector store
(a service at scale, an in-memory one for tests) is a class with these methods.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from rag.filters import PassageFilter
from rag.records import Chunk, Hit, StoredArticle

if TYPE_CHECKING:
    from rag.chroma_records import ArticleWrite


class Store(Protocol):
    """Articles with their embedded passages: written whole, searched by vector, read back."""

    def put(self, writes: Sequence[ArticleWrite]) -> list[str]:
        """Store articles with their chunks, replacing any older version of each; returns the
        ids of older chunks that are gone (an article that now has fewer)."""
        ...

    def delete(self, article_id: str) -> list[str] | None:
        """Remove an article and its chunks; the chunk ids removed, or None when it was not stored."""
        ...

    def nearest(
        self,
        vector: np.ndarray,
        n: int,
        filters: PassageFilter | None = None,
        keep: Callable[[str], bool] | None = None,
        share: float | None = None,
    ) -> list[tuple[str, float]]:
        """(chunk id, cosine) of the ``n`` chunks nearest ``vector`` that pass ``filters`` and
        ``keep`` (a test of chunk ids), best first; ``share`` is the share ``keep`` passes."""
        ...

    def nearest_articles(
        self,
        vector: np.ndarray,
        n: int,
        filters: PassageFilter | None = None,
        keep: Callable[[str], bool] | None = None,
        share: float | None = None,
    ) -> list[tuple[str, float]]:
        """(article id, cosine) of the ``n`` articles whose mean chunk vector is nearest."""
        ...

    def hits_for(self, chunk_ids: Sequence[str], vector: np.ndarray) -> list[Hit]:
        """These chunks, in this order, scored by cosine to ``vector``; unknown ids left out."""
        ...

    def articles(
        self, stored_since: float | None = None, ids: Sequence[str] | None = None
    ) -> list[StoredArticle]:
        """Stored articles without their text: all, those written since ``stored_since``, or ``ids``."""
        ...

    def article_ids(self) -> set[str]:
        """The id of every stored article."""
        ...

    def article_text(self, article_id: str) -> str | None:
        """An article's full text (what citation offsets index into), or None."""
        ...

    def coherences(self) -> dict[str, float]:
        """Every stored article's coherence (see ``rag.chroma_records.coherence``)."""
        ...

    def iter_chunks(self, article_ids: Sequence[str] | None = None) -> Iterator[Chunk]:
        """Every stored chunk (of ``article_ids``, if given)."""
        ...

    def count_chunks(self) -> int:
        """Number of chunks stored."""
        ...

    def count_articles(self) -> int:
        """Number of articles stored."""
        ...
