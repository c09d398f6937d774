"""Citewire's configuration: one frozen object, built in entry points and passed down.

Nothing here runs at import time. ``Settings.from_env()`` reads ``CITEWIRE_*`` variables;
flags given on the command line override them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, get_args

from rag.answer import MIN_COVERAGE, MIN_SCORE
from rag.errors import ConfigError
from rag.fusion import FRESH_DAYS, FRESHNESS_DAYS, FRESHNESS_WEIGHT, ROUNDUP_BELOW, RRF_K, STALE_DISCOUNT

EmbedDtype = Literal["auto", "fp32", "bf16"]
Retrieval = Literal["hybrid", "dense"]
EMBED_DTYPES: tuple[EmbedDtype, ...] = get_args(EmbedDtype)
RETRIEVALS: tuple[Retrieval, ...] = get_args(Retrieval)


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/citewire``, or ``~/.local/share/citewire``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "citewire"


@dataclass(frozen=True)
class Settings:
    """Every knob Citewire has, with its default.

    Environment variables (``CITEWIRE_`` + the field name in capitals) override defaults;
    keyword overrides passed to ``from_env`` (command-line flags) override both.
    """

    data_dir: Path = field(default_factory=default_data_dir)
    """Where the embedded Chroma database lives (ignored for vectors when ``chroma_url`` is set)."""
    collection: str = "citewire"
    """Chroma collection name; a second collection ``<name>__articles`` holds one record per article."""
    chroma_url: str | None = None
    """``http://host:port`` of a Chroma server; unset means an embedded store under ``data_dir``."""
    top_k: int = 5
    """How many passages a question retrieves."""
    embed_dtype: EmbedDtype = "auto"
    """``auto`` (bf16 where the CPU has native bf16, else fp32), ``fp32`` or ``bf16``."""
    batch_size: int = 8
    """Chunks per embedding batch (each worker thread embeds one batch at a time)."""
    chunk_tokens: int = 180
    """Target chunk size in tiktoken ``cl100k_base`` tokens (checked again in the model's tokens)."""
    chunk_overlap: int = 20
    """Tokens shared by neighbouring chunks."""
    max_article_chars: int = 5_000_000
    """The longest article text an ingest takes, in characters (about 800,000 words); a longer
    one is skipped with a message naming it. Splitting and embedding grow with the length, and
    a text this long is a dump or a book, not a news article."""
    retrieval: Retrieval = "hybrid"
    """``hybrid`` (dense and BM25 fused by reciprocal rank) or ``dense`` (vectors only)."""
    candidates: int = 100
    """Passages each retriever proposes before fusion."""
    lexical_weight: float = 1.0
    """How much the BM25 ranking counts in the fusion, as a share of the dense ranking."""
    fusion_k: int = RRF_K
    """Reciprocal rank fusion's k: a ranking's place r counts 1 / (k + r), so the smaller k, the
    more the first places count against the rest."""
    freshness: float = FRESHNESS_WEIGHT
    """With an as-of date: the bonus, in first places, of a story from just before it (0: none)."""
    fresh_days: int = FRESH_DAYS
    """With an as-of date: stories up to this many days old all get the whole freshness bonus;
    it fades for older ones (0: it fades from the as-of date on)."""
    fade_days: float = FRESHNESS_DAYS
    """With an as-of date: past the fresh days, the bonus falls by a factor e every this many days."""
    stale_discount: float = STALE_DISCOUNT
    """With an as-of date and a question about recent events ("this week", "recently", "latest"):
    how much passages over 30 days old count, when fresher ones are candidates (1: as much)."""
    article_ranking: float = 0.0
    """How much the ranking of whole articles (their mean vector against the question's) lifts
    the best passage of the nearest ten, as a share of one passage ranking (0: off, the
    default; 1.0 when on). Off because, with round-ups discounted, it no longer helped on
    realtimeqa-dev."""
    roundup_below: float = ROUNDUP_BELOW
    """Article coherence (the length of the mean of its chunks' unit vectors) under which its
    passages count for less, in proportion: round-ups of many stories (0: off)."""
    article_support: float = 0.0
    """How much an article's next two best passages lift its best one (0: off, the default; 0.3
    is the tuned value when on). Off because it did not clearly help on realtimeqa-dev and in
    a small library it lets a long article outrank the one passage that answers."""
    near_duplicates: float = 0.8
    """Word 5-gram overlap (Jaccard) at which a passage repeating a better one is dropped (1: keep all)."""
    min_score: float = MIN_SCORE
    """The answer is refused when the best passage's cosine to the question is below this."""
    min_coverage: float = MIN_COVERAGE
    """The answer is refused when its best sentence holds less than this share of the question's
    terms (see ``rag.answer.ExtractiveAnswerer``)."""
    reader: str = "builtin"
    """The learned reader that ranks the sentences to quote, decides when to refuse and picks
    among options: ``builtin``, the default (the one shipped in ``rag/reader/``, trained on a
    year of news quizzes: docs/training.md), a folder written by ``citewire train``
    (``reader.txt``, ``chooser.txt``, ``reader.json``), or ``none`` for the hand-set weights."""
    llm: str | None = None
    """The language model that writes answers: an OpenAI-compatible base url
    (``http://127.0.0.1:8080/v1``, with ``llm_model``), a ``.gguf`` file, or ``local`` (the small
    SmolLM2-135M-Instruct of the ``llm`` extra); unset: the extractive answerer, no model."""
    llm_model: str | None = None
    """The model to ask a server for (``--llm-model``)."""
    llm_api_key: str | None = field(default=None, repr=False)
    """The server's API key (``CITEWIRE_LLM_API_KEY``, else ``OPENAI_API_KEY``); never shown."""
    llm_timeout: float = 60.0
    """Seconds a language-model server may take to answer before the extractive answer is given."""
    llm_context: int = 2048
    """Tokens of context the language model has for the prompt and its answer."""
    sync_seconds: float = 1.0
    """With a Chroma server: how often, at most, a search first takes in what other clients have
    added, changed or forgotten since (0: before every search)."""

    def __post_init__(self) -> None:
        # A str, or "~/news", given in code is the same folder as on the command line.
        object.__setattr__(self, "data_dir", Path(self.data_dir).expanduser())
        if self.top_k <= 0:
            raise ConfigError(f"top_k must be greater than 0. Currently, top_k is {self.top_k}")
        if self.embed_dtype not in EMBED_DTYPES:
            raise ConfigError(
                f"embed_dtype must be one of {', '.join(EMBED_DTYPES)}. "
                f"Currently, embed_dtype is {self.embed_dtype!r}"
            )
        if self.retrieval not in RETRIEVALS:
            raise ConfigError(
                f"retrieval must be one of {', '.join(RETRIEVALS)}. "
                f"Currently, retrieval is {self.retrieval!r}"
            )
        if self.candidates <= 0:
            raise ConfigError(f"candidates must be greater than 0. Currently, it is {self.candidates}")
        if not 1 <= self.fusion_k <= 1000:
            raise ConfigError(f"fusion_k must be between 1 and 1000. Currently, it is {self.fusion_k}")
        for name in ("freshness", "lexical_weight", "article_ranking", "article_support", "roundup_below"):
            if not 0 <= getattr(self, name) <= 10:
                raise ConfigError(f"{name} must be between 0 and 10. Currently, it is {getattr(self, name)}")
        if not 0 < self.fade_days <= 365:
            raise ConfigError(f"fade_days must be over 0 and at most 365. Currently, it is {self.fade_days}")
        if not 0 <= self.fresh_days <= 365:
            raise ConfigError(f"fresh_days must be between 0 and 365. Currently, it is {self.fresh_days}")
        if not 0 < self.stale_discount <= 1:
            raise ConfigError(
                f"stale_discount must be over 0 and at most 1. Currently, it is {self.stale_discount}"
            )
        if not 0 < self.near_duplicates <= 1:
            raise ConfigError(
                f"near_duplicates must be over 0 and at most 1. Currently, it is {self.near_duplicates}"
            )
        for name in ("min_score", "min_coverage"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"{name} must be between 0 and 1. Currently, it is {getattr(self, name)}")
        if self.llm_timeout <= 0:
            raise ConfigError(f"llm_timeout must be greater than 0. Currently, it is {self.llm_timeout}")
        if self.llm_context < 512:
            raise ConfigError(f"llm_context must be at least 512 tokens. Currently, it is {self.llm_context}")
        if self.sync_seconds < 0:
            raise ConfigError(f"sync_seconds must be at least 0. Currently, it is {self.sync_seconds}")
        if self.max_article_chars <= 0:
            raise ConfigError(
                f"max_article_chars must be greater than 0. Currently, it is {self.max_article_chars}"
            )
        if self.batch_size <= 0:
            raise ConfigError(f"batch_size must be greater than 0. Currently, it is {self.batch_size}")
        if not 32 <= self.chunk_tokens <= 230:
            raise ConfigError(
                "chunk_tokens must be between 32 and 230 so a chunk and its header fit the "
                f"embedding model's 256-token input. Currently, chunk_tokens is {self.chunk_tokens}"
            )
        if not 0 <= self.chunk_overlap < self.chunk_tokens // 2:
            raise ConfigError(
                "chunk_overlap must be at least 0 and under half of chunk_tokens. "
                f"Currently, chunk_overlap is {self.chunk_overlap}"
            )
        if not self.collection or not self.collection.replace("-", "").replace("_", "").isalnum():
            raise ConfigError(
                "collection must be letters, digits, '-' or '_'. "
                f"Currently, collection is {self.collection!r}"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``CITEWIRE_*`` variables, then ``overrides`` (``None`` values are ignored)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(f"CITEWIRE_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(f.name, str(f.type), raw)
        if "llm_api_key" not in values and environ.get("OPENAI_API_KEY"):
            values["llm_api_key"] = environ["OPENAI_API_KEY"]
        given = {k: v for k, v in overrides.items() if v is not None}
        read = set(values) - set(given)
        values.update(given)
        try:
            return cls(**values)
        except ConfigError as exc:  # say where a value the user never typed here came from
            name = next((n for n in read if str(exc).startswith(f"{n} ")), None)
            if name is None:
                raise
            raise ConfigError(f"{exc} (read from CITEWIRE_{name.upper()})", name) from None

    def with_changes(self, **changes: Any) -> Settings:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


def _convert(name: str, kind: str, raw: str) -> Any:
    """``raw`` as the field's declared type (``kind``, as annotations are written: ``int``,
    ``float``); other fields take the text as it is."""
    if kind == "int":
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(
                f"CITEWIRE_{name.upper()} must be a whole number. Currently, it is {raw!r}"
            ) from None
    if kind == "float":
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"CITEWIRE_{name.upper()} must be a number. Currently, it is {raw!r}") from None
    return raw
