"""Combining and cleaning ranked passages: reciprocal rank fusion and near-duplicate removal."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.records import Hit

RRF_K = 60
_WORD = re.compile(r"\w+")


_RECENT = re.compile(
    r"\b(recent|recently|latest|newest|this (week|month|year)|last (week|month)|past (week|few days)|"
    r"so far this|currently|now|today|yesterday|upcoming|just)\b",
    re.IGNORECASE,
)


def asks_about_recent(question: str) -> bool:
    """Whether the question is about recent events ("this week", "recently", "latest" ...)."""
    return bool(_RECENT.search(question))


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], weights: Sequence[float] | None = None, k: int = RRF_K
) -> list[str]:
    """Ids ordered by the weighted sum over rankings of 1 / (k + rank), rank from 1
    (Cormack et al. 2009)."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores, key=lambda item: -scores[item])


def by_recency(days: dict[str, int]) -> list[str]:
    """Ids newest first (``days`` maps id to YYYYMMDD; undated ids, 0, are left out)."""
    return sorted((i for i, d in days.items() if d > 0), key=lambda i: -days[i])


def _shingles(text: str, size: int = 5) -> frozenset[int]:
    words = _WORD.findall(text.lower())
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
