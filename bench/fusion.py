"""Fusion weights, cross-validated over weeks of news quizzes: how much the BM25 ranking counts
against the dense one (``lexical_weight``) and reciprocal rank fusion's k (``fusion_k``).

    python bench/fusion.py --data-dir INDEX [--questions Q.jsonl] [--folds 5]

INDEX is an index of the questions' articles, as `citewire train` or `citewire eval` built it
(their output names it); the questions default to the 2023 quizzes, the data to tune on. For
each pair of weights, each question is searched as of its date as `citewire eval --as-of
question` searches it, and counted: whether its first passage holds a gold answer's text, and
whether one of its first five (the passages an answer is read from) does, as `citewire eval`'s
`passages_hold_gold`; for questions with gold urls, article Hit@5 and MRR@10 too. Then, for each
block of contiguous weeks, the pair with the most (first passage plus first five) on the other
blocks is scored on it: the cross-validated figure, printed against the current settings'.
Only retrieval is measured: no answer is composed.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from common import DATA, parser

WEIGHTS = (0.5, 1.0, 1.5, 2.0, 3.0)
KS = (20, 60)


def main() -> None:
    options = parser(__doc__)
    options.add_argument("--data-dir", type=Path, required=True)
    options.add_argument("--questions", type=Path, default=DATA / "realtimeqa-2023" / "questions.jsonl")
    options.add_argument("--folds", type=int, default=5)
    args = options.parse_args()

    import rag
    from eval import metrics as m
    from eval.runner import RETRIEVE_K, ranked_articles
    from eval.suite import load_questions
    from eval.train import folds, week_of

    library = rag.open(settings=rag.Settings(data_dir=args.data_dir), create=False)
    questions = [q for q in load_questions(args.questions)[0] if q.date is not None]
    default = library.settings
    pairs = list(itertools.product(WEIGHTS, KS))
    if (default.lexical_weight, default.fusion_k) not in pairs:
        pairs.append((default.lexical_weight, default.fusion_k))
    k = default.top_k
    # held[i, j] = (first passage holds gold, one of the first k does) for question i, pair j
    held = np.zeros((len(questions), len(pairs), 2))
    ranking = np.full((len(questions), len(pairs), 2), np.nan)  # Hit@5, MRR@10 with gold urls
    print(f"questions: {len(questions)}; passages in the index: {library.store.count_chunks()}")
    for j, (weight, k_rrf) in enumerate(pairs):
        library.settings = default.with_changes(lexical_weight=weight, fusion_k=k_rrf)
        for i, q in enumerate(questions):
            hits = library.search(rag.Query(q.question, top_k=RETRIEVE_K, as_of=q.date))
            holds = [bool(m.contains_gold(h.chunk.text, q.answers)) for h in hits[:k]]
            held[i, j] = (holds[:1] == [True], any(holds))
            if q.gold_urls:
                ranked = ranked_articles(hits)
                ranking[i, j] = (m.hit_at_k(ranked, q.gold_urls, 5), m.mrr_at_k(ranked, q.gold_urls, 10))
    current = pairs.index((default.lexical_weight, default.fusion_k))
    heads = ("lexical_weight", "fusion_k", "first", f"first {k}", "Hit@5", "MRR@10")
    print(" ".join(f"{h:>{w}}" for h, w in zip(heads, (14, 8, 6, 7, 6, 6), strict=True)))
    for j, (weight, k_rrf) in enumerate(pairs):
        hit5, mrr = (f"{v:6.3f}" if np.isfinite(v) else "   n/a" for v in _mean(ranking[:, j]))
        first, any_k = held[:, j].mean(axis=0)
        mark = "  <- current" if j == current else ""
        print(f"{weight:14.1f} {k_rrf:8d} {first:6.3f} {any_k:7.3f} {hit5} {mrr}{mark}")
    weeks = np.array([week_of(q) for q in questions], dtype=object)
    chosen = np.zeros((len(questions), 2))
    for block in folds(list(weeks), args.folds):
        test = np.isin(weeks, block)
        best = int(held[~test].sum(axis=(0, 2)).argmax())
        chosen[test] = held[test, best]
        print(
            f"weeks {block[0]}-{block[-1]}: chose {pairs[best]}; first {held[test, best, 0].mean():.3f} "
            f"(current {held[test, current, 0].mean():.3f}), first {k} {held[test, best, 1].mean():.3f} "
            f"(current {held[test, current, 1].mean():.3f})"
        )
    first, any_k = chosen.mean(axis=0)
    now_first, now_any = held[:, current].mean(axis=0)
    print(f"cross-validated: first {first:.3f}, first {k} {any_k:.3f}")
    print(f"current settings: first {now_first:.3f}, first {k} {now_any:.3f}")
    print(f"command: python bench/fusion.py --data-dir {args.data_dir} --questions {args.questions}")


def _mean(values: np.ndarray) -> np.ndarray:
    """Column means over the rows that have figures (questions with gold urls); nan when none."""
    rows = values[np.isfinite(values[:, 0])]
    return rows.mean(axis=0) if len(rows) else np.full(values.shape[1], np.nan)


if __name__ == "__main__":
    main()
