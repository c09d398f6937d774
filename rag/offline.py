"""Keep every library Citewire uses from reaching the network.

Called by entry points and by ``rag.open`` before any model or store is loaded; never at import.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from rag.errors import ConfigError


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


def nltk_data_dir() -> str | None:
    """The folder NLTK reads its data from: ``NLTK_DATA``, which ``go_offline`` points at the copy
    llama-index-core ships unless the user set it."""
    go_offline()
    return os.environ.get("NLTK_DATA") or None


def cl100k() -> Any:
    """tiktoken's ``cl100k_base`` encoding, from the copy llama-index-core ships; ``ConfigError``
    naming ``TIKTOKEN_CACHE_DIR`` when it is not there (tiktoken would go to the network)."""
    go_offline()
    import tiktoken

    try:
        return tiktoken.get_encoding("cl100k_base")
    except Exception as exc:  # tiktoken goes to the network for a file its cache lacks
        static = llama_index_static_dir()
        shipped = f" ({static / 'tiktoken_cache'} holds it)" if static is not None else ""
        raise ConfigError(
            "Could not load the tokenizer cl100k_base from TIKTOKEN_CACHE_DIR="
            f"{os.environ.get('TIKTOKEN_CACHE_DIR', '')!r} ({type(exc).__name__}); nothing is "
            f"downloaded. Unset TIKTOKEN_CACHE_DIR, or point it at a folder that holds the file{shipped}"
        ) from exc
