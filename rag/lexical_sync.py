"""The BM25 index kept in step with the store it indexes.

``LexicalSync`` owns a library's ``LexicalIndex`` (see ``rag.lexical``): it loads it, or rebuilds
it when it does not match the store; it changes it with each ``put`` and ``forget``, under one
lock, so that each write builds on the last index; and, with a Chroma server that other clients
write to as well, it takes in their writes (``catch_up``). It also keeps each article's coherence,
which changes with the same writes. ``rag.library.Library`` searches what it holds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

from rag.chroma_records import ArticleWrite
from rag.lexical import LexicalIndex
from rag.records import Chunk, article_of
from rag.settings import Settings
from rag.storage import Store

LEXICAL_BATCH = 2048  # passages added to the BM25 index at a time during an ingest
UNSEEN = ("", -1)  # the version of an article the BM25 index may hold in any version
CLOCK_MARGIN = 60.0  # seconds by which clients' clocks may differ and still see each other's writes


class LexicalSync:
    """A store's BM25 index and article coherences, kept in step with the store's writes."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self._index: LexicalIndex | None = None
        self.writing = threading.RLock()  # one writer at a time: each builds on the last index
        self._unindexed: list[Chunk] = []  # stored passages not yet in the BM25 index
        self._coherence: dict[str, float] | None = None  # article id -> coherence, loaded on first use
        # With a Chroma server: each article's version as the BM25 index holds it, and when this
        # library last looked for other clients' writes (by its own clock).
        self._seen: dict[str, tuple[str, int]] | None = None
        self._looked_at = 0.0

    @property
    def folder(self) -> Path:
        """Where the BM25 index is kept."""
        return Path(self.settings.data_dir) / "bm25" / self.settings.collection

    @property
    def coherences(self) -> dict[str, float]:
        """Each stored article's coherence (see ``rag.chroma_records.coherence``), loaded on first use."""
        if self._coherence is None:
            self._coherence = self.store.coherences()
        return self._coherence

    @property
    def index(self) -> LexicalIndex:
        """The BM25 index, loaded on first use; rebuilt if it is missing or does not match the
        store (an ingest was cut short, or, with an index that never looked for other clients'
        writes, another client of a Chroma server wrote to it)."""
        if self._index is None:
            with self.writing:  # a search and an ingest's write may both come to load it
                if self._index is None:
                    self._index = self._load()
        return self._index

    def _load(self) -> LexicalIndex:
        index, looked_at = LexicalIndex.load_synced(self.folder)
        if not self.settings.chroma_url:
            if index is None or len(index) != self.store.count_chunks():
                return self.rebuild()
            return index
        if index is None or looked_at is None:  # no telling what it holds of other clients' writes
            return self.rebuild()
        try:
            # Articles written since the index last looked (give or take the clocks) may be in
            # it in another version: they are taken in again, whatever the index holds of them.
            self._index, self._looked_at = index, looked_at
            self._seen = {
                a.id: UNSEEN if (a.stored_at or 0.0) >= looked_at - CLOCK_MARGIN else a.version
                for a in self.store.articles()
            }
            self._take_in()
            if len(self._index) != self.store.count_chunks():  # articles forgotten meanwhile are left
                seen = self._seen or {}
                self._index = self._index.remove(c for c in self._index.ids if article_of(c) not in seen)
        except BaseException:
            self._index, self._seen, self._looked_at = None, None, 0.0
            raise
        if len(self._index) > self.store.count_chunks():  # (fewer: writes in flight, taken in later)
            return self.rebuild()
        self._save_index()
        return self._index

    def rebuild(self) -> LexicalIndex:
        """Rebuild the BM25 index from every stored chunk and save it."""
        with self.writing:
            started = time.time()
            seen = {a.id: a.version for a in self.store.articles()} if self.settings.chroma_url else None
            self._index = LexicalIndex.build(self.store.iter_chunks())
            self._seen, self._looked_at = seen, started  # later versions differ from these: taken in later
            self._save_index()
            return self._index

    def _save_index(self) -> None:
        """Save the BM25 index with, for a Chroma server, the time it last looked for other
        clients' writes."""
        looked_at = self._looked_at if self.settings.chroma_url else None
        self.index.save(self.folder, synced_at=looked_at)

    def save(self) -> None:
        """Index the passages ``put`` left pending and save the BM25 index (only its new
        segments are written). With a Chroma server, other clients' writes are taken in first,
        so that the index is saved up to date with them (see ``catch_up``)."""
        with self.writing:
            self._index_pending()
            if self.settings.chroma_url:
                self._take_in()
            self._save_index()

    def _index_pending(self) -> None:
        if self._unindexed:
            self._index = self.index.add(self._unindexed)
            self._unindexed = []

    def put(self, writes: Sequence[ArticleWrite]) -> None:
        """Store embedded articles, replacing older versions, and index their passages for BM25
        (``LEXICAL_BATCH`` at a time, and at ``save``: each update builds a new index version,
        and fewer, larger ones leave less garbage behind in a long ingest)."""
        with self.writing:
            self._index = self.index  # loaded, or rebuilt, before the store changes
            gone = self.store.put(list(writes))
            if self.settings.chroma_url:  # another client may have rewritten it: trust the index
                gone += [c for w in writes for c in self.index.chunks_of(w.article.id)[len(w.chunks) :]]
            if gone:
                self._index_pending()
                self._index = self.index.remove(gone)
            self._unindexed.extend(c for w in writes for c in w.chunks)
            if self._coherence is not None:
                self._coherence.update((w.article.id, w.coherence) for w in writes)
            if self._seen is not None:
                self._seen.update((w.article.id, w.version) for w in writes)
            if len(self._unindexed) >= LEXICAL_BATCH:
                self._index_pending()

    def forget(self, article_id: str) -> bool:
        """Remove an article and its passages from the store and the index, and save the index;
        False when no such article is stored."""
        with self.writing:
            self._index_pending()
            index = self.index  # loaded, or rebuilt, before the store changes
            removed = self.store.delete(article_id)
            if removed is None:
                return False
            self._index = index.remove([*removed, *index.chunks_of(article_id)])
            if self._coherence is not None:
                self._coherence.pop(article_id, None)
            if self._seen is not None:
                self._seen.pop(article_id, None)
            self.save()
            return True

    def catch_up(self) -> bool:
        """With a Chroma server: take in the articles other clients have added, changed or
        forgotten since this library last looked, and save the BM25 index if there were any
        (True then). Searches call this; it looks at most every ``sync_seconds``, and not while
        this library is writing (its ``save`` looks anyway)."""
        if not self.settings.chroma_url or time.time() - self._looked_at < self.settings.sync_seconds:
            return False
        if not self.writing.acquire(blocking=False):
            return False
        try:
            if time.time() - self._looked_at < self.settings.sync_seconds or not self._take_in():
                return False  # (another search may have looked since the test above)
            self._save_index()
            return True
        finally:
            self.writing.release()

    def _take_in(self) -> bool:
        """Take in other clients' writes (see ``catch_up``); True when there were any. Called
        with ``writing`` held.

        Article records hold the time of their writing, so one query finds those written since
        the last look (less ``CLOCK_MARGIN``), and their versions tell which are new here. The
        article count tells whether the ids must be listed: to find those gone, and those
        written without a time (by an older client) or missed. The changed articles' passages
        in the index are replaced by their stored ones, and their coherence taken from their
        records.
        """
        if self._index is None:  # loading sets what was seen, and when, and looks itself
            self._index = self._load()
            return False
        seen = self._seen if self._seen is not None else {}
        looking = time.time()
        changed = {
            a.id: a
            for a in self.store.articles(stored_since=self._looked_at - CLOCK_MARGIN)
            if seen.get(a.id) != a.version
        }
        gone: list[str] = []
        if self.store.count_articles() != len(seen.keys() | changed.keys()):
            present = self.store.article_ids()
            unlisted = sorted(present - seen.keys() - changed.keys())
            changed.update(
                (a.id, a) for a in self.store.articles(ids=unlisted) if seen.get(a.id) != a.version
            )
            missing = [article_id for article_id in seen if article_id not in present]
            still = {a.id for a in self.store.articles(ids=missing)}  # paging skips one as others delete
            gone = [article_id for article_id in missing if article_id not in still]
        chunks = list(self.store.iter_chunks(list(changed)))
        self._looked_at = looking  # only once every query has answered
        if not changed and not gone:
            return False
        touched = [*gone, *changed]
        self._index_pending()
        index = self.index
        self._index = index.remove([c for article_id in touched for c in index.chunks_of(article_id)]).add(
            chunks
        )
        for article_id in gone:
            seen.pop(article_id, None)
        seen.update((article_id, a.version) for article_id, a in changed.items())
        self._seen = seen
        if self._coherence is not None:
            for article_id in touched:
                self._coherence.pop(article_id, None)
            self._coherence.update((i, a.coherence) for i, a in changed.items() if a.coherence is not None)
        return True
