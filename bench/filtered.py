"""Date-filtered dense search: latency and recall against exact search, on a real index.

    python bench/filtered.py --data-dir DIR [--questions ../shared/data/realtimeqa-dev/questions.jsonl]

DIR must already hold the questions' corpus (for example the index `citewire eval` built). For
every seventh question and a few date filters, the 100 nearest chunks that pass the filter are
found two ways: the store's search told the share of chunks the filter keeps (as a search tells
it: the BM25 index knows every chunk's date), and Chroma's own filtered query (where the store
went whenever 500 unfiltered neighbours held too few that pass, before it was told the share).
Recall is against exact search (every stored vector, the filter applied in memory).
"""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path

import numpy as np
from common import DATA, parser

FILTERS = {
    "until 2020-01-01": (None, date(2020, 1, 1)),
    "until 2022-01-01": (None, date(2022, 1, 1)),
    "2022-07-01 to 2022-07-14": (date(2022, 7, 1), date(2022, 7, 14)),
}
PAGE = 5000


def main() -> None:
    options = parser(__doc__)
    options.add_argument("--data-dir", type=Path, required=True)
    options.add_argument("--questions", type=Path, default=DATA / "realtimeqa-dev" / "questions.jsonl")
    args = options.parse_args()

    from rag.filters import PassageFilter
    from rag.library import open_library
    from rag.store import _nearest

    library = open_library(args.data_dir, create=False)
    store, lexical = library.store, library.lexical
    ids: list[str] = []
    pages = []
    for offset in range(0, store.count_chunks(), PAGE):
        page = store._chunks.get(include=["embeddings"], limit=PAGE, offset=offset)
        ids.extend(page["ids"])
        pages.append(np.asarray(page["embeddings"], dtype=np.float32))
    vectors = np.concatenate(pages)
    lines = args.questions.read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()][::7]
    queries = library.embedder.embed(questions)
    print(f"{len(ids)} chunks; {len(questions)} questions; 100 nearest that pass each filter")
    print(f"{'filter':26} {'keeps':>6} {'search':>16} {'recall@100':>10} {'p50 ms':>7} {'p95 ms':>7}")
    for label, (since, until) in FILTERS.items():
        filters = PassageFilter(since, until)
        allowed = lexical.allowed(filters)
        keep = lexical.passes(allowed)
        share = float(allowed.sum()) / len(lexical)
        passing = np.array([keep(i) for i in ids])
        truths = []
        for query in queries:
            scores = np.where(passing, vectors @ query, -np.inf)
            truths.append({ids[i] for i in np.argsort(-scores)[:100] if passing[i]})
        where = filters.where()
        for name in ("told the share", "Chroma's filter"):
            recalls, times = [], []
            for query, truth in zip(queries, truths, strict=True):
                started = time.perf_counter()
                if name == "told the share":
                    found = store.nearest(query, 100, filters, keep=keep, share=share)
                else:
                    found = _nearest(store._chunks, query, 100, where)
                times.append((time.perf_counter() - started) * 1000)
                recalls.append(len(truth & {c for c, _ in found}) / max(len(truth), 1))
            print(
                f"{label:26} {share:6.1%} {name:>16} {np.mean(recalls):10.3f} "
                f"{np.percentile(times, 50):7.1f} {np.percentile(times, 95):7.1f}"
            )
    print(f"command: python bench/filtered.py --data-dir {args.data_dir} --questions {args.questions}")


if __name__ == "__main__":
    main()
