"""Per-question records: how retrieval ranked the documents and passages, how the answer was graded,
and why a question counts as failed."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from assistant.evaluation.metrics import (
    DocumentText,
    answer_language,
    citation_support,
    count_markers,
    facts_stated,
    first_passage_rank,
    first_relevant_rank,
    hit_at,
    is_claim,
    ndcg_at,
    rank_documents,
    source_precision_recall,
)
from assistant.evaluation.questions import Question
from assistant.models import Answer

GATE_CUTOFF = 5
"""A question fails retrieval when no gold document is among the first this many."""
NO_DOCUMENT = "none"
"""The document language of a question without a gold source (an unanswerable one)."""


class RetrievalRecord(BaseModel):
    """How one retrieval mode ranked the documents and passages for one question."""

    documents: list[str] = Field(description="Retrieved documents, deduplicated, in rank order.")
    first_rank: int | None = Field(description="Rank of the first gold document (None: not retrieved).")
    ndcg: float = Field(description="nDCG@10 of the document ranking (0 for unanswerable questions).")
    first_passage_rank: int | None = Field(
        default=None,
        description="Rank of the first passage from a gold document containing a fact span (None: none).",
    )
    retrieval_ms: float


class AnswerRecord(BaseModel):
    """One answer and how it was graded."""

    text: str = ""
    raw_text: str = Field(default="", description="The answer as streamed, before citation checks.")
    refused: bool = False
    confidence: float | None = Field(default=None, description="The refusal decision's evidence score, if known.")
    error: str | None = Field(default=None, description="The model error that stopped this answer.")
    language: str | None = Field(default=None, description="Detected language of the answer, quotes left out.")
    language_match: bool = False
    facts_stated: list[bool] = Field(default_factory=list, description="One flag per facts group.")
    markers: int = 0
    valid_markers: int = 0
    claims: int = Field(default=0, description="Sentences that should carry a citation.")
    cited_claims: int = 0
    citations: int = 0
    supported_citations: int = 0
    cited_sources: list[str] = Field(default_factory=list, description="Cited document ids.")
    source_precision: float | None = None
    source_recall: float | None = None
    backend: str = ""
    model: str = ""
    mode: str = ""
    retrieval_ms: float | None = None
    first_token_ms: float | None = None
    total_ms: float | None = None
    notes: list[str] = Field(default_factory=list)


class QuestionRecord(BaseModel):
    """A question, what came out, and what went wrong."""

    id: str
    question: str
    lang: str
    doc_lang: str = Field(
        default=NO_DOCUMENT,
        description="Language of the gold source(s) from the catalog ('+'-joined when they differ; "
        "'none' without a source, '?' when the source is not indexed).",
    )
    answerable: bool
    expected: str = ""
    facts: list[list[str]]
    sources: list[str]
    retrieval: dict[str, RetrievalRecord] = Field(default_factory=dict)
    answer: AnswerRecord | None = None
    problems: list[str] = Field(default_factory=list, description="Why the question counts as failed.")

    @property
    def pair(self) -> str:
        """``question language/document language``, e.g. ``en/it``."""
        return f"{self.lang}/{self.doc_lang}"


def new_record(question: Question, doc_lang: str = NO_DOCUMENT) -> QuestionRecord:
    """The record of a question before anything was graded."""
    return QuestionRecord(
        id=question.id,
        question=question.question,
        lang=question.lang,
        doc_lang=doc_lang,
        answerable=question.answerable,
        expected=question.answer or "",
        facts=question.facts,
        sources=question.sources,
    )


def retrieval_record(
    question: Question, doc_ids: Sequence[str], retrieval_ms: float, texts: Sequence[str] | None = None
) -> RetrievalRecord:
    """Grade one ranking of passages (their document ids and, if given, texts, best first).

    Without ``texts`` the passage-level rank is not measured (None).
    """
    ranking = rank_documents(doc_ids)
    passage_rank = None
    if texts is not None and question.answerable:
        passage_rank = first_passage_rank(list(zip(doc_ids, texts, strict=True)), question.sources, question.facts)
    return RetrievalRecord(
        documents=ranking,
        first_rank=first_relevant_rank(ranking, question.sources),
        ndcg=ndcg_at(ranking, question.sources),
        first_passage_rank=passage_rank,
        retrieval_ms=retrieval_ms,
    )


def grade_answer(question: Question, answer: Answer, raw_text: str, document_text: DocumentText) -> AnswerRecord:
    """Grade an answer: facts, language, markers as generated, citations, cited sources."""
    if answer.status == "failed":
        return failed_answer(question, answer.error or "the answer failed", raw_text)
    refused = answer.refused
    claims = [sentence for sentence in answer.sentences if is_claim(sentence.text)]
    citations, supported = citation_support(answer, document_text)
    markers, valid = (0, 0) if refused else count_markers(raw_text, answer.passages_used)
    cited = rank_documents(source.doc_id for source in answer.sources)
    precision, recall = source_precision_recall(cited, question.sources)
    language = answer_language(answer.text)
    return AnswerRecord(
        text=answer.text,
        raw_text=raw_text,
        refused=refused,
        confidence=answer.confidence,
        language=language,
        language_match=language == question.lang,
        facts_stated=[False] * len(question.facts) if refused else facts_stated(answer.text, question.facts),
        markers=markers,
        valid_markers=valid,
        claims=len(claims),
        cited_claims=sum(1 for sentence in claims if sentence.citations),
        citations=citations,
        supported_citations=supported,
        cited_sources=cited,
        source_precision=precision,
        source_recall=recall if question.answerable else None,
        backend=answer.backend,
        model=answer.model,
        mode=answer.mode,
        retrieval_ms=answer.timings.retrieval_ms,
        first_token_ms=answer.timings.first_token_ms,
        total_ms=answer.timings.total_ms,
        notes=answer.notes,
    )


def failed_answer(question: Question, error: str, raw_text: str = "") -> AnswerRecord:
    """The record of an answer stopped by a model error: it states nothing and refuses nothing."""
    return AnswerRecord(raw_text=raw_text, error=error, facts_stated=[False] * len(question.facts))


def find_problems(record: QuestionRecord, retrieval_mode: str) -> list[str]:
    """Why a question counts as failed (empty when it passed)."""
    problems: list[str] = []
    ranked = record.retrieval.get(retrieval_mode)
    if record.answerable and ranked is not None and not hit_at(ranked.first_rank, GATE_CUTOFF):
        problems.append(f"no gold source in the top {GATE_CUTOFF} documents ({retrieval_mode})")
    if record.answer is not None:
        problems.extend(_answer_problems(record, record.answer))
    return problems


def _answer_problems(record: QuestionRecord, answer: AnswerRecord) -> list[str]:
    if answer.error:
        return [f"model error: {answer.error}"]
    problems: list[str] = []
    if record.answerable and answer.refused:
        problems.append("refused an answerable question")
    elif record.answerable and not all(answer.facts_stated):
        missing = [" / ".join(group) for group, ok in zip(record.facts, answer.facts_stated, strict=True) if not ok]
        problems.append("missing facts: " + "; ".join(missing))
    if not record.answerable and not answer.refused:
        problems.append("answered an unanswerable question")
    if not answer.language_match:
        problems.append(f"answer in {answer.language}, question in {record.lang}")
    if answer.valid_markers < answer.markers:
        problems.append(f"{answer.markers - answer.valid_markers} marker(s) pointing to no passage")
    if answer.supported_citations < answer.citations:
        problems.append(f"{answer.citations - answer.supported_citations} unsupported citation(s)")
    return problems
