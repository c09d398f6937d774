"""Ingest: read articles, chunk them, embed the chunks and store them, skipping what is stored.

An article whose content hash is already stored costs one dictionary look-up: the model is not
even loaded when nothing changed. Articles stream through in groups of about ``GROUP_CHUNKS``
chunks, so memory does not grow with the corpus.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ingest.chunking import Chunker, embedding_text
from ingest.readers import Problem, iter_files, read_file
from rag.library import Library
from rag.records import Article, Chunk
from rag.store import ArticleWrite

GROUP_CHUNKS = 256


@dataclass
class IngestReport:
    """What an ingest did; ``problems`` lists every warning and skipped input."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    chunks: int = 0
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)

    @property
    def articles(self) -> int:
        """Articles read successfully, whether stored now or already."""
        return self.added + self.updated + self.unchanged

    @property
    def skipped(self) -> int:
        """Inputs that were not ingested."""
        return sum(1 for p in self.problems if p.skipped)

    @property
    def chunks_per_second(self) -> float:
        """Chunks embedded and stored per second of the whole run."""
        return self.chunks / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        """The one-line result the CLI prints last."""
        return (
            f"{self.articles} articles ({self.added} added, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.skipped} skipped), {self.chunks} chunks "
            f"in {self.seconds:.1f} s ({self.chunks_per_second:.1f} chunks/s)"
        )


class _Progress:
    """A tqdm bar over input files, showing chunks stored; silent when not on a terminal."""

    def __init__(self, total: int | None, enabled: bool) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=total, unit="file", disable=None if enabled else True, dynamic_ncols=True)

    def advance(self, files: int, chunks: int) -> None:
        self._bar.update(files)
        self._bar.set_postfix(chunks=chunks, refresh=False)

    def close(self) -> None:
        self._bar.close()


def ingest(
    paths: Iterable[str | Path],
    library: Library,
    *,
    progress: bool = True,
    on_problem: Callable[[Problem], None] | None = None,
) -> IngestReport:
    """Ingest files and folders (recursively) into ``library``; see ``ingest_items``."""
    files = list(iter_files(paths))
    bar = _Progress(total=sum(1 for f in files if not isinstance(f, Problem)), enabled=progress)

    def items() -> Iterator[Article | Problem]:
        for entry in files:
            if isinstance(entry, Problem):
                yield entry
                continue
            yield from read_file(*entry)
            bar.advance(1, report.chunks)

    report = IngestReport()
    try:
        ingest_items(items(), library, report=report, on_problem=on_problem)
    finally:
        bar.close()
    return report


def ingest_items(
    items: Iterable[Article | Problem],
    library: Library,
    *,
    report: IngestReport | None = None,
    on_problem: Callable[[Problem], None] | None = None,
) -> IngestReport:
    """Store new and changed articles from ``items``; problems are recorded and reported, never raised.

    An article already stored with the same content hash is left alone; a changed one replaces
    its old chunks. An id seen twice in one run (the same url on two JSONL lines) keeps the first.
    """
    report = report if report is not None else IngestReport()
    started = time.perf_counter()
    stored = {a.id: a.content_hash for a in library.store.articles()}
    seen: dict[str, str] = {}
    chunker: Chunker | None = None
    group: list[tuple[Article, list[Chunk]]] = []
    group_size = 0
    changed = False  # this call's own writes; ``report`` may carry counts from earlier calls

    def problem(p: Problem) -> None:
        report.problems.append(p)
        if on_problem is not None:
            on_problem(p)

    def flush() -> None:
        nonlocal group, group_size
        if group:
            report.chunks += _embed_and_store(library, group)
        group, group_size = [], 0

    for item in items:
        if isinstance(item, Problem):
            problem(item)
            continue
        where = item.url or item.source_path or item.id
        if item.id in seen:
            problem(Problem(where, f"same article as {seen[item.id]}; kept the first", True))
            continue
        seen[item.id] = where
        previous = stored.get(item.id)
        if previous == item.content_hash:
            report.unchanged += 1
            continue
        if chunker is None:
            embedder = library.embedder
            chunker = Chunker(
                embedder.count_tokens,
                embedder.max_tokens,
                library.settings.chunk_tokens,
                library.settings.chunk_overlap,
            )
        chunks = chunker.chunk(item)
        if not chunks:
            problem(Problem(where, "no text left to index after splitting", True))
            continue
        if previous is None:
            report.added += 1
        else:
            report.updated += 1
        changed = True
        group.append((item, chunks))
        group_size += len(chunks)
        if group_size >= GROUP_CHUNKS:
            flush()
    flush()
    if changed:
        library.rebuild_lexical()
    report.seconds += time.perf_counter() - started
    return report


def _embed_and_store(library: Library, group: list[tuple[Article, list[Chunk]]]) -> int:
    texts = [embedding_text(c) for _, chunks in group for c in chunks]
    vectors = library.embedder.embed(texts, batch_size=library.settings.batch_size)
    writes: list[ArticleWrite] = []
    offset = 0
    for article, chunks in group:
        writes.append(ArticleWrite(article, chunks, np.asarray(vectors[offset : offset + len(chunks)])))
        offset += len(chunks)
    library.put(writes)
    return len(texts)
