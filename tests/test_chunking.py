"""Chunks are sentence-aligned, locate exactly in their article, and fit the model's input."""

from __future__ import annotations

import json
from itertools import islice, pairwise

import pytest
from conftest import BBC_DIR, RTQA_DIR, bbc_slice, needs_shared

from ingest.chunking import Chunker, embedding_text
from ingest.readers import read_file
from rag import Article, Embedder
from rag.errors import ConfigError


def chunker_for(embedder: Embedder, size: int = 180) -> Chunker:
    return Chunker(embedder.tokenize, embedder.max_tokens, size, 20)


def check_chunks(article: Article, chunker: Chunker, embedder: Embedder) -> None:
    chunks = chunker.chunk(article)
    assert chunks, article.title
    assert [c.chunk_index for c in chunks] == list(range(len(chunks)))
    assert [c.id for c in chunks] == [f"{article.id}:{i}" for i in range(len(chunks))]
    for chunk in chunks:
        assert article.text[chunk.start : chunk.end] == chunk.text
    counts = embedder.count_tokens([embedding_text(c) for c in chunks])
    assert max(counts) <= embedder.max_tokens
    # The ids kept for embedding are exactly the chunk's embedding text, tokenized.
    kept = [ids for _, ids in chunker.split(article)]
    assert kept == embedder.tokenize([embedding_text(c) for c in chunks])
    # Together the chunks cover every word of the article.
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    uncovered = "".join(ch for i, ch in enumerate(article.text) if i not in covered)
    assert not uncovered.strip(), uncovered[:80]


def test_dense_text_is_split_until_it_fits(embedder: Embedder) -> None:
    # Numbers and rare names cost the model far more tokens than tiktoken counts.
    sentence = "Xq-7731 rose 4.25% to 9,876.54 at 03:15 GMT per the Zyxwvu index 2004-2005. "
    text = "Dense figures\n\n" + sentence * 40 + "\n\n" + "x" * 3000
    article = Article(id="a1", text=text, title="Dense figures " * 12)
    check_chunks(article, chunker_for(embedder, 230), embedder)


def test_chunks_end_at_sentence_boundaries(embedder: Embedder) -> None:
    body = " ".join(f"Sentence number {i} says something about the weather today." for i in range(80))
    article = Article(id="a2", text=body, title="Weather")
    chunks = chunker_for(embedder).chunk(article)
    assert len(chunks) > 2
    assert all(c.text.endswith(".") for c in chunks)


@needs_shared
def test_real_articles_chunk_exactly(embedder: Embedder) -> None:
    chunker = chunker_for(embedder)
    for path in bbc_slice(4):
        for item in read_file(path, BBC_DIR):
            if isinstance(item, Article):
                check_chunks(item, chunker, embedder)
    with (RTQA_DIR / "articles.jsonl").open(encoding="utf-8") as lines:
        records = [json.loads(line) for line in islice(lines, 40)]
    for i, record in enumerate(records):
        article = Article(id=f"r{i}", text=record["text"], title=record["title"])
        check_chunks(article, chunker, embedder)


def test_embedding_kept_token_ids_equals_the_models_own_encoding(embedder: Embedder) -> None:
    # Texts of very different lengths share padded batches; each vector must match encoding
    # the text on its own with sentence-transformers.
    texts = ["Short one.", "A somewhat longer sentence about the harbour reopening after the storm. " * 3]
    texts += ["Markets rallied on Tuesday as rate hopes grew among traders in several cities. " * 12]
    vectors = embedder.embed_tokens(embedder.tokenize(texts), batch_size=2)
    reference = embedder._model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    assert vectors.shape == (3, 384)
    assert min(float(a @ b) for a, b in zip(vectors, reference, strict=True)) > 0.9999


def test_a_tokenizer_cache_without_the_encoding_is_a_clear_error(
    embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # tiktoken fetches an encoding its cache lacks from the network, which fails offline.
    import tiktoken

    from ingest import chunking

    def offline(name: str) -> None:
        raise ConnectionError(f"cannot fetch {name}")

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "/nowhere/tiktoken")
    monkeypatch.setattr(tiktoken, "get_encoding", offline)
    chunking._splitter.cache_clear()
    try:
        article = Article(id="a1", text="One short sentence about ferries.", title="Ferries")
        with pytest.raises(
            ConfigError, match=r"TIKTOKEN_CACHE_DIR='/nowhere/tiktoken'.*Unset TIKTOKEN_CACHE_DIR"
        ):
            chunker_for(embedder).chunk(article)
    finally:
        chunking._splitter.cache_clear()


def test_long_text_is_cut_into_windows_at_breaks() -> None:
    from ingest.chunking import split_windows

    text = ("A line of a report that goes on.\n" * 40 + "\n") * 30  # paragraphs of 1,361 characters
    pieces = split_windows(text, 0, len(text), size=5_000)
    assert pieces[0][0] == 0 and pieces[-1][1] == len(text)
    assert all(a == b for (_, a), (b, _) in pairwise(pieces))  # contiguous
    assert all(0 < end - start <= 5_000 for start, end in pieces)
    assert all(text[:end].endswith("\n\n") for _, end in pieces[:-1])  # at paragraph breaks
    unbroken = "x" * 12_000
    assert split_windows(unbroken, 0, len(unbroken), size=5_000) == [
        (0, 5_000),
        (5_000, 10_000),
        (10_000, 12_000),
    ]
    assert split_windows(text, 10, 20, size=5_000) == [(10, 20)]


def test_the_sentence_splitter_never_gets_more_than_a_window(
    embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NLTK runs each regular expression under a 5-second wall-clock limit: one pass over a
    paragraph of megabytes exceeded it and aborted the ingest. Text goes to it a window at a time."""
    from ingest import chunking

    handed: list[int] = []
    real = chunking._splitter

    class Recording:
        def __init__(self, splitter: object) -> None:
            self.splitter = splitter

        def split_text(self, text: str) -> list[str]:
            handed.append(len(text))
            return self.splitter.split_text(text)  # type: ignore[attr-defined, no-any-return]

    monkeypatch.setattr(chunking, "_splitter", lambda *args: Recording(real(*args)))
    line = "The ferry left the harbour at dawn and the gulls followed it out past the breakwater. "
    text = "Harbour log\n\n" + "\n".join(line * 8 + f"Entry {i}." for i in range(450))  # one paragraph
    assert len(text) > 2.5 * chunking.SPLIT_WINDOW
    article = Article(id="log", text=text, title="Harbour log")
    check_chunks(article, chunker_for(embedder), embedder)
    assert handed and max(handed) <= chunking.SPLIT_WINDOW
