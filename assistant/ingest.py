"""Ingestion as a sync: new and changed files are (re)indexed, unchanged ones skipped, deleted ones removed.

One ingest runs at a time per data directory (an OS lock that a crash releases). Each document is
replaced atomically: it is marked pending in the catalog, its vectors are replaced in Chroma, then
its catalog rows are replaced and the mark cleared in one transaction. An interrupted run leaves
pending marks that the next run resolves first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from assistant.bm25 import tokenize
from assistant.chunking import chunk_document
from assistant.config import Settings
from assistant.embedding import CachedEmbedder
from assistant.index import Index
from assistant.readers import FileRef, UnreadableFileError, discover_files, read_document

ProgressCallback = Callable[[str, int, int, int], None]
"""(file name, files done, files total, chunks embedded so far)."""


class IngestBusyError(RuntimeError):
    """Another ingest holds the lock."""


class FailedFile(BaseModel):
    """A file that was skipped, and why."""

    path: str
    reason: str


class IngestReport(BaseModel):
    """What a sync did."""

    added: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    recovered: list[str] = Field(default_factory=list, description="Interrupted updates resolved.")
    failed: list[FailedFile] = Field(default_factory=list)
    chunks_written: int = 0
    chunks_embedded: int = Field(0, description="Passages sent to the embedding model (cache misses).")
    seconds: float = 0.0


def ingest_lock(settings: Settings):  # type: ignore[no-untyped-def]
    """The OS-level lock that serialises ingests of one data directory."""
    from filelock import FileLock

    settings.index_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(str(settings.index_dir / "ingest.lock"))


def sync(
    paths: Sequence[Path],
    index: Index,
    embedder: CachedEmbedder,
    settings: Settings,
    progress: ProgressCallback | None = None,
    prune: bool = True,
) -> IngestReport:
    """Bring the index in line with the files under ``paths``; see the module docstring."""
    from filelock import Timeout

    lock = ingest_lock(settings)
    try:
        lock.acquire(timeout=settings.ingest.lock_timeout)
    except Timeout as exc:
        raise IngestBusyError(
            f"another ingest is running on {settings.data_dir} (waited {settings.ingest.lock_timeout:.0f} s)"
        ) from exc
    try:
        return _sync_locked(paths, index, embedder, settings, progress, prune)
    finally:
        lock.release()


def _sync_locked(
    paths: Sequence[Path],
    index: Index,
    embedder: CachedEmbedder,
    settings: Settings,
    progress: ProgressCallback | None,
    prune: bool,
) -> IngestReport:
    started = time.perf_counter()
    embedded_before = embedder.embedded_count
    report = IngestReport()
    report.recovered = _resolve_pending(index)
    refs, skipped = discover_files(paths, settings.ingest.extensions)
    report.failed.extend(FailedFile(path=str(s.path), reason=s.reason) for s in skipped)
    max_bytes = int(settings.ingest.max_file_mb * 1024 * 1024)
    seen: set[str] = set()
    for done, ref in enumerate(refs, start=1):
        seen.add(ref.doc_id)
        _sync_file(ref, index, embedder, settings, max_bytes, report)
        if progress:
            progress(ref.doc_id, done, len(refs), report.chunks_written)
    if prune:
        report.removed = _prune(paths, seen, index)
    report.chunks_embedded = embedder.embedded_count - embedded_before
    report.seconds = time.perf_counter() - started
    return report


def _sync_file(
    ref: FileRef, index: Index, embedder: CachedEmbedder, settings: Settings, max_bytes: int, report: IngestReport
) -> None:
    known = index.catalog.document(ref.doc_id)
    if known is not None and known.path == str(ref.path.absolute()) and _unchanged(ref.path, known.sha256):
        report.unchanged.append(ref.doc_id)
        return
    try:
        loaded = read_document(ref, max_bytes)
    except UnreadableFileError as exc:
        report.failed.append(FailedFile(path=str(ref.path), reason=str(exc)))
        return
    if known is not None and known.sha256 == loaded.info.sha256 and known.path == loaded.info.path:
        report.unchanged.append(ref.doc_id)
        return
    chunks = chunk_document(loaded, settings.chunking.chunk_size, settings.chunking.chunk_overlap)
    vectors = _embed(embedder, [c.text for c in chunks], settings.embedding.batch_size)
    index.catalog.mark_pending(ref.doc_id)
    index.vectors.delete_document(ref.doc_id)
    index.vectors.add(chunks, vectors)
    index.catalog.replace_document(loaded.info, chunks, [tokenize(c.text, c.language) for c in chunks])
    (report.added if known is None else report.updated).append(ref.doc_id)
    report.chunks_written += len(chunks)


def _unchanged(path: Path, sha256: str) -> bool:
    """Compare the file's hash with the indexed one without parsing it."""
    import hashlib

    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() == sha256
    except OSError:
        return False


def _embed(embedder: CachedEmbedder, texts: list[str], batch_size: int):  # type: ignore[no-untyped-def]
    import numpy as np

    parts = [embedder.embed_passages(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, embedder.dim), dtype=np.float32)


def _resolve_pending(index: Index) -> list[str]:
    """Undo half-done document updates: their vectors and rows go; the sync re-adds live files."""
    pending = index.catalog.pending()
    for doc_id in pending:
        index.vectors.delete_document(doc_id)
        index.catalog.delete_document(doc_id)
    return pending


def _prune(paths: Sequence[Path], seen: set[str], index: Index) -> list[str]:
    """Remove documents that lived under the synced folders and are gone from disk."""
    roots = [p.resolve() for p in paths]
    removed = []
    for info in index.catalog.documents():
        if info.doc_id in seen or not _under_any(Path(info.path), roots):
            continue
        if Path(info.path).exists():
            continue  # present but skipped (unreadable now): keep what was indexed
        index.catalog.mark_pending(info.doc_id)
        index.vectors.delete_document(info.doc_id)
        index.catalog.delete_document(info.doc_id)
        removed.append(info.doc_id)
    return removed


def _under_any(path: Path, roots: list[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def remove_document(doc_id: str, index: Index, settings: Settings) -> bool:
    """Remove one document from the index (used by the UI); False if it was not indexed."""
    from filelock import Timeout

    if index.catalog.document(doc_id) is None:
        return False
    lock = ingest_lock(settings)
    try:
        lock.acquire(timeout=settings.ingest.lock_timeout)
    except Timeout as exc:
        raise IngestBusyError("another ingest is running; try again in a moment") from exc
    try:
        index.catalog.mark_pending(doc_id)
        index.vectors.delete_document(doc_id)
        index.catalog.delete_document(doc_id)
    finally:
        lock.release()
    return True
