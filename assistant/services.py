"""The assistant's use cases over one index: the one facade that the CLI, the UI, the API and the tools call.

Shells call :class:`Services` and nothing below it. Heavy parts (the embedding model, the index,
the answerer) are built on first use and reused.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.answer.retrieve import Mode, Retriever
from assistant.config import Settings
from assistant.errors import NoIndexError, UsageError
from assistant.index.core import Index, exclusive_write
from assistant.index.embedding import CachedEmbedder, build_embedder
from assistant.ingest.sync import IngestReport, ProgressCallback, sync
from assistant.ingest.uploads import UploadOutcome, discard_failed, is_upload, save_uploads
from assistant.models import Answer, DocumentInfo, SearchResult

if TYPE_CHECKING:
    from assistant.answer.compose import Answerer, AnswerEvent
    from assistant.index.core import IndexAudit


class Services:
    """The assistant's use cases over one index. Heavy parts are built on first use and reused."""

    def __init__(self, settings: Settings, embedder: CachedEmbedder | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._index: Index | None = None
        self._lock = threading.Lock()

    @cached_property
    def embedder(self) -> CachedEmbedder:
        """The embedding model (loaded once per process), or the one the services were built with."""
        return self._embedder or build_embedder(self.settings)

    @property
    def index(self) -> Index:
        """The opened index (raises if it is damaged, missing, or built by another model or version).

        Opening never creates a data directory: only :meth:`ingest` does.
        """
        return self._open(create=False)

    def _open(self, create: bool) -> Index:
        with self._lock:
            if self._index is None:
                self._index = Index(self.settings, self.embedder.name, self.embedder.dim, create=create)
            return self._index

    def has_index(self) -> bool:
        """Whether an index exists in the data directory (nothing is created to find out)."""
        try:
            self._open(create=False)
        except NoIndexError:
            return False
        return True

    @property
    def retriever(self) -> Retriever:
        """Hybrid retrieval over the index."""
        return Retriever(self.index, self.embedder, self.settings.retrieval)

    @cached_property
    def answerer(self) -> Answerer:
        """Answers with verified citations (the language model is loaded on first use)."""
        from assistant.answer.compose import Answerer

        # the answerer retrieves with the (possibly rewritten) question unchecked: the question itself was
        return Answerer(
            self.settings, lambda query, **kw: self.retriever.search(query, **kw), self.embedder, self.document
        )

    def ingest(
        self, paths: Sequence[Path] | None = None, progress: ProgressCallback | None = None, rebuild: bool = False
    ) -> IngestReport:
        """Sync the index with ``paths`` (default: the configured corpus paths).

        A rebuild re-indexes the files added through the UI or the API as well (the uploads folder is
        part of the corpus), so they are not dropped with the old index.
        """
        folders = list(paths or self.settings.corpus_paths)
        with exclusive_write(self.settings):  # before the index is opened: a waiting process touches no file
            if rebuild:
                with self._lock:
                    self._index = Index(self.settings, self.embedder.name, self.embedder.dim, rebuild=True)
                if self.uploads_dir.is_dir() and any(self.uploads_dir.iterdir()):
                    folders.append(self.uploads_dir)
            return sync(folders, self._open(create=True), self.embedder, self.settings, progress)

    def search(self, query: str, k: int | None = None, mode: Mode | None = None) -> SearchResult:
        """Ranked passages for ``query`` (raises :class:`UsageError` for an empty or over-long query)."""
        check_question(query, self.settings.answer.max_question_chars)
        return self.retriever.search(query, k=k, mode=mode)

    def stream(self, question: str, **options: Any) -> Iterator[AnswerEvent]:
        """Stream an answer (status lines, text pieces, resets, then the verified answer).

        Raises :class:`UsageError` for an empty question or one over ``answer.max_question_chars``.
        """
        check_question(question, self.settings.answer.max_question_chars)
        return self.answerer.stream(question, **options)

    def ask(self, question: str, **options: Any) -> Answer:
        """The verified answer to ``question`` (collects :meth:`stream`)."""
        return collect(self.stream(question, **options))[1]

    def documents(self) -> list[DocumentInfo]:
        """The indexed documents (none when there is no index yet)."""
        return self.index.catalog.documents() if self.has_index() else []

    def document(self, doc_id: str) -> DocumentInfo | None:
        """One indexed document by id, or None (also when there is no index yet)."""
        return self.index.catalog.document(doc_id) if self.has_index() else None

    def counts(self) -> tuple[int, int]:
        """(documents, passages) in the index ((0, 0) when there is none yet)."""
        return self.index.counts() if self.has_index() else (0, 0)

    def audit(self, deep: bool = False) -> IndexAudit:
        """What is inconsistent in the index (interrupted updates, missing or orphan vectors)."""
        return self.index.audit(deep=deep)

    def chat_model_note(self, backend: str | None = None, model: str | None = None) -> str:
        """Which model answers for this backend/model choice (raises when none can)."""
        return self.answerer.chat_model(backend, model)[1]

    def ollama_models(self) -> list[str]:
        """The models pulled on the configured Ollama (raises ModelUnreachableError when it does not answer)."""
        from assistant.answer.generate import OllamaServer

        settings = self.settings.ollama
        return OllamaServer(settings, timeout=settings.connect_timeout).models()

    @property
    def uploads_dir(self) -> Path:
        """Where files added through a shell are kept (part of the corpus)."""
        return self.settings.data_dir / "uploads"

    def add_files(
        self, files: Sequence[str | Path], max_mb: float | None = None, progress: ProgressCallback | None = None
    ) -> UploadOutcome:
        """Copy accepted files into the uploads folder and sync it, as ``assistant ingest`` does.

        Files of another type or over ``max_mb`` (default: the UI's upload limit) are refused by name;
        new files that cannot be read are deleted again, so they do not fail at every sync.
        """
        limit = self.settings.ui.max_upload_mb if max_mb is None else max_mb
        folder = self.uploads_dir
        saved, rejected = save_uploads(files, folder, self.settings.ingest.extensions, limit, self.document)
        outcome = UploadOutcome(saved=saved, rejected=rejected)
        if saved:
            outcome.report = self.ingest([folder], progress=progress)
            discard_failed(outcome.report, saved, folder, self.document)
        return outcome

    def remove_document(self, doc_id: str) -> DocumentInfo | None:
        """Remove one document from the index (and its file, if it was added through a shell).

        Returns what was removed, or None when the document is not indexed.
        """
        info = self.document(doc_id)
        if info is None:
            return None
        with exclusive_write(self.settings):
            self.index.remove(doc_id)
        if is_upload(info, self.uploads_dir):
            Path(info.path).unlink(missing_ok=True)
        return info


def check_question(question: str, limit: int) -> None:
    """Raise :class:`UsageError` for an empty question or one longer than ``limit`` characters."""
    if not question or not question.strip():
        raise UsageError("the question is empty")
    if len(question) > limit:
        raise UsageError(
            f"the question is {len(question):,} characters long; the limit is {limit:,} "
            "(ASSISTANT_ANSWER__MAX_QUESTION_CHARS)"
        )


def collect(events: Iterable[AnswerEvent]) -> tuple[str, Answer]:
    """The raw streamed text (after the last reset) and the final answer of an answer stream."""
    pieces: list[str] = []
    final: Answer | None = None
    for event in events:
        if event.kind == "reset":
            pieces.clear()
        elif event.kind == "token":
            pieces.append(event.text)
        elif event.kind == "answer":
            final = event.answer
    if final is None:
        raise RuntimeError("the answer stream ended without an answer")
    return "".join(pieces), final


def build_services(settings: Settings, embedder: CachedEmbedder | None = None) -> Services:
    """The one function that wires the assistant from its settings (``embedder``: one already loaded)."""
    return Services(settings, embedder)
