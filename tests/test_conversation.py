"""Follow-up questions resolved against the turns before them, by hand (no model)."""

from __future__ import annotations

from rag.conversation import Turn, is_follow_up, resolve

OPENER = "What did the mayor say about the harbour bridge?"


def test_follow_ups_are_found_whatever_the_punctuation() -> None:
    for question in ("Tell me more.", "Tell me more", "What else did she say?", "And the cost of it!"):
        assert is_follow_up(question), question
    assert not is_follow_up("When does the library open on Sundays?")


def test_a_follow_up_is_searched_with_the_previous_question_and_the_topic_not_the_whole_chat() -> None:
    assert resolve(OPENER, []).query == OPENER
    history = [Turn(OPENER, OPENER)]
    second = "What else did she say?"
    follow = resolve(second, history)
    assert follow.query == f"{second} {OPENER}"
    history.append(Turn(second, follow.query))
    for n in range(3, 9):  # a long chain keeps the query to three questions
        question = f"Tell me more, part {n}."
        follow = resolve(question, history)
        assert follow.query == f"{question} {history[-1].question} {OPENER}"
        history.append(Turn(question, follow.query))
    # A new topic is searched alone, and opens the topic for what follows it.
    fresh = "When does the library open on Sundays?"
    assert resolve(fresh, history).query == fresh
    history.append(Turn(fresh, fresh))
    assert resolve("Is that new?", history).query == f"Is that new? {fresh}"
