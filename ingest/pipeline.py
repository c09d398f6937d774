"""Ingest: read articles, chunk them, embed the chunks and store them, skipping what is stored.

An article whose content hash is already stored costs one dictionary look-up: the model is not
even loaded when nothing changed. Articles stream through in groups of about ``GROUP_CHUNKS``
chunks, so memory does not grow with the corpus.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from queue import Full, Queue
from typing import Any, TypeVar

import numpy as np

from ingest.chunking import Chunker
from ingest.readers import Problem, iter_files, read_file
from rag.library import Library
from rag.records import Article, Chunk
from rag.store import ArticleWrite

GROUP_CHUNKS = 256
PREFETCH = 64  # articles read and chunked ahead of the embedding

T = TypeVar("T")


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
    Reading and chunking run in a background thread, up to ``PREFETCH`` articles ahead, while
    this thread embeds and stores (the model releases the interpreter lock as it computes).
    """
    report = report if report is not None else IngestReport()
    started = time.perf_counter()
    group: list[Prepared] = []
    group_size = 0
    changed = False  # this call's own writes; ``report`` may carry counts from earlier calls
    for prepared in prefetch(_prepare(items, library, report, on_problem), PREFETCH):
        changed = True
        group.append(prepared)
        group_size += len(prepared.chunks)
        if group_size >= GROUP_CHUNKS:
            report.chunks += _embed_and_store(library, group)
            group, group_size = [], 0
    if group:
        report.chunks += _embed_and_store(library, group)
    if changed:
        library.rebuild_lexical()
    report.seconds += time.perf_counter() - started
    return report


@dataclass(frozen=True)
class Prepared:
    """An article to store, split into chunks, with each chunk's token ids."""

    article: Article
    chunks: list[Chunk]
    tokens: list[list[int]]


def _prepare(
    items: Iterable[Article | Problem],
    library: Library,
    report: IngestReport,
    on_problem: Callable[[Problem], None] | None,
) -> Iterator[Prepared]:
    """The new and changed articles of ``items``, chunked; problems and skips go to ``report``."""
    stored = {a.id: a.content_hash for a in library.store.articles()}
    seen: dict[str, str] = {}
    chunker: Chunker | None = None

    def problem(p: Problem) -> None:
        report.problems.append(p)
        if on_problem is not None:
            on_problem(p)

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
                embedder.tokenize,
                embedder.max_tokens,
                library.settings.chunk_tokens,
                library.settings.chunk_overlap,
            )
        split = chunker.split(item)
        if not split:
            problem(Problem(where, "no text left to index after splitting", True))
            continue
        if previous is None:
            report.added += 1
        else:
            report.updated += 1
        yield Prepared(item, [c for c, _ in split], [ids for _, ids in split])


def prefetch(items: Iterable[T], depth: int) -> Iterator[T]:
    """``items``, produced in a background thread up to ``depth`` ahead of the consumer.

    An exception in the producer is raised here; a consumer that stops early stops the producer.
    """
    queue: Queue[tuple[str, Any]] = Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                queue.put(entry, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(("item", item)):
                    return
            put(("done", None))
        except BaseException as exc:  # handed to the consumer, which raises it
            put(("error", exc))

    worker = threading.Thread(target=produce, name="citewire-prepare", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = queue.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        worker.join()


def _embed_and_store(library: Library, group: list[Prepared]) -> int:
    tokens = [ids for p in group for ids in p.tokens]
    vectors = library.embedder.embed_tokens(tokens, batch_size=library.settings.batch_size)
    writes: list[ArticleWrite] = []
    offset = 0
    for p in group:
        writes.append(ArticleWrite(p.article, p.chunks, np.asarray(vectors[offset : offset + len(p.chunks)])))
        offset += len(p.chunks)
    library.put(writes)
    return len(tokens)
