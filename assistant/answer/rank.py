"""Which sentence of the retrieved passages answers the question: the candidates and their signals.

Every sentence of the passages (boilerplate, headings and questions left out) gets these signals,
each measured on its own on the tune half of qa-dev before it was kept (see ``WEIGHTS``):

- ``dense``: multilingual-e5 cosine of the question (``query:``) and the sentence (``passage:``);
- ``bm25``: Okapi BM25 of the question's stems over the sentences of the pool, with the index's own
  stemming (:func:`~assistant.index.bm25.tokenize` / :func:`~assistant.index.bm25.query_terms`),
  divided by the pool's best score;
- ``coverage``: the share of the question's content words whose stem (in any of en/it/fr) the
  sentence contains;
- ``relation``: the same share for the content words that are not names or numbers, what the
  question asks about them ("presentato" in "Quando è stato presentato Sora?");
- ``names``: the share of the question's names and numbers the sentence contains, the rarer among
  the candidates weighing more;
- ``fits``: whether the sentence can answer the kind of question (a person, a date, a duration, a
  quantity, a place: en/it/fr wording; the kinds and their tests are in :mod:`.kinds`);
- ``defines``: for a definition question ("Cos'è un cloroplasto?"), whether the sentence says what
  the term is ("I cloroplasti sono…": :func:`~assistant.answer.kinds.defines`).

The score is the cosine (raised by :data:`CROSS_LINGUAL_OFFSET` for a sentence in another language
than the question's) plus a weighted sum of the others, so it stays on the cosine's scale.
``bm25`` and ``coverage`` count only when the sentence is in the question's language: across
languages their stems match little but names, and on English questions over Italian text they
cost more than they gave; names and the asked relation count in every pair.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from assistant.answer.kinds import defined_term, defines, fits_kind, names_in, question_kind
from assistant.index.bm25 import query_terms, tokenize
from assistant.ingest.metadata import date_marker_length
from assistant.models import Hit
from assistant.text.lexicon import QUESTION_WORDS
from assistant.text.sentences import split_sentences, words

WEIGHTS = {"bm25": 0.02, "coverage": 0.0, "relation": 0.03, "names": 0.02, "misfit": 0.02, "defines": 0.02}
"""Added to the cosine: ``w * signal`` (``misfit`` is subtracted when the sentence cannot answer the kind).

A grid search (bm25 0-0.06, coverage 0-0.04, relation 0-0.03, names 0-0.03, misfit 0-0.04) of the
facts stated by the composed extractive answers on the tune half of qa-dev is flat: the best
settings differ by one question of 121 (composed facts stated it 0.84, en 0.70-0.72, fr 0.43,
against 0.81, 0.72, 0.43 for the cosine alone). Among them these weights keep the signals that mean
the same in every language pair: names and numbers, and the stems of the asked relation (the
question's stems are taken under every stemmer, as retrieval does). ``coverage`` adds nothing
beyond ``relation`` and ``bm25`` (weight 0; the refusal decision reads it). ``defines`` came later
(2026-12-03): the tune half has two definition questions whose term is not a name; at 0.02 the
defining sentence of "Qu'est-ce qu'un emploi franc ?" is ranked first (it was second), at 0.01 it
is not; nothing else on the tune half moves.
"""

CROSS_LINGUAL_OFFSET = 0.05
"""How much lower a cross-lingual cosine is than the same-language one, for the same content.

Measured on the tune half of qa-dev, where XQuAD's English questions are the originals of
SQuAD-it's Italian ones, asked on the same Italian text: the Italian question's best sentence and
best passage score 0.05-0.06 higher than the English one's (7 pairs matched by id: 0.048 and
0.054, sd 0.013; 7 pairs matched by answer span: 0.059 and 0.061). It is added to the cosine of a
sentence in another language than the question's, so that sentences in both languages compete
on one scale, and to both cosines of the refusal decision.
"""

MIN_WORDS = 4
"""Shorter sentences (captions, list stubs) are not quoted."""
HEADING_WORDS = 15
"""A line without final punctuation and at most this many words is a heading, not a statement."""
FINAL_PUNCTUATION = ".!…;:"
"""What ends a statement (a heading ends without it)."""

_BM25_K1, _BM25_B = 1.2, 0.75


class QueryEmbedder(Protocol):
    """What ranking needs from the embedding model."""

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...
    def embed_query(self, text: str) -> np.ndarray: ...


@dataclass(frozen=True)
class Sentence:
    """A sentence of a retrieved passage: ``hits[passage - 1].text[start:end] == text``."""

    passage: int  # 1-based number of the hit
    start: int
    end: int
    text: str
    language: str


@dataclass(frozen=True)
class Signals:
    """What each ranking signal says of one sentence (see the module's docstring)."""

    dense: float
    bm25: float
    coverage: float
    names: float
    fits: bool
    same_language: bool = True  # the sentence is in the question's language
    relation: float = 0.0
    defines: bool = False


@dataclass(frozen=True)
class Ranked:
    """A candidate sentence, its signals and its combined score."""

    sentence: Sentence
    signals: Signals
    score: float


def content_words(question: str) -> list[frozenset[str]]:
    """The question's content words, each as the set of its stems under every supported language."""
    return list(content_word_stems(question).values())


def content_word_stems(question: str) -> dict[str, frozenset[str]]:
    """The question's content words (folded; no stop or question words) and the set of stems of each,
    under every supported language."""
    asked = [word for word in dict.fromkeys(words(question)) if word not in QUESTION_WORDS]
    stems = {word: frozenset(query_terms(word)) for word in asked}
    return {word: s for word, s in stems.items() if s}


def relation_words(question: str) -> list[frozenset[str]]:
    """The stems of the question's content words that are not names or numbers (what it asks about them)."""
    names = names_in(question)
    return [stems for word, stems in content_word_stems(question).items() if word not in names]


def candidates(hits: Sequence[Hit]) -> list[Sentence]:
    """The quotable sentences of the passages, each document span once (from its best-ranked passage).

    Left out: boilerplate passages, questions, headings (a line of at most :data:`HEADING_WORDS`
    words without final punctuation) and sentences of fewer than :data:`MIN_WORDS` words; a
    leading "date YYYY-MM" metadata marker is not part of the sentence (its offsets start after it).
    """
    seen: set[tuple[str, int]] = set()
    found: list[Sentence] = []
    for number, hit in enumerate(hits, start=1):
        if hit.boilerplate:
            continue
        for span in split_sentences(hit.text):
            key = (hit.doc_id, hit.start + span.start)
            marker = date_marker_length(span.text)
            text = span.text[marker:]
            if key in seen or not _quotable(text):
                continue
            seen.add(key)
            found.append(Sentence(number, span.start + marker, span.end, text, hit.language))
    return found


def _quotable(text: str) -> bool:
    """Not a question, not a stub, and not a heading (a short line without final punctuation).

    A source in brackets after the final punctuation ("…, ha dichiarato: (TechCrunch)") leaves a
    statement a statement; a bracket that ends a heading ("Chambre des métiers (CMA)") does not."""
    stripped = text.rstrip("\"'”’»)] ")
    if len(words(text)) < MIN_WORDS or stripped.endswith("?"):
        return False
    opening = text.rfind("(")
    before = text[:opening].rstrip("\"'”’» ") if opening > 0 and text.rstrip().endswith(")") else ""
    ends = any(part and part[-1] in FINAL_PUNCTUATION for part in (stripped, before))
    return ends or len(words(text)) > HEADING_WORDS


def rank(
    question: str,
    language: str,
    hits: Sequence[Hit],
    embedder: QueryEmbedder,
    weights: dict[str, float] | None = None,
) -> list[Ranked]:
    """The candidate sentences of ``hits`` for ``question`` (in ``language``), best first."""
    pool = candidates(hits)
    if not pool:
        return []
    weights = WEIGHTS if weights is None else weights
    dense = embedder.embed_passages([s.text for s in pool]) @ embedder.embed_query(question)
    kind = question_kind(question)
    relation = relation_words(question)
    term = defined_term(question)
    signals = [
        Signals(
            float(d), b, c, n, fits_kind(s.text, kind), s.language == language, coverage(relation, s.text, s.language),
            term is not None and defines(term, s.text, s.language),
        )
        for s, d, b, c, n in zip(
            pool, dense, bm25_scores(question, pool), coverage_scores(question, pool), name_scores(question, pool),
            strict=True,
        )
    ]
    ranked = [Ranked(s, sig, combine(sig, weights)) for s, sig in zip(pool, signals, strict=True)]
    return sorted(ranked, key=lambda r: -r.score)


def combine(signals: Signals, weights: dict[str, float]) -> float:
    """The cosine plus the weighted signals (see :data:`WEIGHTS`); word matches count in one language only."""
    score = signals.dense + weights.get("names", 0.0) * signals.names + weights.get("relation", 0.0) * signals.relation
    score += weights.get("defines", 0.0) * signals.defines
    if signals.same_language:
        score += weights.get("bm25", 0.0) * signals.bm25 + weights.get("coverage", 0.0) * signals.coverage
    else:
        score += CROSS_LINGUAL_OFFSET
    return score - (0.0 if signals.fits else weights.get("misfit", 0.0))


def bm25_scores(question: str, pool: Sequence[Sentence]) -> list[float]:
    """BM25 of the question's stems over the pool's sentences, divided by the best one (0 when none matches)."""
    documents = [Counter(tokenize(s.text, s.language)) for s in pool]
    terms = set(query_terms(question))
    n = len(documents)
    lengths = [sum(d.values()) for d in documents]
    average = max(sum(lengths) / n, 1.0)
    frequency = Counter(t for d in documents for t in d if t in terms)
    idf = {t: math.log(1 + (n - df + 0.5) / (df + 0.5)) for t, df in frequency.items()}
    scores = []
    for document, length in zip(documents, lengths, strict=True):
        norm = _BM25_K1 * (1 - _BM25_B + _BM25_B * length / average)
        scores.append(sum(idf[t] * document[t] * (_BM25_K1 + 1) / (document[t] + norm) for t in idf if t in document))
    best = max(scores, default=0.0)
    return [s / best if best > 0 else 0.0 for s in scores]


def coverage_scores(question: str, pool: Sequence[Sentence]) -> list[float]:
    """For each sentence, the share of the question's content words it contains (by stem)."""
    asked = content_words(question)
    if not asked:
        return [0.0] * len(pool)
    return [coverage(asked, s.text, s.language) for s in pool]


def coverage(asked: Sequence[frozenset[str]], text: str, language: str) -> float:
    """The share of ``asked`` (stem sets of content words) found among the stems of ``text``."""
    if not asked:
        return 0.0
    present = set(tokenize(text, language))
    return sum(1 for stems in asked if stems & present) / len(asked)


def name_scores(question: str, pool: Sequence[Sentence]) -> list[float]:
    """For each sentence, the share of the question's names and numbers it contains, each weighted by
    how rare it is among the candidates (in "Who is OpenAI's COO?" over articles on OpenAI, "COO"
    says more than "OpenAI"); 0 when the question names nothing."""
    asked = names_in(question)
    if not asked:
        return [0.0] * len(pool)
    present = [set(words(s.text)) for s in pool]
    n = len(pool)
    weight = {name: math.log((n + 1) / (sum(name in p for p in present) + 0.5)) for name in asked}
    total = sum(weight.values())
    return [sum(weight[name] for name in asked & p) / total for p in present]
