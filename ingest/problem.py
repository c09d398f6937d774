"""``Problem``: something wrong with an input, named where it is, said how to mend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """Something wrong with an input. ``skipped`` False means it was ingested with a warning."""

    location: str
    reason: str
    skipped: bool

    def __post_init__(self) -> None:
        # A path's bytes that are not UTF-8 (lone surrogates in Python) are kept escaped
        # ("caf\\xe9.txt"), so that every problem can be printed.
        object.__setattr__(self, "location", printable(self.location))

    def __str__(self) -> str:
        kind = "skipped" if self.skipped else "warning"
        return f"{kind}: {self.location}: {self.reason}"


def shown(value: Any) -> str:
    """A JSON value as a message shows it: its repr, cut short (a record may hold megabytes)."""
    shown = repr(value)
    return shown if len(shown) <= 80 else f"{shown[:77]}..."


def printable(text: str) -> str:
    """``text`` with lone surrogates escaped: a path's undecodable bytes as ``\\xe9``, others
    (from JSON's ``\\ud800``) as ``\\ud800``."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def counted(count: int, noun: str) -> str:
    """``count`` and ``noun``, plural unless the count is one ("1 article", "2 articles")."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
