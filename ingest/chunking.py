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

from rag.offline import cl100k
from rag.records import Article, Chunk, chunk_id_for

HEADER_MAX_CHARS = 120
# The most text handed to the sentence splitter at once. NLTK runs each of its regular
# expressions under a 5-second wall-clock limit (``nltk.redos``), and one pass over a paragraph
# of some megabytes can exceed it on a loaded machine; a window of this size takes about 0.1 s.
# Every realtimeqa article fits in one (they are cut at 100,000 characters), so they split
# exactly as before.
SPLIT_WINDOW = 100_000
_WINDOW_BREAKS = ("\n\n", "\n", ". ", " ")


def split_windows(text: str, start: int, end: int, size: int = SPLIT_WINDOW) -> list[tuple[int, int]]:
    """``text[start:end]`` as consecutive (start, end) pieces of at most ``size`` characters,
    each cut at the last paragraph break before the limit, else line break, sentence end or
    space (in its second half), else at the limit."""
    pieces: list[tuple[int, int]] = []
    at = start
    while end - at > size:
        limit = at + size
        cut = limit
        for mark in _WINDOW_BREAKS:
            found = text.rfind(mark, at + size // 2, limit)
            if found != -1:
                cut = found + len(mark)
                break
        pieces.append((at, cut))
        at = cut
    pieces.append((at, end))
    return pieces


def embedding_text(chunk: Chunk) -> str:
    """What the model sees for a chunk: a short title/date header, then the passage."""
    title = (
        chunk.title if len(chunk.title) <= HEADER_MAX_CHARS else chunk.title[: HEADER_MAX_CHARS - 3] + "..."
    )
    header = f"{title} ({chunk.published.isoformat()})" if chunk.published else title
    return f"{header}\n{chunk.text}" if header else chunk.text


@lru_cache(maxsize=8)
def _splitter(chunk_tokens: int, overlap: int) -> Any:
    encoding = cl100k()
    from llama_index.core.node_parser import SentenceSplitter

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

    ``tokenize`` turns texts into the model's token ids (special tokens included) and
    ``max_tokens`` is the model's limit. ``split`` keeps the ids of each chunk's embedding text,
    measured for the length check, so the model never tokenizes a chunk again.
    """

    def __init__(
        self,
        tokenize: Callable[[Sequence[str]], list[list[int]]],
        max_tokens: int,
        chunk_tokens: int = 180,
        overlap: int = 20,
    ) -> None:
        self._tokenize = tokenize
        self.max_tokens = max_tokens
        self.chunk_tokens = chunk_tokens
        self.overlap = overlap

    def spans(
        self, text: str, chunk_tokens: int, start: int = 0, end: int | None = None
    ) -> list[tuple[int, int]]:
        """(start, end) of each chunk of ``text[start:end]``, in article offsets; a region
        longer than ``SPLIT_WINDOW`` is split a window at a time (no chunk spans two)."""
        end = len(text) if end is None else end
        splitter = _splitter(chunk_tokens, min(self.overlap, chunk_tokens // 4))
        spans: list[tuple[int, int]] = []
        for low, high in split_windows(text, start, end):
            region = text[low:high]
            located: list[tuple[int, int]] = []
            for piece in splitter.split_text(region):
                if piece.strip():
                    located.append(_locate(region, piece, located[-1] if located else None))
            spans.extend((low + a, low + b) for a, b in located)
        return spans

    def chunk(self, article: Article) -> list[Chunk]:
        """The article's chunks in order, each fitting the model with its header."""
        return [chunk for chunk, _ in self.split(article)]

    def split(self, article: Article) -> list[tuple[Chunk, list[int]]]:
        """The article's chunks in order, each with the token ids of its ``embedding_text``."""
        pending = self.spans(article.text, self.chunk_tokens)
        size = self.chunk_tokens
        fitted: dict[tuple[int, int], list[int]] = {}
        while pending:
            # A chunk's embedding text does not depend on its index: draft them all as 0.
            tokens = self._tokenize([embedding_text(self._make(article, 0, a, b)) for a, b in pending])
            fitted.update(
                (span, ids) for span, ids in zip(pending, tokens, strict=True) if len(ids) <= self.max_tokens
            )
            too_long = [span for span, ids in zip(pending, tokens, strict=True) if len(ids) > self.max_tokens]
            size = max(16, int(size * 0.7))
            pending = [s for a, b in too_long for s in self.spans(article.text, size, a, b)]
            if size == 16 and pending:
                # A single unbroken run of characters longer than the model input: hard-cut it.
                cut = self._hard_cut(article, pending)
                cut_texts = [embedding_text(self._make(article, 0, a, b)) for a, b in cut]
                # Its header may still overflow a 200-character piece of dense symbols: the
                # model sees the first max_tokens then, as it would have anyway.
                limit = self.max_tokens
                fitted.update(
                    (span, ids if len(ids) <= limit else ids[: limit - 1] + ids[-1:])
                    for span, ids in zip(cut, self._tokenize(cut_texts), strict=True)
                )
                pending = []
        return [(self._make(article, i, a, b), fitted[(a, b)]) for i, (a, b) in enumerate(sorted(fitted))]

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
