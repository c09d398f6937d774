"""Sentences and terms: the text handling that search and answers share.

Sentence spans come from NLTK's Punkt model (shipped inside llama-index-core, so nothing is
downloaded), applied line by line because news text often has headlines and captions with no
final full stop. Terms are lower-cased, stop-word-free Snowball stems.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection, Iterator, Sequence
from functools import lru_cache
from typing import Any

from rag.offline import nltk_data_dir

_WORD = re.compile(r"\w+(?:['’]\w+)*", re.UNICODE)  # the one word pattern: see ``words``
_APOSTROPHE = re.compile(r"['’]")
_LINE = re.compile(r"[^\n]+")
SURROGATES = re.compile("[\ud800-\udfff]")
"""Lone surrogates: what JSON's "\\ud800" escapes, and a command line's or a file name's bytes that
are not UTF-8, become in Python; no tokenizer, store or terminal takes them."""
# Words that carry no topic in a question.
_QUESTION_WORDS = {
    "what", "who", "whom", "whose", "which", "when", "where", "why", "how", "did", "does", "do",
    "say", "says", "said", "tell", "told", "according", "article", "articles", "news", "recently",
    "week", "new", "one", "many", "much",
    # how a request is put ("Could you explain in detail what ...?"): nothing of its topic
    "please", "kindly", "could", "would", "you", "me", "explain", "describe", "detail", "details",
    "detailed", "briefly", "exactly", "know", "wondering",
}  # fmt: skip


# Abbreviations of news copy that Punkt's English model lacks, as Punkt keeps them (lower case,
# without the last full stop): titles, and "Mt. Everest". Punkt still ends a sentence on one when
# the next word is one that starts sentences ("... the climbers' reps. The ..."). Place names
# ("Spearfish, S.D.") are left out: they end sentences too often.
_NEWS_ABBREVIATIONS = frozenset(
    """gov govs sen sens rep reps lt gen sgt capt cmdr adm col maj cpl pvt supt det insp msgr rev
    pres atty dist mt ft vol approx dept e.g i.e""".split()
)
# Titles, as written ("Gov.", not "healthdata.gov." or "MS."): a name always follows, so a
# sentence never ends on one before a capital.
_TITLES = frozenset(
    """mr mrs ms dr gov govs sen sens rep reps lt gen sgt capt cmdr adm col maj cpl pvt supt det insp
    msgr""".split()
)
# "11:39 a.m. local time", "(11:39 p.m. ET)": a clock time's zone or what follows in lower case.
_CLOCK_END = re.compile(r"\b[ap]\.m\.$", re.I)
_CLOCK_GOES_ON = re.compile(
    r"(?:[a-z(]|(?:ET|EDT|EST|CT|CDT|CST|MT|MDT|MST|PT|PDT|PST|GMT|UTC|BST|CET|CEST|IST|JST|AEST|AEDT)\b)"
)
_LAST_WORD = re.compile(r"(\w+)\.$")


@lru_cache(maxsize=1)
def _punkt() -> Any:
    nltk_data = nltk_data_dir()  # (before nltk is imported: it reads NLTK_DATA then)
    import nltk
    from nltk.tokenize.punkt import PunktTokenizer

    if nltk_data and nltk_data not in nltk.data.path:
        nltk.data.path.insert(0, nltk_data)
    tokenizer = PunktTokenizer("english")
    tokenizer._params.abbrev_types.update(_NEWS_ABBREVIATIONS)  # Punkt's own abbreviation list
    return tokenizer


def _goes_on(sentence: str, following: str) -> bool:
    """Whether Punkt cut ``sentence`` short of ``following`` at an abbreviation that ends no
    sentence there: a title before a name ("Gov. Newsom"), "No." before a number, a clock time
    before its zone or more of its sentence ("11:39 p.m. ET")."""
    if _CLOCK_END.search(sentence):
        return bool(_CLOCK_GOES_ON.match(following))
    last = _LAST_WORD.search(sentence)
    if last is None:
        return False
    word = last.group(1)
    if word.lower() in _TITLES and word[:1].isupper() and word[1:].islower():
        return following[:1].isupper()
    return last.group(1) in ("No", "Nos") and following[:1].isdigit()  # not "She said no."


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    _punkt()  # sets the NLTK data path
    from nltk.corpus import stopwords

    return frozenset(stopwords.words("english"))


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


# A photo gallery scraped with its page: "<caption>. Hide Caption 2 of 9 Photos: <gallery title>
# <caption>. Hide Caption 3 of 9 ...", the first caption after a bare "Photos: <gallery title>",
# the last one's marker alone at the end of its line.
_GALLERY = re.compile(r"\bHide Caption \d+ of \d+(?:\s+Photos: )?|\bPhotos: ")
_TITLE_WORDS = 12


def gallery_chrome(text: str) -> list[tuple[int, int]]:
    """(start, end) of each photo-gallery marker in ``text``, with the gallery's title after it.

    The title is the run of words that follows every marker (those the text cuts short aside);
    it is looked for only where the text holds at least three markers, since two captions may
    open with the same word by chance.
    """
    marks = list(_GALLERY.finditer(text))
    title = ""
    if len(marks) >= 3:
        follows = [text[m.end() :].split("\n", 1)[0].split()[:_TITLE_WORDS] for m in marks]
        follows = [ws for ws in follows if len(ws) == _TITLE_WORDS] or follows
        shared = itertools.takewhile(lambda ws: len(set(ws)) == 1, zip(*follows, strict=False))
        title = " ".join(ws[0] for ws in shared)
    spans = []
    for mark in marks:
        end = mark.end()
        if title and text.startswith(title, end):
            end += len(title)
        spans.append((mark.start(), end))
    return spans


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """(offset, text) of each line of ``text``, lines cut where gallery chrome sits."""
    at = 0
    for start, end in [*gallery_chrome(text), (len(text), len(text))]:
        for line in _LINE.finditer(text, at, start):
            yield line.start(), line.group()
        at = end


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in ``text``, whitespace trimmed, in order.

    Photo-gallery markers and titles (``gallery_chrome``) break sentences and belong to none.
    """
    spans: list[tuple[int, int]] = []
    tokenizer = _punkt()
    for offset, line in _lines(text):
        first = len(spans)  # sentences do not run across lines
        for start, end in tokenizer.span_tokenize(line):
            piece = text[offset + start : offset + end]
            stripped = piece.strip()
            if not stripped:
                continue
            lead = len(piece) - len(piece.lstrip())
            span = (offset + start + lead, offset + start + lead + len(stripped))
            if len(spans) > first and _goes_on(text[slice(*spans[-1])], stripped):
                spans[-1] = (spans[-1][0], span[1])
            else:
                spans.append(span)
    return spans


def words(text: str) -> list[str]:
    """The words of ``text`` as written (letters, digits, inner apostrophes)."""
    return _WORD.findall(text)


def word_parts(text: str) -> list[str]:
    """``words`` with contractions split at their apostrophes ("he's" gives "he" and "s"), so
    that a pronoun or a word a contraction holds is found."""
    return [part for word in _WORD.findall(text) for part in _APOSTROPHE.split(word)]


def terms(text: str) -> list[str]:
    """Content terms of ``text``: lower-cased, stop words dropped, Snowball-stemmed."""
    stop = _stopwords()
    kept = [_normal(w) for w in words(text)]
    kept = [w for w in kept if w not in stop]
    return list(_stemmer().stemWords(kept))


def _salient(position: int, word: str) -> bool:
    """Whether a word is a name or a number: capitalised anywhere but its text's start, or
    holding a digit."""
    if position > 0 and word[0].isupper():
        return True
    return not word.isalpha() and any(ch.isdigit() for ch in word)


def _normal(word: str) -> str:
    return word.lower().replace("’", "'")


def question_terms(question: str) -> dict[str, float]:
    """The question's content terms with weights: names and numbers count double.

    A word is a name when it is capitalised anywhere but the start of the question.
    """
    weights: dict[str, float] = {}
    stop = _stopwords()
    stemmer = _stemmer()
    for i, word in enumerate(words(question)):
        lower = _normal(word)
        if lower in stop or lower in _QUESTION_WORDS:
            continue
        stem = stemmer.stemWord(lower)
        weights[stem] = max(weights.get(stem, 0.0), 2.0 if _salient(i, word) else 1.0)
    return weights


def joined_names(question: str) -> dict[str, tuple[str, ...]]:
    """Two-word names in the question written as one word ("Time Warner" as "TimeWarner").

    Maps the joined form's term to the terms of its parts, so a sentence that writes the name
    either way holds them.
    """
    stemmer = _stemmer()
    found = words(question)
    joined: dict[str, tuple[str, ...]] = {}
    for a, b in itertools.pairwise(found):
        if a[:1].isupper() and b[:1].isupper():
            key = stemmer.stemWord((a + b).lower())
            joined[key] = (stemmer.stemWord(a.lower()), stemmer.stemWord(b.lower()))
    return joined


def numbers(text: str) -> set[str]:
    """Numbers written in ``text`` (years, counts), as digit strings without separators."""
    return {w.replace(",", "") for w in re.findall(r"\d[\d,]*", text) if len(w.replace(",", "")) >= 2}


_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|monday|tuesday|wednesday|thursday|friday|"
    "saturday|sunday|yesterday|today|week|month|year"
)
_EXPECTS = (
    (
        "quantity",
        re.compile(
            r"^\s*(how (much|many|long|far|old|big|large|often)|what (percentage|share|number|amount))\b",
            re.I,
        ),
    ),
    ("time", re.compile(r"^\s*(when|what (year|date|day|month|time))\b", re.I)),
    ("person", re.compile(r"^\s*(who|whom|whose)\b", re.I)),
)
_HAS = {
    "quantity": re.compile(
        r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million|billion|dozen|half)\b",
        re.I,
    ),
    "time": re.compile(rf"\b(1[89]\d\d|20\d\d|{_MONTHS})\b", re.I),
    "person": re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)+"),
}


_CALENDAR = re.compile(rf"^({_MONTHS})$", re.I)
_BACK_REFERENCES = frozenset("he she it they his her its their them this these those that such".split())


def new_names(sentence: str, asked: Collection[str]) -> set[str]:
    """Stems of the names and numbers in ``sentence`` that are not among ``asked`` (the
    question's ``question_terms``): what the sentence could be telling (see ``_salient``). Day
    and month names are left out (every news sentence has one).
    """
    said = [
        _normal(word)
        for i, word in enumerate(words(sentence))
        if _salient(i, word) and not _CALENDAR.match(word)
    ]
    return {stem for stem in _stemmer().stemWords(said) if stem not in asked}


def points_back(sentence: str) -> bool:
    """Whether ``sentence`` opens with a word that refers to an earlier one ("He said ...")."""
    first = words(sentence)[:1]
    return bool(first) and first[0].lower() in _BACK_REFERENCES


def expected_answer(question: str) -> str | None:
    """What kind of answer the question asks for: ``quantity``, ``time``, ``person`` or None."""
    for kind, pattern in _EXPECTS:
        if pattern.search(question):
            return kind
    return None


# The words a request may open with before its question ("Could you tell me what ...").
_REQUEST = (
    r"(?:(?:please|kindly|could|can|would|will|you|tell|me|explain|describe|summari[sz]e|i|i'd|like"
    r"|to|want|know|do|let|wondering|in|more|full|detail|briefly)\W+)*"
)
_SAYING = re.compile(
    rf"^\s*{_REQUEST}what\b[^?]*\b(say|says|said|saying|tell|told|think|thinks|argue|argued|write|wrote|warn|warned)\b",
    re.I,
)


_ACCOUNT = re.compile(
    rf"^\s*{_REQUEST}(?:why\b|what\s+(?:has\s+|had\s+)?happen"
    r"|how\s+(?:did|does|do|has|have|had|was|were|is|are|will|would|can|could)\b"
    r"(?![^?]*\b(?:close|closed|finish|finished|rank|ranked|score|scored|place|placed|fare|fared)\b))",
    re.I,
)


def asks_for_a_statement(question: str) -> bool:
    """Whether ``question`` asks what someone said or thinks ("What did Xi say about ...?"), or
    for an account ("Why ...?", "What happened to ...?", "How did ...?"):
    where the answer is a statement rather than a name, a place or a number."""
    return bool(_SAYING.search(question) or _ACCOUNT.search(question))


def holds_answer_kind(kind: str | None, sentence: str) -> bool:
    """Whether ``sentence`` contains something of the kind ``expected_answer`` names."""
    return kind is not None and bool(_HAS[kind].search(sentence))


def first_of(names: Sequence[str], shown: int) -> str:
    """The first ``shown`` of ``names``, and how many more: "a.txt, b.md and 4 more"."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more
