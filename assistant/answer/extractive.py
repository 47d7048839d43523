"""Extractive answers: the source sentences that best answer the question, quoted as they stand.

Faithful by construction, which makes it the right mode for the tiny offline model. Sentences are
ranked by multilingual embedding similarity to the question, plus overlap of names and numbers,
and must fit the kind of answer the question asks for (a person, a date, a quantity).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from assistant.answer.prompts import phrase
from assistant.index.bm25 import query_terms, tokenize
from assistant.models import Hit
from assistant.text.lexicon import MONTHS
from assistant.text.sentences import fold, split_sentences, words

MIN_SENTENCE_SCORE = 0.86
"""Below this (cosine plus bonuses) no sentence is taken as an answer: the assistant refuses."""
KEEP_WITHIN = 0.03
"""Further sentences are quoted only when they score within this margin of the best one."""
NAME_BONUS = 0.02
TERM_BONUS = 0.01
TYPE_PENALTY = 0.06

_WHO = re.compile(r"^\s*(who|whom|whose|chi|qui)\b|\b(quale|quel|quelle|which|what)\s+(ceo|cto|coo|cpo|person)", re.I)
_WHEN = re.compile(r"^\s*(when|quando|quand)\b|\b(date|data|year|anno|année|month|mese|mois|day|giorno|jour)\b", re.I)
_HOW_MUCH = re.compile(r"\b(how (much|many)|quant[oiae]|combien)\b", re.I)


class QueryEmbedder(Protocol):
    """What ranking needs from the embedding model."""

    def embed_passages(self, texts: list[str]) -> np.ndarray: ...
    def embed_query(self, text: str) -> np.ndarray: ...


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage, with its score."""

    passage: int  # 1-based number of the hit
    text: str
    score: float


def answer_type(question: str) -> str | None:
    """``person``, ``date``, ``quantity`` or None, from the question's wording (en/it/fr)."""
    if _HOW_MUCH.search(question):
        return "quantity"
    if _WHEN.search(question):
        return "date"
    if _WHO.search(question):
        return "person"
    return None


def fits_type(sentence: str, kind: str | None) -> bool:
    """Whether the sentence can answer that kind of question."""
    if kind is None:
        return True
    if kind == "quantity":
        return bool(re.search(r"\d", sentence))
    if kind == "date":
        folded = words(sentence)
        return bool(re.search(r"\b(1[89]|20)\d\d\b", sentence)) or any(m in MONTHS for m in folded)
    return len(_names(sentence)) > 0


def _names(text: str) -> set[str]:
    """Capitalised words that are not the first of a sentence (rough proper names)."""
    found = set()
    for sentence in split_sentences(text):
        for word in re.findall(r"\w+", sentence.text)[1:]:
            if word[:1].isupper() and len(word) > 1:
                found.add(fold(word))
    return found


def rank_sentences(question: str, hits: list[Hit], embedder: QueryEmbedder) -> list[Candidate]:
    """All usable sentences of the passages, best first."""
    pool = [
        (n, s.text) for n, hit in enumerate(hits, start=1) if not hit.boilerplate for s in split_sentences(hit.text)
    ]
    pool = [(n, text) for n, text in pool if len(text) >= 30 and len(text.split()) >= 6]
    if not pool:
        return []
    similarities = embedder.embed_passages([text for _, text in pool]) @ embedder.embed_query(question)
    kind = answer_type(question)
    asked_names = _names(question) | {w for w in words(question) if w.isdigit()}
    asked_terms = set(query_terms(question))
    ranked = []
    for (number, text), similarity in zip(pool, similarities, strict=True):
        score = float(similarity)
        present = set(words(text))
        score += NAME_BONUS * sum(1 for name in asked_names if name in present)
        language = hits[number - 1].language
        score += TERM_BONUS * min(3, len(asked_terms & set(tokenize(text, language))))
        if not fits_type(text, kind):
            score -= TYPE_PENALTY
        ranked.append(Candidate(number, text, score))
    return sorted(ranked, key=lambda c: -c.score)


def compose_extractive(
    question: str, language: str, hits: list[Hit], embedder: QueryEmbedder, max_sentences: int = 2
) -> str | None:
    """A lead-in in the question's language and the best sentences quoted with [n]; None to refuse."""
    ranked = rank_sentences(question, hits, embedder)
    if not ranked or ranked[0].score < MIN_SENTENCE_SCORE:
        return None
    best = ranked[0].score
    chosen: list[Candidate] = []
    for candidate in ranked:  # overlapping chunks repeat sentences: quote each once
        if candidate.score >= best - KEEP_WITHIN and all(c.text != candidate.text for c in chosen):
            chosen.append(candidate)
    chosen = chosen[:max_sentences]
    lines = [phrase("extractive_lead", language)]
    lines.extend(f"“{c.text}” [{c.passage}]" for c in chosen)
    return "\n".join(lines)
