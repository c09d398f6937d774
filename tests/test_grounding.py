"""The citation check (``rag.grounding``) on model outputs written for it: faithful sentences,
wrong numbers, swapped names, claims the passage does not make, wrong ``[n]``, no ``[n]``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.grounding import Checked, anchor, check, numbers_in, supports

FIXTURES = json.loads((Path(__file__).parent / "fixtures" / "model_outputs.json").read_text())
PASSAGES = [(p["text"], f"{p['title']} ({p['published']})") for p in FIXTURES["passages"]]
OUTPUTS = [(o["text"], o["faithful"]) for o in FIXTURES["outputs"]]


def checked() -> list[tuple[Checked, bool]]:
    return [(check(text, PASSAGES), faithful) for text, faithful in OUTPUTS]


def test_the_check_keeps_faithful_sentences_and_stops_unfaithful_ones() -> None:
    results = checked()
    faithful = [c for c, ok in results if ok]
    unfaithful = [c for c, ok in results if not ok]
    assert len(faithful) >= 20 and len(unfaithful) >= 20
    passed = [c.sentence for c in unfaithful if c.supported]
    kept = sum(c.supported for c in faithful) / len(faithful)
    assert len(passed) / len(unfaithful) <= 0.05, passed
    assert kept >= 0.8, [c.sentence for c in faithful if not c.supported]


@pytest.mark.parametrize(
    ("sentence", "reason"),
    [
        ("Ted Lasso won the award for best drama series. [2]", "the name 'Lasso' is in no cited passage"),
        ("About 5,000 visitors came to the harbour festival. [1]", "the number 5000 is in no cited passage"),
        ("Succession won the award for best drama series.", "it cites no passage"),
        ("Succession won best drama series. [9]", "it cites [9], which is not among the passages"),
        ("Succession won the award for best drama series. [4]", "the name 'Succession' is in no cited"),
        ("Mayor Ana Ribeiro opened the festival on Sunday. [1]", "the name 'Sunday' is in no cited passage"),
        ("The festival was cancelled because of heavy rain. [1]", "the cited passages hold 25% of its words"),
    ],
)
def test_an_unsupported_sentence_says_why(sentence: str, reason: str) -> None:
    assert (check(sentence, PASSAGES).reason or "").startswith(reason)


def test_a_supported_sentence_is_anchored_to_the_sentences_that_hold_it() -> None:
    text = PASSAGES[1][0]
    result = check("Matthew Macfadyen won best supporting actor [2].", PASSAGES)
    assert result.statement == "Matthew Macfadyen won best supporting actor."
    ((n, start, end),) = result.anchors
    assert (
        n == 2 and text[start:end] == "Matthew Macfadyen won best supporting actor for his role in the show."
    )
    both = check("Succession took home best drama series [2], and Philae bounced twice [4].", PASSAGES)
    assert [n for n, _, _ in both.anchors] == [2, 4] and both.supported
    assert anchor("Nothing here matches.", text) is None


def test_numbers_are_compared_as_written_values() -> None:
    assert numbers_in("£12,500 and 3.2 billion, the 62nd, 08 and 2014.") == {
        "12500",
        "3.2",
        "62",
        "8",
        "2014",
    }
    assert supports(["Profits rose to 76 million dollars."], "Profits rose to 76 million dollars.")
    assert not supports(["Profits rose to 76 million dollars."], "Profits rose to 77 million dollars.")
