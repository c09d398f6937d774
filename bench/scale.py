"""Scale benchmark: search latency and memory as the store grows (synthetic vectors and text).

    python bench/scale.py --sizes 100000 1000000 [--dir /tmp/citewire-scale]

Grows one embedded library to each size in turn (articles of 10 chunks, random unit vectors,
random words, dates spread over a year), then times, over 50 random queries: Chroma's nearest
neighbour search for 100 candidates (then the texts of the best 10) unfiltered and with a date
filter (tested in memory, as a search does) and BM25 search. The BM25 index grows with the store,
as ingest grows it; then adding one more article to it (and saving) is timed five times, against
rebuilding it from every stored chunk. Peak memory is this process's high-water mark so far.
No model is loaded: the vectors are synthetic.
"""

from __future__ import annotations

import resource
import shutil
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from common import parser

CHUNKS_PER_ARTICLE = 10
CANDIDATES = 100  # what each retriever proposes per question (Settings.candidates)


def main() -> None:
    options = parser(__doc__)
    options.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    options.add_argument("--dir", type=Path, default=Path("/tmp/citewire-scale"))
    args = options.parse_args()

    from rag import Article, Chunk, Settings
    from rag.chroma_records import ArticleWrite
    from rag.filters import PassageFilter
    from rag.lexical import LexicalIndex
    from rag.offline import go_offline
    from rag.store import ChromaStore

    go_offline()
    shutil.rmtree(args.dir, ignore_errors=True)
    store = ChromaStore.open(Settings(data_dir=args.dir))
    rng = np.random.default_rng(0)
    vocab = np.array([f"w{i}" for i in range(50_000)])
    start_day = date(2022, 1, 1)
    print(
        f"{'chunks':>9} {'insert/s':>9} {'knn p50':>8} {'knn p95':>8} {'dated p50':>9} "
        f"{'bm25 p50':>9} {'bm25 add':>9} {'rebuild':>8} {'peak MB':>8} {'disk MB':>8}"
    )
    made = 0
    lexical = LexicalIndex()

    def articles(count: int) -> list[ArticleWrite]:
        nonlocal made
        writes = []
        for _ in range(count):
            a = made // CHUNKS_PER_ARTICLE
            published = start_day + timedelta(days=int(rng.integers(0, 365)))
            texts = [" ".join(rng.choice(vocab, 40)) for _ in range(CHUNKS_PER_ARTICLE)]
            article = Article(id=f"s{a}", text=" ".join(texts), title=f"Synthetic {a}", published=published)
            chunks, at = [], 0
            for i, text in enumerate(texts):
                chunks.append(
                    Chunk(
                        f"s{a}:{i}",
                        article.id,
                        i,
                        text,
                        at,
                        at + len(text),
                        article.title,
                        published=published,
                    )
                )
                at += len(text) + 1
            vectors = rng.standard_normal((CHUNKS_PER_ARTICLE, 384)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            writes.append(ArticleWrite(article, chunks, vectors))
            made += CHUNKS_PER_ARTICLE
        return writes

    for size in sorted(args.sizes):
        started, before = time.perf_counter(), made
        while made < size:
            writes = articles(200)
            store.put(writes)
            lexical = lexical.add([c for w in writes for c in w.chunks])
        insert_rate = (made - before) / (time.perf_counter() - started)
        lexical.save(args.dir / "bm25")
        adds = []
        for _ in range(5):
            writes = articles(1)
            store.put(writes)
            t = time.perf_counter()
            lexical = lexical.add([c for w in writes for c in w.chunks])
            lexical.save(args.dir / "bm25")
            adds.append(time.perf_counter() - t)
        t = time.perf_counter()
        LexicalIndex.build(store.iter_chunks())
        build_s = time.perf_counter() - t
        queries = rng.standard_normal((50, 384)).astype(np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        dated_filter = PassageFilter(until=date(2022, 2, 1))
        allowed = lexical.allowed(dated_filter)
        share = float(allowed.sum()) / len(lexical)  # known in memory, as a search knows it
        knn, dated = [], []
        for q in queries:
            # What a search does: the candidates' ids, then the texts of the best ten.
            t = time.perf_counter()
            store.hits_for([cid for cid, _ in store.nearest(q, CANDIDATES)][:10], q)
            knn.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            found = store.nearest(q, CANDIDATES, dated_filter, keep=lexical.passes(allowed), share=share)
            store.hits_for([cid for cid, _ in found][:10], q)
            dated.append((time.perf_counter() - t) * 1000)
        bm25 = []
        for _ in range(50):
            words = " ".join(rng.choice(vocab, 6))
            t = time.perf_counter()
            lexical.search(words, CANDIDATES)
            bm25.append((time.perf_counter() - t) * 1000)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        disk = sum(p.stat().st_size for p in args.dir.rglob("*") if p.is_file()) / 1e6
        print(
            f"{size:9d} {insert_rate:9.0f} {np.percentile(knn, 50):8.1f} {np.percentile(knn, 95):8.1f} "
            f"{np.percentile(dated, 50):9.1f} {np.percentile(bm25, 50):9.1f} "
            f"{1000 * np.median(adds):7.1f}ms {build_s:7.1f}s {peak:8.0f} {disk:8.0f}"
        )
    print(
        "latencies and bm25 add in ms; dated = with a date filter keeping about 1/12 of the chunks; "
        "bm25 add = one article of 10 chunks, saved (median of 5); rebuild = from every stored chunk"
    )
    print(f"command: python bench/scale.py --sizes {' '.join(map(str, args.sizes))} --dir {args.dir}")


if __name__ == "__main__":
    main()
