"""Embedding throughput by batch size and worker threads, on the same chunks, in one process.

    python bench/batching.py [--corpus ../shared/data/bbc] [--chunks 512]

Chunks a few BBC articles the way ingest does, then embeds them: sentence-transformers
``encode`` at batch 32 (its default) and 16, and Citewire's ``embed_tokens`` with one worker
(torch's threads on one batch) or one worker per core (one single-threaded batch per core).
Each vector is checked against ``encode``'s (lowest cosine printed).

Last, the ceiling: the same batches run through the model's matrix products alone (per layer
the query, key, value and output projections and the two feed-forward ones, six layers), laid
out as ``embed_tokens`` lays them out, with nothing else (no attention, normalisation,
activation, pooling or Python). No fp32 implementation of the model can embed faster on this
CPU than that rate.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from common import DATA, parser


def main() -> None:
    options = parser(__doc__)
    options.add_argument("--corpus", type=Path, default=DATA / "bbc")
    options.add_argument("--chunks", type=int, default=512)
    args = options.parse_args()

    from ingest.chunking import Chunker, embedding_text
    from ingest.readers import Problem, read_paths
    from rag import Embedder
    from rag.embedding import default_workers

    embedder = Embedder.load("fp32")
    chunker = Chunker(embedder.tokenize, embedder.max_tokens)
    texts: list[str] = []
    tokens: list[list[int]] = []
    for article in read_paths([args.corpus]):
        if isinstance(article, Problem):
            continue
        for chunk, ids in chunker.split(article):
            texts.append(embedding_text(chunk))
            tokens.append(ids)
        if len(texts) >= args.chunks:
            break
    texts, tokens = texts[: args.chunks], tokens[: args.chunks]
    model = embedder._model
    reference = model.encode(texts, batch_size=32, normalize_embeddings=True)  # also warms up

    def timed(label: str, run: Callable[[], Any]) -> None:
        started = time.perf_counter()
        vectors = run()
        rate = len(texts) / (time.perf_counter() - started)
        low = float(np.min(np.sum(np.asarray(vectors) * reference, axis=1)))
        print(f"{label:52} {rate:7.1f} chunks/s   lowest cosine {low:.5f}", flush=True)

    print(f"{len(texts)} chunks from {args.corpus}; {default_workers()} workers = one per core")
    for size in (32, 16):
        timed(f"encode, batch {size}", lambda size=size: model.encode(texts, batch_size=size))
    for workers in sorted({1, default_workers()}):
        embedder.workers = workers
        for size in (16, 8):
            timed(
                f"embed_tokens, batch {size}, {workers} worker(s)",
                lambda size=size: embedder.embed_tokens(tokens, batch_size=size),
            )
    matrix_products(tokens, default_workers())
    print(f"command: python bench/batching.py --corpus {args.corpus} --chunks {args.chunks}")


def matrix_products(tokens: list[list[int]], workers: int, batch_size: int = 8) -> None:
    """Time the model's matrix products alone on ``embed_tokens``'s batches (sorted by length,
    widths rounded up to 16), one single-threaded batch per worker."""
    from concurrent.futures import ThreadPoolExecutor

    import torch

    from rag.embedding import WIDTH_STEP

    hidden, inner, layers = 384, 1536, 6
    weights = [torch.randn(hidden, hidden) for _ in range(4)] + [
        torch.randn(hidden, inner),
        torch.randn(inner, hidden),
    ]
    lengths = sorted((len(ids) for ids in tokens), reverse=True)
    widths = [
        min(-(-lengths[at] // WIDTH_STEP) * WIDTH_STEP, 256) * len(lengths[at : at + batch_size])
        for at in range(0, len(lengths), batch_size)
    ]

    def run(rows: int) -> None:
        x = torch.randn(rows, hidden)
        with torch.inference_mode():
            for _ in range(layers):
                for w in weights[:4]:
                    x @ w
                x @ weights[4] @ weights[5]

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, widths[:4]))  # warm-up
            started = time.perf_counter()
            list(pool.map(run, widths))
            seconds = time.perf_counter() - started
    finally:
        torch.set_num_threads(before)
    flops = 2 * layers * (4 * hidden * hidden + 2 * hidden * inner) * sum(widths)
    print(
        f"{'matrix products alone (the ceiling), batch 8':52} {len(tokens) / seconds:7.1f} chunks/s"
        f"   {flops / seconds / 1e9:.0f} GFLOP/s"
    )


if __name__ == "__main__":
    main()
