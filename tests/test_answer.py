"""The extractive answerer by hand: a lead sentence that restates the question gets its neighbour;
photo-gallery chrome is quoted by no answer; sentences run on past news abbreviations; a question
asking what someone said is told apart."""

from __future__ import annotations

import pytest

from rag.answer import ExtractiveAnswerer
from rag.records import Chunk, Hit
from rag.text import asks_for_a_statement, sentence_spans


def hit(chunk_id: str, text: str, score: float = 0.8) -> Hit:
    return Hit(Chunk(chunk_id, chunk_id.split(":")[0], 0, text, 0, len(text), "River news"), score)


PASSAGE = (
    "The river authority met in the town hall on Monday evening. "
    "Maria Lopez made history on Monday when she was sworn in as the first woman to lead the "
    "river authority. "
    "She takes the seat held for two decades by Tomas Berg, who retired in the spring. "
    "The authority manages the dams and the flood plain along the valley."
)


def test_the_sentence_naming_the_answer_follows_a_lead_that_restates_the_question() -> None:
    question = (
        "Maria Lopez made history this week as the first woman to lead the river authority. "
        "Whose seat is she taking?"
    )
    answer = ExtractiveAnswerer().compose(question, [hit("a:0", PASSAGE)])
    assert not answer.refused
    quotes = [c.quote for c in answer.citations]
    assert quotes[0].startswith("Maria Lopez made history")
    assert quotes[1].startswith("She takes the seat") and "Tomas Berg" in answer.answer
    assert len(quotes) <= ExtractiveAnswerer().max_sentences


def test_a_lead_that_points_back_gets_the_sentence_before_it() -> None:
    text = (
        "Tomas Berg retired in the spring after two decades in charge. "
        "He led the river authority through three floods and a drought. "
        "The authority manages the dams along the valley."
    )
    answer = ExtractiveAnswerer().compose(
        "Who led the river authority through three floods and a drought?", [hit("b:0", text)]
    )
    assert [c.quote[:10] for c in answer.citations][:2] == ["He led the", "Tomas Berg"]
    assert "Tomas Berg" in answer.answer


def test_a_lead_whose_neighbours_name_nothing_new_stands_alone() -> None:
    text = (
        "The authority met on a rainy evening. "
        "The authority manages the dams and the flood plain along the valley. "
        "It also keeps the footpaths open in winter."
    )
    answer = ExtractiveAnswerer().compose("Who manages the dams along the valley?", [hit("c:0", text)])
    assert [c.quote for c in answer.citations] == [
        "The authority manages the dams and the flood plain along the valley."
    ]


GALLERY = (
    "Photos: Spring floods in the valley Water covers the lower road near the mill on Friday. "
    "Hide Caption 1 of 4 Photos: Spring floods in the valley Volunteers fill sandbags outside "
    "the school in Eastford. "
    "Hide Caption 2 of 4 Photos: Spring floods in the valley A rowing club ferries residents "
    "across the square. "
    "Hide Caption 3 of 4 Photos: Spring floods in the valley The river peaked at 4.2 metres. "
    "Hide Caption 4 of 4\nThe council will meet on Monday."
)


def test_photo_gallery_markers_and_titles_are_left_out_of_quotes() -> None:
    starts = [GALLERY[s:e] for s, e in sentence_spans(GALLERY)]
    assert starts == [
        "Water covers the lower road near the mill on Friday.",
        "Volunteers fill sandbags outside the school in Eastford.",
        "A rowing club ferries residents across the square.",
        "The river peaked at 4.2 metres.",
        "The council will meet on Monday.",
    ]
    answer = ExtractiveAnswerer().compose("Where did volunteers fill sandbags?", [hit("g:0", GALLERY)])
    assert answer.citations[0].quote == "Volunteers fill sandbags outside the school in Eastford."
    assert "Caption" not in answer.answer
    # Without a title the caption follows its marker directly; two markers are not enough to tell
    # a title from two captions that open alike, so the words after them stay.
    two = "Hide Caption 1 of 2 Photos: A dam. Hide Caption 2 of 2 Photos: A weir held the water."
    assert [two[s:e] for s, e in sentence_spans(two)] == ["A dam.", "A weir held the water."]


def test_a_copy_of_a_quoted_sentence_in_another_article_is_not_quoted_again() -> None:
    shared = "The ferry to Northholm was cancelled on Tuesday because of the storm."
    first = hit("f:0", f"{shared} Crews will inspect the pier on Wednesday morning.")
    other = "The harbour master said the Northholm ferry was cancelled after waves damaged the pier."
    copy = hit("k:0", f"(Wire) {shared} {other}", score=0.79)
    question = "Why was the ferry to Northholm cancelled on Tuesday?"
    before = ExtractiveAnswerer().compose(question, [first, copy])
    lead = before.citations[0]
    assert lead.quote == shared
    again = ExtractiveAnswerer().compose(
        question, [first, copy], exclude=frozenset({(lead.article_id, lead.start)})
    )
    assert not again.refused
    assert "storm" not in again.answer and other in again.answer, again.answer


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        (  # a clock time and its zone; a sentence still ends on "p.m." before one that starts anew
            "The tremor struck at 11:39 a.m. local time (11:39 p.m. ET Saturday). No damage was reported. "
            "The shelter closed at 6 p.m. The volunteers went home.",
            [
                "The tremor struck at 11:39 a.m. local time (11:39 p.m. ET Saturday).",
                "No damage was reported.",
                "The shelter closed at 6 p.m.",
                "The volunteers went home.",
            ],
        ),
        (  # titles before names
            "Gov. Alma Reyes signed the budget on Jan. 5 with Sen. Ortiz and Rep. Dunne beside her. "
            "Lt. Gen. Hale Brandt was not there.",
            [
                "Gov. Alma Reyes signed the budget on Jan. 5 with Sen. Ortiz and Rep. Dunne beside her.",
                "Lt. Gen. Hale Brandt was not there.",
            ],
        ),
        (  # "No." before a number, and "no." at a sentence's end
            "The No. 3 seed beat No. 14 Eastvale 71-60. Asked about a rematch, the coach said no. "
            "Then she left.",
            [
                "The No. 3 seed beat No. 14 Eastvale 71-60.",
                "Asked about a rematch, the coach said no.",
                "Then she left.",
            ],
        ),
        (  # a title written in capitals, or a web address, is not a title
            "The study tracked patients with MS. The results were mixed. Figures are at data.example.gov. "
            "They were updated on Monday.",
            [
                "The study tracked patients with MS.",
                "The results were mixed.",
                "Figures are at data.example.gov.",
                "They were updated on Monday.",
            ],
        ),
    ],
)
def test_sentences_run_on_past_news_abbreviations(text: str, sentences: list[str]) -> None:
    assert [text[s:e] for s, e in sentence_spans(text)] == sentences


@pytest.mark.parametrize(
    ("question", "said"),
    [
        ("What did Xi say about multilateral governance?", True),
        ("What has the mayor told residents about the flood plain?", True),
        ("What does the authority think of the new dam?", True),
        ("What was the minister caught saying in the recording?", True),
        ("Which city will host the final this weekend?", False),
        ("What did the river authority vote to build?", False),
        ("Who said the dam would hold?", False),  # a person, not what was said
        # An account is a statement too.
        ("Why did the ferry stop running?", True),
        ("What happened to the harpoons of the lander?", True),
        ("How did the prisoner escape?", True),
        ("How many ferries stopped running?", False),
        ("How long did the probe travel?", False),
        ("How did the airline's shares close on Friday?", False),  # a number
        ("How did the team finish in the league?", False),  # a place
        ("What did the council conclude the mayor had done?", False),  # short, like a quiz's answers
    ],
)
def test_a_question_asking_for_a_statement_is_told_apart(question: str, said: bool) -> None:
    assert asks_for_a_statement(question) is said


def test_an_option_that_is_a_number_is_held_only_by_that_whole_number() -> None:
    from rag.choice import choose, option_evidence

    question = "What did a gallon of petrol cost in the valley on Tuesday?"
    priced = hit("p:0", "A gallon of petrol cost $4.96 in the valley on Tuesday, the ferry office said.")
    weighed = option_evidence(question, ["$4", "$5", "$3"], [priced])
    assert [score for score, _ in weighed] == [0.0, 0.0, 0.0]  # "$4" is not in "$4.96"
    assert choose(question, ["$4", "$4.96", "$5"], [priced]).choice == "$4.96"
    crowd = hit("c:0", "About 1,200 people crossed on the ferry that Tuesday in the valley.")
    counted = option_evidence("How many people crossed on the ferry?", ["200", "1200", "12000"], [crowd])
    assert [score > 0 for score, _ in counted] == [False, True, False]


def test_the_score_gate_reads_the_best_passage_not_the_first() -> None:
    """With an as-of date the search's order weighs freshness in: a weak passage of the day
    before can come first, ahead of the one that answers."""
    question = "Who did Maria Lopez succeed at the river authority?"
    fresh_but_weak = hit("b:0", "The ferry timetable changes on Monday for the summer season.", 0.2)
    answer = ExtractiveAnswerer().compose(question, [fresh_but_weak, hit("a:0", PASSAGE, 0.7)])
    assert not answer.refused, answer.refusal_reason
    assert "Tomas Berg" in answer.answer
    weak = ExtractiveAnswerer().compose(question, [fresh_but_weak, hit("a:0", PASSAGE, 0.3)])
    assert weak.refusal_reason == "best passage score 0.30 is below 0.45"


def test_credit_lines_are_told_from_the_stories_sentences() -> None:
    from rag.evidence import is_credit_line

    credits = [
        "By Ann Reed and Bo Lin",
        "By Cy Dunn, Dee Park and Eve Ng, The Daily Ledger",
        "Contributing: Fay Ortiz, The Wire",
        "- Gus Hale contributed to this report.",
        "Reporting by Ann Reed; Editing by Bo Lin",
    ]
    sentences = [
        "By Kate Ferris",  # in a list of books, the author
        "By Monday and Tuesday, the storm had moved out to sea.",
        "By Christmas and New Year, sales had risen 5%.",
        "Reporting by the end of the week is what the minister demanded.",
        "Two agencies contributed to this report on the flood, officials said.",
    ]
    assert [is_credit_line(t) for t in credits] == [True] * len(credits)
    assert [is_credit_line(t) for t in sentences] == [False] * len(sentences)
