"""The driver: ask every question of a set through the services, grade it, aggregate the figures.

:func:`run_eval` searches each question once per retrieval mode and, unless ``retrieval_only``,
asks it once through :meth:`Services.stream`; it calls the services' facade only. Model errors are
recorded per question, never raised. Nothing here prints.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from assistant.errors import ModelError, UsageError
from assistant.evaluation.curve import curve_of
from assistant.evaluation.figures import RETRIEVAL_MODES, by_language, by_pair, figures
from assistant.evaluation.grading import (
    NO_DOCUMENT,
    AnswerRecord,
    QuestionRecord,
    RetrievalRecord,
    failed_answer,
    find_problems,
    grade_answer,
    new_record,
    retrieval_record,
)
from assistant.evaluation.metrics import RETRIEVAL_DEPTH, DocumentText
from assistant.evaluation.questions import Question
from assistant.evaluation.result import EvalResult
from assistant.evaluation.split import half_of
from assistant.ingest.readers import FileRef, UnreadableFileError, read_document
from assistant.services import collect

if TYPE_CHECKING:
    from assistant.answer.compose import AnswerEvent
    from assistant.services import Services

HalfChoice = Literal["tune", "report", "all"]
Progress = Callable[[int, int, str], None]
"""``progress(done, total, label)``, called after each step of a run."""
UNINDEXED = "?"
"""The document language of a gold source the index does not hold."""


def select(questions: Sequence[Question], half: HalfChoice) -> list[Question]:
    """The questions of one half of the seeded split (:mod:`assistant.evaluation.split`), or all of them."""
    return [q for q in questions if half == "all" or half_of(q) == half]


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
        info = self.services.document(doc_id)
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
    indexed = {info.doc_id for info in services.documents()}
    return sorted({doc_id for q in questions for doc_id in q.sources} - indexed)


def document_language(services: Services, question: Question) -> str:
    """The catalog's language of the question's gold sources ('+'-joined when they differ).

    ``none`` for a question without a source, ``?`` for sources the index does not hold.
    """
    if not question.sources:
        return NO_DOCUMENT
    languages = {info.language if (info := services.document(doc_id)) else UNINDEXED for doc_id in question.sources}
    return "+".join(sorted(languages))


def retrieve(services: Services, question: Question, mode: str, depth: int) -> RetrievalRecord:
    """Search the question with one retrieval mode and grade its document and passage rankings."""
    result = services.search(question.question, k=depth, mode=mode)  # type: ignore[arg-type]
    hits = result.hits
    return retrieval_record(question, [h.doc_id for h in hits], result.retrieval_ms, [h.text for h in hits])


def ask_question(services: Services, question: Question, document_text: DocumentText, **options: Any) -> AnswerRecord:
    """Ask the question through the services' stream and grade the answer; model errors are recorded."""
    seen: list[AnswerEvent] = []
    try:
        raw_text, answer = collect(_recorded(services.stream(question.question, **options), seen))
    except (ModelError, UsageError) as exc:
        return failed_answer(question, str(exc) or type(exc).__name__, streamed_text(seen))
    return grade_answer(question, answer, raw_text, document_text)


def _recorded(events: Iterable[AnswerEvent], seen: list[AnswerEvent]) -> Iterator[AnswerEvent]:
    for event in events:
        seen.append(event)
        yield event


def streamed_text(events: Iterable[AnswerEvent]) -> str:
    """The text streamed so far (after the last reset): what an answer stopped by an error had said."""
    pieces: list[str] = []
    for event in events:
        if event.kind == "reset":
            pieces.clear()
        elif event.kind == "token":
            pieces.append(event.text)
    return "".join(pieces)


def run_eval(
    services: Services,
    questions: Sequence[Question],
    *,
    half: HalfChoice = "all",
    corpus: Path | None = None,
    retrieval_only: bool = False,
    k: int | None = None,
    mode: str | None = None,
    backend: str | None = None,
    progress: Progress | None = None,
) -> EvalResult:
    """Grade the questions of ``half``: retrieval in every mode, then (unless ``retrieval_only``) the answers.

    ``k`` is the number of passages retrieved (default: :data:`RETRIEVAL_DEPTH` for the retrieval
    metrics, the settings' ``top_k`` for answers); ``mode`` and ``backend`` are passed to the
    answerer as ``ask`` passes them. ``corpus`` is only recorded (the folder the index was built from).
    """
    started = time.perf_counter()
    chosen = select(questions, half)
    depth = k or RETRIEVAL_DEPTH
    step = _Steps(progress, len(chosen) * (1 if retrieval_only else 2))
    _warm_up(services, chosen[0].question if chosen else "warm up")
    records: list[QuestionRecord] = []
    for question in chosen:
        record = new_record(question, document_language(services, question))
        record.retrieval = {m: retrieve(services, question, m, depth) for m in RETRIEVAL_MODES}
        records.append(record)
        step(f"retrieval {question.id}")
    if not retrieval_only:
        documents = IndexedDocuments(services)
        for question, record in zip(chosen, records, strict=True):
            record.answer = ask_question(services, question, documents, k=k, mode=mode, backend=backend)
            step(f"answer {question.id}")
    retrieval_mode = services.settings.retrieval.mode
    for record in records:
        record.problems = find_problems(record, retrieval_mode)
    return EvalResult(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        corpus=str(corpus) if corpus is not None else None,
        data_dir=str(services.settings.data_dir),
        half=half,
        set_questions=len(questions),
        retrieval_only=retrieval_only,
        k=k,
        retrieval_depth=depth,
        retrieval_mode=retrieval_mode,
        mode=mode,
        backend=backend,
        answered_by=sorted({f"{a.backend}/{a.model}/{a.mode}" for r in records if (a := r.answer) and a.backend}),
        missing_sources=missing_sources(services, chosen),
        seconds=time.perf_counter() - started,
        overall=figures(records),
        by_language=by_language(records),
        by_pair=by_pair(records),
        strictness=None if retrieval_only else curve_of(records, services.settings.answer.strictness),
        records=records,
    )


def _warm_up(services: Services, text: str) -> None:
    """Load the embedding model and open the index, so the first question's latency is not the startup's."""
    for mode in RETRIEVAL_MODES:
        services.search(text, k=1, mode=mode)  # type: ignore[arg-type]


class _Steps:
    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0

    def __call__(self, label: str) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total, label)
