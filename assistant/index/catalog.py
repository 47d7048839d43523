"""The catalog: documents, chunks and BM25 tokens in SQLite, beside the vector index (the embedded default).

The PostgreSQL catalog of the server mode (:mod:`assistant.index.pg_catalog`) keeps the same interface
(:class:`assistant.index.catalog_store.CatalogStore`).

SQLite transactions make each document's update atomic, and a ``pending`` journal records the
documents whose vectors are being replaced, so that an interrupted ingest is finished (or undone)
by the next one. A ``manifest`` table records the versions that wrote the index.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from assistant.errors import CatalogError, DiskFullError, IngestBusyError, StoreUnavailableError
from assistant.index.migrations import chunk_from_row, chunk_rows, migrate_sqlite
from assistant.index.storage import connect_read_only, storage_error, writing
from assistant.models import Chunk, DocumentInfo

SCHEMA_VERSION = 1
_REBUILD = "rebuild it with `assistant ingest --rebuild`"
_DAMAGED_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_BUSY_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED
_CATALOG_ID = "SELECT value FROM manifest WHERE key = 'catalog_id'"
_WRITTEN_HERE: dict[str, str] = {}
"""The last revision each catalog (by path) was written to by this process."""


class Catalog:
    """Documents, chunks and tokens of one index.

    ``read_only`` opens the file without ever writing it (for a data directory that cannot be
    written). When another process replaces the file (``ingest --rebuild``), the next call reads the
    new one.
    """

    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        self.generation = 0
        """How many times the file was found replaced and opened again."""
        self._reopen_lock = threading.Lock()
        self._full: DiskFullError | None = None
        self._identity, self._conn = self._connect()

    def _connect(self) -> tuple[tuple[int, int] | None, sqlite3.Connection]:
        what = f"the index catalog {self.path}"
        try:
            if self.read_only:
                conn = connect_read_only(self.path)
            else:
                try:
                    with writing(what, self.path):
                        conn = _connect_read_write(self.path)
                    self._full = None
                except DiskFullError as full:
                    if not self.path.is_file():
                        raise
                    # a WAL database cannot even be read when its shared-memory file cannot grow:
                    # read it as it is, and refuse writes as a full disk until there is space again
                    conn, self._full = connect_read_only(self.path), full
        except sqlite3.DatabaseError as exc:
            raise _damaged_or_not(exc, self.path) from exc
        return _identity(self.path), conn

    def _db(self) -> sqlite3.Connection:
        """The connection, opened again first if the file was replaced since (one ``stat``)."""
        identity = _identity(self.path)
        if identity is not None and identity != self._identity:
            with self._reopen_lock:
                if _identity(self.path) != self._identity:
                    self._identity, self._conn = self._connect()
                    self.generation += 1
        return self._conn

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def schema_version(self) -> int:
        """How many of the migrations (:mod:`assistant.index.migrations`) the catalog has had."""
        return int(self._db().execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        if self._full is not None:
            with self._reopen_lock:
                self._identity, self._conn = self._connect()  # is there space again?
            if self._full is not None:
                raise self._full
        db = self._db()
        with writing(f"the index catalog {self.path}", self.path), db:
            yield db

    # -- manifest --------------------------------------------------------------------------
    def manifest(self) -> dict[str, str]:
        """The versions and embedding model that wrote this index."""
        return dict(self._db().execute("SELECT key, value FROM manifest").fetchall())

    def write_manifest(self, values: dict[str, str]) -> None:
        """Record the versions and embedding model that wrote this index."""
        with self._tx() as db:
            db.executemany("INSERT OR REPLACE INTO manifest VALUES (?, ?)", list(values.items()))

    # -- documents -------------------------------------------------------------------------
    def documents(self) -> list[DocumentInfo]:
        """All indexed documents, by id."""
        rows = self._db().execute("SELECT info FROM documents ORDER BY doc_id").fetchall()
        return [DocumentInfo.model_validate_json(row[0]) for row in rows]

    def document(self, doc_id: str) -> DocumentInfo | None:
        """One document's record, if indexed."""
        row = self._db().execute("SELECT info FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return DocumentInfo.model_validate_json(row[0]) if row else None

    def counts(self) -> tuple[int, int]:
        """(documents, chunks)."""
        docs = self._db().execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        chunks = self._db().execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        return int(docs), int(chunks)

    def revision(self) -> str:
        """Names the chunks' content: this catalog's id and how many times its chunks were written.

        It is the same in every process, so files derived from the chunks (the saved BM25 index)
        can record which content they were built from; reading it is one lookup, cheap per query.
        """
        rows = dict(self._db().execute("SELECT key, value FROM manifest WHERE key IN ('catalog_id', 'revision')"))
        return f"{rows.get('catalog_id', '')}:{rows.get('revision', '0')}"

    def written_here(self, revision: str) -> bool:
        """True when ``revision`` was written by this process (then its other caches are current)."""
        return _WRITTEN_HERE.get(str(self.path.absolute())) == revision

    def _wrote(self) -> None:
        _WRITTEN_HERE[str(self.path.absolute())] = self.revision()

    # -- journal ---------------------------------------------------------------------------
    def mark_pending(self, *doc_ids: str) -> None:
        """Record that these documents' vectors are about to change."""
        with self._tx() as db:
            db.executemany("INSERT OR IGNORE INTO pending VALUES (?)", [(d,) for d in doc_ids])

    def pending(self) -> list[str]:
        """Documents whose update was interrupted."""
        return [row[0] for row in self._db().execute("SELECT doc_id FROM pending ORDER BY doc_id")]

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
                db.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", chunk_rows(chunks, tokens))
                db.execute("DELETE FROM pending WHERE doc_id = ?", (info.doc_id,))
            db.execute("INSERT OR REPLACE INTO manifest VALUES ('updated_at', ?)", (stamp,))
            _bump_revision(db)
        self._wrote()

    def delete_document(self, doc_id: str) -> None:
        """Atomically remove a document, its chunks and its pending mark."""
        with self._tx() as db:
            db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
            db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
            db.execute("DELETE FROM pending WHERE doc_id = ?", (doc_id,))
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            db.execute("INSERT OR REPLACE INTO manifest VALUES ('updated_at', ?)", (stamp,))
            _bump_revision(db)
        self._wrote()

    # -- reads -----------------------------------------------------------------------------
    def chunks(self, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        """Chunks by id (ids not in the catalog are left out)."""
        found: dict[str, Chunk] = {}
        for start in range(0, len(chunk_ids), 500):
            batch = list(chunk_ids[start : start + 500])
            marks = ",".join("?" * len(batch))
            rows = self._db().execute(
                "SELECT chunk_id, doc_id, idx, start, end, text, language, title, boilerplate "
                f"FROM chunks WHERE chunk_id IN ({marks})",
                batch,
            )
            for row in rows:
                found[row[0]] = chunk_from_row(row)
        return found

    def document_chunks(self, doc_id: str) -> list[Chunk]:
        """A document's chunks in order."""
        ids = [r[0] for r in self._db().execute("SELECT chunk_id FROM chunks WHERE doc_id = ? ORDER BY idx", (doc_id,))]
        found = self.chunks(ids)
        return [found[i] for i in ids]

    def all_chunk_ids(self) -> set[str]:
        """Every chunk id in the catalog."""
        return {row[0] for row in self._db().execute("SELECT chunk_id FROM chunks")}

    def chunk_owners(self) -> dict[str, str]:
        """Every chunk id in the catalog, with its document id."""
        return dict(self._db().execute("SELECT chunk_id, doc_id FROM chunks").fetchall())

    def chunk_counts(self) -> dict[str, int]:
        """Chunk rows per document id (documents without chunk rows are left out)."""
        return dict(self._db().execute("SELECT doc_id, COUNT(*) FROM chunks GROUP BY doc_id").fetchall())

    def delete_chunks(self, chunk_ids: Sequence[str]) -> None:
        """Remove chunk rows by id (rows whose document is gone)."""
        with self._tx() as db:
            db.executemany("DELETE FROM chunks WHERE chunk_id = ?", [(cid,) for cid in chunk_ids])
            _bump_revision(db)
        self._wrote()

    def token_rows(self) -> Iterator[tuple[str, list[str]]]:
        """Each chunk id with its BM25 tokens, read as they are used (the BM25 build holds no copy of them all)."""
        for chunk_id, tokens in self._db().execute("SELECT chunk_id, tokens FROM chunks ORDER BY rowid"):
            yield chunk_id, tokens.split()

    def check(self) -> None:
        """Run SQLite's integrity check; raise :class:`CatalogError` if it finds the file damaged."""
        try:
            result = self._db().execute("PRAGMA quick_check").fetchone()[0]
            if result == "ok":
                for table in ("manifest", "documents", "chunks", "pending"):
                    self._db().execute(f"SELECT COUNT(*) FROM {table}").fetchone()
        except sqlite3.DatabaseError as exc:
            raise _damaged_or_not(exc, self.path) from exc
        if result != "ok":
            raise CatalogError(f"the index catalog {self.path} is damaged ({result}); {_REBUILD}")


def dumps_manifest(values: dict[str, str]) -> str:
    """The manifest as stable JSON (for display)."""
    return json.dumps(values, indent=2, sort_keys=True)


def _identity(path: Path) -> tuple[int, int] | None:
    """Which file is at ``path`` (device and inode), or None when there is none."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


def _connect_read_write(path: Path) -> sqlite3.Connection:
    """A connection that may write, to a catalog made (with its schema and id) if it does not exist."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    migrate_sqlite(conn)
    if conn.execute("SELECT 1 FROM manifest WHERE key = 'catalog_id'").fetchone() is None:
        with conn:  # names this catalog, so that files derived from another one never match
            made = conn.execute("INSERT OR IGNORE INTO manifest VALUES ('catalog_id', lower(hex(randomblob(8))))")
        if made.rowcount:  # this process made it: its first revision is this process's own
            _WRITTEN_HERE[str(path.absolute())] = f"{conn.execute(_CATALOG_ID).fetchone()[0]}:0"
    return conn


def _damaged_or_not(exc: sqlite3.DatabaseError, path: Path) -> Exception:
    """What a failure to read the catalog means: damage only when SQLite says the file is damaged."""
    code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    if code in _DAMAGED_CODES:
        return CatalogError(f"the index catalog {path} is damaged ({exc}); {_REBUILD}")
    mapped = storage_error(exc, f"the index catalog {path}", path)
    if mapped is not None:
        return mapped
    if code in _BUSY_CODES:
        return IngestBusyError(f"the index catalog {path} is locked by another process ({exc}); try again")
    return StoreUnavailableError(f"cannot open the index catalog {path}: {exc}")


def _bump_revision(db: sqlite3.Connection) -> None:
    """Count one more write of chunk rows, inside the writing transaction."""
    db.execute(
        "INSERT INTO manifest VALUES ('revision', '1') "
        "ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"
    )
