"""Answers written by a language model, assembled from checked sentences. The replies here are
fixed texts written for the tests (the model's part is played by ``WrittenReply``, which streams
one); ``tests/test_llm.py`` runs real models."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from rag.answer import REFUSAL, ExtractiveAnswerer
from rag.errors import ModelError
from rag.generative import GenerativeAnswerer, build_prompt, split_sentences
from rag.records import Chunk, Hit

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "model_outputs.json").read_text())


def hits() -> list[Hit]:
    """The fixture passages as retrieved passages, each the second paragraph of its article."""
    found = []
    for i, p in enumerate(FIXTURES["passages"]):
        start = 40  # the article's text before the passage: its headline and a blank line
        chunk = Chunk(
            id=f"a{i}:1",
            article_id=f"a{i}",
            chunk_index=1,
            text=p["text"],
            start=start,
            end=start + len(p["text"]),
            title=p["title"],
            url=f"https://news.example.org/{i}",
            published=date.fromisoformat(p["published"]),
            source="news.example.org",
        )
        found.append(Hit(chunk, 0.8 - 0.01 * i))
    return found


class WrittenReply:
    """A reply written in advance, streamed a few characters at a time; ``fail_after`` raises
    ``ModelError`` after that many characters, as a server dying mid-stream does."""

    name = "written"

    def __init__(self, reply: str, context_window: int = 4096, fail_after: int | None = None) -> None:
        self.reply = reply
        self.context_window = context_window
        self.fail_after = fail_after
        self.prompts: list[str] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + text.count("[")

    def stream(self, system: str, user: str, max_tokens: int) -> Iterator[str]:
        self.prompts.append(user)
        for at in range(0, len(self.reply), 7):
            if self.fail_after is not None and at >= self.fail_after:
                raise ModelError("The language model server at http://127.0.0.1:9/v1 failed (ReadTimeout)")
            yield self.reply[at : at + 7]


def answerer(reply: str, **options: object) -> tuple[GenerativeAnswerer, WrittenReply]:
    model = WrittenReply(reply, **options)  # type: ignore[arg-type]
    return GenerativeAnswerer(model, ExtractiveAnswerer()), model


QUESTION = "Which show won the award for best drama series?"


def test_supported_sentences_are_kept_and_anchored_the_rest_listed_with_why() -> None:
    reply = "Succession won the award for best drama series [2]. Ted Lasso won best comedy. [2]"
    writer, model = answerer(reply)
    answer = writer.compose(QUESTION, hits(), as_of=date(2022, 9, 14))
    assert answer.answerer == "llm:written" and not answer.refused and not answer.fallback
    assert answer.written == reply
    assert answer.answer == "Succession won the award for best drama series. [1]"
    (cited,) = answer.citations
    assert cited.quote == "Succession took home the award for best drama series on Monday night."
    assert cited.article_id == "a1" and cited.start == 40 and cited.end == 40 + len(cited.quote)
    assert cited.passage == FIXTURES["passages"][1]["text"]
    ((sentence, reason),) = [(u.sentence, u.reason) for u in answer.unsupported]
    assert sentence == "Ted Lasso won best comedy. [2]" and "'Lasso' is in no cited passage" in reason
    record = answer.to_dict()
    assert record["answerer"] == "llm:written" and record["fallback"] is False
    assert record["unsupported"] == [{"sentence": sentence, "reason": reason}]
    # The prompt: numbered passages with title, source and date, the reader's today, the question.
    prompt = model.prompts[0]
    assert prompt.startswith("Today is 2022-09-14.")
    assert "[2] Succession wins best drama; news.example.org; 2022-09-13, 13 September 2022\n" in prompt
    assert prompt.endswith(f"Question: {QUESTION}\nAnswer:")


def test_citations_are_numbered_in_order_of_first_use() -> None:
    reply = (
        "Succession took home best drama series [2], and Philae bounced twice [4]. "
        "Matthew Macfadyen won best supporting actor. [2]"
    )
    answer = answerer(reply)[0].compose(QUESTION, hits())
    assert answer.answer == (
        "Succession took home best drama series, and Philae bounced twice. [1][2] "
        "Matthew Macfadyen won best supporting actor. [3]"
    )
    assert [c.article_id for c in answer.citations] == ["a1", "a3", "a1"]


def test_no_sentence_is_shown_before_it_passed_the_check() -> None:
    reply = (
        "Succession won the award for best drama series. [2] The Crown won it in 2021. [2] "
        "Matthew Macfadyen won best supporting actor. [2]"
    )
    answers = list(answerer(reply)[0].stream(QUESTION, hits()))
    assert [a.written for a in answers] == [None, reply]  # the whole reply, with the whole answer
    partials = [a.answer for a in answers]
    first = "Succession won the award for best drama series. [1]"
    both = f"{first} Matthew Macfadyen won best supporting actor. [2]"
    assert partials == [first, both]
    assert not any("Crown" in p for p in partials)


@pytest.mark.parametrize(
    "reply",
    [
        "The show that won best drama series is Ted Lasso (2022-09-12).",  # seen from SmolLM2: no [n]
        "Ted Lasso won the award for best drama series. [7]",
        "",
    ],
)
def test_nothing_supported_gives_the_extractive_answer_flagged(reply: str) -> None:
    answer = answerer(reply)[0].compose(QUESTION, hits())
    extractive = ExtractiveAnswerer().compose(QUESTION, hits())
    assert answer.fallback and answer.answerer == "llm:written"
    assert answer.answer == extractive.answer and answer.citations == extractive.citations
    assert answer.fallback_reason in (
        "nothing the model wrote was supported by the passages it cited",
        "the model wrote nothing",
    )
    assert len(answer.unsupported) == (1 if reply else 0)


def test_a_model_that_fails_mid_stream_gives_way_or_keeps_what_passed() -> None:
    answer = answerer("Succession won the award for best drama series. [2]", fail_after=10)[0].compose(
        QUESTION, hits()
    )
    assert answer.fallback and "ReadTimeout" in (answer.fallback_reason or "")
    kept = answerer(
        "Succession won the award for best drama series. [2] Matthew Macfadyen won best", fail_after=60
    )[0].compose(QUESTION, hits())
    assert not kept.fallback and kept.answer == "Succession won the award for best drama series. [1]"


def test_refusals_by_the_model_and_before_asking_it() -> None:
    answer = answerer(REFUSAL)[0].compose(QUESTION, hits())
    assert answer.refused and not answer.citations and answer.answer == REFUSAL
    writer, model = answerer("Argentina won. [1]")
    refused = writer.compose("Who won the 2022 FIFA World Cup?", hits())
    assert refused.refused and refused.refusal_reason is not None
    assert not model.prompts  # the model was never asked


def test_passages_are_cut_to_the_models_context_by_its_token_count() -> None:
    model = answerer("", context_window=330)[1]
    prompt, shown = build_prompt(model, QUESTION, hits(), None)
    assert model.count_tokens(prompt) <= 330 - 160
    assert 1 <= len(shown) < len(hits())
    assert all(hits()[i].chunk.text.startswith(text) for i, text in enumerate(shown))


def test_markers_after_a_full_stop_belong_to_the_sentence_before() -> None:
    assert split_sentences("Succession won. [2] Macfadyen won too [2][3]. Then [1]") == [
        "Succession won. [2]",
        "Macfadyen won too [2][3].",
        "Then [1]",
    ]


def test_a_follow_up_is_rewritten_from_the_conversation() -> None:
    from rag.conversation import Turn
    from rag.generative import rewrite_follow_up

    history = [Turn("Which show won best drama?", "Which show won best drama?", (), "Succession won. [1]")]
    model = WrittenReply("Who else was nominated for best drama alongside Succession?\nThat is all.")
    assert rewrite_follow_up(model, "Who else was nominated?", history) == (
        "Who else was nominated for best drama alongside Succession?"
    )
    assert "Answer: Succession won." in model.prompts[0] and "[1]" not in model.prompts[0]
    assert rewrite_follow_up(WrittenReply("Sure!"), "Who else?", history) is None  # no question
    assert rewrite_follow_up(WrittenReply("x", fail_after=0), "Who else?", history) is None


def test_the_model_picks_an_option_grounded_in_a_sentence_that_holds_it() -> None:
    from rag.generative import model_choice

    choices = ["Ted Lasso", "Succession", "The Crown", "Severance"]
    picked = model_choice(WrittenReply("B [2]"), QUESTION, choices, hits())
    assert picked.choice == "Succession" and picked.grounded
    assert picked.citations[0].quote.startswith("Succession took home the award")
    ungrounded = model_choice(WrittenReply("D. Severance [2]"), QUESTION, choices, hits())
    assert ungrounded.choice == "Severance" and not ungrounded.grounded and not ungrounded.citations
    fallback = model_choice(WrittenReply("I think it is the second one."), QUESTION, choices, hits())
    assert fallback.choice == "Succession" and fallback.grounded  # the extractive choice
    # A question whose form settles it is read from the other options, and the model not asked.
    model = WrittenReply("A")
    shows = ["Succession", "The Crown", "Better Call Saul", "Severance"]
    left_out = model_choice(model, "Which of these shows was not nominated for best drama?", shows, hits())
    assert left_out.choice == "Severance" and left_out.grounded and model.prompts == []
