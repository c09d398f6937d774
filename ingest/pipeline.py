"""Ingest: read articles, chunk them, embed the chunks and store them, skipping what is stored.

An article whose content hash is already stored costs one dictionary look-up: the model is not
even loaded when nothing changed. Articles stream through in groups of about ``GROUP_CHUNKS``
chunks, so memory does not grow with the corpus.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from ingest.copies import TextHolders
from ingest.plumbing import RecentVectors, prefetch, release_freed_memory
from ingest.preparing import Prepared, Splitter
from ingest.problem import counted
from ingest.readers import Paths, Problem, iter_files, read_file, reuploaded, source_path_of
from rag.chroma_records import ArticleWrite
from rag.library import Library
from rag.records import Article, StoredArticle

GROUP_CHUNKS = 256
PREFETCH = 64  # articles read and chunked ahead of the embedding
RECENT_VECTORS = 4096  # identical passages embedded this recently reuse the vector (~6 MB)

T = TypeVar("T")


@dataclass
class IngestReport:
    """What an ingest did; ``problems`` lists every warning and skipped input."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    """Articles without a url whose title and text are stored already under another id (a file
    ingested, then uploaded; a copy in another folder), and articles read twice in one run with
    the same id and text: not stored again, each named in a warning."""
    same_as: dict[str, str] = field(default_factory=dict)
    """Each duplicate's own id: the id its text is stored under."""
    removed: int = 0
    """Articles forgotten because the file they came from, read again, no longer holds them."""
    chunks: int = 0
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)

    @property
    def articles(self) -> int:
        """Articles read successfully, whether stored now or already."""
        return self.added + self.updated + self.unchanged + self.duplicates

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
            f"{counted(self.articles, 'article')} ({self.added} added, {self.updated} updated, "
            f"{self.unchanged} unchanged, {counted(self.duplicates, 'duplicate')}, {self.removed} removed, "
            f"{self.skipped} skipped), "
            f"{counted(self.chunks, 'chunk')} in {self.seconds:.1f} s ({self.chunks_per_second:.1f} chunks/s)"
        )

    def to_dict(self) -> dict[str, Any]:
        """The counts and each problem (``{"file", "reason", "skipped"}``), as ``ingest --json``
        prints them and the HTTP API answers an upload."""
        return {
            "articles": self.articles,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "duplicates": self.duplicates,
            "removed": self.removed,
            "skipped": self.skipped,
            "chunks": self.chunks,
            "seconds": round(self.seconds, 3),
            "same_as": dict(self.same_as),
            "problems": [
                {"file": p.location, "reason": p.reason, "skipped": p.skipped} for p in self.problems
            ],
        }


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
    paths: Paths,
    library: Library,
    *,
    progress: bool = True,
    on_problem: Callable[[Problem], None] | None = None,
) -> IngestReport:
    """Ingest ``paths``, one file or folder (read recursively) or several, into ``library``; see
    ``ingest_items``.

    A file read again is the whole truth about its articles: those stored from it that it no
    longer holds (a line deleted from a JSONL file, which also moves the line numbers that name
    url-less records; a url added to a Markdown file's front matter, which changes its id) are
    forgotten once the rest is stored. A file that now has a part that cannot be read keeps them.
    """
    files = list(iter_files(paths))
    bar = _Progress(total=sum(1 for f in files if not isinstance(f, Problem)), enabled=progress)
    whole: dict[str, set[str]] = {}  # source path of each file read without a skip: its article ids

    def items() -> Iterator[Article | Problem]:
        for entry in files:
            if isinstance(entry, Problem):
                yield entry
                continue
            held: set[str] | None = set()
            for item in read_file(*entry):
                if isinstance(item, Problem):
                    held = None if item.skipped else held
                elif held is not None:
                    held.add(item.id)
                yield item
            if held is not None:
                whole[source_path_of(entry[0])] = held
            bar.advance(1, report.chunks)

    report = IngestReport()
    stored = library.sources()  # listed once: for what changed, then for what was dropped
    try:
        ingest_items(
            items(),
            library,
            report=report,
            on_problem=on_problem,
            stored=stored,
            dropped=lambda: {a.id for a in _no_longer_held(stored, whole)},
        )
    finally:
        bar.close()
    for problem in forget_dropped(library, whole, report, stored):
        if on_problem is not None:
            on_problem(problem)
    return report


def forget_dropped(
    library: Library, files: dict[str, set[str]], report: IngestReport, stored: Sequence[StoredArticle]
) -> list[Problem]:
    """Forget the articles of ``stored`` (the library's, as listed before this run) that came
    from one of ``files`` (source path: the ids it holds now) and that no file of this run holds
    any more; each is counted in ``report`` and named in a warning. (Articles stored during the
    run came from its files, so they are held.)"""
    notes: list[Problem] = []
    for article in _no_longer_held(stored, files):
        if library.forget(article.id):
            report.removed += 1
            reason = f"{article.title!r} ({article.id}) is no longer in this file; forgotten"
            notes.append(Problem(article.source_path or article.id, reason, False))
    report.problems.extend(notes)
    return notes


def _no_longer_held(stored: Sequence[StoredArticle], files: dict[str, set[str]]) -> list[StoredArticle]:
    """The articles of ``stored`` from one of ``files`` that no file of ``files`` holds now."""
    held = set().union(*files.values()) if files else set()
    return [a for a in stored if a.source_path in files and a.id not in held]


def ingest_items(
    items: Iterable[Article | Problem],
    library: Library,
    *,
    report: IngestReport | None = None,
    on_problem: Callable[[Problem], None] | None = None,
    stored: Sequence[StoredArticle] | None = None,
    dropped: Callable[[], Collection[str]] | None = None,
) -> IngestReport:
    """Store new and changed articles from ``items``; problems are recorded and reported, never raised.
    ``stored`` is the library's articles, if the caller has listed them already; ``dropped``, asked
    after the last item, names those the caller will forget once this returns.

    An article already stored with the same content hash is left alone; a changed one replaces
    its old chunks. An id seen twice in one run (the same url on two JSONL lines) keeps the first:
    a duplicate if the two say the same, else a skip. An article without a url, new or with its
    text edited, whose title and text are stored under another id, one that keeps them, is a
    duplicate: counted and named, not stored (an edited one's old text is forgotten).
    Reading and chunking run in a background thread, up to ``PREFETCH`` articles ahead, and
    storing in another, one group behind, while this thread embeds (the model releases the
    interpreter lock as it computes). A passage identical to one embedded in the last
    ``RECENT_VECTORS`` reuses its vector.
    """
    report = report if report is not None else IngestReport()
    started = time.perf_counter()
    group: list[Prepared] = []
    group_size = 0
    changed = False  # this call's own writes; ``report`` may carry counts from earlier calls
    recent = RecentVectors(RECENT_VECTORS)
    superseded: list[str] = []  # stored articles whose file now holds a copy of another
    # One group is written to the store while the next is embedded; at most one write is in
    # flight, so memory stays at two groups and writes land in order.
    with ThreadPoolExecutor(1, thread_name_prefix="citewire-store") as writer:
        writing: Future[None] | None = None

        def flush() -> None:
            nonlocal writing, group, group_size
            writes = _embed(library, group, recent)
            if writing is not None:
                writing.result()
            writing = writer.submit(library.put, writes)
            report.chunks += group_size
            group, group_size = [], 0
            release_freed_memory()

        preparing = _prepare(items, library, report, on_problem, stored, dropped, superseded)
        for prepared in prefetch(preparing, PREFETCH):
            changed = True
            group.append(prepared)
            group_size += len(prepared.chunks)
            if group_size >= GROUP_CHUNKS:
                flush()
        if group:
            flush()
        if writing is not None:
            writing.result()
    for article_id in superseded:  # every write is done: the store is this thread's alone
        if library.forget(article_id):
            report.removed += 1
    if changed:
        library.save_lexical()
    report.seconds += time.perf_counter() - started
    return report


def _prepare(
    items: Iterable[Article | Problem],
    library: Library,
    report: IngestReport,
    on_problem: Callable[[Problem], None] | None,
    listed: Sequence[StoredArticle] | None,
    dropped: Callable[[], Collection[str]] | None,
    superseded: list[str],
) -> Iterator[Prepared]:
    """The new and changed articles of ``items``, chunked; problems and skips go to ``report``.

    An article without a url, new or changed, whose title and text another article holds waits
    until every item is read: if that article has changed meanwhile, or is among ``dropped()``
    (forgotten once the run ends), the copy is stored after all; otherwise it is a duplicate,
    and a stored article that became the copy goes to ``superseded``, to be forgotten."""
    listed = library.sources() if listed is None else listed
    stored = {a.id: a for a in listed}
    holders = TextHolders(listed)
    seen: dict[str, tuple[str, str]] = {}  # id → where it was first read this run, its text hash
    copies: list[tuple[Article, str]] = []

    def problem(p: Problem) -> None:
        report.problems.append(p)
        if on_problem is not None:
            on_problem(p)

    split = Splitter(library, problem)

    def prepare(item: Article, where: str) -> Prepared | None:
        prepared = split(item, where)
        if prepared is not None:
            if item.id in stored:
                report.updated += 1
            else:
                report.added += 1
            holders.hold(item.id, item.text_hash, item.source_path or where)
        return prepared

    for item in items:
        if isinstance(item, Problem):
            problem(item)
            continue
        where = item.location or item.url or item.source_path or item.id
        repeat = _read_before(item, where, seen)
        if repeat is not None:
            report.duplicates += not repeat.skipped
            problem(repeat)
            continue
        previous = stored.get(item.id)
        if previous is not None and (
            previous.content_hash == item.content_hash or reuploaded(item, previous)
        ):
            report.unchanged += 1
        elif (
            item.url is None
            and (previous is None or previous.text_hash != item.text_hash)
            and holders.holder(item.text_hash, besides=item.id)
        ):
            copies.append((item, where))  # new, or its text edited into a copy of another
        elif prepared := prepare(item, where):
            yield prepared
    gone = dropped() if copies and dropped is not None else ()
    for item, _ in copies:  # a stored article among them no longer says what it said: no copy keeps it
        holders.release(item.id)
    for item, where in copies:
        kept = holders.holder(item.text_hash, besides=item.id, gone=gone)
        if kept is None:
            if prepared := prepare(item, where):
                yield prepared
            continue
        report.duplicates += 1
        report.same_as[item.id] = kept[0]
        said = f"the same title and text are stored already as {kept[0]} (from {kept[1]}); not stored again"
        if item.id in stored:  # what the file said before is no longer anywhere: forgotten
            superseded.append(item.id)
            said += f", and what {item.id} held before is forgotten"
        problem(Problem(where, said, False))


def _read_before(item: Article, where: str, seen: dict[str, tuple[str, str]]) -> Problem | None:
    """The note for an id this run has read before (the same url on two JSONL lines): a
    duplicate when the two say the same, else a skip; None the first time, which ``seen`` keeps
    (id: where it was read, its text hash)."""
    if item.id not in seen:
        seen[item.id] = (where, item.text_hash)
        return None
    first, first_text = seen[item.id]
    if first_text == item.text_hash:
        return Problem(where, f"the same article as {first}; stored once", False)
    same = f"the same url ({item.url})" if item.url else "the same article"
    return Problem(where, f"{same} as {first}; kept the first", True)


def _embed(library: Library, group: list[Prepared], recent: RecentVectors) -> list[ArticleWrite]:
    """The group's articles with a vector per chunk; only passages not seen lately are embedded."""
    tokens = [ids for p in group for ids in p.tokens]
    keys = [RecentVectors.key(ids) for ids in tokens]
    vectors = np.zeros((len(tokens), library.embedder.dimensions), dtype=np.float32)
    todo: dict[bytes, list[int]] = {}
    for i, key in enumerate(keys):
        known = recent.get(key)
        if known is not None:
            vectors[i] = known
        else:
            todo.setdefault(key, []).append(i)
    if todo:
        fresh = library.embedder.embed_tokens(
            [tokens[rows[0]] for rows in todo.values()], batch_size=library.settings.batch_size
        )
        for (key, rows), vector in zip(todo.items(), fresh, strict=True):
            vectors[rows] = vector
            recent.put(key, vector)
    writes: list[ArticleWrite] = []
    offset = 0
    for p in group:
        writes.append(ArticleWrite(p.article, p.chunks, vectors[offset : offset + len(p.chunks)]))
        offset += len(p.chunks)
    return writes
