"""Ingestion as a sync: new and changed files are (re)indexed, unchanged ones skipped, deleted ones removed.

One ingest runs at a time per data directory (an OS lock that a crash releases). Each document is
replaced atomically (see :mod:`assistant.ingest.writer`): it is marked pending in the catalog, its
vectors are replaced in Chroma, then its catalog rows are replaced and the mark cleared in one
transaction. An interrupted run leaves pending marks; the next run first undoes those half-done
updates (the catalog still holds the old version, whose vectors are restored), then audits the
index and repairs what disagrees (orphan vectors are deleted, missing ones re-added from the
catalog), and only then syncs the files.

Memory is bounded by chunks, not by files: one file's text is held while it is read and chunked,
then only its chunks, and vectors are written ``ingest.write_batch`` at a time. A file that
cannot be read is reported by name (escaped: see :func:`assistant.ingest.discovery.escape_name`)
and skipped, the rest is indexed, and what was indexed from it before is kept. Only reader
errors count as "cannot be read": anything else is a bug and stops the sync. The parts of a
document that address an AI rather than a reader (prompt injections, see
:func:`assistant.text.untrusted.instruction_spans`) are left out of the index and reported.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from assistant.config import Settings
from assistant.index.core import Index, IngestBusyError, exclusive_write, ingest_lock
from assistant.index.embedding import CachedEmbedder
from assistant.index.storage import writing
from assistant.ingest.bounds import ReadLimits, UnreadableFileError
from assistant.ingest.chunking import chunk_document, chunk_id
from assistant.ingest.discovery import FileRef, discover_files, escape_name
from assistant.ingest.outline import with_chunk_lines
from assistant.ingest.readers import read_document
from assistant.ingest.writer import PreparedDocument, SliceWriter, embed_passages
from assistant.models import Chunk, LoadedDocument
from assistant.text.untrusted import instruction_spans

__all__ = [
    "FailedFile",
    "FlaggedText",
    "IngestBusyError",
    "IngestReport",
    "ProgressCallback",
    "escape_name",
    "ingest_lock",
    "sync",
]

ProgressCallback = Callable[[str, int, int, int], None]
"""(file name, files done, files total, chunks written so far)."""

MAX_FLAGGED_PER_DOCUMENT = 20
"""Flagged spans listed per document; the rest are counted in one more entry."""


class FailedFile(BaseModel):
    """A file that was skipped, and why."""

    path: str = Field(description="The path, escaped to one printable line (see `escape_name`).")
    reason: str = Field(description="Why, on one printable line.")


class FlaggedText(BaseModel):
    """Instruction-like text of a document that was left out of the index."""

    doc_id: str
    text: str = Field(description="The start of the text left out, on one printable line.")


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
    ``ingest.lock_timeout``, and :class:`assistant.errors.DiskFullError` or
    :class:`assistant.errors.CannotWriteError` (one line each) when the disk is full or the data
    directory read-only or not writable.
    """
    with exclusive_write(settings), writing(f"the index in {settings.data_dir}"):
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
    refs, skipped = discover_files(paths, settings.ingest.extensions, settings.ingest.follow_external_symlinks)
    report.failed.extend(FailedFile(path=escape_name(s.path), reason=escape_name(s.reason)) for s in skipped)
    max_bytes = int(settings.ingest.max_file_mb * 1024 * 1024)
    limits = ReadLimits.from_settings(settings.ingest)
    done = 0
    current = ""

    def tell() -> None:
        if progress:
            progress(current, done, len(refs), report.chunks_written)

    def written(count: int) -> None:
        report.chunks_written += count
        tell()

    def finished(document: PreparedDocument) -> None:
        nonlocal done
        (report.updated if document.known else report.added).append(document.info.doc_id)
        done += 1
        tell()

    writer = SliceWriter(
        index, embedder, settings.ingest.write_batch, settings.embedding.batch_size, written, finished
    )
    for ref in refs:
        current = ref.doc_id
        prepared = _prepare(ref, index, settings, max_bytes, limits, report)
        if prepared is None:
            done += 1
            tell()
        else:
            writer.add(prepared)
    writer.finish()
    if prune:
        report.removed = _prune(paths, {ref.doc_id for ref in refs}, index)
    report.chunks_embedded = embedder.embedded_count - embedded_before
    index.bm25()  # built and saved now if anything changed, so that the next query process only loads it
    index.vectors.write_copy()  # likewise the vectors' exact-search copy: the next search needs no chromadb
    report.seconds = time.perf_counter() - started
    return report


def _prepare(
    ref: FileRef, index: Index, settings: Settings, max_bytes: int, limits: ReadLimits, report: IngestReport
) -> PreparedDocument | None:
    """Read, filter and chunk a new or changed file; None (and the report updated) when there is nothing to write."""
    known = index.catalog.document(ref.doc_id)
    if known is not None and known.path == str(ref.path.absolute()) and _unchanged(ref.path, known.sha256, max_bytes):
        report.unchanged.append(ref.doc_id)
        return None
    try:
        loaded = read_document(ref, max_bytes, limits)
    except UnreadableFileError as exc:
        report.failed.append(FailedFile(path=escape_name(ref.path), reason=escape_name(str(exc))))
        return None
    if known is not None and known.sha256 == loaded.info.sha256 and known.path == loaded.info.path:
        report.unchanged.append(ref.doc_id)
        return None
    flagged = instruction_spans(loaded.text)
    chunks = _chunk_around(loaded, flagged, settings)
    report.flagged.extend(_flagged_entries(ref.doc_id, loaded.text, flagged))
    return PreparedDocument(with_chunk_lines(loaded, chunks), chunks, known is not None)


def _flagged_entries(doc_id: str, text: str, spans: list[tuple[int, int]]) -> list[FlaggedText]:
    entries = [FlaggedText(doc_id=doc_id, text=_snippet(text[a:b])) for a, b in spans[:MAX_FLAGGED_PER_DOCUMENT]]
    if len(spans) > MAX_FLAGGED_PER_DOCUMENT:
        entries.append(FlaggedText(doc_id=doc_id, text=f"(and {len(spans) - MAX_FLAGGED_PER_DOCUMENT} more)"))
    return entries


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


def _snippet(text: str, limit: int = 120) -> str:
    line = escape_name(" ".join(text[: limit * 4].split()))
    return line if len(line) <= limit else line[: limit - 1] + "…"


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
    batch, embed_batch = settings.ingest.write_batch, settings.embedding.batch_size
    for doc_id, ids in sorted(by_document.items()):
        chunks = [c for c in index.catalog.document_chunks(doc_id) if c.chunk_id in ids]
        for start in range(0, len(chunks), batch):
            part = chunks[start : start + batch]
            index.vectors.add(part, embed_passages(embedder, [c.text for c in part], embed_batch))
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
