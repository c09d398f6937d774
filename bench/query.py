"""Query benchmark: warm `ask` latency over a question set, with peak memory.

    python bench/query.py --data-dir DIR --questions ../shared/data/realtimeqa-dev/questions.jsonl

DIR must already hold the questions' corpus (for example the index `citewire eval` built, shown
on its last line). Each question is asked once as a warm-up pass, and what start-up made is set
aside from the garbage collector, as the servers do (``ui.serving.settle``). Then each is timed:
`ask` with the question's date as `as_of`, the way `citewire eval --as-of question` asks, twice
in turn, with the learned reader (``--reader``, default ``builtin``, the shipped one) and with
the hand-set weights (``none``), so the reader's cost is a difference measured in one process.
"""

from __future__ import annotations

import json
import resource
import time
from datetime import date
from pathlib import Path

import numpy as np
from common import DATA, parser


def main() -> None:
    options = parser(__doc__)
    options.add_argument("--data-dir", type=Path, required=True)
    options.add_argument("--questions", type=Path, default=DATA / "realtimeqa-dev" / "questions.jsonl")
    options.add_argument("--retrieval", choices=("hybrid", "dense"), default="hybrid")
    options.add_argument("--reader", default="builtin", help="the learned reader to time (default builtin)")
    args = options.parse_args()

    import rag

    learned = rag.Settings(data_dir=args.data_dir, retrieval=args.retrieval, reader=args.reader)
    hand = learned.with_changes(reader="none")
    library = rag.open(settings=learned)
    if library.store.count_chunks() == 0:
        raise SystemExit(f"{args.data_dir} holds no articles; run `citewire eval` or `citewire ingest` first")
    questions = [json.loads(line) for line in args.questions.read_text().splitlines() if line.strip()]
    asks = [(q["question"], date.fromisoformat(q["date"]) if q.get("date") else None) for q in questions]
    for question, until in asks:  # warm-up: model, index, caches
        library.ask(rag.Query(question, as_of=until))
    from ui.serving import settle

    settle(library)  # as `citewire chat` and `citewire serve` do before their first question
    timings: dict[str, list[float]] = {"learned": [], "hand": []}
    both = (("learned", learned), ("hand", hand))
    for turn, (question, until) in enumerate(asks):
        # Whichever runs second finds the question's passages warm in the caches below the
        # library, so the two take turns going first.
        for name, settings in both if turn % 2 == 0 else both[::-1]:
            library.settings = settings
            started = time.perf_counter()
            library.ask(rag.Query(question, as_of=until))
            timings[name].append((time.perf_counter() - started) * 1000)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"questions: {len(asks)}; chunks in the index: {library.store.count_chunks()}; "
        f"retrieval: {args.retrieval}"
    )
    for name, times in timings.items():
        print(
            f"warm ask latency, {name} reader: p50 {np.percentile(times, 50):.1f} ms, "
            f"p95 {np.percentile(times, 95):.1f} ms, max {max(times):.1f} ms"
        )
    added = np.percentile(timings["learned"], 50) - np.percentile(timings["hand"], 50)
    paired = np.median(np.subtract(timings["learned"], timings["hand"]))
    print(f"the learned reader adds: p50 {added:.1f} ms (per question: median {paired:.1f} ms)")
    print(f"peak memory of this process: {peak_mb:.0f} MB")
    print(
        f"command: python bench/query.py --data-dir {args.data_dir} --questions {args.questions}"
        + (" --retrieval dense" if args.retrieval == "dense" else "")
        + (f" --reader {args.reader}" if args.reader != "builtin" else "")
    )


if __name__ == "__main__":
    main()
