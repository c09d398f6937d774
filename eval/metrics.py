"""Evaluation metrics: plain functions over plain values, each checked by hand-computed tests.

Retrieval metrics are article-level: ``ranked`` is the list of distinct retrieved article urls,
best first; ``gold`` the set the question names. Answer metrics use SQuAD-style normalisation,
made Unicode-aware. Citation support is a lexical *proxy* (no NLI model ships offline here):
``rag.grounding.supports``, the same check that screens a language model's sentences.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

import numpy as np

from rag.grounding import supports

_ARTICLES = re.compile(r"\b(a|an|the)\b")


_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_DECIMAL_POINT = re.compile(r"(?<=\d)\.(?=\d)")


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation (any Unicode punctuation, curly quotes included) and the
    articles a/an/the, and collapse white space. A number keeps a decimal point between digits
    and loses its thousands commas, so "$4" is not found in "$4.96" and "4,000" is "4000"."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _DECIMAL_POINT.sub("\0", _THOUSANDS.sub("", text))  # NUL: a point no category drops
    text = "".join(" " if unicodedata.category(ch).startswith(("P", "S")) else ch for ch in text)
    text = _ARTICLES.sub(" ", text).replace("\0", ".")
    return " ".join(text.split())


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals any normalised gold answer."""
    guess = normalize_answer(prediction)
    return float(any(guess == normalize_answer(g) for g in golds))


def token_f1(prediction: str, golds: Sequence[str]) -> float:
    """Best token-overlap F1 between the prediction and any gold answer (SQuAD)."""
    guess = normalize_answer(prediction).split()
    best = 0.0
    for gold in golds:
        truth = normalize_answer(gold).split()
        common = sum((Counter(guess) & Counter(truth)).values())
        if common == 0:
            continue
        precision, recall = common / len(guess), common / len(truth)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def contains_gold(text: str, golds: Sequence[str]) -> float:
    """1.0 when a normalised gold answer occurs, as whole words, in the normalised text."""
    haystack = f" {normalize_answer(text)} "
    return float(any(normalize_answer(g) and f" {normalize_answer(g)} " in haystack for g in golds))


def normalize_url(url: str) -> str:
    """A url reduced for comparison: no scheme, ``www.``, query, fragment, trailing slash or
    default document (``/index.html`` names the same page as ``/``)."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").removeprefix("www.")
    path = re.sub(r"/index\.html?$", "", parts.path.rstrip("/"), flags=re.IGNORECASE)
    return f"{host}{path.rstrip('/')}"


def distinct(urls: Iterable[str]) -> list[str]:
    """Normalised urls in first-seen order (a chunk counts as its article, first rank kept)."""
    seen: dict[str, None] = {}
    for url in urls:
        seen.setdefault(normalize_url(url), None)
    return list(seen)


def hit_at_k(ranked: Sequence[str], gold: Iterable[str], k: int) -> float:
    """1.0 when a gold article is among the first ``k`` ranked."""
    wanted = {normalize_url(g) for g in gold}
    return float(any(normalize_url(u) in wanted for u in ranked[:k]))


def mrr_at_k(ranked: Sequence[str], gold: Iterable[str], k: int) -> float:
    """Reciprocal rank of the first gold article within ``k``, else 0."""
    wanted = {normalize_url(g) for g in gold}
    for rank, url in enumerate(ranked[:k], start=1):
        if normalize_url(url) in wanted:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[str], gold: Iterable[str], k: int) -> float:
    """nDCG@k with binary relevance; the ideal ranking puts every gold article first."""
    wanted = {normalize_url(g) for g in gold}
    if not wanted:
        return 0.0
    dcg = sum(
        1.0 / math.log2(rank + 1)
        for rank, url in enumerate(ranked[:k], start=1)
        if normalize_url(url) in wanted
    )
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(k, len(wanted)) + 1))
    return dcg / ideal


def quote_alignment(quotes: Sequence[tuple[str, str | None, int, int]]) -> float | None:
    """Share of (quote, article text, start, end) whose quote is exactly ``text[start:end]``.

    None when there are no quotes (a refusal): nothing to score.
    """
    if not quotes:
        return None
    good = sum(1 for quote, text, start, end in quotes if text is not None and text[start:end] == quote)
    return good / len(quotes)


def citation_scores(statements: Sequence[tuple[str, Sequence[str]]]) -> tuple[float, float] | None:
    """ALCE-style citation (recall, precision) for one answer, with ``supports`` as the judge.

    ``statements`` pairs each answer sentence with the passages it cites. Recall: share of
    sentences whose cited passages together support them. Precision: share of citations that
    are not irrelevant, where a citation is irrelevant when it alone does not support its
    sentence and the sentence stays supported without it. None for an answer with no sentences.
    """
    if not statements:
        return None
    supported = 0
    cited = 0
    precise = 0
    for statement, passages in statements:
        whole = bool(passages) and supports(passages, statement)
        supported += whole
        for i, passage in enumerate(passages):
            cited += 1
            alone = supports([passage], statement)
            rest = [p for j, p in enumerate(passages) if j != i]
            irrelevant = not alone and (not whole or (bool(rest) and supports(rest, statement)))
            precise += whole and not irrelevant
    recall = supported / len(statements)
    precision = precise / cited if cited else 0.0
    return recall, precision


def bootstrap_ci(
    values: Sequence[float], statistic: str = "mean", resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the mean (or ``p50``/``p95``) of ``values``."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    samples = data[rng.integers(0, data.size, size=(resamples, data.size))]
    if statistic == "mean":
        stats = samples.mean(axis=1)
    else:
        stats = np.percentile(samples, float(statistic.removeprefix("p")), axis=1)
    low, high = np.percentile(stats, [2.5, 97.5])
    return float(low), float(high)


def paired_bootstrap_ci(
    a: Sequence[float], b: Sequence[float], resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """95% bootstrap interval of mean(b - a) over paired values."""
    diff = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    return bootstrap_ci(list(diff), "mean", resamples, seed)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (linear interpolation)."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else math.nan
