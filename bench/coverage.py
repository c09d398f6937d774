"""How much of a question set the corpus can answer at all: a ceiling for the answer metrics.

    python bench/coverage.py [--articles A.jsonl] [--questions Q.jsonl] [--days 10]

For each question, is its correct answer's text (normalised as contains-gold normalises it)
found in an article published on or before the question's date, within ``--days`` days? Where it
is not, an extractive system cannot quote the answer and a multiple-choice pick is a guess.
Reported for questions with and without gold article urls. No model or index is needed.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from common import DATA, parser

RTQA = DATA / "realtimeqa-dev"


def main() -> None:
    options = parser(__doc__)
    options.add_argument("--articles", type=Path, default=RTQA / "articles.jsonl")
    options.add_argument("--questions", type=Path, default=RTQA / "questions.jsonl")
    options.add_argument("--days", type=int, default=10)
    args = options.parse_args()

    from eval.metrics import normalize_answer

    articles = []
    for line in args.articles.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("published"):
            text = f" {normalize_answer(record.get('title') or '')} {normalize_answer(record['text'])} "
            articles.append((date.fromisoformat(record["published"]), text))
    questions = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line]
    found = {True: [0, 0], False: [0, 0]}  # has gold urls -> [answer found, questions]
    for q in questions:
        asked = date.fromisoformat(q["date"])
        answers = [f" {normalize_answer(a)} " for a in q["answers"] if normalize_answer(a)]
        window = (text for day, text in articles if 0 <= (asked - day).days <= args.days)
        hit = any(a in text for text in window for a in answers)
        tally = found[bool(q.get("gold_urls"))]
        tally[0] += hit
        tally[1] += 1
    for has_gold, (hits, total) in sorted(found.items(), reverse=True):
        label = "with gold urls" if has_gold else "without gold urls"
        print(
            f"questions {label}: {total}; answer text in an article of the {args.days} days before: "
            f"{hits} ({hits / total:.1%})"
        )
    hits = sum(v[0] for v in found.values())
    total = sum(v[1] for v in found.values())
    print(f"all questions: {total}; answer text found: {hits} ({hits / total:.1%})")
    print(
        f"command: python bench/coverage.py --articles {args.articles} --questions {args.questions} "
        f"--days {args.days}"
    )


if __name__ == "__main__":
    main()
