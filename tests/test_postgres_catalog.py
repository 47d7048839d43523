"""The PostgreSQL catalog answers as the SQLite one does, migrates once, writes atomically, locks, reconnects.

Everything runs on a real PostgreSQL server (tests/pg_server.py); nothing is faked.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from conftest import collection_for, free_port
from pg_server import PostgresServer, remove_postgres, start_postgres

from assistant.errors import IndexVersionError, IngestBusyError, StoreUnavailableError
from assistant.index.catalog import Catalog
from assistant.index.catalog_store import CatalogStore
from assistant.index.migrations import POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS
from assistant.index.pg_catalog import PostgresCatalog, advisory_lock
from assistant.models import Chunk, DocumentInfo

pytestmark = pytest.mark.server


@pytest.fixture
def pg_url(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> str:
    """A new, empty database of this test's own."""
    return postgres_server.create_database("c" + collection_for(request))


def document(doc_id: str, texts: Sequence[str], language: str = "it") -> tuple[DocumentInfo, list[Chunk]]:
    info = DocumentInfo(
        doc_id=doc_id,
        path=f"/docs/{doc_id}",
        title=doc_id.upper(),
        language=language,
        sha256="0" * 64,
        encoding="utf-8",
        format="txt",
        n_chars=sum(map(len, texts)),
    )
    chunks, start = [], 0
    for number, text in enumerate(texts):
        chunk_id = f"{doc_id}#{number}:{text[:8]}"
        chunks.append(
            Chunk(
                chunk_id=chunk_id,
                doc_id=doc_id,
                index=number,
                start=start,
                end=start + len(text),
                text=text,
                language=language,
                title=doc_id.upper(),
                boilerplate=number == 2,
            )
        )
        start += len(text)
    return info, chunks


def write_history(catalog: CatalogStore) -> None:
    """The same writes, in the same order, on either catalog."""
    a, a_chunks = document("a.txt", ["Il ponte di Trieste.", "Le biblioteche di Lione.", "Tre forni."])
    b, b_chunks = document("b.md", ["Ferries in Bergen.", "Gardens in Graz."], "en")
    c, c_chunks = document("c.txt", ["Musées de Nantes."], "fr")
    catalog.write_manifest({"schema_version": "1", "embedding_model": "m"})
    catalog.mark_pending("a.txt", "b.md")
    catalog.replace_documents(
        [
            (a, a_chunks, [t.text.lower().split() for t in a_chunks]),
            (b, b_chunks, [t.text.lower().split() for t in b_chunks]),
        ]
    )
    catalog.mark_pending("c.txt")
    catalog.replace_document(c, c_chunks, [["musées", "nantes"]])
    a2, a2_chunks = document("a.txt", ["Il ponte di Trieste.", "Un teatro nuovo."])
    catalog.mark_pending("a.txt")
    catalog.replace_document(a2, a2_chunks, [t.text.lower().split() for t in a2_chunks])
    catalog.mark_pending("b.md", "zz.txt")
    catalog.delete_document("b.md")
    catalog.clear_pending("zz.txt")
    catalog.mark_pending("c.txt")


def view(catalog: CatalogStore) -> dict[str, object]:
    """Everything a reader can ask of a catalog, with the timestamps left out."""

    def plain(info: DocumentInfo | None) -> object:
        return None if info is None else info.model_dump(exclude={"indexed_at"})

    ids = sorted(catalog.all_chunk_ids())
    return {
        "manifest": {k: v for k, v in catalog.manifest().items() if k not in ("catalog_id", "updated_at")},
        "documents": [plain(info) for info in catalog.documents()],
        "document": [plain(catalog.document(d)) for d in ("a.txt", "b.md", "c.txt")],
        "counts": catalog.counts(),
        "revision": catalog.revision().split(":")[1],
        "pending": catalog.pending(),
        "chunks": catalog.chunks([*ids, "missing"]),
        "document_chunks": [catalog.document_chunks(d) for d in ("a.txt", "c.txt", "b.md")],
        "owners": catalog.chunk_owners(),
        "chunk_counts": catalog.chunk_counts(),
        "tokens": list(catalog.token_rows()),
        "schema": catalog.schema_version(),
    }


def test_both_catalogs_answer_every_question_alike(tmp_path: Path, pg_url: str) -> None:
    sqlite_catalog, pg_catalog = Catalog(tmp_path / "catalog.sqlite"), PostgresCatalog(pg_url)
    for catalog in (sqlite_catalog, pg_catalog):
        write_history(catalog)
    expected = view(sqlite_catalog)
    assert expected["pending"] == ["c.txt"] and expected["counts"] == (2, 3)  # the history did what it says
    assert view(pg_catalog) == expected
    pg_catalog.delete_chunks(["c.txt#0:Musées d"])
    assert pg_catalog.chunk_counts() == {"a.txt": 2} and pg_catalog.revision().endswith(":5")
    pg_catalog.check()


def test_a_second_process_sees_writes_and_a_rebuild(pg_url: str) -> None:
    writer, reader = PostgresCatalog(pg_url), PostgresCatalog(pg_url)
    first = reader.revision()
    write_history(writer)
    assert reader.revision() != first and reader.revision() == writer.revision()
    assert not reader.written_here(reader.revision()) or reader.url == writer.url  # one process: same key
    assert reader.generation == 0
    writer.reset()
    assert reader.counts() == (0, 0) and reader.manifest().keys() == {"catalog_id"}
    assert reader.revision().split(":")[0] != first.split(":")[0] and reader.generation == 1


def test_migrations_run_once_and_are_recorded(tmp_path: Path, pg_url: str) -> None:
    import psycopg

    PostgresCatalog(pg_url).close()
    PostgresCatalog(pg_url).close()  # a second open applies nothing again
    with psycopg.connect(pg_url) as conn:
        assert [r[0] for r in conn.execute("SELECT version FROM schema_migrations")] == [1]
        conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (len(POSTGRES_MIGRATIONS) + 1,))
    with pytest.raises(IndexVersionError, match="schema version 2 but this assistant knows 1"):
        PostgresCatalog(pg_url).check()

    # SQLite: a catalog made before migrations were counted keeps its rows and is counted as migrated
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as old:
        old.executescript(SQLITE_MIGRATIONS[0])
        old.execute("INSERT INTO documents VALUES ('x.txt', '{}')")
    assert Catalog(path).schema_version() == len(SQLITE_MIGRATIONS)
    with sqlite3.connect(path) as old:
        assert old.execute("SELECT doc_id FROM documents").fetchall() == [("x.txt",)]


class FailingTokens(Sequence[list[str]]):
    """Tokens that fail at the second chunk, as an ingest killed mid-transaction would."""

    def __init__(self, count: int) -> None:
        self.count = count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def __iter__(self) -> Iterator[list[str]]:
        yield ["uno"]
        raise RuntimeError("interrupted")


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_replacement_and_journal_are_one_transaction(tmp_path: Path, pg_url: str, kind: str) -> None:
    catalog: CatalogStore = Catalog(tmp_path / "c.sqlite") if kind == "sqlite" else PostgresCatalog(pg_url)
    info, chunks = document("a.txt", ["Il ponte di Trieste.", "Le biblioteche di Lione."])
    catalog.replace_document(info, chunks, [["ponte"], ["biblioteche"]])
    before = (catalog.revision(), catalog.document_chunks("a.txt"), list(catalog.token_rows()))
    catalog.mark_pending("a.txt")
    new_info, new_chunks = document("a.txt", ["Un teatro.", "Due giardini.", "Tre forni."])
    with pytest.raises(RuntimeError, match="interrupted"):
        catalog.replace_document(new_info, new_chunks, FailingTokens(3))
    # nothing of the failed replacement landed: the old version whole, its mark kept for the next ingest
    assert (catalog.revision(), catalog.document_chunks("a.txt"), list(catalog.token_rows())) == before
    assert catalog.pending() == ["a.txt"]


HOLDER = textwrap.dedent(
    """
    import sys, time
    from assistant.index.pg_catalog import advisory_lock
    with advisory_lock(sys.argv[1], 5, 5):
        print("held", flush=True)
        time.sleep(600)
    """
)


def test_advisory_lock_waits_then_refuses_and_dies_with_its_holder(pg_url: str) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, pg_url], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        busy = r"another ingest is running on the catalog .* \(waited 1 s\)"
        with pytest.raises(IngestBusyError, match=busy), advisory_lock(pg_url, 1.0, 5):
            pass
        assert time.monotonic() - started >= 1.0
        holder.kill()  # SIGKILL: the server releases the lock with the dead connection
        holder.wait(timeout=10)
        with advisory_lock(pg_url, 10.0, 5):
            pass
    finally:
        holder.kill()


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A server of this test's own, which it stops and starts again."""
    server = start_postgres(free_port())
    yield server
    remove_postgres(server)


def test_catalog_reports_a_server_gone_in_one_line_and_reconnects(own_postgres: PostgresServer) -> None:
    url = own_postgres.create_database("gone")
    catalog = PostgresCatalog(url)
    write_history(catalog)
    counts = catalog.counts()
    own_postgres.stop("immediate")
    with pytest.raises(StoreUnavailableError, match=r"^cannot reach the PostgreSQL catalog at 127\.0\.0\.1:") as gone:
        catalog.counts()
    assert "\n" not in str(gone.value)
    with pytest.raises(StoreUnavailableError):
        advisory_lock(url, 1, 1).__enter__()
    own_postgres.start()
    assert catalog.counts() == counts  # the same object connects again


def test_a_catalog_url_that_is_not_postgresql_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from assistant.cli.app import app

    monkeypatch.setenv("ASSISTANT_CATALOG__URL", "mysql://user:secret@db.lan/assistant")
    result = CliRunner().invoke(app, ["search", "ponte"])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == "error: catalog.url must be a postgresql:// URL, not mysql://…"
    assert "secret" not in result.output
