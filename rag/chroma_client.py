"""Talking to Chroma: the client (embedded, or a server's), reading a collection page by page,
and turning the client's failures into one ``StoreError`` (``guarded``)."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ParamSpec, Protocol, TypeVar, runtime_checkable
from urllib.parse import urlsplit

from rag.errors import CitewireError, ConfigError, StoreError, setting_said
from rag.locks import claim_data_dir
from rag.records import is_web_address
from rag.settings import Settings

_PAGE = 2000  # records read from a collection at a time


@runtime_checkable
class Failing(Protocol):
    """A store that says, in one ``StoreError``, what failed while it was ``doing`` something."""

    def failure(self, doing: str, exc: BaseException) -> StoreError: ...


def _client(settings: Settings) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        if not is_web_address(settings.chroma_url):
            raise ConfigError(
                f"chroma_url must look like http://127.0.0.1:8000. Currently, it is {settings.chroma_url!r}"
            )
        parts = urlsplit(settings.chroma_url)
        port = parts.port or (443 if parts.scheme == "https" else 8000)
        claim_data_dir(Path(settings.data_dir), shared=True)  # it keeps this client's BM25 index
        try:
            return chromadb.HttpClient(
                host=parts.hostname or "", port=port, ssl=parts.scheme == "https", settings=chroma_settings
            )
        except Exception as exc:  # chromadb raises plain exceptions for connection failures
            raise StoreError(
                f"Could not reach the Chroma server at {settings.chroma_url} ({exc}). "
                "Start one with `chroma run --host 127.0.0.1 --path DIR --port N`, or leave "
                f"{setting_said('chroma_url')} unset to use the embedded store."
            ) from exc
    claim_data_dir(Path(settings.data_dir), shared=False)
    path = Path(settings.data_dir) / "chroma"
    try:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except _store_failures() as exc:  # the disk's, or a database damaged or from another version
        raise StoreError(
            f"Could not open the Chroma store in {path} ({type(exc).__name__}: {exc}). If another "
            "chromadb version wrote it, use that version, or ingest the articles again into a new "
            "data directory."
        ) from exc


def _pages(
    collection: Any, include: list[str], where: dict[str, Any] | None = None
) -> Iterable[dict[str, Any]]:
    """Every record of ``collection`` (those ``where`` keeps), as Chroma's ``get`` results of
    ``_PAGE`` records each."""
    offset = 0
    while True:
        page = collection.get(include=include, where=where, limit=_PAGE, offset=offset)
        yield page
        if len(page["ids"]) < _PAGE:
            return
        offset += _PAGE


P = ParamSpec("P")
R = TypeVar("R")


@functools.cache
def _store_failures() -> tuple[type[BaseException], ...]:
    """What Chroma raises when the store itself fails: a server that is down or dies (httpx's
    errors), an error the server reports, the embedded database's, the disk's."""
    import httpx
    from chromadb.errors import ChromaError

    return (httpx.HTTPError, ChromaError, sqlite3.Error, OSError)


def _guarded(doing: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A ``ChromaStore`` method whose store failures raise one ``StoreError`` saying what it was
    ``doing``, where, and what to do, instead of the client library's own exception."""

    def wrap(method: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(method)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return method(*args, **kwargs)
            except CitewireError:
                raise
            except _store_failures() as exc:
                store = args[0]
                assert isinstance(store, Failing)
                raise store.failure(doing, exc) from exc

        return call

    return wrap
