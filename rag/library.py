"""``Library``: one handle on a Citewire store for searching, asking and managing articles.

    hits = library.search(question)              # Hit(Chunk, score), best first
    answer = library.ask(question)               # Answer(answer, refused, [Citation])

The embedding model loads on first use and stays loaded, so a handle answers repeated questions
quickly. ``rag.ask`` is the one-line form that opens a library for a single question.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.answer import REFUSAL, Answerer, ExtractiveAnswerer, nothing_within
from rag.choice import Choice, choose, options_of
from rag.chroma_records import ArticleWrite
from rag.conversation import Turn, prefer_articles, resolve
from rag.embedding import Embedder
from rag.errors import ConfigError, setting_said
from rag.filters import PassageFilter
from rag.fusion import (
    Fresher,
    add_article_ranking,
    add_article_support,
    add_freshness,
    articles_nearest,
    asks_about_recent,
    discount_roundups,
    discount_stale,
    drop_near_duplicates,
    ranked,
    reciprocal_rank_fusion,
)
from rag.lexical import LexicalIndex
from rag.lexical_sync import LexicalSync
from rag.offline import go_offline
from rag.query import Query, unknown_sources_note
from rag.records import Answer, Hit, StoredArticle, article_of
from rag.settings import Settings
from rag.storage import Store
from rag.store import ChromaStore
from rag.text import question_terms, sentence_spans, terms

if TYPE_CHECKING:
    from llama_index.core.retrievers import BaseRetriever

    from rag.llm import LanguageModel
    from rag.reading import Reader


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
        self._sync = LexicalSync(settings, store)  # the BM25 index, in step with the store
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
        """The learned reader ``settings.reader`` names, loaded on first use; None for ``none``."""
        from rag.reading import Reader, reader_folder

        folder = reader_folder(self.settings.reader)
        if folder is None:
            return None
        if self._reader is None or self._reader.folder != folder:
            self._reader = Reader.load(folder, self.embedder)
        return self._reader

    def warm_up(self) -> None:
        """Load the embedding model, the BM25 index, the learned reader, the sentence splitter and
        the stop words now, not at the first question; a reader that cannot be loaded raises here."""
        self.search("warm up")
        _ = self.reader, sentence_spans("Warm up. Now."), terms("warm up")

    @property
    def language_model(self) -> LanguageModel:
        """The language model ``settings.llm`` names, loaded on first use; ``ConfigError`` when
        none is set."""
        spec = self.settings.llm
        if not spec:
            raise ConfigError(f"No language model is set: give {setting_said('llm')}")
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
        return self._sync.coherences

    @property
    def lexical_folder(self) -> Path:
        """Where the BM25 index is kept."""
        return self._sync.folder

    @property
    def lexical(self) -> LexicalIndex:
        """The BM25 index, loaded on first use (rebuilt when unlike the store: ``rag.lexical_sync``)."""
        return self._sync.index

    def rebuild_lexical(self) -> LexicalIndex:
        """Rebuild the BM25 index from every stored chunk and save it."""
        return self._sync.rebuild()

    def save_lexical(self) -> None:
        """Index the passages ``put`` left pending and save the BM25 index (with a Chroma server,
        up to date with other clients' writes)."""
        self._sync.save()

    def catch_up(self) -> bool:
        """With a Chroma server: take in other clients' writes since this library last looked
        (at most every ``sync_seconds``); True when there were any (see ``rag.lexical_sync``)."""
        return self._sync.catch_up()

    def search(self, query: Query | str, vector: np.ndarray | None = None) -> list[Hit]:
        """The passages most relevant to the question, best first, within the query's bounds
        (see ``Query``); ``vector`` is the question's embedding, when made already.

        The dense and BM25 rankings are fused by reciprocal rank, and round-ups' passages count
        for less; with the article ranking on (off by default), the best passage of each article
        nearest the question as a whole is lifted too (see ``rag.fusion``). With an as-of date,
        passages published in the days just before it rank higher (``add_freshness``), and for a
        question about recent events ("this week") those over a month old count for less when
        fresher ones are found (``discount_stale``).
        """
        query, s = Query.of(query), self.settings
        question, as_of = query.question, query.as_of
        k = s.top_k if query.top_k is None else query.top_k
        self.catch_up()
        vector = self.embedder.embed_query(question) if vector is None else vector
        n = max(s.candidates, k)
        lexical = self.lexical  # one version throughout, though an ingest may replace it meanwhile
        filters = PassageFilter.of(query.since, query.until, query.sources)
        allowed = lexical.allowed(filters, as_of=as_of)
        keep = lexical.passes(allowed)
        share = float(allowed.sum()) / max(len(lexical), 1)
        # The filter goes to Chroma too, for when too few pass in memory.
        dense = self.store.nearest(vector, n, filters, keep=keep, share=share)
        rankings, weights = [[cid for cid, _ in dense]], [1.0]
        if s.retrieval == "hybrid":
            rankings.append([cid for cid, _ in lexical.search(question, n, allowed=allowed)])
            weights.append(s.lexical_weight)
        scores = reciprocal_rank_fusion(rankings, weights, k=s.fusion_k)
        fresher: Fresher | None = None
        if as_of is not None and s.freshness > 0:
            fresher = partial(
                add_freshness, as_of=as_of, weight=s.freshness, k=s.fusion_k,
                days=s.fade_days, fresh_days=s.fresh_days,
            )  # fmt: skip
        if s.article_ranking > 0:
            scores = add_article_ranking(
                scores,
                articles_nearest(self.store, vector, lexical, keep, share, filters, fresher, s.fusion_k),
                article_of,
                weight=s.article_ranking,
                k=s.fusion_k,
            )
        if fresher is not None:
            scores = fresher(scores, lexical.published)
        if as_of is not None and s.stale_discount < 1 and asks_about_recent(question):
            scores = discount_stale(scores, lexical.published, as_of, factor=s.stale_discount)
        if s.roundup_below > 0:
            known = self.coherences
            scores = discount_roundups(
                scores, lambda item: known.get(article_of(item), 1.0), below=s.roundup_below
            )
        if s.article_support > 0:
            scores = add_article_support(scores, article_of, weight=s.article_support)
        wanted = ranked(scores)[: 2 * k]
        hits = self.store.hits_for(wanted, vector)
        if s.near_duplicates < 1:
            hits = drop_near_duplicates(hits, s.near_duplicates)
        return hits[:k]

    def ask(self, query: Query | str) -> Answer:
        """Answer the question from the stored articles with numbered citations, or refuse."""
        *_, answer = self.stream(query)
        return answer

    def stream(self, query: Query | str) -> Iterator[Answer]:
        """``ask``'s answer as it grows: with a language model, one more checked sentence each
        time; the whole answer last."""
        query = Query.of(query)
        yield from self._answers(query.question, query, self.search(query))

    def _answers(
        self, question: str, query: Query, hits: list[Hit], exclude: frozenset[tuple[str, int]] = frozenset()
    ) -> Iterator[Answer]:
        """The answerer's; when the query's dates or sources leave none of the library's passages,
        a refusal saying so (an empty library refuses as ever: no bounds would help)."""
        if not hits and query.bounds() and len(self.lexical):
            yield nothing_within(question, query.bounds(), self.unknown_sources_note(query.sources))
        else:
            yield from self.answerer.stream(question, hits, exclude=exclude, as_of=query.as_of)

    def reply(self, query: Query | str, history: Sequence[Turn] = ()) -> tuple[Answer, Turn]:
        """Answer the question as the next turn of a conversation (see ``rag.conversation``):
        ``history`` is the turns before it, oldest first, as this returns each.

        A follow-up ("What else did he say about it?") is searched together with the question
        it follows, prefers the articles just cited, and quotes sentences not quoted before.
        """
        *_, last = self.reply_stream(query, history)
        return last

    def reply_stream(self, query: Query | str, history: Sequence[Turn] = ()) -> Iterator[tuple[Answer, Turn]]:
        """``reply``'s answer as it grows (see ``stream``), each with the turn it makes. With a
        language model, a question that follows others is first rewritten by it as a standalone
        question, and that is searched and answered."""
        query = Query.of(query)  # ``resolve`` checks the history
        question = query.question
        follow = resolve(question, history)
        k = self.settings.top_k if query.top_k is None else query.top_k
        named: frozenset[str] = frozenset()  # what a question joined to the topic must be about
        found: list[Hit] | None = None  # the question's passages when searched on its own
        if history and follow.query == question:
            found = self.search(query.with_top_k(k))
            if max((h.score for h in found), default=0.0) < self.settings.min_score:  # no topic of its own
                follow, found = resolve(question, history, follows=True), None
                named = frozenset(question_terms(question))
        if self.settings.llm and history:
            from rag.generative import rewrite_follow_up

            standalone = rewrite_follow_up(self.language_model, question, history)
            if standalone is not None and standalone != question:
                follow, found = replace(follow, query=standalone, asked=standalone), None
        if found is not None:
            hits = found
        else:
            hits = self.search(query.asking(follow.query).with_top_k(2 * k if follow.prefer else k))
            hits = prefer_articles(hits, follow.prefer)[:k]
        for answer in self._answers(follow.read, query, hits, follow.seen):
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
        """The option of ``choices`` that the passages (``hits`` when retrieved already) support,
        cited; a language model's pick is grounded when a sentence of them holds it."""
        query, choices = Query.of(query), options_of(choices)
        found = hits if hits is not None else self.search(query)
        if self.settings.llm:
            from rag.generative import model_choice

            return model_choice(self.language_model, query.question, choices, found, self.settings.min_score)
        reader = self.reader
        if reader is None or reader.chooser is None:
            return choose(query.question, choices, found, min_score=self.settings.min_score)
        searched = partial(self.option_searches, query, choices)  # only when the form does not settle it
        return reader.choose(query.question, choices, found, searched, self.settings.min_score)

    def option_searches(self, query: Query, choices: Sequence[str]) -> list[list[Hit]]:
        """Each option's passages: the query's search with the option's words added, embedded in one batch."""
        asked = [replace(query, question=f"{query.question} {o}") for o in choices]
        vectors = self.embedder.embed([q.question for q in asked])
        return [self.search(q, v) for q, v in zip(asked, vectors, strict=True)]

    def count_articles(self) -> int:
        """How many articles are stored."""
        return self.store.count_articles()

    def count_chunks(self) -> int:
        """How many passages are stored."""
        return self.store.count_chunks()

    def loaded(self) -> dict[str, bool]:
        """Which models are loaded by now: ``embedding``, and ``language`` (at its first answer)."""
        return {"embedding": self._embedder is not None, "language": self._model is not None}

    def sources(self) -> list[StoredArticle]:
        """Every stored article, sorted by title."""
        return sorted(self.store.articles(), key=lambda a: (a.title.lower(), a.id))

    def unknown_sources_note(self, sources: Sequence[str] | None) -> str:
        """A sentence naming the stored sources when ``sources`` names none of them; else ""."""
        return unknown_sources_note(sources, (a.source for a in self.sources()))

    def article_text(self, article_id: str) -> str | None:
        """The full text of an article: citation offsets index into it."""
        return self.store.article_text(_an_id(article_id))

    def forget(self, article_id: str) -> bool:
        """Remove an article and its passages; False when no such article is stored."""
        return self._sync.forget(_an_id(article_id))

    def put(self, writes: list[ArticleWrite]) -> None:
        """Store embedded articles (used by ingest), replacing older versions, and index their
        passages for BM25; call ``save_lexical`` once the batch of writes is done."""
        self._sync.put(writes)

    def as_retriever(self, top_k: int | None = None) -> BaseRetriever:
        """This library's search as a llama-index ``BaseRetriever``."""
        from rag.llama import LibraryRetriever

        return LibraryRetriever(self, top_k=top_k)


def _an_id(article_id: object) -> str:
    if not isinstance(article_id, str) or not article_id:
        said = f"Currently, it is {article_id!r}"
        raise ConfigError(f"an article id is text, as an article's `id` in `Library.sources()`. {said}")
    return article_id


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
    language model to write answers (see ``Settings.llm``). With ``create`` False, a data
    directory that holds no library (no embedded store, nor the BM25 index of a Chroma server's
    client) raises ``ConfigError`` rather than give an empty one, which would only refuse.
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
            f"(with the same data directory), or point {setting_said('data_dir')} at an existing library."
        )
    return Library(settings, ChromaStore.open(settings, create=create), embedder=embedder)


def ask(query: Query | str, data_dir: str | Path | None = None) -> Answer:
    """Answer one question (a ``Query`` or its bare text) from the library in ``data_dir``
    (loads the model: use ``open`` for many); raises ``ConfigError`` when there is no library
    there."""
    return open_library(data_dir, create=False).ask(query)
