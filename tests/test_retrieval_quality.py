"""Retrieval quality on the shipped question set: dense, BM25 and hybrid side by side."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import CORPUS

pytestmark = pytest.mark.slow


def first_relevant_rank(services: Any, question: str, sources: list[str], mode: str) -> int | None:
    docs: list[str] = []
    for hit in services.search(question, k=10, mode=mode).hits:
        if hit.doc_id not in docs:
            docs.append(hit.doc_id)
    return next((rank for rank, doc in enumerate(docs, start=1) if doc in sources), None)


def test_hybrid_meets_targets_and_beats_each_retriever(corpus_services: Any) -> None:
    lines = (CORPUS / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [q for q in map(json.loads, lines) if q["answerable"]]
    assert len(questions) >= 30
    figures = {}
    for mode in ("dense", "bm25", "hybrid"):
        ranks = [first_relevant_rank(corpus_services, q["question"], q["sources"], mode) for q in questions]
        hit5 = sum(1 for r in ranks if r is not None and r <= 5) / len(ranks)
        mrr = sum(1 / r for r in ranks if r is not None) / len(ranks)
        figures[mode] = (hit5, mrr)
    print("\nmode    hit@5  MRR@10")
    for mode, (hit5, mrr) in figures.items():
        print(f"{mode:<7} {hit5:.3f}  {mrr:.3f}")
    hit5, mrr = figures["hybrid"]
    assert hit5 >= 0.9
    assert mrr >= 0.8
    assert hit5 >= max(figures["dense"][0], figures["bm25"][0])
    assert mrr >= max(figures["dense"][1], figures["bm25"][1]) - 1e-9


def test_bm25_counts_fully_when_some_candidate_is_in_the_questions_language() -> None:
    from assistant.answer.retrieve import bm25_weight

    assert bm25_weight("en", ["it", "it", "fr"], 0.0) == 0.0
    assert bm25_weight("en", ["it", "fr"], 0.3) == 0.3
    assert bm25_weight("fr", ["it", "fr"], 0.0) == 1.0
    assert bm25_weight("it", [], 0.0) == 0.0


def test_a_question_in_no_passages_language_is_ranked_by_the_dense_side(corpus_services: Any) -> None:
    """The shipped corpus is Italian and French: an English question's hybrid ranking is its dense one,
    while an Italian question's fusion still adds BM25's reciprocal ranks."""
    from assistant.answer.retrieve import BOILERPLATE_WEIGHT, TERM_SHARE_POWER
    from assistant.index.bm25 import query_term_groups

    rrf = corpus_services.settings.retrieval.rrf_k

    def weight(hit: Any) -> float:
        return BOILERPLATE_WEIGHT if hit.boilerplate else 1.0

    english = "Who is OpenAI's COO?"
    hybrid = corpus_services.search(english, k=5, mode="hybrid").hits
    dense = corpus_services.search(english, k=5, mode="dense").hits
    assert [h.chunk_id for h in hybrid] == [h.chunk_id for h in dense]
    assert all(h.score == pytest.approx(weight(h) / (rrf + h.dense_rank)) for h in hybrid if h.dense_rank)
    asked = "Chi è il COO di OpenAI?"
    italian = corpus_services.search(asked, k=5, mode="hybrid").hits
    both = [h for h in italian if h.dense_rank and h.bm25_rank]
    shares = corpus_services.retriever.index.bm25().term_shares(query_term_groups(asked), [h.chunk_id for h in both])

    def fused(h: Any) -> float:
        return weight(h) * (1 / (rrf + h.dense_rank) + shares[h.chunk_id] ** TERM_SHARE_POWER / (rrf + h.bm25_rank))

    assert both and all(h.score == pytest.approx(fused(h)) for h in both)
    assert any(0 < shares[h.chunk_id] < 1 for h in both), "a passage holding part of the question's weight counts less"
