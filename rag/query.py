"""``Query``: a question with what narrows its search, the one record that ``Library.search``,
``ask``, ``stream``, ``reply`` and ``choose`` take.

    library.ask("What did Xi say?")                                   # a bare question
    library.ask(Query("What did Xi say?", as_of="2015-12-17", top_k=3))

Dates may be given as ``date`` or as ISO strings; they are checked here, once, with a
``ConfigError`` naming the field, before anything is searched.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from numbers import Integral

from rag.errors import ConfigError
from rag.text import SURROGATES, first_of

Day = date | str
"""A date, or the same as an ISO string ("2024-03-06")."""


def day(value: Day | None, name: str) -> date | None:
    """``value`` as a date; ``ConfigError`` naming ``name`` when it is not one."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConfigError(f"{name} must be a date or a string like 2024-03-06. Currently, it is {value!r}", name)


MAX_QUESTION_CHARS = 4_000
"""The longest question the command line, the page and the API take: far more than a question
needs (the embedding model reads only its first 256 word pieces). ``Query`` itself takes longer
ones, as a follow-up's search joins two questions."""


def check_length(question: str) -> None:
    """Raise ``ConfigError`` for a question over ``MAX_QUESTION_CHARS`` (the command line's and
    the page's check; the API's is its schema's)."""
    if len(question) > MAX_QUESTION_CHARS:
        raise ConfigError(
            f"The question is {len(question):,} characters; ask in at most {MAX_QUESTION_CHARS:,}.",
            "question",
        )


@dataclass(frozen=True)
class Query:
    """A question and the bounds of its search.

    ``top_k``: passages to answer from (``Settings.top_k`` when None). ``since``/``until``: keep
    passages published within those dates, inclusive (undated articles are left out when either
    is given). ``sources``: keep only articles from these sources (publishers, hosts or ingested
    folder names). ``as_of``: the reader's "today": later articles are left out, undated ones
    kept, and those published just before it rank higher.
    """

    question: str
    top_k: int | None = None
    since: date | None = None
    until: date | None = None
    sources: tuple[str, ...] | None = None
    as_of: date | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.question, str):
            raise ConfigError(f"The question must be text. Currently, it is {self.question!r}", "question")
        if not self.question.strip():
            raise ConfigError("The question is empty; type a question about the articles.", "question")
        # A command line's bytes that are not UTF-8 arrive as lone surrogates, which no tokenizer
        # or file takes: they become U+FFFD, as an undecodable byte does in a page.
        object.__setattr__(self, "question", SURROGATES.sub("\ufffd", self.question))
        if self.top_k is not None:
            if not isinstance(self.top_k, Integral) or isinstance(self.top_k, bool):
                raise ConfigError(
                    f"top_k must be a whole number. Currently, top_k is {self.top_k!r}", "top_k"
                )
            if self.top_k <= 0:
                raise ConfigError(f"top_k must be greater than 0. Currently, top_k is {self.top_k}", "top_k")
            object.__setattr__(self, "top_k", int(self.top_k))  # numpy's integers too
        for name in ("since", "until", "as_of"):  # ISO strings are welcome too
            object.__setattr__(self, name, day(getattr(self, name), name))
        if self.sources is not None:
            object.__setattr__(self, "sources", _sources(self.sources))
        latest = self.latest
        if self.since and latest and self.since > latest:
            raise ConfigError(
                f"since ({self.since}) is after until or as-of ({latest}): no article can be in between; "
                "give a since before it",
                "since",
            )

    @classmethod
    def of(cls, query: Query | str) -> Query:
        """``query`` itself, or a bare question as a ``Query`` with no bounds."""
        return query if isinstance(query, Query) else cls(query)

    def asking(self, question: str) -> Query:
        """The same bounds for another question (a follow-up's rewrite)."""
        return replace(self, question=question)

    def with_top_k(self, top_k: int) -> Query:
        """The same question and bounds, answered from ``top_k`` passages."""
        return replace(self, top_k=top_k)

    @property
    def latest(self) -> date | None:
        """The last day an article may be published on: the earlier of ``until`` and ``as_of``."""
        return min((d for d in (self.until, self.as_of) if d is not None), default=None)

    def bounds(self) -> str:
        """The bounds of the search in words (see ``bounds_said``); "" when there are none."""
        return bounds_said(self.since, self.latest, self.sources)


def _sources(sources: object) -> tuple[str, ...]:
    """``sources`` as a tuple of names: one string is one source, not its letters."""
    if isinstance(sources, str):
        sources = (sources,)
    if not isinstance(sources, Iterable):
        raise ConfigError(
            f"sources must be a list of source names. Currently, sources is {sources!r}", "sources"
        )
    named = tuple(sources)
    for name in named:
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(
                f"sources must be source names, as `Library.sources()` gives each article's "
                f"`source`. Currently, sources holds {name!r}",
                "sources",
            )
    return named


def bounds_said(since: date | None, until: date | None, sources: Sequence[str] | None) -> str:
    """Dates and sources in words, as a reader is told what was searched: 'published from
    2015-12-01 to 2015-12-31 from the source "bbc.co.uk"'; "" for none. Sources are quoted, since
    a source is often named for its file ("from articles" reads as nothing)."""
    said = []
    if since and until:
        said.append(f"published from {since} to {until}")
    elif since or until:
        said.append(f"published on or {'after' if since else 'before'} {since or until}")
    if sources:
        quoted = ", ".join(f'"{name}"' for name in sources)
        said.append(f"from the source{'s' if len(sources) > 1 else ''} {quoted}")
    return " ".join(said)


def unknown_sources_note(asked: Sequence[str] | None, stored: Iterable[str | None]) -> str:
    """When none of the ``asked`` sources is among the ``stored`` ones (a name mistyped, or in
    other case), a sentence naming those stored, the first ten; else ""."""
    names = sorted({name for name in stored if name})
    if not asked or not names or set(asked) & set(names):
        return ""
    listed = first_of([f'"{name}"' for name in names], 10)
    return f" Sources are matched exactly; the stored ones are {listed}."
