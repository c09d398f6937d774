"""Citewire's search as a llama-index retriever: the only module in ``rag`` that imports llama-index."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rag.query import Query

if TYPE_CHECKING:
    from rag.library import Library


class LibraryRetriever(BaseRetriever):
    """Retrieves Citewire passages as ``TextNode``s carrying the chunk's provenance as metadata."""

    def __init__(self, library: Library, top_k: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._library = library
        self._top_k = top_k

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self._library.search(Query(query_bundle.query_str, top_k=self._top_k))
        nodes = []
        for hit in hits:
            chunk = hit.chunk
            metadata = {
                "article_id": chunk.article_id,
                "chunk_index": chunk.chunk_index,
                "title": chunk.title,
                "url": chunk.url,
                "source_path": chunk.source_path,
                "published": chunk.published.isoformat() if chunk.published else None,
                "source": chunk.source,
                "start": chunk.start,
                "end": chunk.end,
            }
            node = TextNode(
                id_=chunk.id,
                text=chunk.text,
                metadata=metadata,
                start_char_idx=chunk.start,
                end_char_idx=chunk.end,
            )
            nodes.append(NodeWithScore(node=node, score=hit.score))
        return nodes
