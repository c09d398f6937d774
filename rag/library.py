"""``Library``: one handle on a Citewire store for searching, asking and managing articles.

    hits = library.search(question)              # Hit(Chunk, score), best first
    answer = library.ask(question)               # Answer(answer, refused, [Citation])

The embedding model loads on first use and stays loaded, so a handle answers repeated questions
quickly. ``rag.ask`` is the one-line form that opens a library for a single question.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.answer import REFUSAL, Answerer, ExtractiveAnswerer
from rag.choice import Choice, choose
from rag.chroma_records import ArticleWrite, lexical_entries
from rag.conversation import Turn, prefer_articles, resolve
from rag.embedding import Embedder
from rag.errors import ConfigError
from rag.filters import PassageFilter
from rag.fusion import (
    ARTICLE_CANDIDATES,
    ARTICLE_RANKS,
    add_article_ranking,
    add_article_support,
    add_freshness,
    asks_about_recent,
    discount_roundups,
    discount_stale,
    drop_near_duplicates,
    ranked,
    reciprocal_rank_fusion,
)
from rag.lexical import Entry, LexicalIndex
from rag.offline import go_offline
from rag.query import Query
from rag.records import Answer, Hit, StoredArticle, article_of, chunk_id_for
from rag.settings import Settings
from rag.storage import Store
from rag.store import ChromaStore
from rag.text import question_terms, terms

if TYPE_CHECKING:
    from llama_index.core.retrievers import BaseRetriever

    from rag.llm import LanguageModel
    from rag.reading import Reader


LEXICAL_BATCH = 2048  # passages added to the BM25 index at a time during an ingest
UNSEEN = ("", -1)  # the version of an article the BM25 index may hold in any version
CLOCK_MARGIN = 60.0  # seconds by which clients' clocks may differ and still see each other's writes


class Library:
    """A store of articles with the model that searches it."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
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
        # With a Chroma server: each article's version as the BM25 index holds it, and when this
        # library last looked for other clients' writes (by its own clock).
        self._seen: dict[str, tuple[str, int]] | None = None
        self._looked_at = 0.0
        self._answerer = answerer
        self._model: LanguageModel | None = None
        self._reader: Reader | None = None

    @property
    def answerer(self) -> Answerer:
        """The answerer given when the library was made; else, with ``settings.llm``, that
        language model's (loaded on first use), checked sentence by sentence; else the
        extractive one. Both refuse by the thresholds of the current ``settings``."""
        if self._answerer is not None:
            return self._answerer
        extractive = ExtractiveAnswerer(
            min_score=self.settings.min_score, min_coverage=self.settings.min_coverage, reader=self.reader
        )
        if not self.settings.llm:
            return extractive
        from rag.generative import GenerativeAnswerer

        return GenerativeAnswerer(self.language_model, extractive)

    @property
    def reader(self) -> Reader | None:
        """The trained reader ``settings.reader`` names, loaded on first use; None when unset."""
        if not self.settings.reader:
            return None
        if self._reader is None or self._reader.folder != Path(self.settings.reader):
            from rag.reading import Reader

            self._reader = Reader.load(Path(self.settings.reader))
        return self._reader

    @property
    def language_model(self) -> LanguageModel:
        """The language model ``settings.llm`` names, loaded on first use; ``ConfigError`` when
        none is set."""
        spec = self.settings.llm
        if not spec:
            raise ConfigError("No language model is set: give --llm (or CITEWIRE_LLM)")
        if self._model is None:
            from rag.llm import load_model

            s = self.settings
            self._model = load_model(
                spec, name=s.llm_model, api_key=s.llm_api_key, timeout=s.llm_timeout, context=s.llm_context
            )
        return self._model

    @property
    def embedder(self) -> Embedder:
        """The embedding model, loaded on first use."""
        if self._embedder is None:
            self._embedder = Embedder.load(self.settings.embed_dtype)
        return self._embedder

    @property
    def coherences(self) -> dict[str, float]:
        """Each stored article's coherence (see ``rag.chroma_records.coherence``), loaded on first use."""
        if self._coherence is None:
            self._coherence = self.store.coherences()
        return self._coherence

    @property
    def lexical_folder(self) -> Path:
        """Where the BM25 index is kept."""
        return Path(self.settings.data_dir) / "bm25" / self.settings.collection

    @property
    def lexical(self) -> LexicalIndex:
        """The BM25 index, loaded on first use; rebuilt if it is missing or does not match the
        store (an ingest was cut short, or, with an index that never looked for other clients'
        writes, another client of a Chroma server wrote to it)."""
        if self._lexical is None:
            with self._writing:  # a search and an ingest's write may both come to load it
                if self._lexical is None:
                    self._lexical = self._load_lexical()
        return self._lexical

    def _load_lexical(self) -> LexicalIndex:
        index, looked_at = LexicalIndex.load_synced(self.lexical_folder)
        if not self.settings.chroma_url:
            if index is None or len(index) != self.store.count_chunks():
                return self.rebuild_lexical()
            return index
        if index is None or looked_at is None:  # no telling what it holds of other clients' writes
            return self.rebuild_lexical()
        try:
            # Articles written since the index last looked (give or take the clocks) may be in
            # it in another version: they are taken in again, whatever the index holds of them.
            self._lexical, self._looked_at = index, looked_at
            self._seen = {
                a.id: UNSEEN if (a.stored_at or 0.0) >= looked_at - CLOCK_MARGIN else a.version
                for a in self.store.articles()
            }
            self._take_in()
            if len(self._lexical) != self.store.count_chunks():  # articles forgotten meanwhile are left
                seen = self._seen or {}
                self._lexical = self._lexical.remove(
                    c for c in self._lexical.ids if article_of(c) not in seen
                )
        except BaseException:
            self._lexical, self._seen, self._looked_at = None, None, 0.0
            raise
        if len(self._lexical) > self.store.count_chunks():  # (fewer: writes in flight, taken in later)
            return self.rebuild_lexical()
        self._save_index()
        return self._lexical

    def rebuild_lexical(self) -> LexicalIndex:
        """Rebuild the BM25 index from every stored chunk and save it."""
        with self._writing:
            started = time.time()
            seen = {a.id: a.version for a in self.store.articles()} if self.settings.chroma_url else None
            self._lexical = LexicalIndex.build(self.store.iter_chunks())
            self._seen, self._looked_at = seen, started  # later versions differ from these: taken in later
            self._save_index()
            return self._lexical

    def _save_index(self) -> None:
        """Save the BM25 index with, for a Chroma server, the time it last looked for other
        clients' writes."""
        looked_at = self._looked_at if self.settings.chroma_url else None
        self.lexical.save(self.lexical_folder, synced_at=looked_at)

    def save_lexical(self) -> None:
        """Index the passages ``put`` left pending and save the BM25 index (only its new
        segments are written). With a Chroma server, other clients' writes are taken in first,
        so that the index is saved up to date with them (see ``catch_up``)."""
        with self._writing:
            self._index_pending()
            if self.settings.chroma_url:
                self._take_in()
            self._save_index()

    def _index_pending(self) -> None:
        if self._unindexed:
            self._lexical = self.lexical.add(self._unindexed)
            self._unindexed = []

    def catch_up(self) -> bool:
        """With a Chroma server: take in the articles other clients have added, changed or
        forgotten since this library last looked, and save the BM25 index if there were any
        (True then). ``search`` calls this; it looks at most every ``sync_seconds``, and not
        while this library is writing (its ``save_lexical`` looks anyway)."""
        if not self.settings.chroma_url or time.time() - self._looked_at < self.settings.sync_seconds:
            return False
        if not self._writing.acquire(blocking=False):
            return False
        try:
            if time.time() - self._looked_at < self.settings.sync_seconds or not self._take_in():
                return False  # (another search may have looked since the test above)
            self._save_index()
            return True
        finally:
            self._writing.release()

    def _take_in(self) -> bool:
        """Take in other clients' writes (see ``catch_up``); True when there were any. Called
        with ``_writing`` held.

        Article records hold the time of their writing, so one query finds those written since
        the last look (less ``CLOCK_MARGIN``), and their versions tell which are new here. The
        article count tells whether the ids must be listed: to find those gone, and those
        written without a time (by an older client) or missed. The changed articles' passages
        in the index are replaced by their stored ones, and their coherence taken from their
        records.
        """
        if self._lexical is None:  # loading sets what was seen, and when, and looks itself
            self._lexical = self._load_lexical()
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
        entries = list(self.store.iter_chunks(list(changed)))
        self._looked_at = looking  # only once every query has answered
        if not changed and not gone:
            return False
        touched = [*gone, *changed]
        self._index_pending()
        index = self.lexical
        self._lexical = index.remove([c for article_id in touched for c in index.chunks_of(article_id)]).add(
            entries
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

    def search(self, query: Query | str) -> list[Hit]:
        """The passages most relevant to the question, best first, within the query's bounds
        (see ``Query``).

        The dense and BM25 rankings are fused by reciprocal rank, and round-ups' passages count
        for less; with the article ranking on (off by default), the best passage of each article
        nearest the question as a whole is lifted too (see ``rag.fusion``). With an as-of date,
        the passages published in the days just before it rank higher (see
        ``rag.fusion.add_freshness``); a question about recent events ("this week") also counts
        passages over a month old for less, when fresher ones are found
        (``rag.fusion.discount_stale``).
        """
        query = Query.of(query)
        question, as_of = query.question, query.as_of
        k = self.settings.top_k if query.top_k is None else query.top_k
        self.catch_up()
        vector = self.embedder.embed_query(question)
        n = max(self.settings.candidates, k)
        lexical = self.lexical  # one version throughout, though an ingest may replace it meanwhile
        filters = PassageFilter.of(query.since, query.until, query.sources)
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
            scores = add_freshness(
                scores,
                lexical.published,
                as_of,
                self.settings.freshness,
                days=self.settings.fade_days,
                fresh_days=self.settings.fresh_days,
            )
        if as_of is not None and self.settings.stale_discount < 1 and asks_about_recent(question):
            scores = discount_stale(scores, lexical.published, as_of, factor=self.settings.stale_discount)
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
                scores,
                lambda a: lexical.published(first(a)),
                as_of,
                self.settings.freshness,
                days=self.settings.fade_days,
                fresh_days=self.settings.fresh_days,
            )
        return ranked(scores)[:ARTICLE_RANKS]

    def ask(self, query: Query | str) -> Answer:
        """Answer the question from the stored articles with numbered citations, or refuse."""
        *_, answer = self.stream(query)
        return answer

    def stream(self, query: Query | str) -> Iterator[Answer]:
        """``ask``'s answer as it grows: with a language model, one more checked sentence each
        time; the whole answer last."""
        query = Query.of(query)
        yield from self.answerer.stream(query.question, self.search(query), as_of=query.as_of)

    def reply(self, query: Query | str, history: Sequence[Turn] = ()) -> tuple[Answer, Turn]:
        """Answer the question as the next turn of a conversation (see ``rag.conversation``).

        A follow-up ("What else did he say about it?") is searched together with the question
        it follows, prefers the articles just cited, and quotes sentences not quoted before.
        """
        *_, last = self.reply_stream(query, history)
        return last

    def reply_stream(self, query: Query | str, history: Sequence[Turn] = ()) -> Iterator[tuple[Answer, Turn]]:
        """``reply``'s answer as it grows (see ``stream``), each with the turn it makes. With a
        language model, a question that follows others is first rewritten by it as a standalone
        question, and that is searched and answered."""
        query = Query.of(query)
        question = query.question
        follow = resolve(question, history)
        k = self.settings.top_k if query.top_k is None else query.top_k
        named: frozenset[str] = frozenset()  # what a question joined to the topic must be about
        found: list[Hit] | None = None  # the question's passages when searched on its own
        if history and follow.query == question:
            found = self.search(query.with_top_k(k))
            if not found or found[0].score < self.settings.min_score:  # it names no topic of its own
                follow, found = resolve(question, history, follows=True), None
                named = frozenset(question_terms(question))
        if self.settings.llm and history:
            from rag.generative import rewrite_follow_up

            standalone = rewrite_follow_up(self.language_model, question, history)
            if standalone is not None and standalone != question:
                follow, found = replace(follow, query=standalone), None
        if found is not None:
            hits = found
        else:
            hits = self.search(query.asking(follow.query).with_top_k(2 * k if follow.prefer else k))
            hits = prefer_articles(hits, follow.prefer)[:k]
        for answer in self.answerer.stream(follow.query, hits, exclude=follow.seen, as_of=query.as_of):
            if (
                named
                and not answer.refused
                and not any(named & set(terms(c.passage)) for c in answer.citations)
            ):
                # Joined to the topic before, it was answered from that topic's passages, which
                # say nothing of what it asks ("What is the capital of Peru?" after Xi's speech).
                reason = "joined to the conversation, no passage quoted holds a word of its own"
                answer = Answer(question, REFUSAL, True, refusal_reason=reason, hits=answer.hits)
            answer = replace(answer, question=question)
            yield answer, Turn.of(question, follow.query, answer)

    def choose(self, query: Query | str, choices: Sequence[str], hits: Sequence[Hit] | None = None) -> Choice:
        """Pick the option of ``choices`` that the retrieved passages support, with its citation
        (with a language model: the option it picks from the passages, grounded when a sentence of
        them holds it).

        ``hits`` are the question's passages if already retrieved.
        """
        query = Query.of(query)
        found = hits if hits is not None else self.search(query)
        if self.settings.llm:
            from rag.generative import model_choice

            return model_choice(self.language_model, query.question, choices, found)
        reader = self.reader
        if reader is not None and reader.chooser is not None:
            ranked = ExtractiveAnswerer().candidates(query.question, found)
            return reader.choose(query.question, choices, found, ranked)
        return choose(query.question, choices, found)

    def count_articles(self) -> int:
        """How many articles are stored."""
        return self.store.count_articles()

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
            self._lexical = lexical.remove([*removed, *lexical.chunks_of(article_id)])
            if self._coherence is not None:
                self._coherence.pop(article_id, None)
            if self._seen is not None:
                self._seen.pop(article_id, None)
            self.save_lexical()
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
            if self.settings.chroma_url:  # another client may have rewritten it: trust the index
                gone += [c for w in writes for c in self.lexical.chunks_of(w.article.id)[len(w.chunks) :]]
            if gone:
                self._index_pending()
                self._lexical = self.lexical.remove(gone)
            self._unindexed.extend(lexical_entries(writes))
            if self._coherence is not None:
                self._coherence.update((w.article.id, w.coherence) for w in writes)
            if self._seen is not None:
                self._seen.update((w.article.id, w.version) for w in writes)
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
    create: bool = True,
    llm: str | None = None,
) -> Library:
    """Open the library in ``data_dir`` (or as ``settings`` say; environment otherwise).

    Pass an already loaded ``embedder`` to share one model between libraries; ``llm`` names a
    language model to write answers (see ``Settings.llm``). With ``create``
    False, a data directory that holds no library (no embedded store, nor the BM25 index of a
    Chroma server's client) raises ``ConfigError`` instead of being given an empty one (asking
    an empty one would only refuse, whatever the question).
    """
    go_offline()
    if settings is None:
        settings = Settings.from_env(data_dir=data_dir)
    elif data_dir is not None:
        settings = settings.with_changes(data_dir=Path(data_dir))
    if llm is not None:
        settings = settings.with_changes(llm=llm)
    held = (Path(settings.data_dir) / part for part in ("chroma", "bm25"))  # (bm25 alone: a server's client)
    if not create and not settings.chroma_url and not any(p.is_dir() for p in held):
        raise ConfigError(
            f"There is no library in {settings.data_dir} yet. Add articles with `citewire ingest PATH` "
            "(with the same --data-dir), or point --data-dir or CITEWIRE_DATA_DIR at an existing library."
        )
    return Library(settings, ChromaStore.open(settings, create=create), embedder=embedder)


def ask(query: Query | str, data_dir: str | Path | None = None) -> Answer:
    """Answer one question (a ``Query`` or its bare text) from the library in ``data_dir``
    (loads the model: use ``open`` for many); raises ``ConfigError`` when there is no library
    there."""
    return open_library(data_dir, create=False).ask(query)
