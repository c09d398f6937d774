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

    def __str__(self) -> str:
        kind = "skipped" if self.skipped else "warning"
        return f"{kind}: {self.location}: {self.reason}"


def shown(value: Any) -> str:
    """A JSON value as a message shows it: its repr, cut short (a record may hold megabytes)."""
    shown = repr(value)
    return shown if len(shown) <= 80 else f"{shown[:77]}..."
