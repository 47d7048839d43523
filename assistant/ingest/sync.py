"""Ingestion as a sync: new and changed files are (re)indexed, unchanged ones skipped, deleted ones removed.

One ingest runs at a time per data directory (an OS lock that a crash releases). Each document is
replaced atomically: it is marked pending in the catalog, its vectors are replaced in Chroma, then
its catalog rows are replaced and the mark cleared in one transaction. An interrupted run leaves
pending marks; the next run first undoes those half-done updates (the catalog still holds the old
version, whose vectors are restored), then audits the index and repairs what disagrees (orphan
vectors are deleted, missing ones re-added from the catalog), and only then syncs the files.

A file that cannot be read is reported by name and skipped; what was indexed from it before is
kept. Lines of a document that address an AI rather than a reader (prompt injections, see
:func:`assistant.answer.prompts.instruction_spans`) are left out of the index and reported.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from pydantic import BaseModel, Field

from assistant.answer.prompts import instruction_spans
from assistant.config import Settings
from assistant.index.core import Index, IngestBusyError, exclusive_write, ingest_lock
from assistant.index.embedding import CachedEmbedder
from assistant.ingest.chunking import chunk_document, chunk_id
from assistant.ingest.readers import FileRef, UnreadableFileError, discover_files, read_document
from assistant.models import Chunk, LoadedDocument
from assistant.text.sanitize import strip_invisible

__all__ = [
    "FailedFile",
    "FlaggedText",
    "IngestBusyError",
    "IngestReport",
    "ProgressCallback",
    "ingest_lock",
    "sync",
]

ProgressCallback = Callable[[str, int, int, int], None]
"""(file name, files done, files total, chunks embedded so far)."""


class FailedFile(BaseModel):
    """A file that was skipped, and why."""

    path: str
    reason: str


class FlaggedText(BaseModel):
    """Instruction-like text of a document that was left out of the index."""

    doc_id: str
    text: str = Field(description="The start of the line(s) left out, on one line.")


class IngestReport(BaseModel):
    """What a sync did."""

    added: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    recovered: list[str] = Field(default_factory=list, description="Interrupted updates undone.")
    repaired: list[str] = Field(default_factory=list, description="Inconsistencies found and repaired.")
    failed: list[FailedFile] = Field(default_factory=list)
    flagged: list[FlaggedText] = Field(default_factory=list, description="Instruction-like text not indexed.")
    chunks_written: int = 0
    chunks_embedded: int = Field(0, description="Passages sent to the embedding model (cache misses).")
    seconds: float = 0.0


def sync(
    paths: Sequence[Path],
    index: Index,
    embedder: CachedEmbedder,
    settings: Settings,
    progress: ProgressCallback | None = None,
    prune: bool = True,
) -> IngestReport:
    """Bring the index in line with the files under ``paths``; see the module docstring.

    Raises :class:`IngestBusyError` when another ingest holds the lock for longer than
    ``ingest.lock_timeout``.
    """
    with exclusive_write(settings):
        return _sync_locked(paths, index, embedder, settings, progress, prune)


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
    report.recovered, report.repaired = _restore(index, embedder, settings)
    refs, skipped = discover_files(paths, settings.ingest.extensions)
    report.failed.extend(FailedFile(path=_display(s.path), reason=s.reason) for s in skipped)
    max_bytes = int(settings.ingest.max_file_mb * 1024 * 1024)
    done = 0
    queue: list[_Prepared] = []

    def finished(name: str) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(name, done, len(refs), report.chunks_written)

    for ref in refs:
        prepared = _prepare(ref, index, settings, max_bytes, report)
        if prepared is None:
            finished(ref.doc_id)
            continue
        queue.append(prepared)
        # small documents are embedded and written together: a few model calls and one write per batch
        if sum(len(p.chunks) for p in queue) >= settings.ingest.write_batch:
            _write(queue, index, embedder, settings, report, finished)
    _write(queue, index, embedder, settings, report, finished)
    if prune:
        report.removed = _prune(paths, {ref.doc_id for ref in refs}, index)
    report.chunks_embedded = embedder.embedded_count - embedded_before
    index.bm25()  # built and saved now if anything changed, so that the next query process only loads it
    report.seconds = time.perf_counter() - started
    return report


class _Prepared(NamedTuple):
    """A file read and chunked, waiting for its vectors."""

    loaded: LoadedDocument
    chunks: list[Chunk]
    known: bool


def _prepare(ref: FileRef, index: Index, settings: Settings, max_bytes: int, report: IngestReport) -> _Prepared | None:
    """Read and chunk a new or changed file; None (and the report updated) when there is nothing to write."""
    if not _encodable(ref.doc_id):
        report.failed.append(FailedFile(path=_display(ref.path), reason="the file name is not valid UTF-8: rename it"))
        return None
    known = index.catalog.document(ref.doc_id)
    if known is not None and known.path == str(ref.path.absolute()) and _unchanged(ref.path, known.sha256, max_bytes):
        report.unchanged.append(ref.doc_id)
        return None
    try:
        loaded = read_document(ref, max_bytes)
        if known is not None and known.sha256 == loaded.info.sha256 and known.path == loaded.info.path:
            report.unchanged.append(ref.doc_id)
            return None
        flagged = instruction_spans(loaded.text)
        chunks = _chunk_around(loaded, flagged, settings)
    except UnreadableFileError as exc:
        report.failed.append(FailedFile(path=_display(ref.path), reason=str(exc)))
        return None
    except Exception as exc:  # a reader's library failing on a hostile file must not stop the sync
        reason = " ".join(f"cannot read it: {type(exc).__name__}: {exc}".split())[:300]
        report.failed.append(FailedFile(path=_display(ref.path), reason=reason))
        return None
    report.flagged.extend(FlaggedText(doc_id=ref.doc_id, text=_snippet(loaded.text[a:b])) for a, b in flagged)
    return _Prepared(loaded, chunks, known is not None)


def _write(
    queue: list[_Prepared],
    index: Index,
    embedder: CachedEmbedder,
    settings: Settings,
    report: IngestReport,
    finished: Callable[[str], None],
) -> None:
    """Embed the queued documents' chunks, then write them to Chroma and the catalog together; empties the queue.

    The documents are marked pending first, so an interruption anywhere is undone by the next sync;
    the catalog, which BM25 and answers read, changes in one transaction at the end.
    """
    if not queue:
        return
    chunks = [c for p in queue for c in p.chunks]
    vectors = _embed(embedder, [c.text for c in chunks], settings.embedding.batch_size)
    parts, start = [], 0
    for p in queue:
        parts.append((p.loaded.info, p.chunks, vectors[start : start + len(p.chunks)]))
        start += len(p.chunks)
    index.replace(parts, known={p.loaded.info.doc_id for p in queue if p.known})
    for p in queue:
        (report.updated if p.known else report.added).append(p.loaded.info.doc_id)
        report.chunks_written += len(p.chunks)
        finished(p.loaded.info.doc_id)
    queue.clear()


def _chunk_around(loaded: LoadedDocument, skip: list[tuple[int, int]], settings: Settings) -> list[Chunk]:
    """Chunk the document's text outside the ``skip`` spans (offsets still point into the whole text)."""
    size, overlap = settings.chunking.chunk_size, settings.chunking.chunk_overlap
    if not skip:
        return chunk_document(loaded, size, overlap)
    text, doc_id = loaded.text, loaded.info.doc_id
    bounds = [0, *(edge for span in skip for edge in span), len(text)]
    chunks: list[Chunk] = []
    boilerplate = False
    for start, end in zip(bounds[::2], bounds[1::2], strict=True):
        if not text[start:end].strip():
            continue
        for part in chunk_document(loaded.model_copy(update={"text": text[start:end]}), size, overlap):
            boilerplate = boilerplate or part.boilerplate  # teasers run to the end of the page
            index = len(chunks)
            chunks.append(
                part.model_copy(
                    update={
                        "chunk_id": chunk_id(doc_id, index, part.text),
                        "index": index,
                        "start": part.start + start,
                        "end": part.end + start,
                        "boilerplate": boilerplate,
                    }
                )
            )
    return chunks


def _unchanged(path: Path, sha256: str, max_bytes: int) -> bool:
    """Compare the file's hash with the indexed one without parsing it (nor reading a file over the limit)."""
    try:
        if path.stat().st_size > max_bytes:
            return False
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest() == sha256
    except OSError:
        return False


def _encodable(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes of a file name arrive as lone surrogates
        return False
    return True


def _display(path: Path) -> str:
    """The path as printable text: bytes that are not UTF-8 are shown as \\xNN escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _snippet(text: str, limit: int = 120) -> str:
    line = " ".join(strip_invisible(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _embed(embedder: CachedEmbedder, texts: list[str], batch_size: int):  # type: ignore[no-untyped-def]
    import numpy as np

    parts = [embedder.embed_passages(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, embedder.dim), dtype=np.float32)


def _restore(index: Index, embedder: CachedEmbedder, settings: Settings) -> tuple[list[str], list[str]]:
    """Undo interrupted updates, then make the vectors match the catalog: (recovered, repaired).

    A pending document's catalog rows are still its last complete version (they are replaced in the
    same transaction that clears the mark), so its vectors are dropped and re-added from them. Then
    vectors of no catalog chunk are deleted and catalog chunks without a vector get one.
    """
    recovered = index.undo_pending()
    audit = index.audit()
    problems = audit.problems()
    if not problems:
        return recovered, []
    stale = [cid for ids in audit.orphan_vectors.values() for cid in ids] + audit.misfiled_vectors
    if stale:
        index.delete_vectors(stale)
    if audit.stray_chunks:
        index.catalog.delete_chunks(audit.stray_chunks)
    for doc_id in audit.miscounted:  # its rows cannot be trusted: the sync reads the file again
        index.remove(doc_id)
    owners = index.catalog.chunk_owners()
    missing = {cid for ids in audit.missing_vectors.values() for cid in ids} | set(audit.misfiled_vectors)
    by_document: dict[str, set[str]] = {}
    for cid in missing:
        if cid in owners:
            by_document.setdefault(owners[cid], set()).add(cid)
    for doc_id, ids in sorted(by_document.items()):
        chunks = [c for c in index.catalog.document_chunks(doc_id) if c.chunk_id in ids]
        index.vectors.add(chunks, _embed(embedder, [c.text for c in chunks], settings.embedding.batch_size))
    restored = tuple(f"{doc_id}:" for doc_id in recovered)
    return recovered, [line for line in problems if not line.startswith(restored)]


def _prune(paths: Sequence[Path], seen: set[str], index: Index) -> list[str]:
    """Remove documents that lived under the synced folders and are gone from disk."""
    roots = [p.resolve() for p in paths]
    removed = []
    for info in index.catalog.documents():
        if info.doc_id in seen or not _under_any(Path(info.path), roots):
            continue
        if Path(info.path).exists():
            continue  # present but skipped (unreadable now): keep what was indexed
        index.remove(info.doc_id)
        removed.append(info.doc_id)
    return removed


def _under_any(path: Path, roots: list[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)
