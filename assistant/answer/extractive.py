"""Extractive answers: the source sentence that answers, quoted as it stands, and others only if they add.

Faithful by construction, which makes it the right mode for the tiny offline model. Sentences are
ranked by :mod:`assistant.answer.rank`. The best one is quoted; another (up to the setting
``answer.extractive_sentences``, 3 by default; a third only while a who/when/how-many/where question
is not answered by the first two) is quoted only when it
scores close to it, is not a near-duplicate of a quoted one, and states something the quoted ones
do not (a name, a number or a date that neither they nor the question contain, or question words
they leave uncovered). A long sentence is trimmed to the clauses that answer; every quote keeps
its offsets in its passage, so that the citation points at exactly the quoted text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.answer.kinds import Kind, answer_tokens, names_in, question_kind, states_answer
from assistant.answer.prompts import phrase
from assistant.answer.rank import Ranked, content_words
from assistant.index.bm25 import tokenize
from assistant.text.lexicon import MONTHS, NUMBER_WORDS
from assistant.text.sentences import words

KEEP_WITHIN = 0.03
"""A second sentence is considered only when it scores within this margin of the best one."""
DUPLICATE_OVERLAP = 0.6
"""Two sentences sharing this share of their words (of the shorter one) say the same thing."""
TRIM_ABOVE = 220
"""Sentences longer than this (characters) are trimmed to the clauses that answer."""
MIN_TRIMMED = 60
"""A trimmed quote keeps at least this many characters (neighbouring clauses are added)."""

_CLAUSE_END = re.compile(r"[,;:–—](?=\s)|\s[–—](?=\s)|\)(?=\s)")
_YEAR = re.compile(r"\b(1[0-9]|20)\d\d\b")


@dataclass(frozen=True)
class Quote:
    """What the answer quotes: ``hits[passage - 1].text[start:end] == text``."""

    passage: int
    start: int
    end: int
    text: str
    cut_before: bool = False  # the sentence goes on before the quote
    cut_after: bool = False  # ... and after it


def choose(question: str, ranked: Sequence[Ranked], max_sentences: int = 2) -> list[Ranked]:
    """The best sentence, then those that add a fact the chosen ones do not state (at most ``max_sentences``)."""
    if not ranked:
        return []
    chosen = [ranked[0]]
    asked = set(words(question))
    kind = question_kind(question)
    for candidate in ranked[1:]:
        if len(chosen) >= max_sentences or candidate.score < ranked[0].score - KEEP_WITHIN:
            break
        if len(chosen) >= 2 and states_answer(question, kind, (c.sentence.text for c in chosen)):
            break  # a third quote only while the kind asked for (a date, a name...) is not stated yet
        if any(near_duplicate(candidate.sentence.text, c.sentence.text) for c in chosen):
            continue
        if _adds(question, candidate, chosen, asked):
            chosen.append(candidate)
    return chosen


def near_duplicate(a: str, b: str) -> bool:
    """Whether two sentences share :data:`DUPLICATE_OVERLAP` of the shorter one's words (say the same thing)."""
    first, second = set(words(a)), set(words(b))
    if not first or not second:
        return False
    return len(first & second) / min(len(first), len(second)) >= DUPLICATE_OVERLAP


def _adds(question: str, candidate: Ranked, chosen: Sequence[Ranked], asked: set[str]) -> bool:
    """A fact the chosen sentences do not state: new salient tokens, or question words they miss."""
    kind = question_kind(question)
    known = asked.union(*(salient(c.sentence.text, kind) for c in chosen))
    if salient(candidate.sentence.text, kind) - known:
        return True
    wanted = content_words(question)
    stems = set().union(*(tokenize(c.sentence.text, c.sentence.language) for c in chosen))
    missing = [s for s in wanted if not s & stems]
    found = set(tokenize(candidate.sentence.text, candidate.sentence.language))
    return bool(missing) and any(s & found for s in missing)


def salient(text: str, kind: Kind | None) -> set[str]:
    """What a sentence states that can answer: its names and numbers, for a date question its years
    and months, for a duration its amounts of time; folded."""
    found = names_in(text)
    if kind == "date":
        found |= {w for w in words(text) if _YEAR.fullmatch(w) or w in MONTHS}
    if kind == "quantity":
        found |= {w for w in words(text) if w in NUMBER_WORDS}
    if kind == "duration":
        found |= answer_tokens(text, kind)
    return found


def trim(question: str, ranked: Ranked) -> Quote:
    """The sentence, or for a long one the run of clauses that answers, with offsets in its passage."""
    sentence = ranked.sentence
    full = Quote(sentence.passage, sentence.start, sentence.end, sentence.text)
    if len(sentence.text) <= TRIM_ABOVE:
        return full
    clauses = _clauses(sentence.text)
    if len(clauses) < 2:
        return full
    kind = question_kind(question)
    if kind is None:
        return full  # without a kind of answer to look for, no clause can be said to answer alone
    wanted = content_words(question)
    asked = set(words(question))

    def covered(text: str) -> float:
        stems = set(tokenize(text, sentence.language))
        return sum(1 for s in wanted if s & stems) / len(wanted) if wanted else 0.0

    def value(span: tuple[int, int]) -> float:
        text = sentence.text[span[0] : span[1]]
        return covered(text) + (1.0 if answer_tokens(text, kind) - asked else 0.0)

    best = max(range(len(clauses)), key=lambda i: (value(clauses[i]), -i))
    first = last = best
    while clauses[last][1] - clauses[first][0] < MIN_TRIMMED and (first > 0 or last < len(clauses) - 1):
        grow_left = first > 0 and (last == len(clauses) - 1 or value(clauses[first - 1]) >= value(clauses[last + 1]))
        first, last = (first - 1, last) if grow_left else (first, last + 1)
    start, end = clauses[first][0], clauses[last][1]
    if end - start >= len(sentence.text) - 20:
        return full
    text = sentence.text[start:end]
    found = answer_tokens(text, kind) - asked
    if not found or found != answer_tokens(sentence.text, kind) - asked or not covered(text):
        return full  # only the clauses holding every candidate answer, about what is asked, stand alone
    offset = sentence.start
    return Quote(sentence.passage, offset + start, offset + end, text, start > 0, end < len(sentence.text))


def _clauses(text: str) -> list[tuple[int, int]]:
    """Offsets of the clauses of ``text`` (cut after , ; : dashes and closing brackets), stripped."""
    spans: list[tuple[int, int]] = []
    begin = 0
    for match in [*_CLAUSE_END.finditer(text), None]:
        stop = match.end() if match else len(text)
        piece = text[begin:stop]
        lead = len(piece) - len(piece.lstrip())
        body = piece.strip().rstrip(",;:–—").rstrip()
        if body:
            spans.append((begin + lead, begin + lead + len(body)))
        begin = stop
    return spans


def render(language: str, quotes: Sequence[Quote]) -> str:
    """A lead-in in the question's language, then each quote with its passage marker ``[n]``."""
    lines = [phrase("extractive_lead", language)]
    lines.extend(f"“{'…' if q.cut_before else ''}{q.text}{'…' if q.cut_after else ''}” [{q.passage}]" for q in quotes)
    return "\n".join(lines)


def compose_extractive(
    question: str, language: str, ranked: Sequence[Ranked], max_sentences: int = 2
) -> tuple[str, list[Quote]] | None:
    """The answer text and its quotes, or None when no sentence can be quoted."""
    chosen = choose(question, ranked, max_sentences)
    if not chosen:
        return None
    quotes = [trim(question, r) for r in chosen]
    return render(language, quotes), quotes
