"""Splitting articles into passages sized for the embedding model.

llama-index's ``SentenceSplitter`` packs whole sentences into chunks measured in tiktoken
``cl100k_base`` tokens. The model counts differently (WordPiece splits names and numbers
finer), so every chunk is measured again in the model's own tokens together with the title/date
header it is embedded with, and split further if it would not fit: a silently truncated chunk
would be a chunk whose end can never be found.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from rag.offline import go_offline
from rag.records import Article, Chunk, chunk_id_for

HEADER_MAX_CHARS = 120


def embedding_text(chunk: Chunk) -> str:
    """What the model sees for a chunk: a short title/date header, then the passage."""
    title = (
        chunk.title if len(chunk.title) <= HEADER_MAX_CHARS else chunk.title[: HEADER_MAX_CHARS - 3] + "..."
    )
    header = f"{title} ({chunk.published.isoformat()})" if chunk.published else title
    return f"{header}\n{chunk.text}" if header else chunk.text


@lru_cache(maxsize=8)
def _splitter(chunk_tokens: int, overlap: int) -> Any:
    go_offline()
    import tiktoken
    from llama_index.core.node_parser import SentenceSplitter

    encoding = tiktoken.get_encoding("cl100k_base")
    return SentenceSplitter(
        chunk_size=chunk_tokens,
        chunk_overlap=overlap,
        tokenizer=encoding.encode,
        paragraph_separator="\n\n",
    )


def _locate(text: str, piece: str, previous: tuple[int, int] | None) -> tuple[int, int]:
    """Where ``piece``, the chunk after ``previous``, stands in ``text``.

    A chunk starts after the previous one's start and no later than the first character after
    it (chunks overlap or abut). Within that window the latest match is taken, so text that
    repeats itself (the same paragraph twice) is still covered from end to end.
    """
    if previous is None:
        lo, hi = 0, len(text)
    else:
        lo, gap = previous[0] + 1, previous[1]
        while gap < len(text) and text[gap].isspace():
            gap += 1
        hi = gap + len(piece)
    at = text.rfind(piece, lo, hi) if previous is not None else text.find(piece)
    if at == -1:
        at = text.find(piece, lo)
    if at != -1:
        return at, at + len(piece)
    # The splitter may have changed white space; match the words with any white space between.
    pattern = re.compile(r"\s+".join(re.escape(w) for w in piece.split()))
    match = pattern.search(text, lo) or pattern.search(text)
    if match is None:
        raise ValueError(f"chunk not found in article text: {piece[:60]!r}")
    return match.start(), match.end()


class Chunker:
    """Splits articles into ``Chunk``s that fit the model's input with their header.

    ``count_tokens`` measures texts in the model's tokens (special tokens included) and
    ``max_tokens`` is the model's limit.
    """

    def __init__(
        self,
        count_tokens: Callable[[Sequence[str]], list[int]],
        max_tokens: int,
        chunk_tokens: int = 180,
        overlap: int = 20,
    ) -> None:
        self._count = count_tokens
        self.max_tokens = max_tokens
        self.chunk_tokens = chunk_tokens
        self.overlap = overlap

    def spans(
        self, text: str, chunk_tokens: int, start: int = 0, end: int | None = None
    ) -> list[tuple[int, int]]:
        """(start, end) of each chunk of ``text[start:end]``, in article offsets."""
        end = len(text) if end is None else end
        region = text[start:end]
        located: list[tuple[int, int]] = []
        for piece in _splitter(chunk_tokens, min(self.overlap, chunk_tokens // 4)).split_text(region):
            if piece.strip():
                located.append(_locate(region, piece, located[-1] if located else None))
        return [(start + a, start + b) for a, b in located]

    def chunk(self, article: Article) -> list[Chunk]:
        """The article's chunks in order, each fitting the model with its header."""
        pending = self.spans(article.text, self.chunk_tokens)
        size = self.chunk_tokens
        fitted: list[tuple[int, int]] = []
        while pending:
            drafts = [self._make(article, 0, a, b) for a, b in pending]
            counts = self._count([embedding_text(c) for c in drafts])
            too_long = [(a, b) for (a, b), n in zip(pending, counts, strict=True) if n > self.max_tokens]
            fitted.extend(p for p, n in zip(pending, counts, strict=True) if n <= self.max_tokens)
            size = max(16, int(size * 0.7))
            pending = [s for a, b in too_long for s in self.spans(article.text, size, a, b)]
            if size == 16 and pending:
                # A single unbroken run of characters longer than the model input: hard-cut it.
                fitted.extend(self._hard_cut(article, pending))
                pending = []
        fitted.sort()
        return [self._make(article, i, a, b) for i, (a, b) in enumerate(fitted)]

    def _hard_cut(self, article: Article, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
        cut: list[tuple[int, int]] = []
        for a, b in spans:
            step = 200
            cut.extend((i, min(i + step, b)) for i in range(a, b, step))
        return cut

    @staticmethod
    def _make(article: Article, index: int, start: int, end: int) -> Chunk:
        return Chunk(
            id=chunk_id_for(article.id, index),
            article_id=article.id,
            chunk_index=index,
            text=article.text[start:end],
            start=start,
            end=end,
            title=article.title,
            url=article.url,
            source_path=article.source_path,
            published=article.published,
            source=article.source,
        )
