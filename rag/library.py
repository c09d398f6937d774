"""``Library``: one handle on a Citewire store for searching, asking and managing articles.

    hits = library.search(question)              # Hit(Chunk, score), best first
    answer = library.ask(question)               # Answer(answer, refused, [Citation])

The embedding model loads on first use and stays loaded, so a handle answers repeated questions
quickly. ``rag.ask`` is the one-line form that opens a library for a single question.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.answer import Answerer, ExtractiveAnswerer
from rag.choice import Choice, choose
from rag.conversation import Turn, prefer_articles, resolve
from rag.embedding import Embedder
from rag.errors import ConfigError
from rag.fusion import (
    ARTICLE_CANDIDATES,
    ARTICLE_RANKS,
    add_article_ranking,
    add_article_support,
    add_freshness,
    discount_roundups,
    drop_near_duplicates,
    ranked,
    reciprocal_rank_fusion,
)
from rag.lexical import Entry, LexicalIndex
from rag.offline import go_offline
from rag.records import Answer, Hit, StoredArticle, article_of, chunk_id_for
from rag.settings import Settings
from rag.store import ArticleState, ArticleWrite, ChromaStore, PassageFilter, lexical_entries

if TYPE_CHECKING:
    from llama_index.core.retrievers import BaseRetriever


LEXICAL_BATCH = 2048  # passages added to the BM25 index at a time during an ingest
CLOCK_MARGIN = 60.0  # seconds by which clients' clocks may differ and still see each other's writes


class Library:
    """A store of articles with the model that searches it."""

    def __init__(
        self,
        settings: Settings,
        store: ChromaStore,
        embedder: Embedder | None = None,
        answerer: Answerer | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self._embedder = embedder
        self._lexical: LexicalIndex | None = None
        self._writing = threading.RLock()  # one writer at a time: each builds on the last index
        self._unindexed: list[Entry] = []  # stored passages not yet in the BM25 index
        self._coherence: dict[str, float] | None = None  # article id -> coherence, loaded on first use
        # With a Chroma server: the stored articles as this library last saw them, and when.
        self._known: dict[str, ArticleState] | None = None
        self._synced_at = 0.0
        self.answerer: Answerer = answerer or ExtractiveAnswerer()

    @property
    def embedder(self) -> Embedder:
        """The embedding model, loaded on first use."""
        if self._embedder is None:
            self._embedder = Embedder.load(self.settings.embed_dtype)
        return self._embedder

    @property
    def coherences(self) -> dict[str, float]:
        """Each stored article's coherence (see ``rag.store.coherence``), loaded on first use."""
        if self._coherence is None:
            self._coherence = self.store.coherences()
        return self._coherence

    @property
    def lexical_folder(self) -> Path:
        """Where the BM25 index is kept."""
        return Path(self.settings.data_dir) / "bm25" / self.settings.collection

    @property
    def lexical(self) -> LexicalIndex:
        """The BM25 index, loaded on first use and rebuilt if it does not match the store
        (another client of a Chroma server wrote to it, or an ingest was cut short)."""
        if self._lexical is None:
            self._lexical = self._load_lexical()
        return self._lexical

    def _load_lexical(self) -> LexicalIndex:
        index = LexicalIndex.load(self.lexical_folder)
        if index is None or len(index) != self.store.count_chunks():
            return self.rebuild_lexical()
        if self.settings.chroma_url:
            # What other clients wrote since the index last took their writes in (give or take
            # the clocks) is taken in at the next search, as if this library had never seen it.
            self._synced_at = LexicalIndex.synced_at(self.lexical_folder) or 0.0
            recent = self.store.article_states(stored_since=self._synced_at - CLOCK_MARGIN)
            self._known = {k: v for k, v in self.store.article_states().items() if k not in recent}
        return index

    def rebuild_lexical(self) -> LexicalIndex:
        """Rebuild the BM25 index from every stored chunk and save it."""
        started = time.time()
        known = self.store.article_states() if self.settings.chroma_url else None
        self._lexical = LexicalIndex.build(self.store.iter_chunks())
        self._synced_at, self._known = started, known  # later versions differ from these: taken in later
        self._save_index()
        return self._lexical

    def _save_index(self) -> None:
        """Save the BM25 index with, for a Chroma server, the time up to which it holds other
        clients' writes."""
        synced = self._synced_at if self.settings.chroma_url else None
        self.lexical.save(self.lexical_folder, synced_at=synced)

    def save_lexical(self) -> None:
        """Index the passages ``put`` left pending and save the BM25 index (only its new
        segments are written). With a Chroma server, other clients' writes are taken in first,
        so that the index is saved as up to date with them (see ``take_in_others``)."""
        with self._writing:
            self._index_pending()
            if self.settings.chroma_url:
                self._take_in()
            self._save_index()

    def _index_pending(self) -> None:
        if self._unindexed:
            self._lexical = self.lexical.add(self._unindexed)
            self._unindexed = []

    def take_in_others(self) -> bool:
        """With a Chroma server: bring this library up to date with the articles other clients
        have added, changed or forgotten since it last looked, and save its BM25 index if any
        were; True when some were. ``search`` calls this, at most every ``sync_seconds``.
        """
        if not self.settings.chroma_url:
            return False  # an embedded store has one client
        if self._lexical is None:
            self._lexical = self._load_lexical()
        if time.time() - self._synced_at < self.settings.sync_seconds:
            return False
        with self._writing:
            if not self._take_in():
                return False
            self._save_index()
            return True

    def _take_in(self) -> bool:
        """Take in other clients' writes (see ``take_in_others``); True when there were any.

        Article records carry the time of their writing, so one query finds those written since
        the last look (less ``CLOCK_MARGIN``), and their versions tell which are new to this
        library; the article count tells whether any are gone. Changed articles' passages are
        fetched and indexed for BM25 again, and their coherence is taken from their records.
        """
        with self._writing:
            known = self._known if self._known is not None else {}
            since, self._synced_at = self._synced_at - CLOCK_MARGIN, time.time()
            changed = {
                article_id: state
                for article_id, state in self.store.article_states(stored_since=since).items()
                if article_id not in known or known[article_id].version != state.version
            }
            gone: list[str] = []
            if self.store.count_articles() != len(known.keys() | changed.keys()):
                present = self.store.article_ids()
                gone = [article_id for article_id in known if article_id not in present]
            if not changed and not gone:
                return False
            self._index_pending()
            old = [
                chunk_id_for(article_id, i)
                for article_id in [*gone, *changed]
                if article_id in known
                for i in range(known[article_id].chunks)
            ]
            index = self.lexical.remove(old)
            self._lexical = index.add(list(self.store.iter_chunks(list(changed))))
            for article_id in gone:
                known.pop(article_id, None)
            known.update(changed)
            self._known = known
            if self._coherence is not None:
                for article_id in gone:
                    self._coherence.pop(article_id, None)
                self._coherence.update((article_id, state.coherence) for article_id, state in changed.items())
            return True

    def search(
        self,
        question: str,
        top_k: int | None = None,
        since: date | None = None,
        until: date | None = None,
        sources: Sequence[str] | None = None,
        as_of: date | None = None,
    ) -> list[Hit]:
        """The passages most relevant to ``question``, best first.

        The dense and BM25 rankings are fused by reciprocal rank, and round-ups' passages count
        for less; with the article ranking on (off by default), the best passage of each article
        nearest the question as a whole is lifted too (see ``rag.fusion``).

        ``since``/``until`` keep passages published within those dates (inclusive); articles
        with no published date are left out when either is given. ``sources`` keeps only
        articles from those sources (publishers, hosts or ingested folder names). ``as_of`` is
        the reader's "today": later articles are left out, undated ones kept, and those
        published in the days just before it rank higher (see ``rag.fusion.add_freshness``).
        """
        k = self.settings.top_k if top_k is None else top_k
        if k <= 0:
            raise ConfigError(f"top_k must be greater than 0. Currently, top_k is {k}")
        latest = min((d for d in (until, as_of) if d is not None), default=None)
        if since and latest and since > latest:
            raise ConfigError(f"since ({since}) is after until or as-of ({latest}); swap them")
        if not question.strip():
            raise ConfigError("The question is empty; type a question about the articles.")
        self.take_in_others()
        vector = self.embedder.embed_query(question)
        n = max(self.settings.candidates, k)
        lexical = self.lexical  # one version throughout, though an ingest may replace it meanwhile
        filters = PassageFilter.of(since, until, sources)
        allowed = lexical.allowed(filters, as_of=as_of)
        keep = lexical.passes(allowed)
        share = float(allowed.sum()) / max(len(lexical), 1)
        dense = self.store.nearest(
            vector, n, filters, keep=keep, share=share
        )  # the filter goes to Chroma too, for when too few pass in memory
        rankings = [[cid for cid, _ in dense]]
        if self.settings.retrieval == "hybrid":
            rankings.append([cid for cid, _ in lexical.search(question, n, allowed=allowed)])
        scores = reciprocal_rank_fusion(rankings)
        if self.settings.article_ranking > 0:
            scores = add_article_ranking(
                scores,
                self._articles_for(vector, lexical, keep, share, filters, as_of),
                article_of,
                weight=self.settings.article_ranking,
            )
        if as_of is not None and self.settings.freshness > 0:
            scores = add_freshness(scores, lexical.published, as_of, weight=self.settings.freshness)
        if self.settings.roundup_below > 0:
            known = self.coherences
            scores = discount_roundups(
                scores, lambda item: known.get(article_of(item), 1.0), below=self.settings.roundup_below
            )
        if self.settings.article_support > 0:
            scores = add_article_support(scores, article_of, weight=self.settings.article_support)
        wanted = ranked(scores)[: 2 * k]
        hits = self.store.hits_for(wanted, vector)
        if self.settings.near_duplicates < 1:
            hits = drop_near_duplicates(hits, self.settings.near_duplicates)
        return hits[:k]

    def _articles_for(
        self,
        vector: np.ndarray,
        lexical: LexicalIndex,
        keep: Callable[[str], bool],
        share: float,
        filters: PassageFilter,
        as_of: date | None,
    ) -> list[str]:
        """The ``ARTICLE_RANKS`` articles nearest the question as wholes, the recent ones first
        with an as-of date (the same freshness bonus passages get, on the nearest
        ``ARTICLE_CANDIDATES``)."""

        def first(article_id: str) -> str:  # an article's dates and source are its chunks'
            return chunk_id_for(article_id, 0)

        nearest = self.store.nearest_articles(
            vector, ARTICLE_CANDIDATES, filters, keep=lambda a: keep(first(a)), share=share
        )
        scores = reciprocal_rank_fusion([[a for a, _ in nearest]])
        if as_of is not None and self.settings.freshness > 0:
            scores = add_freshness(
                scores, lambda a: lexical.published(first(a)), as_of, weight=self.settings.freshness
            )
        return ranked(scores)[:ARTICLE_RANKS]

    def ask(
        self,
        question: str,
        top_k: int | None = None,
        since: date | None = None,
        until: date | None = None,
        sources: Sequence[str] | None = None,
        as_of: date | None = None,
    ) -> Answer:
        """Answer ``question`` from the stored articles with numbered citations, or refuse."""
        hits = self.search(question, top_k=top_k, since=since, until=until, sources=sources, as_of=as_of)
        return self.answerer.compose(question, hits)

    def reply(
        self,
        question: str,
        history: Sequence[Turn] = (),
        top_k: int | None = None,
        since: date | None = None,
        until: date | None = None,
        sources: Sequence[str] | None = None,
        as_of: date | None = None,
    ) -> tuple[Answer, Turn]:
        """Answer ``question`` as the next turn of a conversation (see ``rag.conversation``).

        A follow-up ("What else did he say about it?") is searched together with the question
        it follows, prefers the articles just cited, and quotes sentences not quoted before.
        """
        follow = resolve(question, history)
        k = self.settings.top_k if top_k is None else top_k
        hits = self.search(
            follow.query,
            top_k=2 * k if follow.prefer else k,
            since=since,
            until=until,
            sources=sources,
            as_of=as_of,
        )
        hits = prefer_articles(hits, follow.prefer)[:k]
        answer = self.answerer.compose(follow.query, hits, exclude=follow.seen)
        answer = replace(answer, question=question)
        return answer, Turn.of(question, follow.query, answer)

    def choose(
        self,
        question: str,
        choices: Sequence[str],
        top_k: int | None = None,
        since: date | None = None,
        until: date | None = None,
        hits: Sequence[Hit] | None = None,
        as_of: date | None = None,
    ) -> Choice:
        """Pick the option of ``choices`` that the retrieved passages support, with its citation.

        ``hits`` are the question's passages if already retrieved.
        """
        found = (
            hits
            if hits is not None
            else self.search(question, top_k=top_k, since=since, until=until, as_of=as_of)
        )
        return choose(question, choices, found)

    def sources(self) -> list[StoredArticle]:
        """Every stored article, sorted by title."""
        return sorted(self.store.articles(), key=lambda a: (a.title.lower(), a.id))

    def article_text(self, article_id: str) -> str | None:
        """The full text of an article: citation offsets index into it."""
        return self.store.article_text(article_id)

    def forget(self, article_id: str) -> bool:
        """Remove an article and its passages; False when no such article is stored."""
        with self._writing:
            self._index_pending()
            lexical = self.lexical  # loaded, or rebuilt, before the store changes
            removed = self.store.delete(article_id)
            if removed is None:
                return False
            self._lexical = lexical.remove(removed)
            self.save_lexical()
            if self._coherence is not None:
                self._coherence.pop(article_id, None)
            if self._known is not None:
                self._known.pop(article_id, None)
            return True

    def put(self, writes: list[ArticleWrite]) -> None:
        """Store embedded articles (used by ingest), replacing older versions, and index their
        passages for BM25; call ``save_lexical`` once the batch of writes is done.

        Passages reach the BM25 index ``LEXICAL_BATCH`` at a time (and at ``save_lexical``):
        each update builds a new index version, and fewer, larger ones leave less garbage behind
        in a long ingest.
        """
        with self._writing:
            self._lexical = self.lexical  # loaded, or rebuilt, before the store changes
            gone = self.store.put(writes)
            if gone:
                self._index_pending()
                self._lexical = self.lexical.remove(gone)
            self._unindexed.extend(lexical_entries(writes))
            if self._coherence is not None:
                self._coherence.update((w.article.id, w.coherence) for w in writes)
            if self._known is not None:
                self._known.update((w.article.id, w.state) for w in writes)
            if len(self._unindexed) >= LEXICAL_BATCH:
                self._index_pending()

    def as_retriever(self, top_k: int | None = None) -> BaseRetriever:
        """This library's search as a llama-index ``BaseRetriever``."""
        from rag.llama import LibraryRetriever

        return LibraryRetriever(self, top_k=top_k)


def open_library(
    data_dir: str | Path | None = None,
    *,
    settings: Settings | None = None,
    embedder: Embedder | None = None,
) -> Library:
    """Open the library in ``data_dir`` (or as ``settings`` say; environment otherwise).

    Pass an already loaded ``embedder`` to share one model between libraries.
    """
    go_offline()
    if settings is None:
        settings = Settings.from_env(data_dir=data_dir)
    elif data_dir is not None:
        settings = settings.with_changes(data_dir=Path(data_dir))
    return Library(settings, ChromaStore.open(settings), embedder=embedder)


def ask(
    question: str,
    data_dir: str | Path | None = None,
    *,
    top_k: int | None = None,
    since: date | None = None,
    until: date | None = None,
    as_of: date | None = None,
) -> Answer:
    """Answer one question from the library in ``data_dir`` (loads the model: use ``open`` for many)."""
    return open_library(data_dir).ask(question, top_k=top_k, since=since, until=until, as_of=as_of)
