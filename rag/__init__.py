"""Citewire's library: search news articles and answer with cited passages.

import rag
answer = rag.ask("What did Xi say about multilateral governance?", data_dir="~/news")
library = rag.open("~/news")          # keeps the model loaded for many questions
library.ask("...").citations[0].quote
library.ask(rag.Query("...", as_of="2015-12-17", top_k=3))   # bounds: dates, sources, top-k
"""

from rag.answer import REFUSAL, Answerer, ExtractiveAnswerer
from rag.choice import Choice, choose
from rag.chroma_records import ArticleWrite
from rag.conversation import Turn
from rag.embedding import Embedder
from rag.errors import CitewireError, ConfigError, InputError, ModelError, NotFoundError, StoreError
from rag.library import Library, ask
from rag.library import open_library as open
from rag.query import Query
from rag.records import Answer, Article, Chunk, Citation, Hit, StoredArticle, Unsupported, article_id_for
from rag.settings import Settings

__all__ = [
    "REFUSAL",
    "Answer",
    "Answerer",
    "Article",
    "ArticleWrite",
    "Choice",
    "Chunk",
    "Citation",
    "CitewireError",
    "ConfigError",
    "Embedder",
    "ExtractiveAnswerer",
    "Hit",
    "InputError",
    "Library",
    "ModelError",
    "NotFoundError",
    "Query",
    "Settings",
    "StoreError",
    "StoredArticle",
    "Turn",
    "Unsupported",
    "article_id_for",
    "ask",
    "choose",
    "open",
]
