"""The catalog's schema as an ordered list of migrations, one list per database (SQLite, PostgreSQL).

A catalog records how many migrations it has had (SQLite: ``PRAGMA user_version``; PostgreSQL: the
``schema_migrations`` table); opening it applies the ones it lacks, in order, each in its own
transaction. Migrations are only ever appended: a released one is never edited.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from assistant.models import Chunk

SQLITE_MIGRATIONS: list[str] = [
    # 1: the first schema (its statements are idempotent: catalogs made before migrations were counted
    # already hold these tables)
    """
    CREATE TABLE IF NOT EXISTS manifest (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS documents (doc_id TEXT PRIMARY KEY, info TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS chunks (
        chunk_id TEXT PRIMARY KEY, doc_id TEXT NOT NULL, idx INTEGER NOT NULL,
        start INTEGER NOT NULL, end INTEGER NOT NULL, text TEXT NOT NULL, language TEXT NOT NULL,
        title TEXT NOT NULL, boilerplate INTEGER NOT NULL, tokens TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS chunks_doc ON chunks (doc_id);
    CREATE TABLE IF NOT EXISTS pending (doc_id TEXT PRIMARY KEY);
    """,
]

POSTGRES_MIGRATIONS: list[str] = [
    # 1: the same tables; `seq` keeps the insertion order that SQLite's rowid gives (the BM25 build reads it)
    """
    CREATE TABLE manifest (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE documents (doc_id TEXT PRIMARY KEY, info TEXT NOT NULL);
    CREATE TABLE chunks (
        chunk_id TEXT PRIMARY KEY, doc_id TEXT NOT NULL, idx INTEGER NOT NULL,
        start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL, language TEXT NOT NULL,
        title TEXT NOT NULL, boilerplate BOOLEAN NOT NULL, tokens TEXT NOT NULL, seq BIGSERIAL NOT NULL
    );
    CREATE INDEX chunks_doc ON chunks (doc_id);
    CREATE INDEX chunks_seq ON chunks (seq);
    CREATE TABLE pending (doc_id TEXT PRIMARY KEY);
    """,
]

MIGRATION_LOCK = 0x61737369_6D696772  # "assimigr": one process at a time migrates a PostgreSQL catalog


def migrate_sqlite(conn: sqlite3.Connection) -> int:
    """Apply the SQLite migrations ``conn``'s database lacks; return its schema version."""
    done = int(conn.execute("PRAGMA user_version").fetchone()[0])
    for number, script in enumerate(SQLITE_MIGRATIONS[done:], start=done + 1):
        # executescript commits first; the version is written with the schema, so a crash redoes both
        conn.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
    return len(SQLITE_MIGRATIONS) if done < len(SQLITE_MIGRATIONS) else done


def postgres_version(conn: Any) -> int:
    """How many migrations a PostgreSQL catalog has had (0 for an empty database)."""
    exists = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0]
    if exists is None:
        return 0
    return int(conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0])


def migrate_postgres(conn: Any) -> int:
    """Apply the PostgreSQL migrations the database lacks, under a lock; return its schema version.

    ``conn`` is a psycopg connection in autocommit mode. Two processes opening a new catalog at once
    take turns: the second finds the migrations applied.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
            "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        done = postgres_version(conn)
        for number, script in enumerate(POSTGRES_MIGRATIONS[done:], start=done + 1):
            conn.execute(script)
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (number,))
    return max(done, len(POSTGRES_MIGRATIONS))


def chunk_rows(chunks: Sequence[Chunk], tokens: Sequence[list[str]]) -> list[tuple[object, ...]]:
    """The ``chunks`` table's rows (both schemas, column order of the migrations) for chunks and their tokens."""
    return [
        (c.chunk_id, c.doc_id, c.index, c.start, c.end, c.text, c.language, c.title, c.boilerplate, " ".join(t))
        for c, t in zip(chunks, tokens, strict=True)
    ]


def chunk_from_row(row: Sequence[Any]) -> Chunk:
    """The chunk of a row ``chunk_id, doc_id, idx, start, end, text, language, title, boilerplate``."""
    return Chunk(
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
