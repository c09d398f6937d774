"""Combining and cleaning ranked passages: reciprocal rank fusion, the articles nearest a question
as wholes, freshness, stale passages, article support and near-duplicate removal."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import TYPE_CHECKING

from rag.records import Hit, chunk_id_for
from rag.text import word_parts

if TYPE_CHECKING:
    import numpy as np

    from rag.filters import PassageFilter
    from rag.lexical import LexicalIndex
    from rag.storage import Store

RRF_K = 60
_RECENT = re.compile(
    r"\b(?:this|last|past) (?:week|weekend|month|year)\b|\brecent(?:ly)?\b|\blatest\b|\btoday\b"
    r"|\byesterday\b|\bcurrently\b|\bso far\b|\bnow\b",
    re.IGNORECASE,
)


FRESHNESS_DAYS = 7.0  # past the fresh days, a passage's freshness halves in about five days (e-folding 7)
FRESH_DAYS = 4  # stories from the last four days are all as fresh: a "this week" story is any of them
FRESHNESS_WEIGHT = 2.0  # in first places: a day-old story gains about what topping both rankings gives
STALE_DAYS = 30  # asked about recent events, passages older than this count for less ...
STALE_DISCOUNT = 0.5  # ... this much, when fresher ones are among the candidates
SUPPORT_WEIGHT = 0.3  # how much an article's next-best passages lift its best one, when turned on
ARTICLE_WEIGHT = 1.0  # the article ranking, when turned on, counts as much as a passage ranking
ARTICLE_RANKS = 10  # how many of the nearest articles lift their passages
ROUNDUP_BELOW = 0.75  # article coherence under which passages count for less (round-ups)
ARTICLE_CANDIDATES = 50  # the nearest articles those are picked from (the recent first, given an as-of date)


Fresher = Callable[[dict[str, float], Callable[[str], date | None]], dict[str, float]]
"""Scores given the freshness bonus, from the scores and each item's published date."""


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], weights: Sequence[float] | None = None, k: int = RRF_K
) -> dict[str, float]:
    """Each id's weighted sum over rankings of 1 / (k + rank), rank from 1 (Cormack et al. 2009)."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return scores


def add_freshness(
    scores: dict[str, float],
    published: Callable[[str], date | None],
    as_of: date,
    weight: float = FRESHNESS_WEIGHT,
    days: float = FRESHNESS_DAYS,
    fresh_days: int = FRESH_DAYS,
    k: int = RRF_K,
) -> dict[str, float]:
    """``scores`` with a bonus for passages published shortly before ``as_of``.

    The bonus is ``weight`` first places (``weight / (k + 1)``) for a story up to
    ``fresh_days`` old, then that times ``exp(-(age - fresh_days) / days)``: one from a month
    before gets almost none, and undated passages none. News questions asked "as of" a day are
    mostly about that week, and any day of it: a bonus that kept falling day by day would rank
    every later follow-up above the report that answers, as it did (see docs/retrieval.md).
    """
    top = weight / (k + 1)
    ages = _ages(scores, published, as_of)
    return {
        item: score
        + (top * math.exp(-max(age - fresh_days, 0) / days) if (age := ages[item]) is not None else 0.0)
        for item, score in scores.items()
    }


def _ages(
    items: Iterable[str], published: Callable[[str], date | None], as_of: date
) -> dict[str, int | None]:
    """Each item's age in days on ``as_of`` (None when undated)."""
    return {item: (as_of - day).days if (day := published(item)) is not None else None for item in items}


def asks_about_recent(question: str) -> bool:
    """Whether ``question`` says it is about recent events ("this week", "recently", "latest",
    "so far", "now" ...)."""
    return _RECENT.search(question) is not None


def discount_stale(
    scores: dict[str, float],
    published: Callable[[str], date | None],
    as_of: date,
    factor: float = STALE_DISCOUNT,
    older_than: int = STALE_DAYS,
) -> dict[str, float]:
    """``scores`` where passages published more than ``older_than`` days before ``as_of`` count
    ``factor`` as much, if any candidate is more recent than that (else the order is left alone).

    For questions about recent events (see ``asks_about_recent``): the freshness bonus fades
    within weeks, so without this a story from years before that matches the question's words
    closely ("box office", "record high") can still outrank this week's. Undated passages keep
    their scores.
    """
    ages = _ages(scores, published, as_of)
    if not any(age is not None and age <= older_than for age in ages.values()):
        return dict(scores)
    return {
        item: score * factor if (age := ages[item]) is not None and age > older_than else score
        for item, score in scores.items()
    }


def add_article_support(
    scores: dict[str, float], article_of: Callable[[str], str], weight: float = SUPPORT_WEIGHT
) -> dict[str, float]:
    """``scores`` where each article's best passage is lifted by ``weight`` times the scores of
    the article's next two best: an article that matches in several places outranks a single
    lucky passage. Other passages keep their scores, so one article does not crowd out the rest."""
    by_article: dict[str, list[str]] = {}
    for item in ranked(scores):
        by_article.setdefault(article_of(item), []).append(item)
    lifted = dict(scores)
    for items in by_article.values():
        lifted[items[0]] += weight * sum(scores[i] for i in items[1:3])
    return lifted


def add_article_ranking(
    scores: dict[str, float],
    articles: Sequence[str],
    article_of: Callable[[str], str],
    weight: float = ARTICLE_WEIGHT,
    k: int = RRF_K,
) -> dict[str, float]:
    """``scores`` where the best passage of the article ranked r in ``articles`` (articles by how
    near their whole text is to the question) gains ``weight / (k + r)``, as a third ranking in
    the fusion would give it. Only the best: an article's other passages keep their scores, so
    one long article does not crowd out the rest.

    A passage that matches the question only in passing, in a round-up of the day's news or an
    article about something else, is outranked by one from the article that is about it.
    """
    rank = {article: r for r, article in enumerate(articles, start=1)}
    lifted = dict(scores)
    for item in ranked(scores):
        article = article_of(item)
        if article in rank:
            lifted[item] += weight / (k + rank.pop(article))
    return lifted


def discount_roundups(
    scores: dict[str, float], coherence_of: Callable[[str], float], below: float = ROUNDUP_BELOW
) -> dict[str, float]:
    """``scores`` where the passages of an article whose ``coherence`` is under ``below`` count
    for that much less (times coherence / below).

    A round-up of the day's news (five things to know, news from the fifty states) matches a
    question about any of its stories as well as the story itself does, in a line or two, and
    tells less; its chunks share little, so its coherence is low (0.4-0.6 where a story scores
    about 0.85).
    """
    return {item: score * min(1.0, coherence_of(item) / below) for item, score in scores.items()}


def ranked(scores: dict[str, float]) -> list[str]:
    """Ids by score, best first (ties keep insertion order)."""
    return sorted(scores, key=lambda item: -scores[item])


def _shingles(text: str, size: int = 5) -> frozenset[int]:
    words = word_parts(text.lower())
    return frozenset(hash(tuple(words[i : i + size])) for i in range(max(1, len(words) - size + 1)))


def drop_near_duplicates(hits: Sequence[Hit], threshold: float = 0.8) -> list[Hit]:
    """``hits`` without passages that repeat a better-ranked one (syndicated copies of a story).

    Two passages are near-duplicates when their word 5-gram sets overlap by ``threshold``
    (Jaccard) or more. Overlaps are counted through a map from shingle to the kept passages
    holding it, so the cost grows with the text, not with the square of the hits.
    """
    kept: list[Hit] = []
    sizes: list[int] = []
    holders: dict[int, list[int]] = {}
    for hit in hits:
        shingles = _shingles(hit.chunk.text)
        shared: dict[int, int] = {}
        for shingle in shingles:
            for k in holders.get(shingle, ()):
                shared[k] = shared.get(k, 0) + 1
        if any(common >= threshold * (len(shingles) + sizes[k] - common) for k, common in shared.items()):
            continue
        index = len(kept)
        kept.append(hit)
        sizes.append(len(shingles))
        for shingle in shingles:
            holders.setdefault(shingle, []).append(index)
    return kept


def articles_nearest(
    store: Store,
    vector: np.ndarray,
    lexical: LexicalIndex,
    keep: Callable[[str], bool],
    share: float,
    filters: PassageFilter,
    fresher: Fresher | None,
    k: int = RRF_K,
) -> list[str]:
    """The ``ARTICLE_RANKS`` articles nearest the question (``vector``) as wholes, within
    ``filters`` and ``keep``; the recent ones first with an as-of date (``fresher``: the freshness
    bonus passages get, given to the nearest ``ARTICLE_CANDIDATES``)."""

    def first(article_id: str) -> str:  # an article's dates and source are its chunks'
        return chunk_id_for(article_id, 0)

    nearest = store.nearest_articles(
        vector, ARTICLE_CANDIDATES, filters, keep=lambda a: keep(first(a)), share=share
    )
    scores = reciprocal_rank_fusion([[a for a, _ in nearest]], k=k)
    if fresher is not None:
        scores = fresher(scores, lambda a: lexical.published(first(a)))
    return ranked(scores)[:ARTICLE_RANKS]
