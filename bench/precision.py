"""Embedding precision: fp32 against bf16 autocast on this CPU, on real passages.

    python bench/precision.py [--corpus ../shared/data/bbc] [--passages 160]

Encodes the same ~200-token BBC passages both ways with Citewire's embedder and prints
passages/s for each, their ratio, the lowest cosine between the two vectors of a passage, and
which precision `auto` picks here (bf16 only where the CPU computes it natively).
"""

from __future__ import annotations

import time
from pathlib import Path

from common import DATA, parser


def main() -> None:
    options = parser(__doc__)
    options.add_argument("--corpus", type=Path, default=DATA / "bbc")
    options.add_argument("--passages", type=int, default=160)
    args = options.parse_args()

    from rag import Embedder
    from rag.embedding import native_bf16

    passages: list[str] = []
    for path in sorted(args.corpus.rglob("*.txt")):
        words = path.read_bytes().decode("utf-8", errors="replace").split()
        passages.extend(" ".join(words[i : i + 150]) for i in range(0, len(words) - 150, 150))
        if len(passages) >= args.passages:
            break
    passages = passages[: args.passages]
    rates, vectors = {}, {}
    for dtype in ("fp32", "bf16"):
        embedder = Embedder.load(dtype)
        embedder.embed(passages[:32])
        started = time.perf_counter()
        vectors[dtype] = embedder.embed(passages)
        rates[dtype] = len(passages) / (time.perf_counter() - started)
    cosine = float((vectors["fp32"] * vectors["bf16"]).sum(axis=1).min())
    print(f"passages: {len(passages)} of ~150 words")
    ratio = rates["bf16"] / rates["fp32"]
    print(f"fp32 {rates['fp32']:.1f}/s, bf16 autocast {rates['bf16']:.1f}/s, bf16/fp32 {ratio:.2f}x")
    print(f"lowest cosine between fp32 and bf16 vectors: {cosine:.5f}")
    print(f"native bf16 on this CPU: {native_bf16()}; `auto` uses {'bf16' if native_bf16() else 'fp32'}")
    print(f"command: python bench/precision.py --corpus {args.corpus} --passages {args.passages}")


if __name__ == "__main__":
    main()
