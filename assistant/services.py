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
from assistant.index.scope import ScopeResolver, folder_globs
from assistant.ingest.bounds import ReadLimits, UnreadableFileError
from assistant.ingest.sync import IngestReport, ProgressCallback, sync
from assistant.ingest.uploads import UploadOutcome, discard_failed, is_upload, save_uploads
from assistant.models import Answer, DocumentInfo, EvidenceView, Scope, SearchResult

if TYPE_CHECKING:
    from assistant.answer.compose import Answerer, AnswerEvent
    from assistant.answer.evidence_view import DocumentTexts
    from assistant.conversations.store import ConversationStore, StoredTurn
    from assistant.conversations.verify import BundleCheck
    from assistant.index.core import IndexAudit


class Services:
    """The assistant's use cases over one index. Heavy parts are built on first use and reused."""

    def __init__(self, settings: Settings, embedder: CachedEmbedder | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._index: Index | None = None
        self._lock = threading.Lock()
        self._scopes = ScopeResolver()  # resolved scopes, kept per catalog revision

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
        return Retriever(self.index, self.embedder, self.settings.retrieval, self._scopes)

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

    def search(
        self, query: str, k: int | None = None, mode: Mode | None = None, scope: Scope | None = None
    ) -> SearchResult:
        """Ranked passages for ``query``, only from the documents in ``scope`` when one is given.

        Raises :class:`UsageError` for an empty or over-long query, and its subclass
        :class:`~assistant.errors.EmptyScopeError` for a scope that names no indexed document.
        """
        check_question(query, self.settings.answer.max_question_chars)
        return self.retriever.search(query, k=k, mode=mode, scope=scope)

    def scope_documents(self, scope: Scope | None) -> list[str] | None:
        """The ids of the indexed documents in ``scope`` (None: no restriction).

        Raises :class:`~assistant.errors.EmptyScopeError` when it names no indexed document.
        """
        if scope is None or scope.is_empty():
            return None  # nothing is opened to find out
        return self.retriever.scope_documents(scope)

    def stream(self, question: str, **options: Any) -> Iterator[AnswerEvent]:
        """Stream an answer (status lines, text pieces, resets, then the verified answer).

        Raises :class:`UsageError` for an empty question or one over ``answer.max_question_chars``,
        and for a ``scope=`` that names no indexed document (before anything is streamed).
        """
        check_question(question, self.settings.answer.max_question_chars)
        self.scope_documents(options.get("scope"))
        return self.answerer.stream(question, **options)

    def ask(self, question: str, **options: Any) -> Answer:
        """The verified answer to ``question`` (collects :meth:`stream`)."""
        return collect(self.stream(question, **options))[1]

    def documents(self) -> list[DocumentInfo]:
        """The indexed documents (none when there is no index yet)."""
        return self.index.catalog.documents() if self.has_index() else []

    def folders(self) -> list[str]:
        """Every folder of the indexed documents' ids as a ``folder/**`` glob, sorted (for a scope picker)."""
        return folder_globs(d.doc_id for d in self.documents())

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

    # -- the evidence viewer (assistant/answer/evidence_view.py) -----------------------------------
    def evidence(self, doc_id: str, start: int, end: int, quote: str, sha256: str = "") -> EvidenceView:
        """A cited quote looked up again in its document's current file: unchanged, moved, changed or missing.

        Only indexed documents are opened, by id: an id the catalog does not hold (a path, a removed
        document) gives the status ``unknown`` and touches no file.
        """
        from assistant.answer.evidence_view import evidence_view

        settings = self.settings.ingest
        info = self.document(doc_id) if doc_id and "\0" not in doc_id else None
        max_bytes, limits = int(settings.max_file_mb * 1024 * 1024), ReadLimits.from_settings(settings)
        return evidence_view(info, doc_id, (start, end), quote, sha256, max_bytes, limits, self.evidence_texts)

    @cached_property
    def evidence_texts(self) -> DocumentTexts:
        """The texts the evidence viewer read last (an unchanged file opened again is not parsed again)."""
        from assistant.answer.evidence_view import DocumentTexts

        return DocumentTexts()

    def page_image(self, doc_id: str, page: int, width: int = 1000) -> bytes:
        """Page ``page`` (1-based) of the indexed PDF ``doc_id``, drawn as a PNG about ``width`` pixels wide.

        Raises :class:`UsageError` for a document that is not an indexed PDF, a page it does not have,
        or a file that is gone or over the ingest's size limit.
        """
        from assistant.ingest.pdf_page import read_bounded, render_page

        info = self.document(doc_id) if doc_id and "\0" not in doc_id else None
        if info is None or info.format != "pdf":
            raise UsageError("no indexed PDF has this id")
        try:
            raw = read_bounded(Path(info.path), int(self.settings.ingest.max_file_mb * 1024 * 1024))
            return render_page(raw, page, max(100, min(width, 2000)))
        except UnreadableFileError as exc:
            raise UsageError(f"page {page} of {doc_id} cannot be drawn: {exc}") from None

    # -- kept conversations and exports (assistant/conversations/) ------------------------------
    @cached_property
    def conversations(self) -> ConversationStore:
        """The kept conversations, per user (SQLite in the data directory; reading creates nothing)."""
        from assistant.conversations.store import ConversationStore

        return ConversationStore(self.settings.data_dir)

    def provenance(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the settings that shape answers, the package, model and index versions) for an evidence bundle."""
        from assistant.conversations.export import answer_settings, package_versions

        versions: dict[str, Any] = {"packages": package_versions(), "embedding_model": self.settings.embedding.model}
        if self._index is not None:  # the index that answered (nothing is opened to find out)
            versions["index"] = self._index.catalog.manifest()
        return answer_settings(self.settings), versions

    def export(
        self, path: Path, turns: Sequence[StoredTurn], title: str = "", conversation_id: str | None = None
    ) -> Path:
        """Write answers to ``path``: Markdown with footnotes (``.md``) or a JSON evidence bundle (``.json``).

        Raises :class:`UsageError` for another extension or a file that cannot be written.
        """
        from assistant.conversations.export import write_export

        settings, versions = self.provenance()
        return write_export(path, turns, settings, versions, title, conversation_id)

    def verify_bundle(self, bundle: Path, root: Path | None = None) -> BundleCheck:
        """Re-check every quote of the evidence bundle in ``bundle`` against the files (ok, moved, changed, missing).

        Files are found under ``root`` by document id when it is given, else at the recorded paths,
        else where the index has them now. Raises :class:`~assistant.errors.BundleError` for a file
        that is not a bundle.
        """
        from assistant.conversations.export import read_bundle
        from assistant.conversations.verify import verify_bundle

        def indexed_path(doc_id: str) -> str | None:
            info = self.document(doc_id)
            return info.path if info is not None else None

        return verify_bundle(read_bundle(bundle), self.settings, root, indexed_path)


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
