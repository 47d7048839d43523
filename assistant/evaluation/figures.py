"""Aggregated figures of a group of graded questions: retrieval per mode, answers, refusals, latency."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pydantic import BaseModel, Field

from assistant.evaluation.grading import AnswerRecord, QuestionRecord
from assistant.evaluation.metrics import hit_at, reciprocal_rank, refusal_rates
from assistant.reports import mean, percentile, ratio

RETRIEVAL_MODES = ("dense", "bm25", "hybrid")
HIT_CUTOFFS = (1, 3, 5, 10)
PASSAGE_CUTOFFS = (1, 5)


class RetrievalFigures(BaseModel):
    """Retrieval quality of one mode over the answerable questions: document level, then passage level."""

    questions: int = Field(description="Answerable questions graded.")
    hit_at_1: float | None = None
    hit_at_3: float | None = None
    hit_at_5: float | None = None
    hit_at_10: float | None = None
    mrr_at_10: float | None = None
    ndcg_at_10: float | None = None
    passage_hit_at_1: float | None = Field(
        default=None, description="Share whose first passage is from a gold document and contains a fact span."
    )
    passage_hit_at_5: float | None = Field(default=None, description="The same within the first 5 passages.")
    latency_p50_ms: float | None = Field(default=None, description="Over all questions, unanswerable ones included.")
    latency_p95_ms: float | None = None


class AnswerFigures(BaseModel):
    """Answer, citation, refusal and latency figures."""

    questions: int
    answerable: int
    unanswerable: int
    errors: int = Field(description="Answers stopped by a model error (they count as wrong).")
    fact_recall: float | None = Field(default=None, description="Mean share of facts groups stated (answerable).")
    exact_correct: float | None = Field(default=None, description="Share of answerable questions stating every group.")
    language_match: float | None = Field(default=None, description="Share of answers in the question's language.")
    markers: int = Field(default=0, description="Citation markers in the answers as generated.")
    marker_validity: float | None = Field(default=None, description="Share of markers pointing to a given passage.")
    cited_sentence_share: float | None = Field(default=None, description="Share of claim sentences with a citation.")
    citations: int = 0
    citation_support: float | None = Field(default=None, description="Share of citations verbatim and supporting.")
    source_precision: float | None = Field(default=None, description="Mean share of cited documents that are gold.")
    source_recall: float | None = Field(default=None, description="Mean share of gold documents cited (answerable).")
    refusals: int = Field(default=0, description="Answers that refused.")
    refusal_precision: float | None = Field(default=None, description="Refused unanswerables / all refusals.")
    refusal_recall: float | None = Field(default=None, description="Refused unanswerables / unanswerables.")
    correct_refusals: float | None = Field(default=None, description="Share of unanswerable questions refused.")
    false_refusals: float | None = Field(default=None, description="Share of answerable questions refused.")
    retrieval_p50_ms: float | None = None
    retrieval_p95_ms: float | None = None
    first_token_p50_ms: float | None = None
    first_token_p95_ms: float | None = None
    total_p50_ms: float | None = None
    total_p95_ms: float | None = None


class Figures(BaseModel):
    """All figures of a group of questions."""

    questions: int
    answerable: int
    retrieval: dict[str, RetrievalFigures]
    answers: AnswerFigures | None = None


def retrieval_figures(records: Sequence[QuestionRecord], mode: str) -> RetrievalFigures:
    """Hit rates, MRR@10, nDCG@10 and passage hits of ``mode`` over the answerable records, and its latency."""
    graded = [r.retrieval[mode] for r in records if r.answerable and mode in r.retrieval]
    ranks = [g.first_rank for g in graded]
    latencies = [r.retrieval[mode].retrieval_ms for r in records if mode in r.retrieval]
    hits: dict[str, Any] = {f"hit_at_{cutoff}": mean(hit_at(rank, cutoff) for rank in ranks) for cutoff in HIT_CUTOFFS}
    passage_ranks = [g.first_passage_rank for g in graded]
    passages: dict[str, Any] = {
        f"passage_hit_at_{cutoff}": mean(hit_at(rank, cutoff) for rank in passage_ranks) for cutoff in PASSAGE_CUTOFFS
    }
    return RetrievalFigures(
        questions=len(graded),
        **hits,
        mrr_at_10=mean(reciprocal_rank(rank) for rank in ranks),
        ndcg_at_10=mean(g.ndcg for g in graded),
        **passages,
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
    )


def answer_figures(records: Sequence[QuestionRecord]) -> AnswerFigures | None:
    """Answer figures of the records that were answered (None in a retrieval-only run)."""
    graded = [(r, r.answer) for r in records if r.answer is not None]
    if not graded:
        return None
    answerable = [a for r, a in graded if r.answerable]
    unanswerable = [a for r, a in graded if not r.answerable]
    answers = [a for _, a in graded]
    done = [a for a in answers if a.error is None]
    precision, recall, false_rate = refusal_rates((r.answerable, a.refused) for r, a in graded)
    return AnswerFigures(
        questions=len(graded),
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        errors=len(answers) - len(done),
        fact_recall=mean(mean(a.facts_stated) or 0.0 for a in answerable),
        exact_correct=mean(bool(a.facts_stated) and all(a.facts_stated) for a in answerable),
        language_match=mean(a.language_match for a in answers),
        **_citation_figures(answers),
        refusals=sum(a.refused for a in answers),
        refusal_precision=precision,
        refusal_recall=recall,
        correct_refusals=recall,
        false_refusals=false_rate,
        **_latency_figures(done),
    )


def _citation_figures(answers: Sequence[AnswerRecord]) -> dict[str, Any]:
    markers = sum(a.markers for a in answers)
    citations = sum(a.citations for a in answers)
    return {
        "markers": markers,
        "marker_validity": ratio(sum(a.valid_markers for a in answers), markers),
        "cited_sentence_share": ratio(sum(a.cited_claims for a in answers), sum(a.claims for a in answers)),
        "citations": citations,
        "citation_support": ratio(sum(a.supported_citations for a in answers), citations),
        "source_precision": mean(a.source_precision for a in answers if a.source_precision is not None),
        "source_recall": mean(a.source_recall for a in answers if a.source_recall is not None),
    }


def _latency_figures(answers: Sequence[AnswerRecord]) -> dict[str, Any]:
    series = {
        "retrieval": [a.retrieval_ms for a in answers if a.retrieval_ms is not None],
        "first_token": [a.first_token_ms for a in answers if a.first_token_ms is not None],
        "total": [a.total_ms for a in answers if a.total_ms is not None],
    }
    return {f"{name}_p{q}_ms": percentile(values, q) for name, values in series.items() for q in (50, 95)}


def figures(records: Sequence[QuestionRecord]) -> Figures:
    """Every figure of a group of records."""
    return Figures(
        questions=len(records),
        answerable=sum(1 for r in records if r.answerable),
        retrieval={mode: retrieval_figures(records, mode) for mode in RETRIEVAL_MODES},
        answers=answer_figures(records),
    )


def grouped_figures(records: Sequence[QuestionRecord], key: Callable[[QuestionRecord], str]) -> dict[str, Figures]:
    """The figures of each group of records sharing ``key`` (largest group first, then by name)."""
    groups: dict[str, list[QuestionRecord]] = {}
    for record in records:
        groups.setdefault(key(record), []).append(record)
    return {name: figures(groups[name]) for name in by_count(key(r) for r in records)}


def by_language(records: Sequence[QuestionRecord]) -> dict[str, Figures]:
    """Figures per question language."""
    return grouped_figures(records, lambda r: r.lang)


def by_pair(records: Sequence[QuestionRecord]) -> dict[str, Figures]:
    """Figures per ``question language/document language`` pair (``it/none``: unanswerable in Italian),
    grouped by question language (most frequent first), then largest pair first."""
    groups = grouped_figures(records, lambda r: r.pair)
    languages = list(by_count(r.lang for r in records))
    return dict(sorted(groups.items(), key=lambda item: languages.index(item[0].split("/")[0])))


def by_count(names: Iterable[str]) -> dict[str, int]:
    """How often each name occurs, most frequent first (ties by name)."""
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
