"""The records that flow through Citewire.

    Article ──chunk──> Chunk ──index──> store ──search──> Hit ──answer──> Answer(answer, [Citation])

All are frozen dataclasses. A ``Chunk`` carries its article's provenance, so a citation is a
lookup, never a re-parse. Offsets (``start``/``end``) are character offsets into ``Article.text``.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlsplit


def article_id_for(locator: str) -> str:
    """Return the deterministic article id for a url or a resolved file path (``a`` + 16 hex)."""
    return "a" + hashlib.sha256(locator.encode("utf-8")).hexdigest()[:16]


def text_hash_of(title: str, text: str) -> str:
    """The hash of an article's title and text (sha256, hex)."""
    return hashlib.sha256(f"{title}\x1e{text}".encode()).hexdigest()


def chunk_id_for(article_id: str, index: int) -> str:
    """The id of an article's ``index``-th chunk."""
    return f"{article_id}:{index}"


def is_web_address(url: str) -> bool:
    """Whether ``url`` is an http(s) address with a host (malformed ones, such as
    "http://[::1" or a port past 65535, are not)."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError past 65535, as urlsplit does for a malformed host
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and (port is None or port > 0)


def article_of(chunk_id: str) -> str:
    """The article id inside a chunk id (the inverse of ``chunk_id_for``)."""
    return chunk_id.rpartition(":")[0]


@dataclass(frozen=True)
class Article:
    """One news article as read from a file or a JSONL line."""

    id: str
    text: str
    title: str
    url: str | None = None
    source_path: str | None = None
    published: date | None = None
    source: str | None = None
    authors: tuple[str, ...] = ()
    location: str | None = None
    """Where it was read (the file, and the line of a JSONL file), for messages; not stored."""

    @property
    def content_hash(self) -> str:
        """Hash of everything stored for the article: a changed hash means re-index it."""
        parts = [
            self.text,
            self.title,
            self.url or "",
            self.source_path or "",
            self.published.isoformat() if self.published else "",
            self.source or "",
            "\x1f".join(self.authors),
        ]
        return hashlib.sha256("\x1e".join(parts).encode("utf-8")).hexdigest()

    @property
    def text_hash(self) -> str:
        """Hash of the title and text alone: the same story stored from two places (a file, then
        its upload; a copy in another folder) has one."""
        return text_hash_of(self.title, self.text)


@dataclass(frozen=True)
class Chunk:
    """A passage of an article, with where it came from."""

    id: str
    article_id: str
    chunk_index: int
    text: str
    start: int
    end: int
    title: str
    url: str | None = None
    source_path: str | None = None
    published: date | None = None
    source: str | None = None


@dataclass(frozen=True)
class Hit:
    """A chunk found by search, with its relevance score (higher is better)."""

    chunk: Chunk
    score: float


@dataclass(frozen=True)
class Citation:
    """The passage behind one ``[n]`` marker in an answer.

    ``quote`` is the cited sentence, found verbatim at ``article_text[start:end]``;
    ``passage`` is the whole chunk it came from.
    """

    n: int
    article_id: str
    title: str
    url: str | None
    source_path: str | None
    published: date | None
    source: str | None
    quote: str
    passage: str
    start: int
    end: int
    score: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (dates as ISO strings)."""
        record = asdict(self)
        record["published"] = self.published.isoformat() if self.published else None
        return record


@dataclass(frozen=True)
class Unsupported:
    """A sentence a language model wrote that was left out of the answer, and why."""

    sentence: str
    reason: str


@dataclass(frozen=True)
class Answer:
    """A cited answer, or a refusal (``refused`` true, no citations).

    ``answerer`` names what wrote it: ``extractive``, or ``llm:<model>`` for a language model,
    whose sentences that failed the citation check are in ``unsupported``; ``fallback`` says the
    model's answer gave way to the extractive one (nothing it wrote was supported, or the model
    failed: ``fallback_reason``). ``hits`` are the passages it was built from, best first, and
    ``refusal_reason`` says why it refused.
    """

    question: str
    answer: str
    refused: bool
    citations: tuple[Citation, ...] = field(default=())
    answerer: str = "extractive"
    unsupported: tuple[Unsupported, ...] = ()
    fallback: bool = False
    fallback_reason: str | None = None
    refusal_reason: str | None = None
    written: str | None = None
    """What the language model wrote, whole, before the check; None for the extractive answerer."""
    confidence: float | None = None
    """How sure the extractive answerer is of its lead sentence (its score), also when it
    refused; None with no candidate sentence. Evaluation orders answers by it (risk-coverage)."""
    hits: tuple[Hit, ...] = field(default=(), repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form: the record the CLI, the web API and the eval harness share
        (without ``hits``)."""
        return {
            "question": self.question,
            "answer": self.answer,
            "refused": self.refused,
            "citations": [c.to_dict() for c in self.citations],
            "answerer": self.answerer,
            "unsupported": [asdict(u) for u in self.unsupported],
            "fallback": self.fallback,
            "fallback_reason": self.fallback_reason,
            "refusal_reason": self.refusal_reason,
            "written": self.written,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
        }


@dataclass(frozen=True)
class StoredArticle:
    """What the store knows about an ingested article (no text): for listings and re-ingest."""

    id: str
    title: str
    url: str | None
    source_path: str | None
    published: date | None
    source: str | None
    content_hash: str
    chunks: int
    coherence: float | None = None
    """See ``rag.chroma_records.coherence``; None in records written before records held it."""
    stored_at: float | None = None
    """When the record was written (seconds since the epoch, the writer's clock); None in
    records written before records held it."""
    text_hash: str | None = None
    """``Article.text_hash``; None in records written before records held it."""

    @property
    def version(self) -> tuple[str, int]:
        """The article's text (by hash) and passage count: equal versions have equal passages."""
        return (self.content_hash, self.chunks)

    def to_dict(self) -> dict[str, Any]:
        """The listing's JSON form (``citewire sources --json``, ``GET /v1/articles``)."""
        return {
            "id": self.id,
            "title": self.title,
            "published": self.published.isoformat() if self.published else None,
            "source": self.source,
            "url": self.url,
            "source_path": self.source_path,
            "chunks": self.chunks,
        }
