"""Freshness shapes: article ranking on realtimeqa-dev for a grid of freshness bonuses.

    python bench/freshness.py --data-dir RTQA_INDEX [--questions Q.jsonl]

RTQA_INDEX is the realtimeqa-dev index `citewire eval` built (its last line names it). For each
bonus shape (fresh days: how many days before the as-of date get the whole bonus; fade days:
how fast it falls after them; weight: the bonus in first places) the questions with gold urls
are searched as of their date, as `citewire eval --as-of question` searches them, and article
Hit@1, Hit@5 and MRR@10 are printed. Only ranking is measured: no answers are composed. The
current defaults are marked; the same shape run through `citewire eval` with the matching
`CITEWIRE_FRESH_DAYS`, `CITEWIRE_FADE_DAYS` and `CITEWIRE_FRESHNESS` gives the same ranking
figures.
"""

from __future__ import annotations

import itertools
import json
from datetime import date
from pathlib import Path

from common import DATA, parser


def main() -> None:
    options = parser(__doc__)
    options.add_argument("--data-dir", type=Path, required=True)
    options.add_argument("--questions", type=Path, default=DATA / "realtimeqa-dev" / "questions.jsonl")
    args = options.parse_args()

    import rag
    from eval import metrics as m
    from eval.runner import RETRIEVE_K, ranked_articles

    library = rag.open(settings=rag.Settings(data_dir=args.data_dir), create=False)
    questions = [json.loads(line) for line in args.questions.read_text().splitlines() if line.strip()]
    gold = [q for q in questions if q.get("gold_urls") and q.get("date")]
    default = library.settings
    shapes = [(0, 7.0, 2.0)]  # the bonus falling from the as-of date on
    shapes += list(itertools.product((3, 4, 5), (5.0, 7.0, 10.0), (2.0, 3.0)))
    print(f"questions with gold urls: {len(gold)}; passages in the index: {library.store.count_chunks()}")
    print(f"{'fresh days':>10} {'fade days':>9} {'weight':>6} {'Hit@1':>6} {'Hit@5':>6} {'MRR@10':>6}")
    for fresh, fade, weight in shapes:
        library.settings = default.with_changes(fresh_days=fresh, fade_days=fade, freshness=weight)
        h1 = h5 = mrr = 0.0
        for q in gold:
            hits = library.search(
                rag.Query(q["question"], top_k=RETRIEVE_K, as_of=date.fromisoformat(q["date"]))
            )
            ranked = ranked_articles(hits)
            h1 += m.hit_at_k(ranked, q["gold_urls"], 1)
            h5 += m.hit_at_k(ranked, q["gold_urls"], 5)
            mrr += m.mrr_at_k(ranked, q["gold_urls"], 10)
        n = len(gold)
        mark = (
            "  <- default"
            if (fresh, fade, weight) == (default.fresh_days, default.fade_days, default.freshness)
            else ""
        )
        print(f"{fresh:10d} {fade:9.0f} {weight:6.0f} {h1 / n:6.3f} {h5 / n:6.3f} {mrr / n:6.3f}{mark}")
    print(f"command: python bench/freshness.py --data-dir {args.data_dir} --questions {args.questions}")


if __name__ == "__main__":
    main()
