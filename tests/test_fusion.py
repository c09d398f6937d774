"""Rank fusion, freshness, article ranking and support, round-ups and near-duplicate removal, by hand."""

from __future__ import annotations

import math
from datetime import date

from rag.fusion import (
    RRF_K,
    add_article_ranking,
    add_article_support,
    add_freshness,
    asks_about_recent,
    discount_roundups,
    discount_stale,
    drop_near_duplicates,
    ranked,
    reciprocal_rank_fusion,
)
from rag.records import Chunk, Hit, article_of


def hit(chunk_id: str, text: str, score: float = 0.5) -> Hit:
    return Hit(Chunk(chunk_id, chunk_id.split(":")[0], 0, text, 0, len(text), "t"), score)


def test_reciprocal_rank_fusion_by_hand() -> None:
    # a: 1/61 + 1/62; b: 1/62 + 1/61; c: 1/63 -> a and b tie, first seen first; c last.
    scores = reciprocal_rank_fusion([["a", "b", "c"], ["b", "a"]])
    assert math.isclose(scores["a"], 1 / 61 + 1 / 62) and math.isclose(scores["c"], 1 / 63)
    assert ranked(scores) == ["a", "b", "c"]
    # An item ranked first by both beats one ranked first by only one.
    assert ranked(reciprocal_rank_fusion([["x", "y"], ["x", "z"]]))[0] == "x"
    # Weights: the heavier ranking decides a tie.
    assert ranked(reciprocal_rank_fusion([["p", "q"], ["q", "p"]], weights=[1.0, 2.0]))[0] == "q"


def test_freshness_lifts_stories_from_just_before_as_of() -> None:
    published = {"old": date(2022, 5, 1), "new": date(2022, 6, 15), "undated": None}
    scores = {"old": 0.02, "new": 0.015, "undated": 0.02}
    fresh = add_freshness(scores, published.get, as_of=date(2022, 6, 16))
    # One day old: two first places (2/61) added; 46 days old: almost nothing.
    assert math.isclose(fresh["new"], 0.015 + 2 / (RRF_K + 1))
    assert fresh["old"] - 0.02 < 0.0002 and fresh["undated"] == 0.02
    assert ranked(fresh)[0] == "new"


def test_freshness_is_the_same_for_every_story_of_the_last_few_days() -> None:
    # The report from four days ago matches the question better than yesterday's follow-up; the
    # freshness bonus must not turn that round, and past the fresh days it fades.
    published = {"report": date(2022, 6, 12), "follow-up": date(2022, 6, 15), "week-old": date(2022, 6, 9)}
    scores = {"report": 1 / (RRF_K + 1), "follow-up": 1 / (RRF_K + 2), "week-old": 1 / (RRF_K + 1)}
    fresh = add_freshness(scores, published.get, as_of=date(2022, 6, 16), fresh_days=4)
    assert ranked(fresh) == ["report", "follow-up", "week-old"]
    assert math.isclose(fresh["week-old"] - scores["week-old"], 2 * math.exp(-3 / 7) / (RRF_K + 1))
    falling = add_freshness(scores, published.get, as_of=date(2022, 6, 16), fresh_days=0)
    assert ranked(falling)[0] == "follow-up"  # what a bonus falling day by day did


def test_stale_passages_count_for_less_only_beside_fresh_ones() -> None:
    published = {
        "years": date(2016, 1, 17),
        "month": date(2022, 5, 10),
        "week": date(2022, 6, 12),
        "undated": None,
    }
    scores = {"years": 0.04, "month": 0.03, "week": 0.025, "undated": 0.01}
    discounted = discount_stale(scores, published.get, as_of=date(2022, 6, 16), factor=0.5)
    # Over 30 days old: halved; 4 days old and undated: unchanged.
    assert discounted == {"years": 0.02, "month": 0.015, "week": 0.025, "undated": 0.01}
    assert ranked(discounted)[0] == "week"
    # With nothing recent among the candidates (an archive asked "this week"), the order stays.
    old = {item: score for item, score in scores.items() if item != "week"}
    assert discount_stale(old, published.get, as_of=date(2022, 6, 16)) == old


def test_questions_about_recent_events_are_told_apart() -> None:
    for question in (
        "Which movie is top of the box office this week?",
        "What did the court recently rule?",
        "What is the latest on the strike?",
        "How much aid has been approved so far?",
        "Where is the team now?",
    ):
        assert asks_about_recent(question), question
    for question in ("Who won the 2022 Stanley Cup?", "What did Xi say about governance?", "Is snow known?"):
        assert not asks_about_recent(question), question


def test_article_support_lifts_articles_that_match_in_several_places() -> None:
    # Article a has one strong passage; b has a slightly weaker one backed by two more.
    scores = {"a:0": 0.030, "b:0": 0.028, "b:1": 0.010, "b:2": 0.010, "b:3": 0.009}
    supported = add_article_support(scores, article_of)
    assert ranked(supported)[0] == "b:0"
    assert math.isclose(supported["b:0"], 0.028 + 0.3 * 0.020)  # its next two best, not three
    assert supported["a:0"] == 0.030
    # Only the best passage is lifted: the others keep their scores.
    assert [supported[i] for i in ("b:1", "b:2", "b:3")] == [0.010, 0.010, 0.009]


def test_article_ranking_lifts_the_best_passage_of_the_articles_about_the_question() -> None:
    # A round-up's passage matches best; the article about the question comes first as a whole.
    scores = {"roundup:3": 0.030, "story:1": 0.028, "story:0": 0.020, "other:0": 0.010}
    lifted = add_article_ranking(scores, ["story", "other", "absent"], article_of)
    assert ranked(lifted)[0] == "story:1"
    assert math.isclose(lifted["story:1"], 0.028 + 1 / (RRF_K + 1))
    assert math.isclose(lifted["other:0"], 0.010 + 1 / (RRF_K + 2))
    # Only each article's best passage is lifted, and articles not ranked gain nothing.
    assert lifted["story:0"] == 0.020 and lifted["roundup:3"] == 0.030
    assert add_article_ranking(scores, [], article_of) == scores


def test_round_ups_count_for_less_in_proportion_to_their_coherence() -> None:
    scores = {"roundup:2": 0.030, "story:0": 0.025, "unknown:0": 0.020}
    coherence = {"roundup": 0.5, "story": 0.86}
    discounted = discount_roundups(scores, lambda item: coherence.get(article_of(item), 1.0))
    assert math.isclose(discounted["roundup:2"], 0.030 * 0.5 / 0.75)
    assert discounted["story:0"] == 0.025 and discounted["unknown:0"] == 0.020  # coherent: unchanged
    assert ranked(discounted)[0] == "story:0"


def test_near_duplicates_are_dropped_and_distinct_passages_kept() -> None:
    story = (
        "The council approved the new budget on Tuesday after a long debate about school funding and roads"
    )
    copy = story + " officials said"
    other = "A storm closed the harbour for two days and fishing boats stayed in port until the wind dropped"
    kept = drop_near_duplicates([hit("a:0", story), hit("b:0", copy), hit("c:0", other)])
    assert [h.chunk.id for h in kept] == ["a:0", "c:0"]
    assert len(drop_near_duplicates([hit("a:0", story), hit("c:0", other)])) == 2
