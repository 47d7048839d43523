"""Citation checks: every kept citation points to a verbatim quote that supports its sentence.

A model answers with markers like ``[1]`` that refer to the numbered passages of its prompt
(passage ``n`` is ``passages[n - 1]``). :func:`verify_citations` first reads the reply the way
small models write it (:func:`assistant.answer.replies.clean_reply`: marker variants normalised,
the model's own source list removed), drops markers that point nowhere, finds in each cited
passage the sentence (or two consecutive sentences) that best supports the claim
(:mod:`assistant.answer.support`), flags (or, in strict mode, removes) sentences that nothing
supports, attaches a citation to unmarked sentences that exactly one passage clearly supports,
and renumbers the citations to the sources actually used, in order of first use.

:func:`is_refusal` decides whether a whole reply refuses, in words or with the marker.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from assistant.answer.markers import GLUED_END, LEADING_MARKERS, extract_markers, strip_markers
from assistant.answer.replies import clean_reply, is_about_the_documents, is_refusal_sentence, remove_refusal_marker
from assistant.answer.support import QuoteScorer, Similarity, SpanQuote, document_span, find_quote, is_salient
from assistant.models import AnswerSentence, Hit, Source
from assistant.text.sanitize import sanitize_model_text
from assistant.text.sentences import WORD, split_sentences, words

__all__ = [
    "ATTACH_MARGIN",
    "ATTACH_THRESHOLD",
    "SUPPORT_THRESHOLD",
    "Similarity",
    "SpanQuote",
    "VerifiedAnswer",
    "extract_markers",
    "find_quote",
    "is_refusal",
    "strip_markers",
    "verify_citations",
]

SUPPORT_THRESHOLD = 0.6
"""A cited passage supports a sentence when its best span scores at least this."""
ATTACH_THRESHOLD = 0.75
"""An unmarked sentence gets a citation only from a passage scoring at least this ..."""
ATTACH_MARGIN = 0.15
"""... and beating every other quote (a different span of a document) by at least this."""

_MIN_ATTACH_WORDS = 4
_CLAIM_WORDS = 6  # an unmarked sentence longer than this is treated as a claim
_FINAL_PUNCTUATION = re.compile(r"(?<![.!?…])[.!?…]++$")
# "X [1], but the documents do not say Y": the clauses of a sentence that mixes a claim and a refusal.
_CLAUSE_BREAK = re.compile(
    r"[,;:—–][ \t]{0,3}(?=(?:but|however|although|though|while|yet|ma|però|pero|tuttavia|sebbene|mentre|invece|"
    r"mais|cependant|toutefois|bien que|alors que|en revanche)\b)|[ \t](?=(?:but|ma|mais)[ \t])",
    re.IGNORECASE,
)


class VerifiedAnswer(BaseModel):
    """An answer whose citations were checked against the passages."""

    text: str = Field(description="The kept sentences with markers renumbered to source numbers.")
    sentences: list[AnswerSentence] = Field(description="Kept sentences (without markers) and their sources.")
    sources: list[Source] = Field(description="Cited sources only, numbered 1..n in order of first use.")
    notes: list[str] = Field(description="What was removed, flagged or added, for a human reader.")
    invalid_markers: int = Field(description="Markers removed because they pointed to no passage.")
    unsupported: int = Field(description="Cited sentences no passage supports (flagged, or removed if strict).")


def verify_citations(
    answer_text: str,
    passages: Sequence[Hit],
    *,
    similarity: Similarity | None = None,
    strict: bool = False,
    support_threshold: float = SUPPORT_THRESHOLD,
    attach_threshold: float = ATTACH_THRESHOLD,
) -> VerifiedAnswer:
    """Check the markers of ``answer_text`` against ``passages`` (marker n = passages[n-1]).

    Marker variants (``[1, 2]``, ``【1】``, ``(fonte 2)``, ``^1`` ...) count as ``[n]`` markers and
    a trailing source list written by the model is dropped. Markers outside 1..len(passages) are
    removed. A cited sentence keeps the citations whose passage supports it (score >=
    ``support_threshold``); if none does, it is re-pointed to a passage that clearly supports it,
    or else flagged unsupported (otherwise it keeps its citation, quoting the closest span, so the
    reader can judge). An unmarked sentence that exactly one passage clearly supports (score >=
    ``attach_threshold``) gets that citation; one that says what the documents do not say is kept
    as a caveat. With ``strict``, every sentence left without a supporting quote that reads as a
    claim is removed (cited or not). Sources are numbered in order of first use and every quote is
    a verbatim span of its document (``Source.start``/``end`` are document offsets).
    """
    scorer = QuoteScorer(passages, similarity)
    drafts = _parse_answer(clean_reply(answer_text))
    for draft in drafts:
        _check(draft, scorer, support_threshold, attach_threshold)
    return _assemble(drafts, passages, strict)


def is_refusal(reply: str, passages: Sequence[Hit], *, similarity: Similarity | None = None) -> bool:
    """Whether a model's ``reply`` refuses to answer from ``passages``.

    It does when it says the documents do not hold the answer (the refusal marker, decorated or
    not, or the same in words, in English, Italian or French) and nothing else it says is a claim
    that a passage supports (what the documents are about, "I passaggi parlano di Sora", is no
    claim). A partial answer ("X [1]. The documents do not say Y.") is not a refusal.
    """
    text = clean_reply(sanitize_model_text(reply))
    claims: list[str] = []
    refused = False
    for sentence in split_sentences(text):
        for clause in _clauses(sentence.text):
            if is_refusal_sentence(clause):
                refused = True
                if extract_markers(clause):  # "Murati said she did not know [1]" may be a cited claim
                    claims.append(clause)
            elif not is_about_the_documents(clause):
                claims.append(clause)
    if not refused:
        return False
    rest = " ".join(claims)
    if not words(strip_markers(rest)):
        return True
    checked = verify_citations(rest, passages, similarity=similarity)
    return not any(sentence.citations and sentence.supported for sentence in checked.sentences)


def _clauses(sentence: str) -> list[str]:
    """A sentence cut before "but", "ma", "mais", "however" ... (its markers stay with their clause)."""
    pieces, start = [], 0
    for match in _CLAUSE_BREAK.finditer(sentence):
        pieces.append(sentence[start : match.start()])
        start = match.end()
    pieces.append(sentence[start:])
    return [piece.strip() for piece in pieces if piece.strip()]


# --- parsing the answer -------------------------------------------------------------------------


@dataclass
class _Draft:
    """One answer sentence on its way through the checks."""

    index: int  # 1-based, for notes
    text: str  # as written, markers included
    gap: str  # the original text between the previous sentence and this one
    markers: list[int] = field(default_factory=list)  # numbers as written, distinct
    claim: str = ""
    invalid: list[int] = field(default_factory=list)
    quotes: list[tuple[int, SpanQuote]] = field(default_factory=list)  # (passage index, quote)
    unsupported_passages: list[int] = field(default_factory=list)  # cited, not supporting
    supported: bool = True
    added: bool = False
    repointed: bool = False
    cited_unsupported: bool = False


def _parse_answer(answer_text: str) -> list[_Draft]:
    """Sentences of the answer with their markers; marker-only fragments join the previous one.

    A sentence that is only the refusal marker (left in a partial answer) is dropped.
    """
    drafts: list[_Draft] = []
    previous_end = 0
    for start, end in _answer_spans(answer_text):
        text, gap = answer_text[start:end], answer_text[previous_end:start]
        previous_end = end
        leading = LEADING_MARKERS.match(text)
        if leading and drafts and (leading.end() == len(text) or "\n" not in gap):
            # "... presto. [1]" or "... presto. [1] Next": the markers close the previous sentence.
            drafts[-1].text += gap + leading.group()
            text, gap = text[leading.end() :].strip(), ""
        if not words(remove_refusal_marker(strip_markers(text))):
            continue
        drafts.append(_Draft(index=len(drafts) + 1, text=text, gap=gap if drafts else ""))
    for draft in drafts:
        draft.markers = extract_markers(draft.text)
        draft.claim = strip_markers(draft.text)
    return drafts


def _answer_spans(text: str) -> list[tuple[int, int]]:
    """Sentence offsets, also cutting after markers glued to a period ("presto.[1] Next")."""
    spans: list[tuple[int, int]] = []
    for sentence in split_sentences(text):
        begin = sentence.start
        for glued in GLUED_END.finditer(sentence.text):
            cut = sentence.start + glued.end()
            spans.append((begin, cut))
            begin = _skip_space(text, cut)
        spans.append((begin, sentence.end))
    return spans


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


# --- checking -----------------------------------------------------------------------------------


def _check(draft: _Draft, scorer: QuoteScorer, support_threshold: float, attach_threshold: float) -> None:
    """Fill in the draft's quotes and flags."""
    count = len(scorer.passages)
    draft.invalid = [n for n in draft.markers if not 1 <= n <= count]
    cited = [n - 1 for n in draft.markers if 1 <= n <= count]
    if cited:
        _check_cited(draft, cited, scorer, support_threshold, attach_threshold)
    else:
        _check_unmarked(draft, scorer, attach_threshold)


def _check_cited(
    draft: _Draft, cited: list[int], scorer: QuoteScorer, support_threshold: float, attach_threshold: float
) -> None:
    """Keep supporting citations; otherwise re-point to a clear winner, or flag (keeping the best quote)."""
    found = [(index, scorer.quote(draft.claim, index)) for index in cited]
    supporting = [(i, q[0]) for i, q in found if q is not None and q[1] >= support_threshold]
    if supporting:
        draft.quotes = supporting
        draft.unsupported_passages = [i for i, _ in found if i not in {s for s, _ in supporting}]
        return
    winner = scorer.clear_winner(draft.claim, attach_threshold, ATTACH_MARGIN)
    if winner is not None:
        draft.quotes, draft.repointed = [winner], True
        draft.unsupported_passages = cited
        return
    draft.supported, draft.cited_unsupported = False, True
    weak = [(i, q) for i, q in found if q is not None]
    if weak:  # shown to the reader as the closest span, with the sentence flagged
        index, (quote, _) = max(weak, key=lambda item: item[1][1])
        draft.quotes = [(index, quote)]


def _check_unmarked(draft: _Draft, scorer: QuoteScorer, attach_threshold: float) -> None:
    """Attach a clearly supporting passage to an unmarked claim, or flag it if it looks like one.

    A lead-in ("Secondo i documenti:") and a caveat about what the documents do not say are not claims.
    """
    n_words = len(words(draft.claim))
    if draft.claim.rstrip().endswith(":") or is_refusal_sentence(draft.claim):
        return
    if n_words >= _MIN_ATTACH_WORDS:
        winner = scorer.clear_winner(draft.claim, attach_threshold, ATTACH_MARGIN)
        if winner is not None:
            draft.quotes, draft.added = [winner], True
            return
    draft.supported = not _looks_like_claim(draft.claim)


def _looks_like_claim(sentence: str) -> bool:
    """A digit, a capitalised name (not just the first word), or more than ``_CLAIM_WORDS`` words."""
    tokens = WORD.findall(sentence)
    return len(tokens) > _CLAIM_WORDS or any(is_salient(token, i) for i, token in enumerate(tokens))


# --- assembling ---------------------------------------------------------------------------------


def _assemble(drafts: list[_Draft], passages: Sequence[Hit], strict: bool) -> VerifiedAnswer:
    """Number the sources, rebuild the text and write the notes."""
    numbers: dict[tuple[str, int, int], int] = {}
    sources: list[Source] = []
    sentences: list[AnswerSentence] = []
    notes: list[str] = []
    pieces: list[str] = []
    pending_break = ""
    for draft in drafts:
        notes.extend(f"removed marker [{n}]: no such passage (sentence {draft.index})" for n in draft.invalid)
        if strict and not draft.supported:
            why = "no cited passage supports it" if draft.cited_unsupported else "no passage supports it"
            notes.append(f"removed sentence {draft.index}: {why}")
            pending_break = _stronger_break(pending_break, _break(draft.gap))
            continue
        cited: list[int] = []
        for index, quote in draft.quotes:
            hit = passages[index]
            key = document_span(hit, quote)
            if key not in numbers:
                numbers[key] = len(sources) + 1
                sources.append(_source(numbers[key], hit, quote))
            if numbers[key] not in cited:
                cited.append(numbers[key])
        cited.sort()
        notes.extend(_notes(draft, cited))
        separator = _stronger_break(pending_break, _break(draft.gap)) if pieces else ""
        pieces.append(separator + _with_markers(draft.claim, cited))
        pending_break = ""
        sentences.append(
            AnswerSentence(text=draft.claim, citations=cited, supported=draft.supported, added_citation=draft.added)
        )
    return VerifiedAnswer(
        text="".join(pieces),
        sentences=sentences,
        sources=sources,
        notes=notes,
        invalid_markers=sum(len(d.invalid) for d in drafts),
        unsupported=sum(d.cited_unsupported for d in drafts),
    )


def _source(number: int, hit: Hit, quote: SpanQuote) -> Source:
    return Source(
        number=number,
        doc_id=hit.doc_id,
        title=hit.title,
        language=hit.language,
        date=hit.date,
        quote=quote.text,
        start=hit.start + quote.start,
        end=hit.start + quote.end,
        passage=hit.text,
        passage_start=hit.start,
    )


def _notes(draft: _Draft, cited: list[int]) -> list[str]:
    """Human-readable notes on what happened to one kept sentence."""
    marks = "".join(f"[{n}]" for n in cited)
    notes = [
        f"removed citation of passage {i + 1} from sentence {draft.index}: it does not support it"
        for i in draft.unsupported_passages
        if not draft.repointed
    ]
    if draft.repointed:
        passages = ", ".join(str(i + 1) for i in draft.unsupported_passages)
        notes.append(f"re-pointed sentence {draft.index} to {marks}: cited passage {passages} does not support it")
    if draft.added:
        notes.append(f"added citation {marks} to sentence {draft.index}")
    if draft.cited_unsupported:
        notes.append(f"sentence {draft.index} has no supporting passage")
    elif not draft.supported:
        notes.append(f"sentence {draft.index} has no citation and no supporting passage")
    return notes


def _with_markers(sentence: str, numbers: list[int]) -> str:
    """``"Text [1][2]."``: markers before the final punctuation, or appended after the sentence."""
    if not numbers:
        return sentence
    marks = "".join(f"[{n}]" for n in numbers)
    final = _FINAL_PUNCTUATION.search(sentence)
    if final and final.start() > 0:
        return f"{sentence[: final.start()].rstrip()} {marks}{final.group()}"
    return f"{sentence} {marks}"


def _break(gap: str) -> str:
    """The separator that keeps the original layout: a paragraph break, a line break or a space."""
    newlines = gap.count("\n")
    return "\n\n" if newlines >= 2 else "\n" if newlines == 1 else " "


def _stronger_break(first: str, second: str) -> str:
    return max(first, second, key=len) if first else second
