"""Refusal calibration: how often Citewire answers what it can and refuses what it cannot.

    python bench/refusal.py --answerable-dir RTQA_INDEX --unanswerable-dir BBC_INDEX

Answerable: the realtimeqa-dev questions whose gold article is in the corpus, asked of an index
of that corpus (as of each question's date). Unanswerable: every realtimeqa-dev question (2022
news) asked of an index of the BBC corpus (2004-05 news). Prints the share answered and refused
for a grid of the two thresholds of the hand-set weights (best passage score, best sentence's
share of question terms; the defaults are marked), then what the library answers as configured
(``--reader``, default the shipped one: its calibrated chance decides in place of the share).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
from common import DATA, parser

RTQA = DATA / "realtimeqa-dev"


def features(library: object, questions: list[dict[str, object]], as_of: bool) -> np.ndarray:
    """Per question, what the hand-set refusal tests read: the first passage's score, the best
    sentence's share of the question's terms, and whether a number it names is missing; and
    whether the library as configured refused."""
    import rag
    from rag.answer import missing_numbers

    rows = []
    for q in questions:
        day = date.fromisoformat(str(q["date"])) if as_of else None
        answer = library.ask(rag.Query(str(q["question"]), as_of=day))  # type: ignore[attr-defined]
        hits = answer.hits  # the passages the answer was made from
        ranked = rag.ExtractiveAnswerer().candidates(str(q["question"]), hits)  # hand-set order
        rows.append(
            (
                hits[0].score if hits else 0.0,
                ranked[0].coverage if ranked else 0.0,
                bool(missing_numbers(str(q["question"]), hits)),
                answer.refused,
            )
        )
    return np.asarray(rows, dtype=float)


def main() -> None:
    options = parser(__doc__)
    options.add_argument(
        "--answerable-dir", type=Path, required=True, help="index of realtimeqa-dev articles"
    )
    options.add_argument("--unanswerable-dir", type=Path, required=True, help="index of the BBC articles")
    options.add_argument("--reader", default="builtin", help="the library's reader (default builtin)")
    args = options.parse_args()

    import rag
    from eval.metrics import normalize_url

    questions = [json.loads(line) for line in (RTQA / "questions.jsonl").read_text().splitlines() if line]
    corpus = {
        normalize_url(json.loads(line)["url"]) for line in (RTQA / "articles.jsonl").read_text().splitlines()
    }
    answerable = [q for q in questions if any(normalize_url(u) in corpus for u in q["gold_urls"])]
    embedder = rag.Embedder.load()
    settings = rag.Settings(reader=args.reader)
    # Both before either is read; a folder holding no library is an error, not an empty one
    # that refuses every question.
    answering, unrelated = (
        rag.open(folder, settings=settings, embedder=embedder, create=False)
        for folder in (args.answerable_dir, args.unanswerable_dir)
    )
    yes = features(answering, answerable, True)
    no = features(unrelated, questions, False)
    default = rag.ExtractiveAnswerer()  # the thresholds' defaults (CITEWIRE_MIN_* are not read here)
    print(f"answerable questions: {len(yes)}; unanswerable questions: {len(no)}")
    print(f"{'min_score':>9} {'min_coverage':>12} {'answered':>9} {'refused':>8} {'balanced':>9}")
    for score in (0.3, 0.35, 0.4, 0.45, 0.5, 0.55):
        for share in (0.25, 0.3, 0.34, 0.4):
            answered = ((yes[:, 0] >= score) & (yes[:, 1] >= share) & (yes[:, 2] == 0)).mean()
            refused = 1 - ((no[:, 0] >= score) & (no[:, 1] >= share) & (no[:, 2] == 0)).mean()
            mark = "  <- default" if (score, share) == (default.min_score, default.min_coverage) else ""
            print(
                f"{score:9.2f} {share:12.2f} {answered:9.3f} {refused:8.3f} "
                f"{(answered + refused) / 2:9.3f}{mark}"
            )
    print(
        f"the library as configured (reader {args.reader}): answered {1 - yes[:, 3].mean():.3f} "
        f"({int(len(yes) - yes[:, 3].sum())}) of the answerable, refused {no[:, 3].mean():.3f} "
        f"({int(no[:, 3].sum())}) of the unanswerable"
    )
    print(
        f"command: python bench/refusal.py --answerable-dir {args.answerable_dir} "
        f"--unanswerable-dir {args.unanswerable_dir}"
        + (f" --reader {args.reader}" if args.reader != "builtin" else "")
    )


if __name__ == "__main__":
    main()
