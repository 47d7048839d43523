"""Embed and write documents' chunks in slices of ``ingest.write_batch``, whatever the documents' sizes.

Small documents share a slice (one embedding run, one Chroma call, one SQLite transaction for
many files); a large one spans several slices, so memory holds one slice of vectors, never a
whole file's. Each document is replaced as one unit through the index's journal: it is marked
pending (and its old vectors dropped) in the slice where its chunks begin, its vectors are added
slice by slice, and its catalog rows are replaced — clearing the mark — in the transaction of the
slice where its chunks end. An interruption anywhere leaves the mark, and the next sync undoes the
half-written version (:meth:`assistant.index.core.Index.undo_pending`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np

from assistant.index.bm25 import tokenize
from assistant.index.core import Index
from assistant.index.embedding import CachedEmbedder
from assistant.models import Chunk, DocumentInfo


@dataclass
class PreparedDocument:
    """A file read and chunked, waiting for its vectors (its text is no longer held)."""

    info: DocumentInfo
    chunks: list[Chunk]
    known: bool
    written: int = 0  # chunks already sent to the vector store
    begun: bool = False


class SliceWriter:
    """Queues prepared documents and writes their chunks ``write_batch`` at a time (see the module docstring)."""

    def __init__(
        self,
        index: Index,
        embedder: CachedEmbedder,
        write_batch: int,
        embed_batch: int,
        on_slice: Callable[[int], None],
        on_document: Callable[[PreparedDocument], None],
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.write_batch = write_batch
        self.embed_batch = embed_batch
        self.on_slice = on_slice  # called with the number of chunks each slice wrote
        self.on_document = on_document  # called once a document's new version is in the catalog
        self.queue: list[PreparedDocument] = []
        self.queued_chunks = 0

    def add(self, document: PreparedDocument) -> None:
        """Queue a document; write every full slice the queue now holds."""
        self.queue.append(document)
        self.queued_chunks += len(document.chunks)
        while self.queued_chunks >= self.write_batch:
            self._write_slice(self.write_batch)

    def finish(self) -> None:
        """Write what is still queued."""
        while self.queue:
            self._write_slice(self.write_batch)

    def _write_slice(self, size: int) -> None:
        beginning: list[PreparedDocument] = []
        complete: list[PreparedDocument] = []
        chunks: list[Chunk] = []
        for document in self.queue:
            take = document.chunks[document.written : document.written + size - len(chunks)]
            if not document.begun:
                beginning.append(document)
            chunks.extend(take)
            document.written += len(take)
            if document.written < len(document.chunks):
                break  # the slice is full inside this document
            complete.append(document)
            if len(chunks) >= size:
                break
        if beginning:
            self.index.catalog.mark_pending(*(d.info.doc_id for d in beginning))
            self.index.vectors.delete_documents([d.info.doc_id for d in beginning if d.known])
            for document in beginning:
                document.begun = True
        if chunks:
            self.index.vectors.add(chunks, embed_passages(self.embedder, [c.text for c in chunks], self.embed_batch))
        if complete:
            self.index.catalog.replace_documents([(d.info, d.chunks, LazyTokens(d.chunks)) for d in complete])
        del self.queue[: len(complete)]
        self.queued_chunks -= len(chunks)
        self.on_slice(len(chunks))
        for document in complete:
            self.on_document(document)


class LazyTokens(Sequence[list[str]]):
    """The BM25 tokens of chunks, computed one chunk at a time as the catalog writes them."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self.chunks = chunks

    def __len__(self) -> int:
        return len(self.chunks)

    @overload
    def __getitem__(self, index: int) -> list[str]: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[list[str]]: ...

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return LazyTokens(self.chunks[index])
        chunk = self.chunks[index]
        return tokenize(chunk.text, chunk.language)

    def __iter__(self) -> Iterator[list[str]]:
        return (tokenize(chunk.text, chunk.language) for chunk in self.chunks)


def embed_passages(embedder: CachedEmbedder, texts: list[str], batch_size: int) -> np.ndarray:
    """The passages' vectors, ``batch_size`` passages per model call; a text repeated is embedded once."""
    unique = list(dict.fromkeys(texts))
    parts = [embedder.embed_passages(unique[i : i + batch_size]) for i in range(0, len(unique), batch_size)]
    if not parts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    vectors = np.concatenate(parts)
    if len(unique) == len(texts):
        return vectors
    row = {text: number for number, text in enumerate(unique)}
    return vectors[[row[text] for text in texts]]
