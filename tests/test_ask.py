"""Cited answers on real articles: the seed question, refusals, offsets and dates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from conftest import EXAMPLES, SEED_QUESTION

from ingest import ingest
from rag import REFUSAL, Answer, Library


def assert_quotes_verbatim(library: Library, answer: Answer) -> None:
    for citation in answer.citations:
        text = library.article_text(citation.article_id)
        assert text is not None
        assert text[citation.start : citation.end] == citation.quote
        assert citation.quote in citation.passage


def test_seed_question_cites_the_seed_article_first(news_library: Library) -> None:
    answer = news_library.ask(SEED_QUESTION)
    assert not answer.refused
    first = answer.citations[0]
    assert first.n == 1 and "[1]" in answer.answer
    assert first.title == "China's Xi calls for cooperation on Internet regulation"
    assert "multilateral approach" in first.quote
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    for citation in answer.citations:
        assert f"{citation.quote} [{citation.n}]" in answer.answer
    assert_quotes_verbatim(news_library, answer)


@pytest.mark.parametrize(
    "question",
    [
        "Who won the 2022 FIFA World Cup?",
        "What is the boiling point of liquid nitrogen on Mars?",
        "Which company released the iPhone 14 in September 2022?",
    ],
)
def test_unanswerable_questions_are_refused(news_library: Library, question: str) -> None:
    answer = news_library.ask(question)
    assert answer.refused
    assert answer.answer == REFUSAL
    assert answer.citations == ()


def test_answerable_bbc_question_is_answered(news_library: Library) -> None:
    answer = news_library.ask("How much did Time Warner's quarterly profits rise?")
    assert not answer.refused
    assert any("76%" in c.quote for c in answer.citations)
    assert_quotes_verbatim(news_library, answer)


def test_date_filters_apply_to_published_dates(make_library: Callable[..., Library]) -> None:
    library = make_library()
    ingest([EXAMPLES], library, progress=False)
    hits = library.search("space mission landing", top_k=10, until=date(2014, 12, 31))
    assert hits and {h.chunk.title for h in hits} == {"Philae lander touches down on a comet"}
    hits = library.search("space mission landing", top_k=10, since=date(2015, 7, 1), until=date(2015, 7, 31))
    assert {h.chunk.published for h in hits} == {date(2015, 7, 14)}
    assert library.search("anything", since=date(2030, 1, 1)) == []
    answer = library.ask(SEED_QUESTION, until=date(2015, 1, 1))
    assert answer.refused or all(c.published and c.published <= date(2015, 1, 1) for c in answer.citations)


def test_retriever_works_through_llama_index_api(news_library: Library) -> None:
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import QueryBundle

    retriever = news_library.as_retriever(top_k=3)
    assert isinstance(retriever, BaseRetriever)
    nodes = retriever.retrieve(QueryBundle(SEED_QUESTION))
    assert len(nodes) == 3
    assert nodes[0].node.metadata["title"] == "China's Xi calls for cooperation on Internet regulation"
    assert nodes[0].score is not None and nodes[0].score >= nodes[-1].score  # type: ignore[operator]
    text = news_library.article_text(nodes[0].node.metadata["article_id"])
    assert text is not None
    meta = nodes[0].node.metadata
    assert text[meta["start"] : meta["end"]] == nodes[0].node.get_content()
