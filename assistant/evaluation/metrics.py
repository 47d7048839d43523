"""Pure metric functions: rankings, passages, facts, answer language, markers, citations, refusals.

Every metric is deterministic (no judge model); each function reads plain values and returns plain
values, so each has a plain unit test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from math import log2

from assistant.answer.citations import extract_markers, strip_markers
from assistant.models import Answer, Source
from assistant.text.language import detect_language
from assistant.text.sentences import fold, split_sentences, words

RETRIEVAL_DEPTH = 10
"""Passages retrieved per question for the retrieval metrics (``-k`` overrides it)."""

DocumentText = Callable[[str], str | None]
"""``document_text(doc_id)``: the extracted text of an indexed document, or None if it cannot be read."""

# Quotes keep the source's language (the extractive mode quotes sources as they stand); sources
# quote people in turn, so quotes nest: “... “abbiamo lanciato ‘Sora’ troppo presto”, ...”.
_OPENING_QUOTES = "“«"
_CLOSING_QUOTES = "”»"


# --- rankings -----------------------------------------------------------------------------------


def rank_documents(doc_ids: Iterable[str]) -> list[str]:
    """Document ids in order of first appearance (the document ranking of a passage ranking)."""
    return list(dict.fromkeys(doc_ids))


def first_relevant_rank(ranking: Sequence[str], gold: Iterable[str]) -> int | None:
    """1-based rank of the first document of ``ranking`` in ``gold``; None when there is none."""
    wanted = set(gold)
    return next((rank for rank, doc_id in enumerate(ranking, start=1) if doc_id in wanted), None)


def hit_at(rank: int | None, cutoff: int) -> bool:
    """Whether a relevant item was found within the first ``cutoff``."""
    return rank is not None and rank <= cutoff


def reciprocal_rank(rank: int | None, cutoff: int = RETRIEVAL_DEPTH) -> float:
    """1/rank of the first gold document, 0 when it is missing or beyond ``cutoff``."""
    return 1.0 / rank if rank is not None and rank <= cutoff else 0.0


def ndcg_at(ranking: Sequence[str], gold: Iterable[str], cutoff: int = RETRIEVAL_DEPTH) -> float:
    """Normalised discounted cumulative gain of a document ranking with binary relevance."""
    wanted = set(gold)
    if not wanted:
        return 0.0
    gain = sum(1.0 / log2(rank + 1) for rank, doc_id in enumerate(ranking[:cutoff], start=1) if doc_id in wanted)
    ideal = sum(1.0 / log2(rank + 1) for rank in range(1, min(len(wanted), cutoff) + 1))
    return gain / ideal


def first_passage_rank(
    passages: Sequence[tuple[str, str]], gold: Iterable[str], facts: Sequence[Sequence[str]]
) -> int | None:
    """1-based rank of the first passage that is from a gold document and states a fact; None if none does.

    ``passages`` are ``(doc_id, text)`` best first. A passage states a fact when it contains one
    alternative of any facts group, matched as :func:`facts_stated` matches answers.
    """
    wanted = set(gold)
    for rank, (doc_id, text) in enumerate(passages, start=1):
        if doc_id in wanted and any(facts_stated(text, facts)):
            return rank
    return None


# --- facts and language -------------------------------------------------------------------------


def facts_stated(text: str, facts: Sequence[Sequence[str]]) -> list[bool]:
    """For each facts group, whether ``text`` contains one of its alternatives.

    Matching ignores case, accents, citation markers and runs of whitespace; an alternative may be
    a word stem ("sindacat" matches "sindacati").
    """
    folded = normalise(strip_markers(text))
    return [any(normalise(alternative) in folded for alternative in group) for group in facts]


def normalise(text: str) -> str:
    """``text`` case- and accent-folded, with runs of whitespace made one space."""
    return " ".join(fold(text).split())


def answer_language(text: str) -> str:
    """The language of an answer, leaving out «…» and “…” quotes (which keep the source's language)."""
    unquoted = strip_markers(remove_quotes(text))
    return detect_language(unquoted if words(unquoted) else text)


def remove_quotes(text: str) -> str:
    """``text`` without its “…” and «…» quotes, nested ones included; an unclosed quote ends at the line's end."""
    kept: list[str] = []
    depth = 0
    for char in text:
        if char == "\n":
            depth = 0
        if char in _OPENING_QUOTES:
            depth += 1
        elif char in _CLOSING_QUOTES and depth:
            depth -= 1
        elif not depth:
            kept.append(char)
    return "".join(kept)


# --- markers and citations ----------------------------------------------------------------------


def count_markers(raw_text: str, passages: int) -> tuple[int, int]:
    """``(markers, valid)`` in an answer as generated: ``[n]`` is valid when 1 <= n <= ``passages``.

    Markers are counted per sentence, each number once, as :func:`assistant.answer.citations.verify_citations`
    checks them.
    """
    numbers = [number for sentence in split_sentences(raw_text) for number in extract_markers(sentence.text)]
    return len(numbers), sum(1 for number in numbers if 1 <= number <= passages)


def is_claim(sentence_text: str) -> bool:
    """Whether a sentence should carry a citation (not a lead-in such as "According to the documents:")."""
    return bool(words(sentence_text)) and not sentence_text.rstrip().endswith(":")


def quote_is_verbatim(source: Source, document_text: str | None) -> bool:
    """Whether the source's quote stands at its offsets in the document's text."""
    return document_text is not None and document_text[source.start : source.end] == source.quote


def citation_support(answer: Answer, document_text: DocumentText) -> tuple[int, int]:
    """``(citations, supported)``: a citation is supported when its sentence is marked supported and
    its source's quote is verbatim at its offsets in the cited document."""
    by_number = {source.number: source for source in answer.sources}
    total = supported = 0
    for sentence in answer.sentences:
        for number in sentence.citations:
            total += 1
            source = by_number.get(number)
            if source and sentence.supported and quote_is_verbatim(source, document_text(source.doc_id)):
                supported += 1
    return total, supported


def source_precision_recall(cited: Iterable[str], gold: Iterable[str]) -> tuple[float | None, float | None]:
    """Share of cited documents that are gold, and of gold documents that are cited (None when undefined)."""
    cited_set, gold_set = set(cited), set(gold)
    common = len(cited_set & gold_set)
    precision = common / len(cited_set) if cited_set else None
    recall = common / len(gold_set) if gold_set else None
    return precision, recall


# --- refusals -----------------------------------------------------------------------------------


def refusal_rates(
    outcomes: Iterable[tuple[bool, bool]],
) -> tuple[float | None, float | None, float | None]:
    """``(precision, recall, false-refusal rate)`` of refusals from ``(answerable, refused)`` pairs.

    Precision is refused unanswerables over all refusals, recall refused unanswerables over
    unanswerables, the false-refusal rate refused answerables over answerables; each is None when
    its denominator is zero.
    """
    refused_unanswerable = refused_answerable = unanswerable = answerable = 0
    for is_answerable, refused in outcomes:
        if is_answerable:
            answerable += 1
            refused_answerable += refused
        else:
            unanswerable += 1
            refused_unanswerable += refused
    refusals = refused_unanswerable + refused_answerable
    return (
        refused_unanswerable / refusals if refusals else None,
        refused_unanswerable / unanswerable if unanswerable else None,
        refused_answerable / answerable if answerable else None,
    )
