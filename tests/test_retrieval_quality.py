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
