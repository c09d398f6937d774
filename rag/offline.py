"""Keep every library Citewire uses from reaching the network.

Called by entry points and by ``rag.open`` before any model or store is loaded; never at import.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path


def llama_index_static_dir() -> Path | None:
    """The folder inside llama-index-core that ships tiktoken and NLTK data, if installed."""
    spec = find_spec("llama_index.core")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "_static"


def go_offline() -> None:
    """Point tokenizer caches at packaged files and switch off hub downloads and telemetry.

    Uses ``setdefault`` so a user's own settings win.
    """
    static = llama_index_static_dir()
    if static is not None:
        os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(static / "tiktoken_cache"))
        os.environ.setdefault("NLTK_DATA", str(static / "nltk_cache"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
