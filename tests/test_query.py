"""``Query``: the one record search, ask, reply and choose take, checked when it is made."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from rag import ConfigError, Query


def test_a_query_takes_iso_strings_and_dates_alike() -> None:
    query = Query("Who won?", since="2022-06-01", until=date(2022, 6, 30), as_of=datetime(2022, 6, 16, 9, 30))
    assert (query.since, query.until, query.as_of) == (date(2022, 6, 1), date(2022, 6, 30), date(2022, 6, 16))
    assert Query("Who won?", sources="BBC").sources == ("BBC",)  # one source, not its letters
    assert Query("Who won?", sources=["BBC", "CNN"]).sources == ("BBC", "CNN")
    assert Query.of("Who won?") == Query("Who won?")
    assert Query.of(query) is query


def test_a_query_derives_another_with_the_same_bounds() -> None:
    query = Query("Who won?", top_k=3, as_of="2022-06-16", sources=["BBC"])
    follow = query.asking("Who came second?").with_top_k(6)
    assert (follow.question, follow.top_k) == ("Who came second?", 6)
    assert (follow.as_of, follow.sources) == (query.as_of, query.sources)


def test_a_query_says_its_bounds_in_words() -> None:
    assert Query("Who won?").bounds() == ""
    assert Query("Who won?", since="2022-06-01").bounds() == "published on or after 2022-06-01"
    both = Query("Who won?", since="2022-06-01", until="2022-06-30", as_of="2022-06-16", sources=["A", "B"])
    # The earlier end; sources quoted, since one is often named for its file ("from articles").
    assert both.bounds() == 'published from 2022-06-01 to 2022-06-16 from the sources "A", "B"'
    assert Query("Who won?", sources="BBC").bounds() == 'from the source "BBC"'


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"question": "   "}, "The question is empty"),
        ({"question": 42}, "must be text"),
        ({"top_k": 0}, "top_k must be greater than 0"),
        ({"top_k": "5"}, "top_k must be a whole number. Currently, top_k is '5'"),
        ({"as_of": "June"}, "as_of must be a date"),
        ({"until": "2022-13-01"}, "until must be a date"),
        ({"since": "2022-07-01", "until": "2022-06-01"}, "since (2022-07-01) is after until"),
        ({"since": "2022-07-01", "as_of": "2022-06-01"}, "is after until or as-of (2022-06-01)"),
        ({"sources": 5}, "sources must be a list of source names. Currently, sources is 5"),
        ({"sources": [None]}, "Currently, sources holds None"),
        ({"sources": ["bbc", " "]}, "Currently, sources holds ' '"),
    ],
)
def test_a_bad_query_names_its_field(fields: dict[str, object], message: str) -> None:
    given = {"question": "Who won?", **fields}
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Query(**given)  # type: ignore[arg-type]


def test_bytes_of_a_question_that_are_not_utf8_become_replacement_characters() -> None:
    # A command line's bytes that are not UTF-8 reach Python as lone surrogates ("\udcff").
    assert Query("What did Xi \udcff\ud800 say?").question == "What did Xi \ufffd\ufffd say?"
