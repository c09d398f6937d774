"""Which articles hold each title and text, kept current through an ingest: how a story without a
url filed twice (a copy in another folder, a file ingested then uploaded) is stored once."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from rag.records import StoredArticle


class TextHolders:
    """The articles holding each title-and-text hash (``Article.text_hash``), with where each was
    read; an article changed during the run moves to its new hash, so a copy of what it used to
    say no longer counts as stored."""

    def __init__(self, listed: Iterable[StoredArticle]) -> None:
        self._holders: dict[str, dict[str, str]] = {}  # text hash → article id → where it was read
        self._hash_of: dict[str, str] = {}
        for article in listed:
            if article.text_hash:
                self.hold(article.id, article.text_hash, article.source_path or article.url or article.id)

    def hold(self, article_id: str, text_hash: str, where: str) -> None:
        """Record that ``article_id``, read at ``where``, now holds ``text_hash`` (and no longer
        what it held before)."""
        self.release(article_id)
        self._hash_of[article_id] = text_hash
        self._holders.setdefault(text_hash, {})[article_id] = where

    def release(self, article_id: str) -> None:
        """Record that ``article_id`` no longer holds what it held (its file says something else)."""
        old = self._hash_of.pop(article_id, None)
        if old is not None:
            self._holders[old].pop(article_id, None)

    def holder(self, text_hash: str, *, besides: str, gone: Collection[str] = ()) -> tuple[str, str] | None:
        """The first article other than ``besides``, and not among ``gone``, that holds
        ``text_hash``: its id and where it was read; None if there is none."""
        for article_id, where in self._holders.get(text_hash, {}).items():
            if article_id != besides and article_id not in gone:
                return article_id, where
        return None
