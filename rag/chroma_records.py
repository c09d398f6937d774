"""How Citewire's records are kept in Chroma: an article to write with its chunks and vectors
(``ArticleWrite``), chunk and article records as Chroma metadata and back, and an article's
vector and coherence from its chunks'. No chromadb import: ``rag.store`` does the talking,
through ``rag.chroma_client``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any

import numpy as np

from rag.filters import day_number
from rag.records import Article, Chunk, StoredArticle


@dataclass(frozen=True)
class ArticleWrite:
    """One article and its chunks with their vectors, ready to store."""

    article: Article
    chunks: Sequence[Chunk]
    vectors: np.ndarray

    @cached_property
    def coherence(self) -> float:
        """The article's ``coherence``, worked out once for its record and the library's map."""
        return coherence(self.vectors)

    @property
    def version(self) -> tuple[str, int]:
        """This version's ``StoredArticle.version``."""
        return (self.article.content_hash, len(self.chunks))


def _clean(meta: dict[str, Any]) -> dict[str, Any]:
    # Chroma metadata values cannot be None.
    return {k: v for k, v in meta.items() if v is not None}


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def _chunk_meta(chunk: Chunk) -> dict[str, Any]:
    return _clean(
        {
            "article_id": chunk.article_id,
            "chunk_index": chunk.chunk_index,
            "start": chunk.start,
            "end": chunk.end,
            "title": chunk.title,
            "url": chunk.url,
            "source_path": chunk.source_path,
            "published": chunk.published.isoformat() if chunk.published else None,
            "published_day": day_number(chunk.published) if chunk.published else None,
            "source": chunk.source,
        }
    )


def chunk_from(chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
    """A chunk from its Chroma record: id, document and metadata."""
    return Chunk(
        id=chunk_id,
        article_id=str(meta["article_id"]),
        chunk_index=int(meta["chunk_index"]),
        text=text,
        start=int(meta["start"]),
        end=int(meta["end"]),
        title=str(meta.get("title", "")),
        url=meta.get("url"),
        source_path=meta.get("source_path"),
        published=_date(meta.get("published")),
        source=meta.get("source"),
    )


def _article_vector(vectors: np.ndarray) -> np.ndarray:
    if len(vectors) == 0:
        return np.zeros(384, dtype=np.float32)
    mean = vectors.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm > 0 else mean


def coherence(vectors: np.ndarray) -> float:
    """How much an article's chunks say the same thing: the length of the mean of their unit
    vectors (1 for one chunk or identical ones; a round-up of unrelated stories scores about
    0.4-0.6 where a typical story scores about 0.85). 1 for an article without chunks."""
    return _length(vectors.mean(axis=0)) if len(vectors) else 1.0


def _length(mean: np.ndarray) -> float:
    """A mean vector's length, as article records keep it (four decimals)."""
    return round(float(np.linalg.norm(mean)), 4)


def _article_meta(
    article: Article, chunks: int, article_coherence: float, stored_at: float
) -> dict[str, Any]:
    return _clean(
        {
            "title": article.title,
            "url": article.url,
            "source_path": article.source_path,
            "published": article.published.isoformat() if article.published else None,
            "published_day": day_number(article.published) if article.published else None,
            "source": article.source,
            "authors": "; ".join(article.authors) or None,
            "content_hash": article.content_hash,
            "text_hash": article.text_hash,
            "chunks": chunks,
            "coherence": article_coherence,
            "stored_at": stored_at,
        }
    )


def _stored(article_id: str, meta: dict[str, Any]) -> StoredArticle:
    return StoredArticle(
        id=article_id,
        title=str(meta.get("title", "")),
        url=meta.get("url"),
        source_path=meta.get("source_path"),
        published=_date(meta.get("published")),
        source=meta.get("source"),
        content_hash=str(meta.get("content_hash", "")),
        chunks=int(meta.get("chunks", 0)),
        coherence=_number(meta.get("coherence")),
        stored_at=_number(meta.get("stored_at")),
        text_hash=meta.get("text_hash"),
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None
