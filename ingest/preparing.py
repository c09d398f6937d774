"""An article made ready to store: split into passages, each with its token ids, passages that
repeat an earlier one word for word left out; an article that cannot be split is a skip."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from ingest.chunking import Chunker
from ingest.readers import Problem
from rag.library import Library
from rag.records import Article, Chunk, chunk_id_for


@dataclass(frozen=True)
class Prepared:
    """An article to store, split into chunks, with each chunk's token ids."""

    article: Article
    chunks: list[Chunk]
    tokens: list[list[int]]


class Splitter:
    """Splits an article into passages with the library's chunker, made on first use; an article
    that cannot be split is a skip, named through ``problem``."""

    def __init__(self, library: Library, problem: Callable[[Problem], None]) -> None:
        self._library = library
        self._problem = problem
        self._chunker: Chunker | None = None

    def __call__(self, item: Article, where: str) -> Prepared | None:
        settings = self._library.settings
        if len(item.text) > settings.max_article_chars:
            reason = (
                f"the text is {len(item.text):,} characters, over the {settings.max_article_chars:,} an "
                "article may have; split it into articles, or raise CITEWIRE_MAX_ARTICLE_CHARS"
            )
            self._problem(Problem(where, reason, True))
            return None
        if self._chunker is None:
            embedder = self._library.embedder
            self._chunker = Chunker(
                embedder.tokenize, embedder.max_tokens, settings.chunk_tokens, settings.chunk_overlap
            )
        try:
            split = self._chunker.split(item)
        except (TimeoutError, ValueError) as exc:
            # NLTK's regular-expression time limit, or a passage the splitter changed beyond
            # finding again: this article cannot be indexed, the others still can.
            detail = " ".join(str(exc).split())[:200]
            self._problem(
                Problem(where, f"could not be split into passages ({detail}); nothing stored", True)
            )
            return None
        if not split:
            self._problem(Problem(where, "no text left to index after splitting", True))
            return None
        split, repeats = without_repeats(split)
        if repeats:
            reason = (
                f"{repeats} of its {repeats + len(split)} passages repeat an earlier one word for word; "
                "each is indexed once (the article's text is stored whole)"
            )
            self._problem(Problem(where, reason, False))
        return Prepared(item, [c for c, _ in split], [ids for _, ids in split])


def without_repeats(split: list[tuple[Chunk, list[int]]]) -> tuple[list[tuple[Chunk, list[int]]], int]:
    """``split`` without the passages whose text repeats an earlier one of the article, numbered
    again, and how many were left out.

    A page that repeats a line or a block many times (a scraping fault, a ticker) would
    otherwise fill the nearest passages of every question near it with copies of itself and
    crowd out every other article; one copy is found as well. Citations quote the article's
    whole text, which is kept.
    """
    seen: set[str] = set()
    kept: list[tuple[Chunk, list[int]]] = []
    for chunk, ids in split:
        if chunk.text in seen:
            continue
        seen.add(chunk.text)
        index = len(kept)
        kept.append((replace(chunk, id=chunk_id_for(chunk.article_id, index), chunk_index=index), ids))
    return kept, len(split) - len(kept)
