"""The catalog: documents, chunks and BM25 tokens in SQLite, beside the vector index.

SQLite transactions make each document's update atomic, and a ``pending`` journal records the
documents whose vectors are being replaced, so that an interrupted ingest is finished (or undone)
by the next one. A ``manifest`` table records the versions that wrote the index.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from assistant.errors import CatalogError
from assistant.models import Chunk, DocumentInfo

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS manifest (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (doc_id TEXT PRIMARY KEY, info TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY, doc_id TEXT NOT NULL, idx INTEGER NOT NULL,
    start INTEGER NOT NULL, end INTEGER NOT NULL, text TEXT NOT NULL, language TEXT NOT NULL,
    title TEXT NOT NULL, boilerplate INTEGER NOT NULL, tokens TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks (doc_id);
CREATE TABLE IF NOT EXISTS pending (doc_id TEXT PRIMARY KEY);
"""



class Catalog:
    """Documents, chunks and tokens of one index."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_SCHEMA)
            if self._conn.execute("SELECT 1 FROM manifest WHERE key = 'catalog_id'").fetchone() is None:
                with self._tx() as db:  # names this catalog, so that files derived from another one never match
                    db.execute("INSERT OR IGNORE INTO manifest VALUES ('catalog_id', lower(hex(randomblob(8))))")
        except sqlite3.DatabaseError as exc:
            raise CatalogError(
                f"the index catalog {path} is damaged ({exc}); rebuild it with `assistant ingest --rebuild`"
            ) from exc

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._conn:
            yield self._conn

    # -- manifest --------------------------------------------------------------------------
    def manifest(self) -> dict[str, str]:
        """The versions and embedding model that wrote this index."""
        return dict(self._conn.execute("SELECT key, value FROM manifest").fetchall())

    def write_manifest(self, values: dict[str, str]) -> None:
        """Record the versions and embedding model that wrote this index."""
        with self._tx() as db:
            db.executemany("INSERT OR REPLACE INTO manifest VALUES (?, ?)", list(values.items()))

    # -- documents -------------------------------------------------------------------------
    def documents(self) -> list[DocumentInfo]:
        """All indexed documents, by id."""
        rows = self._conn.execute("SELECT info FROM documents ORDER BY doc_id").fetchall()
        return [DocumentInfo.model_validate_json(row[0]) for row in rows]

    def document(self, doc_id: str) -> DocumentInfo | None:
        """One document's record, if indexed."""
        row = self._conn.execute("SELECT info FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return DocumentInfo.model_validate_json(row[0]) if row else None

    def counts(self) -> tuple[int, int]:
        """(documents, chunks)."""
        docs = self._conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        chunks = self._conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return int(docs), int(chunks)

    def revision(self) -> str:
        """Names the chunks' content: this catalog's id and how many times its chunks were written.

        It is the same in every process, so files derived from the chunks (the saved BM25 index)
        can record which content they were built from; reading it is one lookup, cheap per query.
        """
        rows = dict(self._conn.execute("SELECT key, value FROM manifest WHERE key IN ('catalog_id', 'revision')"))
        return f"{rows.get('catalog_id', '')}:{rows.get('revision', '0')}"

    # -- journal ---------------------------------------------------------------------------
    def mark_pending(self, *doc_ids: str) -> None:
        """Record that these documents' vectors are about to change."""
        with self._tx() as db:
            db.executemany("INSERT OR IGNORE INTO pending VALUES (?)", [(d,) for d in doc_ids])

    def pending(self) -> list[str]:
        """Documents whose update was interrupted."""
        return [row[0] for row in self._conn.execute("SELECT doc_id FROM pending ORDER BY doc_id")]

    def clear_pending(self, doc_id: str) -> None:
        """Forget a pending mark, keeping the document's rows (its update was undone)."""
        with self._tx() as db:
            db.execute("DELETE FROM pending WHERE doc_id = ?", (doc_id,))

    # -- writes ----------------------------------------------------------------------------
    def replace_document(self, info: DocumentInfo, chunks: Sequence[Chunk], tokens: Sequence[list[str]]) -> None:
        """Atomically replace a document and its chunks, and clear its pending mark."""
        self.replace_documents([(info, chunks, tokens)])

    def replace_documents(self, documents: Sequence[tuple[DocumentInfo, Sequence[Chunk], Sequence[list[str]]]]) -> None:
        """Replace several documents with their chunks and BM25 tokens in one transaction; clear their marks."""
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        with self._tx() as db:
            for info, chunks, tokens in documents:
                info = info.model_copy(update={"n_chunks": len(chunks), "indexed_at": stamp})
                db.execute("DELETE FROM chunks WHERE doc_id = ?", (info.doc_id,))
                db.execute("INSERT OR REPLACE INTO documents VALUES (?, ?)", (info.doc_id, info.model_dump_json()))
                db.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _chunk_rows(chunks, tokens))
                db.execute("DELETE FROM pending WHERE doc_id = ?", (info.doc_id,))
            db.execute("INSERT OR REPLACE INTO manifest VALUES ('updated_at', ?)", (stamp,))
            _bump_revision(db)

    def delete_document(self, doc_id: str) -> None:
        """Atomically remove a document, its chunks and its pending mark."""
        with self._tx() as db:
            db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
            db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
            db.execute("DELETE FROM pending WHERE doc_id = ?", (doc_id,))
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            db.execute("INSERT OR REPLACE INTO manifest VALUES ('updated_at', ?)", (stamp,))
            _bump_revision(db)

    # -- reads -----------------------------------------------------------------------------
    def chunks(self, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        """Chunks by id (ids not in the catalog are left out)."""
        found: dict[str, Chunk] = {}
        for start in range(0, len(chunk_ids), 500):
            batch = list(chunk_ids[start : start + 500])
            marks = ",".join("?" * len(batch))
            rows = self._conn.execute(
                "SELECT chunk_id, doc_id, idx, start, end, text, language, title, boilerplate "
                f"FROM chunks WHERE chunk_id IN ({marks})",
                batch,
            )
            for row in rows:
                found[row[0]] = Chunk(
                    chunk_id=row[0],
                    doc_id=row[1],
                    index=row[2],
                    start=row[3],
                    end=row[4],
                    text=row[5],
                    language=row[6],
                    title=row[7],
                    boilerplate=bool(row[8]),
                )
        return found

    def document_chunks(self, doc_id: str) -> list[Chunk]:
        """A document's chunks in order."""
        ids = [r[0] for r in self._conn.execute("SELECT chunk_id FROM chunks WHERE doc_id = ? ORDER BY idx", (doc_id,))]
        found = self.chunks(ids)
        return [found[i] for i in ids]

    def all_chunk_ids(self) -> set[str]:
        """Every chunk id in the catalog."""
        return {row[0] for row in self._conn.execute("SELECT chunk_id FROM chunks")}

    def chunk_owners(self) -> dict[str, str]:
        """Every chunk id in the catalog, with its document id."""
        return dict(self._conn.execute("SELECT chunk_id, doc_id FROM chunks").fetchall())

    def chunk_counts(self) -> dict[str, int]:
        """Chunk rows per document id (documents without chunk rows are left out)."""
        return dict(self._conn.execute("SELECT doc_id, COUNT(*) FROM chunks GROUP BY doc_id").fetchall())

    def delete_chunks(self, chunk_ids: Sequence[str]) -> None:
        """Remove chunk rows by id (rows whose document is gone)."""
        with self._tx() as db:
            db.executemany("DELETE FROM chunks WHERE chunk_id = ?", [(cid,) for cid in chunk_ids])
            _bump_revision(db)

    def token_rows(self) -> Iterator[tuple[str, list[str]]]:
        """Each chunk id with its BM25 tokens, read as they are used (the BM25 build holds no copy of them all)."""
        for chunk_id, tokens in self._conn.execute("SELECT chunk_id, tokens FROM chunks ORDER BY rowid"):
            yield chunk_id, tokens.split()

    def check(self) -> None:
        """Run SQLite's integrity check; raise :class:`CatalogError` if it fails."""
        try:
            result = self._conn.execute("PRAGMA quick_check").fetchone()[0]
            if result == "ok":
                for table in ("manifest", "documents", "chunks", "pending"):
                    self._conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
        except sqlite3.DatabaseError as exc:
            result = str(exc)
        if result != "ok":
            raise CatalogError(
                f"the index catalog {self.path} is damaged ({result}); rebuild it with `assistant ingest --rebuild`"
            )


def dumps_manifest(values: dict[str, str]) -> str:
    """The manifest as stable JSON (for display)."""
    return json.dumps(values, indent=2, sort_keys=True)


def _bump_revision(db: sqlite3.Connection) -> None:
    """Count one more write of chunk rows, inside the writing transaction."""
    db.execute(
        "INSERT INTO manifest VALUES ('revision', '1') "
        "ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"
    )


def _chunk_rows(chunks: Sequence[Chunk], tokens: Sequence[list[str]]) -> list[tuple[object, ...]]:
    """The ``chunks`` table's rows for a document's chunks and their tokens."""
    return [
        (c.chunk_id, c.doc_id, c.index, c.start, c.end, c.text, c.language, c.title, int(c.boilerplate), " ".join(t))
        for c, t in zip(chunks, tokens, strict=True)
    ]
