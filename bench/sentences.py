"""What the news abbreviations change in sentence splitting: sentences of real articles split
by Punkt's plain English model and by Citewire's (``rag.text.sentence_spans``).

    python bench/sentences.py [--articles ../shared/data/realtimeqa-2023/articles.jsonl] [--show N]

Prints the sentence counts both ways, how many of Citewire's sentences are new or changed, and
how many of those hold what looks like a sentence start after a full stop (". The", ". He",
...), a sentence carried on where it should have ended; then up to ``--show`` of those.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from common import DATA, parser

from rag import text

_START = re.compile(r"\b\w+\. (?:The|He|She|It|They|In|But|A|We|I|This|That|On|At|And|After|When|Police)\b")


def plain_spans(article: str, punkt: object) -> set[tuple[int, int]]:
    """Sentence spans as Punkt's English model alone gives them, line by line as Citewire splits."""
    spans = set()
    for offset, line in text._lines(article):
        for start, end in punkt.span_tokenize(line):  # type: ignore[attr-defined]
            piece = article[offset + start : offset + end]
            stripped = piece.strip()
            if stripped:
                lead = offset + start + len(piece) - len(piece.lstrip())
                spans.add((lead, lead + len(stripped)))
    return spans


def main() -> None:
    options = parser(__doc__)
    options.add_argument("--articles", type=Path, default=DATA / "realtimeqa-2023" / "articles.jsonl")
    options.add_argument("--show", type=int, default=10, help="run-on sentences to print")
    args = options.parse_args()
    from nltk.tokenize.punkt import PunktTokenizer

    text.sentence_spans("Loads Punkt's data.")
    punkt = PunktTokenizer("english")
    lines = args.articles.read_text(encoding="utf-8").splitlines()
    before = after = changed = 0
    run_on: list[str] = []
    for line in lines:
        article = json.loads(line)["text"]
        plain = plain_spans(article, punkt)
        ours = text.sentence_spans(article)
        before, after = before + len(plain), after + len(ours)
        for start, end in ours:
            if (start, end) not in plain:
                changed += 1
                sentence = article[start:end]
                run_on += [sentence[max(0, m.start() - 60) : m.end() + 30] for m in _START.finditer(sentence)]
    print(f"articles: {len(lines)} ({args.articles})")
    print(f"sentences: {before} with Punkt's English model, {after} with Citewire's")
    print(f"sentences new or changed: {changed}, of which {len(run_on)} hold a sentence start")
    for sample in run_on[: args.show]:
        print("  ", sample.replace("\n", " "))
    print(f"command: python bench/sentences.py --articles {args.articles}")


if __name__ == "__main__":
    main()
