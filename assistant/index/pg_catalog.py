"""The PostgreSQL catalog of the server mode: the SQLite catalog's interface, shared by every machine.

Same tables, same journal protocol (:mod:`assistant.index.core`): a document's rows are replaced and
its pending mark cleared in one transaction. The writer lock is an advisory lock held on a
connection of its own for the ingest's duration (:func:`advisory_lock`): the server releases it when
that connection dies, so a killed ingest never leaves it held. psycopg is imported only here, so the
embedded default never loads it.

A server that goes away costs the question being asked (:class:`StoreUnavailableError`, one line,
exit 3); the next call connects again.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from assistant.errors import CatalogError, IndexVersionError, IngestBusyError, StoreUnavailableError
from assistant.index.migrations import (
    POSTGRES_MIGRATIONS,
    chunk_from_row,
    chunk_rows,
    migrate_postgres,
    postgres_version,
)
from assistant.models import Chunk, DocumentInfo

INGEST_LOCK = 0x61737369_6E676573  # "assinges": the advisory lock that serialises the ingests of a catalog
_TOKEN_PAGE = 2000
_WRITTEN_HERE: dict[str, str] = {}
"""The last revision each catalog (by address) was written to by this process."""
_REVISION = "SELECT key, value FROM manifest WHERE key IN ('catalog_id', 'revision')"
_CHUNK_COLUMNS = 'chunk_id, doc_id, idx, start, "end", text, language, title, boilerplate'


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - the extra is part of the server install
        raise CatalogError("the PostgreSQL catalog needs psycopg: pip install 'local-doc-assistant[server]'") from exc
    return psycopg


def address(url: str) -> str:
    """``host:port/database`` of a catalog URL (never its password), for messages."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except Exception:
        return "(an unreadable URL)"
    return f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"


def unreachable(url: str, exc: BaseException) -> StoreUnavailableError:
    """The one-line error for a PostgreSQL server that cannot be reached or went away."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return StoreUnavailableError(f"cannot reach the PostgreSQL catalog at {address(url)}: {first}")


def connect(url: str, timeout: float) -> Any:
    """An autocommit connection to the catalog's server (raises :class:`StoreUnavailableError`)."""
    psycopg = _psycopg()
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=max(1, round(timeout)))
    except psycopg.Error as exc:
        raise unreachable(url, exc) from exc


def catalog_exists(url: str, timeout: float) -> bool:
    """Whether the database holds a catalog (one an ingest made); creates nothing."""
    conn = connect(url, timeout)
    try:
        if postgres_version(conn) == 0:
            return False
        return conn.execute("SELECT 1 FROM manifest WHERE key = 'catalog_id'").fetchone() is not None
    except _psycopg().Error as exc:
        raise unreachable(url, exc) from exc
    finally:
        conn.close()


class PostgresCatalog:
    """Documents, chunks and tokens of one index in a PostgreSQL database (see the module doc).

    Opening it applies the migrations the database lacks and names a new catalog. Safe to share
    between threads: one connection, used by one thread at a time.
    """

    read_only = False

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url
        self.timeout = timeout
        self.generation = 0
        """How many times the catalog was found rebuilt (its id changed) since it was opened."""
        self._lock = threading.RLock()
        self._conn: Any = None
        with self._session() as conn:
            migrate_postgres(conn)
            _name_catalog(conn)
            self._catalog_id = _catalog_id(conn)

    # -- connection ----------------------------------------------------------------------------
    @contextmanager
    def _session(self) -> Iterator[Any]:
        """The connection (made again if it broke), its errors as one line."""
        psycopg = _psycopg()
        with self._lock:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._conn = connect(self.url, self.timeout)
            try:
                yield self._conn
            except psycopg.Error as exc:
                if self._conn.broken or self._conn.closed:  # the server went away: the next call connects again
                    self._conn.close()
                    raise unreachable(self.url, exc) from exc
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise CatalogError(f"the PostgreSQL catalog at {address(self.url)} failed: {first}") from exc

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._session() as conn:
            return list(conn.execute(sql, params).fetchall())

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        with self._session() as conn, conn.transaction():
            yield conn

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()

    def schema_version(self) -> int:
        """How many of the migrations (:mod:`assistant.index.migrations`) the catalog has had."""
        with self._session() as conn:
            return postgres_version(conn)

    def server_version(self) -> str:
        """The PostgreSQL server's version (e.g. ``15.18``)."""
        return str(self._rows("SHOW server_version")[0][0]).split()[0]

    # -- manifest ------------------------------------------------------------------------------
    def manifest(self) -> dict[str, str]:
        """The versions and embedding model that wrote this index."""
        return dict(self._rows("SELECT key, value FROM manifest"))

    def write_manifest(self, values: dict[str, str]) -> None:
        """Record the versions and embedding model that wrote this index."""
        with self._tx() as conn:
            conn.cursor().executemany(_UPSERT_MANIFEST, list(values.items()))

    def revision(self) -> str:
        """This catalog's id and how many times its chunks were written (one query; see the SQLite catalog)."""
        rows = dict(self._rows(_REVISION))
        catalog_id = rows.get("catalog_id", "")
        if catalog_id != self._catalog_id:  # rebuilt by another process
            self._catalog_id = catalog_id
            self.generation += 1
        return f"{catalog_id}:{rows.get('revision', '0')}"

    def written_here(self, revision: str) -> bool:
        """True when ``revision`` was written by this process."""
        return _WRITTEN_HERE.get(self.url) == revision

    def _wrote(self) -> None:
        _WRITTEN_HERE[self.url] = self.revision()

    # -- documents -----------------------------------------------------------------------------
    def documents(self) -> list[DocumentInfo]:
        """All indexed documents, by id."""
        rows = self._rows('SELECT info FROM documents ORDER BY doc_id COLLATE "C"')
        return [DocumentInfo.model_validate_json(row[0]) for row in rows]

    def document(self, doc_id: str) -> DocumentInfo | None:
        """One document's record, if indexed."""
        rows = self._rows("SELECT info FROM documents WHERE doc_id = %s", (doc_id,))
        return DocumentInfo.model_validate_json(rows[0][0]) if rows else None

    def counts(self) -> tuple[int, int]:
        """(documents, chunks)."""
        row = self._rows("SELECT (SELECT COUNT(*) FROM documents), (SELECT COUNT(*) FROM chunks)")[0]
        return int(row[0]), int(row[1])

    # -- journal -------------------------------------------------------------------------------
    def mark_pending(self, *doc_ids: str) -> None:
        """Record that these documents' vectors are about to change."""
        with self._tx() as conn:
            conn.cursor().executemany("INSERT INTO pending VALUES (%s) ON CONFLICT DO NOTHING", [(d,) for d in doc_ids])

    def pending(self) -> list[str]:
        """Documents whose update was interrupted."""
        return [row[0] for row in self._rows('SELECT doc_id FROM pending ORDER BY doc_id COLLATE "C"')]

    def clear_pending(self, doc_id: str) -> None:
        """Forget a pending mark, keeping the document's rows (its update was undone)."""
        with self._tx() as conn:
            conn.execute("DELETE FROM pending WHERE doc_id = %s", (doc_id,))

    # -- writes --------------------------------------------------------------------------------
    def replace_document(self, info: DocumentInfo, chunks: Sequence[Chunk], tokens: Sequence[list[str]]) -> None:
        """Atomically replace a document and its chunks, and clear its pending mark."""
        self.replace_documents([(info, chunks, tokens)])

    def replace_documents(self, documents: Sequence[tuple[DocumentInfo, Sequence[Chunk], Sequence[list[str]]]]) -> None:
        """Replace several documents with their chunks and BM25 tokens in one transaction; clear their marks."""
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        with self._tx() as conn:
            cursor = conn.cursor()
            for info, chunks, tokens in documents:
                info = info.model_copy(update={"n_chunks": len(chunks), "indexed_at": stamp})
                cursor.execute("DELETE FROM chunks WHERE doc_id = %s", (info.doc_id,))
                cursor.execute(
                    "INSERT INTO documents VALUES (%s, %s) ON CONFLICT (doc_id) DO UPDATE SET info = EXCLUDED.info",
                    (info.doc_id, info.model_dump_json()),
                )
                cursor.executemany(
                    f"INSERT INTO chunks ({_CHUNK_COLUMNS}, tokens) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    chunk_rows(chunks, tokens),
                )
                cursor.execute("DELETE FROM pending WHERE doc_id = %s", (info.doc_id,))
            _touch(cursor, stamp)
        self._wrote()

    def delete_document(self, doc_id: str) -> None:
        """Atomically remove a document, its chunks and its pending mark."""
        with self._tx() as conn:
            cursor = conn.cursor()
            for table in ("chunks", "documents", "pending"):
                cursor.execute(f"DELETE FROM {table} WHERE doc_id = %s", (doc_id,))
            _touch(cursor, datetime.now(UTC).isoformat(timespec="seconds"))
        self._wrote()

    def delete_chunks(self, chunk_ids: Sequence[str]) -> None:
        """Remove chunk rows by id (rows whose document is gone)."""
        with self._tx() as conn:
            conn.execute("DELETE FROM chunks WHERE chunk_id = ANY(%s)", (list(chunk_ids),))
            conn.execute(_BUMP)
        self._wrote()

    def reset(self) -> None:
        """Empty the catalog for a rebuild and give it a new id (other processes see it rebuilt)."""
        with self._tx() as conn:
            conn.execute("TRUNCATE manifest, documents, chunks, pending")
            _name_catalog(conn)
        self.revision()

    # -- reads ---------------------------------------------------------------------------------
    def chunks(self, chunk_ids: Sequence[str]) -> dict[str, Chunk]:
        """Chunks by id (ids not in the catalog are left out)."""
        rows = self._rows(f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE chunk_id = ANY(%s)", (list(chunk_ids),))
        return {row[0]: chunk_from_row(row) for row in rows}

    def document_chunks(self, doc_id: str) -> list[Chunk]:
        """A document's chunks in order."""
        rows = self._rows(f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE doc_id = %s ORDER BY idx", (doc_id,))
        return [chunk_from_row(row) for row in rows]

    def all_chunk_ids(self) -> set[str]:
        """Every chunk id in the catalog."""
        return {row[0] for row in self._rows("SELECT chunk_id FROM chunks")}

    def chunk_owners(self) -> dict[str, str]:
        """Every chunk id in the catalog, with its document id."""
        return dict(self._rows("SELECT chunk_id, doc_id FROM chunks"))

    def chunk_counts(self) -> dict[str, int]:
        """Chunk rows per document id (documents without chunk rows are left out)."""
        return {doc: int(n) for doc, n in self._rows("SELECT doc_id, COUNT(*) FROM chunks GROUP BY doc_id")}

    def token_rows(self) -> Iterator[tuple[str, list[str]]]:
        """Each chunk id with its BM25 tokens, in insertion order, a page at a time (bounded memory)."""
        after = 0
        while True:
            page = self._rows(
                "SELECT seq, chunk_id, tokens FROM chunks WHERE seq > %s ORDER BY seq LIMIT %s", (after, _TOKEN_PAGE)
            )
            for _, chunk_id, tokens in page:
                yield chunk_id, tokens.split()
            if len(page) < _TOKEN_PAGE:
                return
            after = page[-1][0]

    def check(self) -> None:
        """Raise :class:`IndexVersionError` for a catalog migrated by a newer version, else check its tables."""
        version = self.schema_version()
        if version > len(POSTGRES_MIGRATIONS):
            raise IndexVersionError(
                f"the PostgreSQL catalog at {address(self.url)} has schema version {version} but this assistant "
                f"knows {len(POSTGRES_MIGRATIONS)}: upgrade the assistant"
            )
        for table in ("manifest", "documents", "chunks", "pending"):
            self._rows(f"SELECT COUNT(*) FROM {table}")


@contextmanager
def advisory_lock(url: str, wait: float, timeout: float) -> Iterator[None]:
    """Hold the catalog's ingest lock on a connection of its own, waiting at most ``wait`` seconds.

    Raises :class:`IngestBusyError` when another process (on any machine) holds it that long. The
    server releases the lock when the connection closes, including when this process is killed.
    """
    conn = connect(url, timeout)
    held = False
    try:
        deadline = time.monotonic() + wait
        while not conn.execute("SELECT pg_try_advisory_lock(%s)", (INGEST_LOCK,)).fetchone()[0]:
            if time.monotonic() >= deadline:
                raise IngestBusyError(
                    f"another ingest is running on the catalog {address(url)} (waited {wait:.0f} s); "
                    "try again when it has finished"
                )
            time.sleep(0.1)
        held = True
        yield
    except _psycopg().OperationalError as exc:
        raise unreachable(url, exc) from exc
    finally:
        if held and not conn.broken:
            with contextlib.suppress(Exception):  # closing releases it anyway; unlocking first is synchronous
                conn.execute("SELECT pg_advisory_unlock(%s)", (INGEST_LOCK,))
        conn.close()


_UPSERT_MANIFEST = "INSERT INTO manifest VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
_BUMP = (
    "INSERT INTO manifest VALUES ('revision', '1') "
    "ON CONFLICT (key) DO UPDATE SET value = (CAST(manifest.value AS BIGINT) + 1)::text"
)


def _touch(cursor: Any, stamp: str) -> None:
    """Record the time of a write of chunk rows and count it, inside the writing transaction."""
    cursor.execute(_UPSERT_MANIFEST, ("updated_at", stamp))
    cursor.execute(_BUMP)


def _name_catalog(conn: Any) -> None:
    """Give a catalog without an id one (so that files derived from another catalog never match)."""
    conn.execute("INSERT INTO manifest VALUES ('catalog_id', %s) ON CONFLICT (key) DO NOTHING", (secrets.token_hex(8),))


def _catalog_id(conn: Any) -> str:
    row = conn.execute("SELECT value FROM manifest WHERE key = 'catalog_id'").fetchone()
    return str(row[0]) if row else ""
