"""The Chroma store (chromadb itself is imported, and its client made, in ``rag.chroma_client``
alone).

Two collections per library: ``<name>`` holds one record per chunk (vector, text, provenance);
``<name>__articles`` holds one record per article (its full text, content hash and chunk count,
with the mean of its chunk vectors as its vector). The article record is written last, so an
interrupted write leaves the old hash and the next ingest redoes that article.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.chroma_client import _PAGE, _client, _guarded, _pages, _store_failures
from rag.chroma_records import (
    ArticleWrite,
    _article_meta,
    _article_vector,
    _chunk_meta,
    _length,
    _stored,
    chunk_from,
)
from rag.errors import ConfigError, StoreError, setting_said
from rag.filters import PassageFilter
from rag.records import Chunk, Hit, StoredArticle, chunk_id_for
from rag.settings import Settings

_IDS_PER_QUERY = 100  # article ids in one ``$in`` filter
OVERFETCH = 5
MIN_WIDE = 100  # Chroma's HNSW search widens with n (its ef is at least n): better recall too
MAX_WIDE = 5000  # the widest unfiltered search worth trying before Chroma's filtered one
SHARE_MARGIN = 2.0  # searched for this many times the results a filter's share should leave
SETTLING_SECONDS = 5.0  # how long a search waits for a server's first vector index (see _nearest)


class ChromaStore:
    """Chunks and articles in Chroma, embedded or on a server.

    Every method raises ``StoreError`` when the store fails (a server down or dying, a full
    disk); what was written before stays, whole articles only (see ``put``)."""

    def __init__(self, client: Any, name: str, where: str = "the Chroma store") -> None:
        self._client = client
        self.name = name
        self.where = where
        """The server's url or the embedded store's folder, for messages."""
        self.remote = where.startswith(("http://", "https://"))
        config = {"hnsw": {"space": "cosine"}}
        self._chunks = client.get_or_create_collection(name, configuration=config, embedding_function=None)
        self._articles = client.get_or_create_collection(
            f"{name}__articles", configuration=config, embedding_function=None
        )
        self._max_batch = int(client.get_max_batch_size())

    @classmethod
    def open(cls, settings: Settings, create: bool = True) -> ChromaStore:
        """Open the collections named by ``settings``, claiming the data directory first (see
        ``rag.locks``). They are created if needed; with ``create`` False, a collection that is
        not there raises ``ConfigError`` naming those that are (a mistyped ``--collection``)."""
        client = _client(settings)
        where = settings.chroma_url or str(Path(settings.data_dir) / "chroma")
        if not create:
            try:
                names = sorted(c if isinstance(c, str) else c.name for c in client.list_collections())
            except Exception as exc:
                raise StoreError(f"Could not list the collections at {where}: {exc}") from exc
            if settings.collection not in names:
                held = [n for n in names if not n.endswith("__articles")]
                raise ConfigError(
                    f"There is no collection {settings.collection!r} at {where} (there: "
                    f"{', '.join(held) or 'none'}). Check {setting_said('collection')}."
                )
        try:
            return cls(client, settings.collection, where)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"Could not open collection {settings.collection!r} at {where}: {exc}") from exc

    def failure(self, doing: str, exc: BaseException) -> StoreError:
        """The one-line ``StoreError`` for a failure of the store while ``doing`` something."""
        detail = " ".join(str(exc).split())[:200] or "no detail"
        import httpx

        if self.remote and not isinstance(exc, httpx.TransportError):
            return StoreError(
                f"The Chroma server at {self.where} reported an error while {doing} "
                f"({type(exc).__name__}: {detail}). Try again; if it persists, see the server's log."
            )
        if self.remote:
            advice = (
                "Is it running? Start it again (`chroma run --host 127.0.0.1 --path DIR --port N`) "
                "and try again: what was stored is kept, whole articles only"
            )
            return StoreError(
                f"The Chroma server at {self.where} failed while {doing} ({type(exc).__name__}: {detail}). "
                f"{advice}."
            )
        return StoreError(
            f"The Chroma store at {self.where} failed while {doing} ({type(exc).__name__}: {detail}). "
            "Check the disk and the folder's permissions, and try again."
        )

    # -- reading ---------------------------------------------------------------------------

    @_guarded("counting passages")
    def count_chunks(self) -> int:
        """Number of chunks stored."""
        return int(self._chunks.count())

    @_guarded("counting articles")
    def count_articles(self) -> int:
        """Number of articles stored."""
        return int(self._articles.count())

    @_guarded("listing articles")
    def article_ids(self) -> set[str]:
        """The id of every stored article."""
        return {article_id for page in _pages(self._articles, []) for article_id in page["ids"]}

    @_guarded("listing articles")
    def articles(
        self, stored_since: float | None = None, ids: Sequence[str] | None = None
    ) -> list[StoredArticle]:
        """Stored articles, without their text: every one; or, with ``stored_since`` (seconds
        since the epoch), those written since then (records from before records held the time
        of their writing are never among them); or those of ``ids`` that are stored."""
        if ids is not None:
            pages: Iterable[dict[str, Any]] = (
                self._articles.get(ids=list(ids[i : i + _PAGE]), include=["metadatas"])
                for i in range(0, len(ids), _PAGE)
            )
        else:
            where = None if stored_since is None else {"stored_at": {"$gte": stored_since}}
            pages = _pages(self._articles, ["metadatas"], where)
        return [
            _stored(article_id, dict(meta))
            for page in pages
            for article_id, meta in zip(page["ids"], page["metadatas"] or [], strict=True)
        ]

    @_guarded("reading articles")
    def coherences(self) -> dict[str, float]:
        """Every stored article's ``coherence``: from its record, or, for articles stored before
        records held it, from its chunks' vectors (one pass over the chunks)."""
        found: dict[str, float] = {}
        missing: set[str] = set()
        for article in self.articles():
            if article.coherence is not None:
                found[article.id] = article.coherence
            else:
                missing.add(article.id)
        if missing:
            sums: dict[str, tuple[np.ndarray, int]] = {}
            for page in _pages(self._chunks, ["embeddings", "metadatas"]):
                vectors = np.asarray(page["embeddings"], dtype=np.float32)
                for vector, meta in zip(vectors, page["metadatas"] or [], strict=True):
                    article_id = str(meta.get("article_id", ""))
                    if article_id in missing:
                        total, count = sums.get(article_id, (np.zeros_like(vector), 0))
                        sums[article_id] = (total + vector, count + 1)
            found.update(dict.fromkeys(missing, 1.0))  # an article without chunks, as ``coherence`` says
            found.update((article_id, _length(total / count)) for article_id, (total, count) in sums.items())
        return found

    @_guarded("reading an article")
    def article(self, article_id: str) -> StoredArticle | None:
        """One stored article's record, or None."""
        found = self._articles.get(ids=[article_id], include=["metadatas"])
        if not found["ids"]:
            return None
        return _stored(article_id, dict((found["metadatas"] or [{}])[0]))

    @_guarded("reading an article")
    def article_text(self, article_id: str) -> str | None:
        """The full text of a stored article (what citation offsets index into), or None."""
        found = self._articles.get(ids=[article_id], include=["documents"])
        documents = found["documents"] or []
        return documents[0] if found["ids"] and documents else None

    @_guarded("searching")
    def nearest(
        self,
        vector: np.ndarray,
        n: int,
        filters: PassageFilter | None = None,
        keep: Callable[[str], bool] | None = None,
        share: float | None = None,
    ) -> list[tuple[str, float]]:
        """(chunk id, cosine) of the ``n`` chunks nearest to ``vector`` that pass ``filters``,
        best first; texts are not fetched (see ``hits_for``).

        ``keep`` is a test of chunk ids held in memory: the same filter (then the chunks'
        metadata is not fetched) and any more (an as-of date that keeps undated articles);
        ``share`` is the share of chunks it passes, when known. Chroma's filtered search is
        several times slower than its plain one, so a filtered query first searches unfiltered
        and filters here: for ``SHARE_MARGIN`` times what ``share`` says leaves ``n`` (at least
        ``MIN_WIDE``), or ``OVERFETCH`` times ``n`` when ``share`` is not known. When too few
        pass it searches four times wider, and beyond ``MAX_WIDE`` asks Chroma to filter; a
        filter known to keep too few for ``MAX_WIDE`` goes to Chroma at once.
        """
        return self._filtered_nearest(self._chunks, vector, n, filters, keep, share)

    @_guarded("searching")
    def nearest_articles(
        self,
        vector: np.ndarray,
        n: int,
        filters: PassageFilter | None = None,
        keep: Callable[[str], bool] | None = None,
        share: float | None = None,
    ) -> list[tuple[str, float]]:
        """(article id, cosine) of the ``n`` articles whose vector (the mean of their chunks')
        is nearest to ``vector``, filtered as ``nearest`` filters chunks (``keep`` tests
        article ids)."""
        return self._filtered_nearest(self._articles, vector, n, filters, keep, share)

    def _filtered_nearest(
        self,
        collection: Any,
        vector: np.ndarray,
        n: int,
        filters: PassageFilter | None,
        keep: Callable[[str], bool] | None,
        share: float | None = None,
    ) -> list[tuple[str, float]]:
        if n <= 0:
            return []
        filters = filters or PassageFilter()
        # Chroma answers an n larger than the collection with all it has: no count needed.
        where = filters.where()  # articles carry the same date and source fields
        if where is None and keep is None:
            return _nearest(collection, vector, n, None)
        wide_n = narrow_n = max(OVERFETCH * n, MIN_WIDE)
        needed: float = wide_n
        if keep is not None and share is not None:  # enough that ``share`` of them leaves n
            needed = math.ceil(SHARE_MARGIN * n / share) if share > 0 else math.inf
            wide_n = max(MIN_WIDE, int(min(needed, MAX_WIDE)))
        plain_first = where is None or needed <= MAX_WIDE  # else Chroma's filter is faster
        while True:
            if plain_first:
                if keep is not None:
                    wide = _nearest(collection, vector, wide_n, None)
                    kept = [(cid, score) for cid, score in wide if keep(cid)]
                else:
                    wide = _nearest(collection, vector, wide_n, None, with_meta=True)
                    kept = [(c, s) for c, s, meta in wide if filters.passes(meta)]
                if len(kept) >= n or len(wide) < wide_n:
                    return kept[:n]
            if where is not None and (not plain_first or 4 * wide_n > MAX_WIDE):
                narrowed = _nearest(collection, vector, narrow_n, where)
                kept = [(cid, score) for cid, score in narrowed if keep is None or keep(cid)]
                if len(kept) >= n or len(narrowed) < narrow_n:
                    return kept[:n]
            plain_first = True
            wide_n, narrow_n = wide_n * 4, narrow_n * 4

    def iter_chunks(self, article_ids: Sequence[str] | None = None) -> Iterator[Chunk]:
        """Every stored chunk (of the articles ``article_ids``, if given), page by page."""
        wheres: list[dict[str, Any] | None] = [None]
        if article_ids is not None:
            step = _IDS_PER_QUERY
            wheres = [
                {"article_id": {"$in": list(article_ids[i : i + step])}}
                for i in range(0, len(article_ids), step)
            ]
        try:
            for where in wheres:
                for page in _pages(self._chunks, ["documents", "metadatas"], where):
                    for chunk_id, text, meta in zip(
                        page["ids"], page["documents"] or [], page["metadatas"] or [], strict=True
                    ):
                        yield chunk_from(chunk_id, text, dict(meta))
        except _store_failures() as exc:
            raise self.failure("reading passages", exc) from exc

    @_guarded("reading passages")
    def hits_for(self, chunk_ids: Sequence[str], vector: np.ndarray) -> list[Hit]:
        """The chunks with these ids, scored by cosine similarity to ``vector``; unknown ids are left out."""
        if not chunk_ids:
            return []
        found = self._chunks.get(ids=list(chunk_ids), include=["documents", "metadatas", "embeddings"])
        embeddings = np.asarray(found["embeddings"], dtype=np.float32)
        scores: Any = embeddings @ vector.astype(np.float32) if len(embeddings) else []
        by_id = {
            cid: Hit(chunk_from(cid, doc, dict(meta)), float(score))
            for cid, doc, meta, score in zip(
                found["ids"], found["documents"] or [], found["metadatas"] or [], scores, strict=True
            )
        }
        return [by_id[c] for c in chunk_ids if c in by_id]

    # -- writing ---------------------------------------------------------------------------

    @_guarded("storing articles")
    def put(self, writes: Sequence[ArticleWrite]) -> list[str]:
        """Store articles with their chunks, replacing any older version of each; returns the
        ids of older chunks that are gone (an article that now has fewer).

        New chunk records are upserted, chunks past the new count are deleted, and the article
        record (with its content hash) is written last.
        """
        if not writes:
            return []
        chunks = [c for w in writes for c in w.chunks]
        vectors = np.concatenate([w.vectors for w in writes]) if chunks else np.zeros((0, 1))
        for i in range(0, len(chunks), self._max_batch):
            part = chunks[i : i + self._max_batch]
            self._chunks.upsert(
                ids=[c.id for c in part],
                embeddings=vectors[i : i + len(part)].tolist(),
                documents=[c.text for c in part],
                metadatas=[_chunk_meta(c) for c in part],
            )
        previous = self._articles.get(ids=[w.article.id for w in writes], include=["metadatas"])
        old_counts = {
            aid: int(meta.get("chunks", 0))
            for aid, meta in zip(previous["ids"], previous["metadatas"] or [], strict=True)
        }
        stale = [
            chunk_id_for(w.article.id, i)
            for w in writes
            for i in range(len(w.chunks), old_counts.get(w.article.id, 0))
        ]
        if stale:
            self._chunks.delete(ids=stale)
        stored_at = time.time()  # lets other clients of a server find what changed (``articles``)
        self._articles.upsert(
            ids=[w.article.id for w in writes],
            embeddings=[_article_vector(w.vectors).tolist() for w in writes],
            documents=[w.article.text for w in writes],
            metadatas=[_article_meta(w.article, len(w.chunks), w.coherence, stored_at) for w in writes],
        )
        return stale

    @_guarded("deleting an article")
    def delete(self, article_id: str) -> list[str] | None:
        """Remove an article and all its chunks; returns the chunk ids removed, or None if the
        article was not stored."""
        found = self._articles.get(ids=[article_id], include=["metadatas"])
        self._chunks.delete(where={"article_id": article_id})
        if not found["ids"]:
            return None
        self._articles.delete(ids=[article_id])
        chunks = int(((found["metadatas"] or [{}])[0] or {}).get("chunks", 0))
        return [chunk_id_for(article_id, i) for i in range(chunks)]


def _nearest(
    collection: Any, vector: np.ndarray, n: int, where: dict[str, Any] | None, with_meta: bool = False
) -> list[Any]:
    include = ["metadatas", "distances"] if with_meta else ["distances"]
    request = {"query_embeddings": [vector.tolist()], "n_results": n, "where": where, "include": include}
    settled = time.monotonic() + SETTLING_SECONDS
    while True:
        try:
            result = collection.query(**request)
            break
        except Exception as exc:
            # A Chroma server answers a search of a collection whose first records it has not
            # yet written into a vector index with "Nothing found on disk" for a second or so.
            if "Nothing found on disk" not in str(exc) or time.monotonic() > settled:
                raise
            time.sleep(0.1)
    ids = result["ids"][0]
    scores = [1.0 - float(d) for d in (result["distances"] or [[]])[0]]
    if not with_meta:
        return list(zip(ids, scores, strict=True))
    metadatas = (result["metadatas"] or [[]])[0]
    return list(zip(ids, scores, metadatas, strict=True))
