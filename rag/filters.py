"""Which passages a search may return: ``PassageFilter`` (dates and sources), and dates as the
integers (YYYYMMDD) that metadata filters and the BM25 index's columns hold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np


def day_number(value: date) -> int:
    """A date as the integer YYYYMMDD, the form dates take in metadata filters."""
    return value.year * 10000 + value.month * 100 + value.day


def day_date(day: int) -> date | None:
    """The date of a ``day_number``; None for 0 (undated)."""
    return date(day // 10000, day // 100 % 100, day % 100) if day else None


@dataclass(frozen=True)
class PassageFilter:
    """Which passages a search may return: published within [since, until] (inclusive; undated
    passages are left out whenever a bound is given) and, when ``sources`` is given, from those
    sources only.

    One rule, in the three forms the search needs: a Chroma ``where`` clause, a test of one
    chunk's metadata, and a mask over columns of days and sources (the BM25 index's).
    """

    since: date | None = None
    until: date | None = None
    sources: tuple[str, ...] = ()

    @classmethod
    def of(
        cls, since: date | None = None, until: date | None = None, sources: Sequence[str] | None = None
    ) -> PassageFilter:
        # One source given as a string is one source, not its characters.
        return cls(since, until, (sources,) if isinstance(sources, str) else tuple(sources or ()))

    @property
    def empty(self) -> bool:
        """Whether it keeps every passage."""
        return self.since is None and self.until is None and not self.sources

    def _days(self) -> tuple[int, int] | None:
        """The bounds as ``day_number``s (0 and a day past any date when open); None when no
        bound is given."""
        if self.since is None and self.until is None:
            return None
        low = day_number(self.since) if self.since is not None else 1
        high = day_number(self.until) if self.until is not None else 99999999
        return low, high

    def where(self) -> dict[str, Any] | None:
        """The Chroma ``where`` clause, or None when it keeps everything."""
        clauses: list[dict[str, Any]] = []
        if self.sources:
            clauses.append({"source": {"$in": list(self.sources)}})
        if self.since is not None:
            clauses.append({"published_day": {"$gte": day_number(self.since)}})
        if self.until is not None:
            clauses.append({"published_day": {"$lte": day_number(self.until)}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def passes(self, meta: Any) -> bool:
        """Whether a chunk with this stored metadata passes."""
        if self.sources and meta.get("source") not in self.sources:
            return False
        bounds = self._days()
        return bounds is None or bounds[0] <= int(meta.get("published_day") or 0) <= bounds[1]

    def mask(self, days: np.ndarray, sources: np.ndarray) -> np.ndarray:
        """Which rows pass, given each row's ``day_number`` (0 when undated) and source."""
        kept = np.ones(len(days), dtype=bool)
        bounds = self._days()
        if bounds is not None:
            kept &= (days >= bounds[0]) & (days <= bounds[1])
        if self.sources:
            kept &= np.isin(sources, list(self.sources))
        return kept
