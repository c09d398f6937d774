"""Follow-up questions resolved against the turns before them, by hand (no model)."""

from __future__ import annotations

import pytest

from rag.conversation import Turn, is_follow_up, prefer_articles, resolve
from rag.errors import ConfigError
from rag.records import Chunk, Hit

OPENER = "What did the mayor say about the harbour bridge?"


def test_follow_ups_are_found_whatever_the_punctuation() -> None:
    for question in ("Tell me more.", "Tell me more", "What else did she say?", "And the cost of it!"):
        assert is_follow_up(question), question
    assert not is_follow_up("When does the library open on Sundays?")


def test_a_follow_up_is_searched_with_the_previous_question_and_the_topic_not_the_whole_chat() -> None:
    assert resolve(OPENER, []).query == resolve(OPENER, []).read == OPENER
    history = [Turn(OPENER, OPENER)]
    second = "What else did she say?"
    follow = resolve(second, history)
    assert follow.query == f"{second} {OPENER}"
    history.append(Turn(second, follow.query))
    for n in range(3, 9):  # a long chain keeps the query to three questions
        question = f"Tell me more, part {n}."
        follow = resolve(question, history)
        assert follow.query == f"{question} {history[-1].question} {OPENER}"
        assert follow.read == f"{question} {history[-1].question}"  # the answer reads these two
        history.append(Turn(question, follow.query))
    # Two that name nothing but that they follow on: the answer reads the opener too.
    vague = resolve("What else did he say?", [Turn(OPENER, OPENER), Turn("Tell me more.", "")])
    assert vague.read == vague.query == f"What else did he say? Tell me more. {OPENER}"
    # A new topic is searched alone, and opens the topic for what follows it.
    fresh = "When does the library open on Sundays?"
    assert resolve(fresh, history).query == fresh
    history.append(Turn(fresh, fresh))
    assert resolve("Is that new?", history).query == f"Is that new? {fresh}"


def test_it_and_that_open_a_new_topic_when_the_question_brings_its_own_subject() -> None:
    history = [Turn(OPENER, OPENER)]
    for fresh in (
        "Is it true that Lisbon banned cruise ships?",  # a name the conversation has not had
        "Which company that makes electric buses won the city contract?",  # a relative "that"
    ):
        assert not is_follow_up(fresh, history), fresh
        assert resolve(fresh, history).query == fresh
    for follow in (
        "How much will it cost?",
        "What did the mayor say about that?",
        "What happened there in 2019?",
    ):
        assert is_follow_up(follow, history), follow
        assert resolve(follow, history).query == f"{follow} {OPENER}"


def test_the_cited_article_moves_up_two_places_and_the_fused_order_is_otherwise_kept() -> None:
    def hit(chunk_id: str, cosine: float) -> Hit:
        return Hit(Chunk(chunk_id, chunk_id.split(":")[0], 0, "text", 0, 4, "t"), cosine)

    # The search's order (BM25 and freshness included), not the order of the cosines.
    fused = [hit("a:0", 0.41), hit("b:0", 0.62), hit("c:0", 0.55), hit("d:0", 0.70), hit("cited:0", 0.30)]
    order = [h.chunk.id for h in prefer_articles(fused, ["cited"])]
    assert order == ["a:0", "b:0", "cited:0", "c:0", "d:0"]
    assert [h.chunk.id for h in prefer_articles(fused, [])] == [h.chunk.id for h in fused]


def test_a_history_of_something_else_than_turns_is_named() -> None:
    with pytest.raises(ConfigError, match=r"history\[1\] must be a Turn"):
        resolve("What else did she say?", [Turn(OPENER, OPENER), "What did she say?"])  # type: ignore[list-item]
