"""Follow-up dialogues: how often Citewire answers a conversation's later turns, against its first.

    python bench/followups.py [--suite eval/followups.jsonl] [--data-dir DIR] [--llm SPEC] [--verbose]

The suite holds short dialogues, each about one realtimeqa-2023 story (its url) and asked as of a
few days after it: a first question the article answers, then follow-ups of three kinds, (a) with
a pronoun ("How old is she?"), (b) elliptical without one ("What was the final score?") and (c)
about a list or detail of the first answer's story ("Who else ...?"). Every expected string is
first checked against its article's text, normalised as the evaluation normalises answers.

The library holds the suite's articles and, as distractors, the realtimeqa-2023 articles
published within 3 days of any of them (the nearest first, up to --max-articles in all). It is
built once in --data-dir (from a JSONL file written there) and reused. Each dialogue runs through
`Library.reply` with its `Turn` history, as the chat page does. A turn is right when its answer,
without the [n] markers, contains an expected string (`eval.metrics.contains_gold`).
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from common import DATA, ROOT, parser

from eval.metrics import contains_gold
from rag.grounding import MARKERS

CORPUS = DATA / "realtimeqa-2023" / "articles.jsonl"
WINDOW_DAYS = 3
KINDS = {"a": "(a) pronoun", "b": "(b) elliptical", "c": "(c) list or detail"}

Record = dict[str, Any]
"""An article as realtimeqa-2023's articles.jsonl holds it."""


@dataclass(frozen=True)
class Step:
    """One turn of a dialogue: the question, the answers that count, and its kind (None: first)."""

    question: str
    expected: tuple[str, ...]
    kind: str | None


@dataclass(frozen=True)
class Dialogue:
    """A conversation about one article, asked as of a day after it."""

    id: str
    url: str
    as_of: date
    steps: tuple[Step, ...]


def load_suite(path: Path) -> list[Dialogue]:
    """The dialogues of a suite file, one JSON object a line."""
    dialogues = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            steps = tuple(Step(t["question"], tuple(t["expected"]), t.get("kind")) for t in record["turns"])
            as_of = date.fromisoformat(record["as_of"])
            dialogues.append(Dialogue(record["id"], record["url"], as_of, steps))
    return dialogues


def published(article: Record) -> date | None:
    """An article record's published date, None when it gives none or a malformed one."""
    try:
        return date.fromisoformat(article.get("published") or "")
    except ValueError:
        return None


def check_suite(dialogues: list[Dialogue], articles: dict[str, Record]) -> list[str]:
    """What is wrong with the suite: missing articles, dates before them, answers not in them."""
    problems = []
    for d in dialogues:
        article = articles.get(d.url)
        if article is None:
            problems.append(f"{d.id}: no article with url {d.url} in {CORPUS}")
            continue
        day = published(article)
        if day is None or not day <= d.as_of:
            problems.append(f"{d.id}: as_of {d.as_of} is not on or after the article's date {day}")
        for n, step in enumerate(d.steps, 1):
            if (step.kind is None) != (n == 1) or (step.kind and step.kind not in KINDS):
                problems.append(f"{d.id} turn {n}: kind {step.kind!r} (first turns have none, others a/b/c)")
            for gold in step.expected:
                if not contains_gold(article["text"], [gold]):
                    problems.append(f"{d.id} turn {n}: {gold!r} does not occur in the article's text")
    return problems


def select_corpus(dialogues: list[Dialogue], articles: dict[str, Record], cap: int) -> list[Record]:
    """The suite's articles, then those published within ``WINDOW_DAYS`` of one, nearest first."""
    suite = list(dict.fromkeys(d.url for d in dialogues))
    days = {day for url in suite if (day := published(articles[url])) is not None}
    near: list[tuple[int, str]] = []
    for url, article in articles.items():
        day = published(article)
        if url not in suite and day is not None:
            gap = min(abs((day - d).days) for d in days)
            if gap <= WINDOW_DAYS:
                near.append((gap, url))
    return [articles[url] for url in suite + [url for _, url in sorted(near)][: max(cap - len(suite), 0)]]


def share(part: int, whole: int) -> str:
    """``part / whole`` to three places, a dash when there is no whole."""
    return f"{part / whole:.3f}" if whole else "  -  "


def main() -> None:
    options = parser(__doc__)
    options.add_argument("--suite", type=Path, default=ROOT / "eval" / "followups.jsonl")
    options.add_argument("--data-dir", type=Path, default=Path("/tmp/citewire-followups"))
    options.add_argument("--max-articles", type=int, default=600, help="suite articles plus distractors")
    options.add_argument("--llm", help="a language model to write the answers (as `citewire ask --llm`)")
    options.add_argument("--verbose", action="store_true", help="print every turn's answer and verdict")
    options.add_argument("--check", action="store_true", help="only check the suite against its articles")
    args = options.parse_args()

    import rag
    from ingest import ingest

    articles = {a["url"]: a for a in map(json.loads, CORPUS.read_text(encoding="utf-8").splitlines())}
    dialogues = load_suite(args.suite)
    kinds = Counter(s.kind for d in dialogues for s in d.steps[1:])
    print(
        f"suite: {args.suite}: {len(dialogues)} dialogues, {sum(len(d.steps) for d in dialogues)} turns "
        f"(follow-ups: {', '.join(f'{k} {kinds[k]}' for k in KINDS)})"
    )
    problems = check_suite(dialogues, articles)
    for problem in problems:
        print(f"suite problem: {problem}")
    if problems:
        sys.exit(1)
    print("every expected answer occurs in its article's text")
    if args.check:
        return

    corpus = select_corpus(dialogues, articles, args.max_articles)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    source = args.data_dir / "followups-corpus.jsonl"  # a fixed path: the same articles are then unchanged
    source.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in corpus), encoding="utf-8")
    library = rag.open(args.data_dir, llm=args.llm)
    report = ingest([source], library, progress=False)
    print(
        f"library: {args.data_dir}: {len(corpus)} articles ({len(set(d.url for d in dialogues))} stories, "
        f"the rest published within {WINDOW_DAYS} days of one); ingest: {report.summary()}"
    )

    tally: Counter[tuple[str, str]] = Counter()  # (row, "right" | "refused" | "total")
    started = time.perf_counter()
    for d in dialogues:
        history: list[rag.Turn] = []
        for n, step in enumerate(d.steps, 1):
            answer, turn = library.reply(rag.Query(step.question, as_of=d.as_of), history)
            history.append(turn)
            said = MARKERS.sub("", answer.answer)
            right = not answer.refused and bool(contains_gold(said, step.expected))
            rows = ["first turns"] if step.kind is None else ["follow-up turns", KINDS[step.kind]]
            for row in rows:
                tally[row, "total"] += 1
                tally[row, "right"] += right
                tally[row, "refused"] += answer.refused
            if args.verbose:
                verdict = "right" if right else "REFUSED" if answer.refused else "wrong"
                story = "story cited" if any(c.url == d.url for c in answer.citations) else "story not cited"
                found = any(contains_gold(h.chunk.text, step.expected) for h in answer.hits)
                print(f"{d.id}.{n} {step.kind or '-'} {verdict:7} {story:15} Q: {step.question}")
                if turn.query != step.question:
                    print(f"{'':28} searched: {turn.query}")
                print(f"{'':28} A: {' '.join(said.split())[:150]}")
                reason = f"; refused: {answer.refusal_reason}" if answer.refused else ""
                print(f"{'':28} expected: {' | '.join(step.expected)} (in passages: {found}{reason})")
    seconds = time.perf_counter() - started

    print(f"{'':24} {'right':>5} {'refused':>7} {'total':>5} {'share right':>11} {'share refused':>13}")
    for row in ["first turns", "follow-up turns", *KINDS.values()]:
        good, refused, total = (tally[row, key] for key in ("right", "refused", "total"))
        label = f"  {row}" if row in KINDS.values() else row
        shares = f"{share(good, total):>11} {share(refused, total):>13}"
        print(f"{label:24} {good:5d} {refused:7d} {total:5d} {shares}")
    turns = tally["first turns", "total"] + tally["follow-up turns", "total"]
    print(f"answered {turns} turns in {seconds:.1f} s ({library.answerer.__class__.__name__})")
    llm = f" --llm {args.llm}" if args.llm else ""
    print(f"command: python bench/followups.py --suite {args.suite} --data-dir {args.data_dir}{llm}")


if __name__ == "__main__":
    main()
