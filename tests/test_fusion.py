"""Rank fusion, recency detection and near-duplicate removal, by hand."""

from __future__ import annotations

from rag.fusion import asks_about_recent, by_recency, drop_near_duplicates, reciprocal_rank_fusion
from rag.records import Chunk, Hit


def hit(chunk_id: str, text: str, score: float = 0.5) -> Hit:
    return Hit(Chunk(chunk_id, chunk_id.split(":")[0], 0, text, 0, len(text), "t"), score)


def test_reciprocal_rank_fusion_by_hand() -> None:
    # a: 1/61 + 1/62; b: 1/62 + 1/61; c: 1/63 -> a and b tie, first seen first; c last.
    assert reciprocal_rank_fusion([["a", "b", "c"], ["b", "a"]]) == ["a", "b", "c"]
    # An item ranked first by both beats one ranked first by only one.
    assert reciprocal_rank_fusion([["x", "y"], ["x", "z"]])[0] == "x"
    # Weights: the heavier ranking decides a tie.
    assert reciprocal_rank_fusion([["p", "q"], ["q", "p"]], weights=[1.0, 2.0])[0] == "q"


def test_recent_questions_and_newest_first() -> None:
    assert asks_about_recent("Which show was recently renewed?")
    assert asks_about_recent("Who resigned this week?")
    assert not asks_about_recent("Who wrote Hamlet?")
    assert by_recency({"a": 20220601, "b": 20220610, "c": 0}) == ["b", "a"]


def test_near_duplicates_are_dropped_and_distinct_passages_kept() -> None:
    story = (
        "The council approved the new budget on Tuesday after a long debate about school funding and roads"
    )
    copy = story + " officials said"
    other = "A storm closed the harbour for two days and fishing boats stayed in port until the wind dropped"
    kept = drop_near_duplicates([hit("a:0", story), hit("b:0", copy), hit("c:0", other)])
    assert [h.chunk.id for h in kept] == ["a:0", "c:0"]
    assert len(drop_near_duplicates([hit("a:0", story), hit("c:0", other)])) == 2
