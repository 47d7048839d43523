"""Grading the assistant on a question set: retrieval, answers, citations, refusals and latency.

Every metric is deterministic (no judge model). :func:`run_eval` asks each question once per
retrieval mode and, unless ``retrieval_only``, once through the answerer; it grades each question
into a :class:`QuestionRecord` and aggregates the records overall and per question language.
:func:`check_thresholds` and :func:`compare` turn the figures into gate failures, and
:func:`write_reports` writes the Markdown report, the JSON results and the chart. Nothing here prints.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from math import log2
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from assistant.answer.citations import extract_markers, strip_markers
from assistant.answer.generate import ModelError
from assistant.config import EvalSettings
from assistant.errors import BaselineError, QuestionSetError
from assistant.ingest.readers import FileRef, UnreadableFileError, read_document
from assistant.models import Answer, Source
from assistant.text.language import detect_language
from assistant.text.sentences import fold, split_sentences, words

if TYPE_CHECKING:
    from assistant.services import Services

RETRIEVAL_MODES = ("dense", "bm25", "hybrid")
RETRIEVAL_DEPTH = 10
"""Passages retrieved per question for the retrieval metrics (``-k`` overrides it)."""
HIT_CUTOFFS = (1, 3, 5, 10)
GATE_CUTOFF = 5
"""A question fails retrieval when no gold document is among the first this many."""

Progress = Callable[[int, int, str], None]
"""``progress(done, total, label)``, called after each step of a run."""
DocumentText = Callable[[str], str | None]
"""``document_text(doc_id)``: the extracted text of an indexed document, or None if it cannot be read."""

_EPSILON = 1e-9
# Quotes keep the source's language (the extractive mode quotes sources as they stand); sources
# quote people in turn, so quotes nest: “... “abbiamo lanciato ‘Sora’ troppo presto”, ...”.
_OPENING_QUOTES = "“«"
_CLOSING_QUOTES = "”»"




# --- the question set ---------------------------------------------------------------------------


class Question(BaseModel):
    """One line of a question set."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: str = Field(min_length=1, description="Unique id of the question.")
    question: str = Field(min_length=1, description="The question as a user asks it.")
    lang: str = Field(min_length=2, description="ISO 639-1 code of the question's language.")
    answerable: bool = Field(description="Whether the documents contain the answer.")
    answer: str = Field(description="A reference answer, for people reading the report.")
    facts: list[list[str]] = Field(description="Groups of alternatives; a correct answer states one of each group.")
    sources: list[str] = Field(description="Document ids (paths relative to the corpus root) holding the answer.")

    @model_validator(mode="after")
    def _consistent(self) -> Question:
        if any(not group for group in self.facts):
            raise ValueError("a facts group has no alternative")
        if any(not alternative.strip() for group in self.facts for alternative in group):
            raise ValueError("a facts alternative is empty")
        if self.answerable and not self.facts:
            raise ValueError("an answerable question needs at least one facts group")
        if self.answerable and not self.sources:
            raise ValueError("an answerable question needs at least one source")
        if not self.answerable and self.sources:
            raise ValueError("an unanswerable question cannot have sources")
        return self


def load_questions(path: Path | str) -> list[Question]:
    """Read a JSON Lines question set (blank lines are skipped).

    Raises :class:`QuestionSetError` with ``path:line: reason`` for the first bad line: invalid
    JSON or UTF-8, a missing, unknown or mistyped field, a duplicate id, an answerable question
    without facts or sources, an unanswerable one with sources; and for a missing or empty file.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise QuestionSetError(f"{path}: cannot read: {exc.strerror or exc}") from None
    questions: list[Question] = []
    first_seen: dict[str, int] = {}
    for number, line in enumerate(raw.removeprefix(b"\xef\xbb\xbf").split(b"\n"), start=1):
        if not line.strip():
            continue
        question = _parse_line(line, f"{path}:{number}")
        if question.id in first_seen:
            raise QuestionSetError(
                f"{path}:{number}: duplicate id {question.id!r} (first on line {first_seen[question.id]})"
            )
        first_seen[question.id] = number
        questions.append(question)
    if not questions:
        raise QuestionSetError(f"{path}: no questions")
    return questions


def _parse_line(line: bytes, where: str) -> Question:
    try:
        data = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        raise QuestionSetError(f"{where}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise QuestionSetError(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(data, dict):
        raise QuestionSetError(f"{where}: expected a JSON object, got {type(data).__name__}")
    try:
        return Question.model_validate(data)
    except ValidationError as exc:
        raise QuestionSetError(f"{where}: {_validation_reason(exc)}") from None


def _validation_reason(error: ValidationError) -> str:
    """The first problem of a validation error, in one short phrase."""
    problems = error.errors()
    first = problems[0]
    field = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"]).lstrip(".")
    if first["type"] == "missing":
        reason = f"missing field {field!r}"
    elif first["type"] == "extra_forbidden":
        reason = f"unknown field {field!r}"
    else:
        message = first["msg"].removeprefix("Value error, ")
        reason = f"field {field!r}: {message[:1].lower()}{message[1:]}" if field else message
    more = len(problems) - 1
    return reason + (f" (and {more} more problem{'s' * (more > 1)})" if more else "")


# --- metric functions ---------------------------------------------------------------------------


def rank_documents(doc_ids: Iterable[str]) -> list[str]:
    """Document ids in order of first appearance (the document ranking of a passage ranking)."""
    return list(dict.fromkeys(doc_ids))


def first_relevant_rank(ranking: Sequence[str], gold: Iterable[str]) -> int | None:
    """1-based rank of the first document of ``ranking`` in ``gold``; None when there is none."""
    wanted = set(gold)
    return next((rank for rank, doc_id in enumerate(ranking, start=1) if doc_id in wanted), None)


def hit_at(rank: int | None, cutoff: int) -> bool:
    """Whether a gold document was found within the first ``cutoff`` documents."""
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


def facts_stated(text: str, facts: Sequence[Sequence[str]]) -> list[bool]:
    """For each facts group, whether ``text`` contains one of its alternatives.

    Matching ignores case, accents, citation markers and runs of whitespace; an alternative may be
    a word stem ("sindacat" matches "sindacati").
    """
    folded = _normalise(strip_markers(text))
    return [any(_normalise(alternative) in folded for alternative in group) for group in facts]


def _normalise(text: str) -> str:
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


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (linear interpolation); None for no values."""
    return float(np.percentile(values, q)) if values else None


def mean(values: Iterable[float | bool]) -> float | None:
    """The arithmetic mean; None for no values."""
    items = [float(value) for value in values]
    return sum(items) / len(items) if items else None


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


# --- per-question records -----------------------------------------------------------------------


class RetrievalRecord(BaseModel):
    """How one retrieval mode ranked the documents for one question."""

    documents: list[str] = Field(description="Retrieved documents, deduplicated, in rank order.")
    first_rank: int | None = Field(description="Rank of the first gold document (None: not retrieved).")
    ndcg: float = Field(description="nDCG@10 of the document ranking (0 for unanswerable questions).")
    retrieval_ms: float


class AnswerRecord(BaseModel):
    """One answer and how it was graded."""

    text: str = ""
    raw_text: str = Field(default="", description="The answer as streamed, before citation checks.")
    refused: bool = False
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
    answerable: bool
    expected: str
    facts: list[list[str]]
    sources: list[str]
    retrieval: dict[str, RetrievalRecord] = Field(default_factory=dict)
    answer: AnswerRecord | None = None
    problems: list[str] = Field(default_factory=list, description="Why the question counts as failed.")


def retrieval_record(question: Question, doc_ids: Sequence[str], retrieval_ms: float) -> RetrievalRecord:
    """Grade one ranking of passages (their document ids, best first) against the question's sources."""
    ranking = rank_documents(doc_ids)
    return RetrievalRecord(
        documents=ranking,
        first_rank=first_relevant_rank(ranking, question.sources),
        ndcg=ndcg_at(ranking, question.sources),
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


# --- aggregated figures -------------------------------------------------------------------------


class RetrievalFigures(BaseModel):
    """Document-level retrieval quality of one mode over the answerable questions."""

    questions: int = Field(description="Answerable questions graded.")
    hit_at_1: float | None = None
    hit_at_3: float | None = None
    hit_at_5: float | None = None
    hit_at_10: float | None = None
    mrr_at_10: float | None = None
    ndcg_at_10: float | None = None
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
    """Hit rates, MRR@10 and nDCG@10 of ``mode`` over the answerable records, and its latency."""
    graded = [r.retrieval[mode] for r in records if r.answerable and mode in r.retrieval]
    ranks = [g.first_rank for g in graded]
    latencies = [r.retrieval[mode].retrieval_ms for r in records if mode in r.retrieval]
    hits: dict[str, Any] = {f"hit_at_{cutoff}": mean(hit_at(rank, cutoff) for rank in ranks) for cutoff in HIT_CUTOFFS}
    return RetrievalFigures(
        questions=len(graded),
        **hits,
        mrr_at_10=mean(reciprocal_rank(rank) for rank in ranks),
        ndcg_at_10=mean(g.ndcg for g in graded),
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
    return AnswerFigures(
        questions=len(graded),
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        errors=len(answers) - len(done),
        fact_recall=mean(mean(a.facts_stated) or 0.0 for a in answerable),
        exact_correct=mean(bool(a.facts_stated) and all(a.facts_stated) for a in answerable),
        language_match=mean(a.language_match for a in answers),
        **_citation_figures(answers),
        correct_refusals=mean(a.refused for a in unanswerable),
        false_refusals=mean(a.refused for a in answerable),
        **_latency_figures(done),
    )


def _citation_figures(answers: Sequence[AnswerRecord]) -> dict[str, Any]:
    markers = sum(a.markers for a in answers)
    citations = sum(a.citations for a in answers)
    return {
        "markers": markers,
        "marker_validity": _ratio(sum(a.valid_markers for a in answers), markers),
        "cited_sentence_share": _ratio(sum(a.cited_claims for a in answers), sum(a.claims for a in answers)),
        "citations": citations,
        "citation_support": _ratio(sum(a.supported_citations for a in answers), citations),
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


# --- running ------------------------------------------------------------------------------------


class EvalResult(BaseModel):
    """The outcome of one evaluation run: settings of the run, figures, and per-question records."""

    created_at: str
    questions_file: str = ""
    retrieval_only: bool
    k: int | None = Field(description="Passages per question as asked (None: the settings' default).")
    retrieval_depth: int = Field(description="Passages retrieved per question for the retrieval metrics.")
    retrieval_mode: str = Field(description="The retrieval mode answers use; its figures are gated.")
    mode: str | None = Field(description="Answer mode asked for (None: the settings' default).")
    backend: str | None = Field(description="Backend asked for (None: the settings' default).")
    answered_by: list[str] = Field(default_factory=list, description="backend/model/mode that answered.")
    missing_sources: list[str] = Field(default_factory=list, description="Gold documents not in the index.")
    seconds: float = 0.0
    overall: Figures
    by_language: dict[str, Figures]
    records: list[QuestionRecord]


class IndexedDocuments:
    """The extracted text of indexed documents, read again from their files (cached per document)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._texts: dict[str, str | None] = {}

    def __call__(self, doc_id: str) -> str | None:
        """The text chunk offsets point into, or None when the document is gone or unreadable."""
        if doc_id not in self._texts:
            self._texts[doc_id] = self._read(doc_id)
        return self._texts[doc_id]

    def _read(self, doc_id: str) -> str | None:
        info = self.services.index.catalog.document(doc_id)
        if info is None:
            return None
        path = Path(info.path)
        max_bytes = int(self.services.settings.ingest.max_file_mb * 1024 * 1024)
        try:
            return read_document(FileRef(path.parent, path, doc_id), max_bytes).text
        except UnreadableFileError:
            return None


def missing_sources(services: Services, questions: Sequence[Question]) -> list[str]:
    """Gold documents of the question set that the index does not hold."""
    indexed = {info.doc_id for info in services.index.catalog.documents()}
    return sorted({doc_id for q in questions for doc_id in q.sources} - indexed)


def retrieve(services: Services, question: Question, mode: str, depth: int) -> RetrievalRecord:
    """Search the question with one retrieval mode and grade the document ranking."""
    result = services.search(question.question, k=depth, mode=mode)  # type: ignore[arg-type]
    return retrieval_record(question, [hit.doc_id for hit in result.hits], result.retrieval_ms)


def ask_question(services: Services, question: Question, document_text: DocumentText, **options: Any) -> AnswerRecord:
    """Ask the question through the answerer's stream and grade the answer; model errors are recorded."""
    pieces: list[str] = []
    final: Answer | None = None
    try:
        for event in services.answerer.stream(question.question, **options):
            if event.kind == "reset":
                pieces.clear()
            elif event.kind == "token":
                pieces.append(event.text)
            elif event.kind == "answer":
                final = event.answer
    except ModelError as exc:
        return failed_answer(question, str(exc) or type(exc).__name__, "".join(pieces))
    if final is None:
        return failed_answer(question, "the answerer returned no answer", "".join(pieces))
    return grade_answer(question, final, "".join(pieces), document_text)


def run_eval(
    services: Services,
    questions: Sequence[Question],
    *,
    retrieval_only: bool = False,
    k: int | None = None,
    mode: str | None = None,
    backend: str | None = None,
    progress: Progress | None = None,
) -> EvalResult:
    """Grade ``questions``: retrieval in every mode, then (unless ``retrieval_only``) the answers.

    ``k`` is the number of passages retrieved (default: :data:`RETRIEVAL_DEPTH` for the retrieval
    metrics, the settings' ``top_k`` for answers); ``mode`` and ``backend`` are passed to the
    answerer as ``ask`` passes them. Model errors are recorded per question, never raised.
    """
    started = time.perf_counter()
    depth = k or RETRIEVAL_DEPTH
    total = len(questions) * (1 if retrieval_only else 2)
    step = _Steps(progress, total)
    _warm_up(services, questions[0].question if questions else "warm up")
    records = []
    for question in questions:
        ranked = {m: retrieve(services, question, m, depth) for m in RETRIEVAL_MODES}
        records.append(_record(question, ranked))
        step(f"retrieval {question.id}")
    if not retrieval_only:
        documents = IndexedDocuments(services)
        for question, record in zip(questions, records, strict=True):
            record.answer = ask_question(services, question, documents, k=k, mode=mode, backend=backend)
            step(f"answer {question.id}")
    retrieval_mode = services.settings.retrieval.mode
    for record in records:
        record.problems = find_problems(record, retrieval_mode)
    return EvalResult(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        retrieval_only=retrieval_only,
        k=k,
        retrieval_depth=depth,
        retrieval_mode=retrieval_mode,
        mode=mode,
        backend=backend,
        answered_by=sorted({f"{a.backend}/{a.model}/{a.mode}" for r in records if (a := r.answer) and a.backend}),
        missing_sources=missing_sources(services, questions),
        seconds=time.perf_counter() - started,
        overall=figures(records),
        by_language={lang: figures([r for r in records if r.lang == lang]) for lang in _languages(records)},
        records=records,
    )


def _warm_up(services: Services, text: str) -> None:
    """Load the embedding model and open the index, so the first question's latency is not the startup's."""
    for mode in RETRIEVAL_MODES:
        services.search(text, k=1, mode=mode)  # type: ignore[arg-type]


def _record(question: Question, retrieval: dict[str, RetrievalRecord]) -> QuestionRecord:
    return QuestionRecord(
        id=question.id,
        question=question.question,
        lang=question.lang,
        answerable=question.answerable,
        expected=question.answer,
        facts=question.facts,
        sources=question.sources,
        retrieval=retrieval,
    )


def _languages(records: Iterable[QuestionRecord]) -> list[str]:
    """Question languages, most frequent first."""
    counts: dict[str, int] = {}
    for record in records:
        counts[record.lang] = counts.get(record.lang, 0) + 1
    return sorted(counts, key=lambda lang: (-counts[lang], lang))


class _Steps:
    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0

    def __call__(self, label: str) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total, label)


# --- gates --------------------------------------------------------------------------------------


class Gate(NamedTuple):
    """A threshold of :class:`EvalSettings` and the figure it bounds."""

    setting: str
    label: str
    value: float | None
    upper: bool  # True: the figure must not exceed the threshold


def gates(result: EvalResult) -> list[Gate]:
    """The gated figures of a run (overall); answer gates are None in a retrieval-only run."""
    ranked = result.overall.retrieval[result.retrieval_mode]
    answers = result.overall.answers or AnswerFigures(questions=0, answerable=0, unanswerable=0, errors=0)
    mode = result.retrieval_mode
    return [
        Gate("min_hit5", f"hit@5 ({mode})", ranked.hit_at_5, False),
        Gate("min_mrr", f"MRR@10 ({mode})", ranked.mrr_at_10, False),
        Gate("min_marker_validity", "marker validity", answers.marker_validity, False),
        Gate("min_citation_support", "citation support", answers.citation_support, False),
        Gate("min_correct_refusals", "correct refusals", answers.correct_refusals, False),
        Gate("max_false_refusals", "false refusals", answers.false_refusals, True),
        Gate("min_fact_recall", "fact recall", answers.fact_recall, False),
    ]


def check_thresholds(result: EvalResult, thresholds: EvalSettings) -> list[str]:
    """The thresholds the run crosses, each naming the metric, its value and the threshold.

    Figures that were not measured (answers in a retrieval-only run, markers when no answer cites)
    are not gated.
    """
    failures = []
    for gate in gates(result):
        limit = float(getattr(thresholds, gate.setting))
        if gate.value is None:
            continue
        crossed = gate.value > limit + _EPSILON if gate.upper else gate.value < limit - _EPSILON
        if crossed:
            relation = "above the maximum" if gate.upper else "below the minimum"
            flag = "--" + gate.setting.replace("_", "-")
            failures.append(f"{gate.label} {gate.value:.3f} is {relation} {limit:.3f} ({flag})")
    return failures


# --- comparing with a baseline -----------------------------------------------------------------

_RETRIEVAL_KEYS = ("hit_at_1", "hit_at_3", "hit_at_5", "hit_at_10", "mrr_at_10", "ndcg_at_10")
_ANSWER_KEYS = (
    "fact_recall", "exact_correct", "language_match", "marker_validity", "cited_sentence_share",
    "citation_support", "source_precision", "source_recall", "correct_refusals", "false_refusals",
)  # fmt: skip
_LOWER_IS_BETTER = frozenset({"false_refusals"})


def load_baseline(path: Path | str) -> dict[str, Any]:
    """The JSON results of an earlier run (as :func:`write_reports` writes them)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaselineError(f"{path}: not a JSON results file ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("overall"), dict):
        raise BaselineError(f"{path}: not a results.json of `assistant eval` (no 'overall' figures)")
    return data


def headline(data: dict[str, Any]) -> dict[str, float]:
    """The overall quality figures of a results dict, flattened ("hybrid hit_at_5", "fact_recall")."""
    overall = data.get("overall") or {}
    flat: dict[str, float] = {}
    for mode, ranked in (overall.get("retrieval") or {}).items():
        for key in _RETRIEVAL_KEYS:
            if isinstance(ranked, dict) and isinstance(ranked.get(key), int | float):
                flat[f"{mode} {key}"] = float(ranked[key])
    answers = overall.get("answers") or {}
    for key in _ANSWER_KEYS:
        if isinstance(answers.get(key), int | float):
            flat[key] = float(answers[key])
    return flat


def compare(result: EvalResult, baseline_json_path: Path | str, tolerance: float) -> tuple[list[str], list[str]]:
    """``(differences, regressions)`` of this run's overall figures against an earlier results.json.

    A figure regresses when it is worse than the baseline by more than ``tolerance`` (lower, or
    higher for false refusals). Figures measured only on one side are listed, never regressions.
    """
    before = headline(load_baseline(baseline_json_path))
    after = headline(result.model_dump(mode="json"))
    differences: list[str] = []
    regressions: list[str] = []
    for key in [*after, *(k for k in before if k not in after)]:
        old, new = before.get(key), after.get(key)
        if old is None or new is None:
            differences.append(f"{key}: {_number(old)} -> {_number(new)} (measured in one run only)")
            continue
        if abs(new - old) < _EPSILON:
            continue
        differences.append(f"{key}: {old:.3f} -> {new:.3f} ({new - old:+.3f})")
        worse = new - old if key in _LOWER_IS_BETTER else old - new
        if worse > tolerance + _EPSILON:
            regressions.append(f"{key} {new:.3f} is worse than the baseline {old:.3f} by more than {tolerance:g}")
    return differences, regressions


# --- reports ------------------------------------------------------------------------------------


class ReportPaths(NamedTuple):
    """The files :func:`write_reports` wrote."""

    markdown: Path
    json: Path
    chart: Path


def write_reports(result: EvalResult, out_dir: Path | str) -> ReportPaths:
    """Write ``report.md``, ``results.json`` and ``chart.png`` into ``out_dir`` (created if needed)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(out / "report.md", out / "results.json", out / "chart.png")
    paths.markdown.write_text(render_report(result), encoding="utf-8")
    paths.json.write_text(result.model_dump_json(indent=2), encoding="utf-8")
    write_chart(result, paths.chart)
    return paths


def _number(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


def render_summary(result: EvalResult) -> str:
    """The Markdown summary: the run, retrieval per mode, answers, and the per-language table."""
    lines = ["# Evaluation report", "", _run_line(result), ""]
    lines += ["## Retrieval (document level, answerable questions)", "", *_retrieval_table(result), ""]
    if result.overall.answers is not None:
        lines += ["## Answers", "", *_answer_table(result.overall.answers), ""]
    lines += ["## Per language", "", *_language_table(result), ""]
    failed = sum(1 for r in result.records if r.problems)
    lines.append(f"{failed} of {len(result.records)} questions failed.")
    return "\n".join(lines) + "\n"


def render_report(result: EvalResult) -> str:
    """The whole Markdown report: the summary, then each failed question with expected and got."""
    lines = [render_summary(result)]
    failed = [r for r in result.records if r.problems]
    if failed:
        lines += ["## Failed questions", ""]
        for record in failed:
            lines += _failed_question(record, result.retrieval_mode)
    return "\n".join(lines)


def _run_line(result: EvalResult) -> str:
    overall = result.overall
    languages = ", ".join(f"{lang} {f.questions}" for lang, f in result.by_language.items())
    parts = [
        f"{result.questions_file or 'question set'}: {overall.questions} questions ({languages}), "
        f"{overall.answerable} answerable",
        f"{result.retrieval_depth} passages per search" + (f" (-k {result.k})" if result.k else ""),
        "retrieval only" if result.retrieval_only else "answers by " + (", ".join(result.answered_by) or "no model"),
        f"{result.seconds:.1f} s, {result.created_at}",
    ]
    return " · ".join(parts)


def _retrieval_table(result: EvalResult) -> list[str]:
    modes = list(result.overall.retrieval)
    ranked = result.overall.retrieval
    rows = [
        [label, *(_number(getattr(ranked[m], key)) for m in modes)]
        for label, key in [
            ("hit@1", "hit_at_1"), ("hit@3", "hit_at_3"), ("hit@5", "hit_at_5"), ("hit@10", "hit_at_10"),
            ("MRR@10", "mrr_at_10"), ("nDCG@10", "ndcg_at_10"),
        ]
    ]  # fmt: skip
    rows.append(["latency p50 (ms)", *(_ms(ranked[m].latency_p50_ms) for m in modes)])
    rows.append(["latency p95 (ms)", *(_ms(ranked[m].latency_p95_ms) for m in modes)])
    return _table(["metric", *modes], rows)


def _answer_table(answers: AnswerFigures) -> list[str]:
    rows = [
        ["fact recall", _number(answers.fact_recall)],
        ["exact correctness", _number(answers.exact_correct)],
        ["answer language match", _number(answers.language_match)],
        [f"marker validity ({answers.markers} markers)", _number(answers.marker_validity)],
        ["sentences with a citation", _number(answers.cited_sentence_share)],
        [f"citation support ({answers.citations} citations)", _number(answers.citation_support)],
        ["cited-source precision", _number(answers.source_precision)],
        ["cited-source recall", _number(answers.source_recall)],
        [f"correct refusals ({answers.unanswerable} unanswerable)", _number(answers.correct_refusals)],
        [f"false refusals ({answers.answerable} answerable)", _number(answers.false_refusals)],
        ["model errors", str(answers.errors)],
        ["retrieval p50 / p95 (ms)", f"{_ms(answers.retrieval_p50_ms)} / {_ms(answers.retrieval_p95_ms)}"],
        [
            "first token p50 / p95 (ms, answers with text)",
            f"{_ms(answers.first_token_p50_ms)} / {_ms(answers.first_token_p95_ms)}",
        ],
        ["total p50 / p95 (ms)", f"{_ms(answers.total_p50_ms)} / {_ms(answers.total_p95_ms)}"],
    ]
    return _table(["metric", "value"], rows)


def _language_table(result: EvalResult) -> list[str]:
    mode = result.retrieval_mode
    header = ["lang", "questions", f"hit@5 ({mode})", f"MRR@10 ({mode})"]
    if not result.retrieval_only:
        header += ["fact recall", "correct", "language", "citation support", "correct refusals", "false refusals"]
    rows = []
    for lang, group in [*result.by_language.items(), ("all", result.overall)]:
        ranked = group.retrieval[mode]
        row = [lang, str(group.questions), _number(ranked.hit_at_5), _number(ranked.mrr_at_10)]
        if group.answers is not None:
            a = group.answers
            row += [_number(value) for value in (a.fact_recall, a.exact_correct, a.language_match,
                                                 a.citation_support, a.correct_refusals, a.false_refusals)]  # fmt: skip
        rows.append(row)
    return _table(header, rows)


def _failed_question(record: QuestionRecord, retrieval_mode: str) -> list[str]:
    kind = "answerable" if record.answerable else "unanswerable"
    lines = [f"### {record.id} ({record.lang}, {kind})", "", f"- **Question:** {_inline(record.question)}"]
    expected = _inline(record.expected)
    if record.answerable:
        facts = "; ".join(" / ".join(group) for group in record.facts)
        expected += f" — facts: {facts} — sources: {', '.join(record.sources)}"
    lines.append(f"- **Expected:** {expected}")
    ranked = record.retrieval.get(retrieval_mode)
    if ranked is not None:
        lines.append(f"- **Retrieved ({retrieval_mode}):** {', '.join(ranked.documents) or 'nothing'}")
    if record.answer is not None:
        lines.append(f"- **Got:** {_got(record.answer)}")
    lines += [f"- **Problems:** {'; '.join(record.problems)}", ""]
    return lines


def _got(answer: AnswerRecord) -> str:
    if answer.error:
        return f"(model error) {_inline(answer.raw_text) or '—'}"
    got = ("(refused) " if answer.refused else "") + _inline(answer.text)
    if answer.cited_sources:
        got += f" — cited: {', '.join(answer.cited_sources)}"
    return got


def _inline(text: str, limit: int = 600) -> str:
    """One Markdown-safe line."""
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# --- chart --------------------------------------------------------------------------------------


def chart_series(result: EvalResult) -> dict[str, list[float | None]]:
    """The main metrics per group (each language, then "all"), as the chart draws them."""
    mode = result.retrieval_mode
    groups = [*result.by_language.values(), result.overall]
    series: dict[str, list[float | None]] = {
        f"hit@5 ({mode})": [g.retrieval[mode].hit_at_5 for g in groups],
        f"MRR@10 ({mode})": [g.retrieval[mode].mrr_at_10 for g in groups],
    }
    if not result.retrieval_only:
        answers = [g.answers for g in groups]
        series["fact recall"] = [a.fact_recall if a else None for a in answers]
        series["language match"] = [a.language_match if a else None for a in answers]
        series["citation support"] = [a.citation_support if a else None for a in answers]
        series["correct refusals"] = [a.correct_refusals if a else None for a in answers]
    else:
        series["hit@5 (dense)"] = [g.retrieval["dense"].hit_at_5 for g in groups]
        series["hit@5 (bm25)"] = [g.retrieval["bm25"].hit_at_5 for g in groups]
    return series


def write_chart(result: EvalResult, path: Path) -> None:
    """A grouped bar chart of the main metrics per language, drawn with matplotlib's Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = [*result.by_language, "all"]
    series = chart_series(result)
    figure = Figure(figsize=(max(6.0, 1.6 * len(labels) + 2), 4.2), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    width = 0.8 / len(series)
    positions = np.arange(len(labels))
    for offset, (name, values) in enumerate(series.items()):
        heights = [value if value is not None else 0.0 for value in values]
        axes.bar(positions + (offset - (len(series) - 1) / 2) * width, heights, width, label=name)
    axes.set_xticks(positions, labels)
    axes.set_ylim(0, 1.3)  # room above the bars for the legend
    axes.set_yticks([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    axes.set_ylabel("share")
    axes.set_title("Evaluation by question language")
    axes.legend(fontsize="small", loc="upper center", ncols=3, frameon=False)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
