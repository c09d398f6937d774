"""Metric functions against values computed by hand."""

from __future__ import annotations

import math

import pytest

from eval import metrics as m


def test_normalize_answer_is_unicode_aware() -> None:
    assert m.normalize_answer("“Squid Game”") == "squid game"
    assert m.normalize_answer("The  Beatles’ — ‘Abbey Road’!") == "beatles abbey road"
    assert m.normalize_answer("Ｆｕｌｌｗｉｄｔｈ  A") == "fullwidth"
    assert m.normalize_answer("$2 billion.") == "2 billion"


def test_exact_match() -> None:
    assert m.exact_match("Squid Game", ["“Squid Game”"]) == 1.0
    assert m.exact_match("the squid game!", ["Squid Game"]) == 1.0
    assert m.exact_match("Squid", ["Squid Game"]) == 0.0
    assert m.exact_match("Europe", ["Asia", "europe"]) == 1.0


def test_token_f1_by_hand() -> None:
    # prediction: {new, york, city}; gold: {new, york}: precision 2/3, recall 1 -> F1 0.8
    assert m.token_f1("New York City", ["New York"]) == pytest.approx(0.8)
    # best of several golds
    assert m.token_f1("New York City", ["Boston", "York"]) == pytest.approx(0.5)
    assert m.token_f1("Paris", ["London"]) == 0.0
    # repeated tokens count with multiplicity: pred [a1, a1, b], gold [a1, b] -> common 2, P 2/3, R 1
    assert m.token_f1("cat cat dog", ["cat dog"]) == pytest.approx(0.8)


def test_contains_gold_needs_whole_words() -> None:
    assert m.contains_gold("The winner was “Squid Game”, said critics.", ["Squid Game"]) == 1.0
    assert m.contains_gold("Europe will require USB-C.", ["Europe"]) == 1.0
    assert m.contains_gold("European rules", ["Europe"]) == 0.0
    assert m.contains_gold("anything", [""]) == 0.0
    # A number is whole: "$4" is not in "$4.96", nor "3" in "3.5 million"; "4,000" is "4000".
    assert m.contains_gold("Gas averaged $4.96 a gallon.", ["$4"]) == 0.0
    assert m.contains_gold("Gas averaged $4.96 a gallon.", ["$4.96"]) == 1.0
    assert m.contains_gold("It cost 3.5 million euros.", ["3"]) == 0.0
    assert m.contains_gold("About 4,000 people and 1,250,000 birds.", ["4000", "1,250,000"]) == 1.0
    assert m.contains_gold("The vote was 52-48.", ["52"]) == 1.0


def test_url_normalisation() -> None:
    a = "https://www.cnn.com/2022/06/12/tech/x/index.html#:~:text=The%20company"
    assert m.normalize_url(a) == "cnn.com/2022/06/12/tech/x"
    # The default document names the same page as its folder.
    assert m.normalize_url("http://cnn.com/2022/06/12/tech/x/") == m.normalize_url(a)
    # realtimeqa-dev lists some pages both as ".../index.html" and ".../index.html/".
    assert m.normalize_url("https://www.cnn.com/2022/06/12/tech/x/index.html/") == m.normalize_url(a)
    assert m.normalize_url("http://cnn.com/a/b/?utm=1") == "cnn.com/a/b"
    assert m.distinct(["https://a.org/x", "https://a.org/x#frag", "https://b.org/y"]) == [
        "a.org/x",
        "b.org/y",
    ]


RANKED = ["u/1", "u/2", "u/3", "u/4", "u/5", "u/6"]


def test_hit_mrr_ndcg_by_hand() -> None:
    gold = ["https://u/3"]
    assert m.hit_at_k(RANKED, gold, 1) == 0.0
    assert m.hit_at_k(RANKED, gold, 5) == 1.0
    assert m.mrr_at_k(RANKED, gold, 10) == pytest.approx(1 / 3)
    assert m.mrr_at_k(RANKED, gold, 2) == 0.0
    # one relevant at rank 3: DCG = 1/log2(4) = 0.5; IDCG = 1 -> 0.5
    assert m.ndcg_at_k(RANKED, gold, 10) == pytest.approx(0.5)
    # two relevant at ranks 1 and 4: DCG = 1 + 1/log2(5); IDCG = 1 + 1/log2(3)
    expected = (1 + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert m.ndcg_at_k(RANKED, ["u/1", "u/4"], 10) == pytest.approx(expected)
    assert m.ndcg_at_k(RANKED, ["u/9"], 10) == 0.0


def test_quote_alignment() -> None:
    text = "Alpha beta. Gamma delta."
    assert m.quote_alignment([("Gamma delta.", text, 12, 24), ("Alpha beta.", text, 0, 11)]) == 1.0
    assert m.quote_alignment([("Gamma delta.", text, 11, 23), ("Alpha beta.", text, 0, 11)]) == 0.5
    assert m.quote_alignment([("x", None, 0, 1)]) == 0.0
    assert m.quote_alignment([]) is None


def test_support_proxy() -> None:
    passage = "The company reported profits of 76 million dollars in the fourth quarter."
    assert m.supports([passage], "The company reported profits of 76 million dollars.")
    # a number not in the passage is never supported
    assert not m.supports([passage], "The company reported profits of 77 million dollars.")
    # too few of the statement's words
    assert not m.supports([passage], "Rival firms cut jobs across Europe after weak sales.")


def test_citation_scores_by_hand() -> None:
    p_profit = "Profits rose 76 percent in the quarter at the media giant."
    p_other = "The weather was sunny in Paris on Tuesday."
    # Sentence 1 cites a supporting and an irrelevant passage; sentence 2 cites one that does not support it.
    statements = [
        ("Profits rose 76 percent in the quarter.", [p_profit, p_other]),
        ("Snow fell in Oslo.", [p_other]),
    ]
    recall, precision = m.citation_scores(statements)  # type: ignore[misc]
    assert recall == pytest.approx(1 / 2)  # one of two sentences supported
    assert precision == pytest.approx(1 / 3)  # only p_profit of three citations is precise
    assert m.citation_scores([]) is None


def test_bootstrap_interval_brackets_the_mean() -> None:
    values = [0.0, 1.0] * 50
    low, high = m.bootstrap_ci(values)
    assert low < 0.5 < high and high - low < 0.3
    assert m.bootstrap_ci([1.0, 1.0, 1.0]) == (1.0, 1.0)
    assert m.paired_bootstrap_ci([0.2, 0.4], [0.2, 0.4]) == (0.0, 0.0)
    assert m.percentile([1, 2, 3, 4], 50) == 2.5


def test_answer_metrics_read_the_quotes_not_the_citation_markers() -> None:
    from eval.runner import score_question
    from eval.suite import Question
    from rag.records import Answer, Citation

    quotes = ("The ferry service resumed on Monday.", "Crossings take forty minutes.")
    citations = tuple(
        Citation(n, f"a{n}", "Ferries", None, None, None, None, quote, quote, 0, len(quote), 1.0)
        for n, quote in enumerate(quotes, start=1)
    )
    answer = Answer("How long is the crossing?", f"{quotes[0]} [1] {quotes[1]} [2]", False, citations)
    passages = (" ".join(quotes), "Tickets cost 2 pounds.")

    def scored(gold: str) -> dict[str, float | None]:
        question = Question("q", answer.question, (gold,))
        return score_question(question, answer, None, [], lambda _: None, passages)

    numbers = scored("2")
    assert numbers["contains_gold"] == 0.0 and numbers["f1"] == 0.0  # "[2]" is not the answer 2
    assert numbers["passages_hold_gold"] == 1.0  # the second passage holds it; the answer did not quote it
    words = scored("forty minutes")
    assert words["contains_gold"] == 1.0 and words["f1"] > 0 and words["passages_hold_gold"] == 1.0
    assert scored("an hour")["passages_hold_gold"] == 0.0


def test_refusal_reasons_keep_the_numbers_they_share_and_hide_the_rest() -> None:
    from eval.report import shared_wording

    reasons = ["best passage score 0.34 is below 0.45", "best passage score 0.41 is below 0.45"]
    assert shared_wording(reasons) == "best passage score … is below 0.45"
    assert shared_wording(reasons[:1]) == reasons[0]


def test_worst_questions_leave_out_the_ones_that_went_right() -> None:
    from eval.report import worst_questions

    def result(qid: str, mc: float, gold: float) -> dict[str, object]:
        metrics = {"mc_accuracy": mc, "contains_gold": gold, "hit@10": None, "f1": mc}
        return {"id": qid, "metrics": metrics}

    results = [result("right", 1.0, 1.0), result("guessed", 0.0, 1.0), result("unsaid", 1.0, 0.0)]
    assert [r["id"] for r in worst_questions(results)] == ["guessed", "unsaid"]


def test_a_run_with_no_wrong_question_says_so_instead_of_an_empty_table() -> None:
    from eval.report import NONE_WORSE, worst_table

    right = {"id": "q", "metrics": {"mc_accuracy": 1.0, "contains_gold": 1.0, "hit@10": 1.0, "f1": 1.0}}
    assert worst_table([right]) == [NONE_WORSE] and NONE_WORSE.startswith("None: every choice was right")
