"""The vectors' exact-search copy: the same hits as Chroma, never stale, rebuilt when damaged.

Real Chroma, real files; the "other process" is a real new Python process, since an embedded
client does not see another process's writes until it reopens the store.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.config import load_settings
from assistant.index.core import Index
from assistant.index.vector_copy import COPY_FILE, WRITES_FILE, CopyKey, VectorCopy, record_vector_write, vector_writes
from tests.conftest import CORPUS, SUITE_CHROMA_MODE
from tests.test_index_batches import DIM, MODEL, document

pytestmark = pytest.mark.slow


def build(docs: int = 6, per_doc: int = 40) -> Index:
    index = Index(load_settings(), MODEL, DIM)
    index.replace([document(f"d{n}.txt", per_doc, seed=n + 1) for n in range(docs)], known=set())
    return index


def questions(count: int, seed: int = 99) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def copy_path() -> Path:
    return load_settings().index_dir / COPY_FILE


@pytest.mark.embedded_only
def test_the_copy_finds_what_chroma_finds() -> None:
    index = build()
    assert index.vectors.write_copy() and copy_path().is_file()
    vectors = index.vectors
    for vector in questions(60):
        from_copy = vectors.query(vector, 10)
        from_chroma = vectors._chroma_query(vector, 10, None)
        assert [m.chunk_id for m in from_copy] == [m.chunk_id for m in from_chroma]
        assert np.allclose([m.similarity for m in from_copy], [m.similarity for m in from_chroma], atol=1e-5)
        scoped = vectors.query(vector, 10, ["d2.txt", "d4.txt"])
        assert [m.chunk_id for m in scoped] == [
            m.chunk_id for m in vectors._chroma_query(vector, 10, ["d2.txt", "d4.txt"])
        ]
        assert len(scoped) == 10 and {m.chunk_id.split("#")[0] for m in scoped} <= {"d2.txt", "d4.txt"}
    assert vectors.count() == 240 and vectors.query(questions(1)[0], 10, []) == []


@pytest.mark.embedded_only
def test_a_search_in_a_new_process_reads_the_copy_without_chromadb() -> None:
    index = build()
    index.vectors.write_copy()
    found = search_elsewhere(questions(1)[0])
    assert found["chromadb"] is False
    assert found["ids"] == [m.chunk_id for m in index.vectors._chroma_query(questions(1)[0], 5, None)]


SEARCH = f"""
import json, sys
import numpy as np
from assistant.config import load_settings
from assistant.index.core import Index
index = Index(load_settings(), {MODEL!r}, {DIM})
vector = np.asarray(json.loads(sys.argv[1]), dtype=np.float32)
ids = [m.chunk_id for m in index.vectors.query(vector, 5)]
print(json.dumps({{"ids": ids, "chromadb": "chromadb" in sys.modules}}))
"""

REMOVE = f"""
import sys
from assistant.config import load_settings
from assistant.index.core import Index
Index(load_settings(), {MODEL!r}, {DIM}).remove(sys.argv[1])
"""


def search_elsewhere(vector: np.ndarray) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", SEARCH, json.dumps(vector.tolist())], capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_a_document_removed_by_another_process_is_never_returned() -> None:
    index = build()
    index.vectors.write_copy()
    target = document("d3.txt", 40, seed=4)[2][7]  # the exact vector of one of d3's chunks
    assert index.vectors.query(target, 1)[0].chunk_id == "d3.txt#7"  # the copy is loaded in this process

    done = subprocess.run([sys.executable, "-c", REMOVE, "d3.txt"], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr

    assert not any(m.chunk_id.startswith("d3.txt#") for m in index.vectors.query(target, 40))
    assert not any(str(i).startswith("d3.txt#") for i in search_elsewhere(target)["ids"])  # type: ignore[attr-defined]
    assert index.vectors.count() == 200


def test_a_replaced_document_gives_its_new_vectors_only() -> None:
    index = build()
    index.vectors.write_copy()
    old = document("d1.txt", 40, seed=2)
    new = document("d1.txt", 40, seed=1234)
    index.replace([new], known={"d1.txt"})
    found = index.vectors.query(new[2][5], 1)
    assert found[0].chunk_id == "d1.txt#5" and found[0].similarity == pytest.approx(1.0, abs=1e-5)
    assert index.vectors.query(old[2][5], 1)[0].similarity < 0.99  # the old vector is gone
    if SUITE_CHROMA_MODE == "embedded":
        assert VectorCopy.load(copy_path(), current_key(index)) is not None, "the search read the copy again"


def current_key(index: Index) -> CopyKey:
    writes = vector_writes(index.settings.index_dir / WRITES_FILE)
    return CopyKey(index.catalog.revision(), writes, index.embedding_model, index.dim, index.settings.chroma.collection)


REPAIR = f"""
import sys
from assistant.config import load_settings
from assistant.index.core import Index
Index(load_settings(), {MODEL!r}, {DIM}).delete_vectors(sys.argv[1:])
"""


@pytest.mark.embedded_only
def test_vectors_changed_without_a_new_catalog_revision_make_every_copy_stale() -> None:
    index = build()
    index.vectors.write_copy()
    target = document("d5.txt", 40, seed=6)[2][3]
    assert index.vectors.query(target, 1)[0].chunk_id == "d5.txt#3"  # loaded in this process
    revision = index.catalog.revision()

    # a repair in another process deletes vectors and writes no catalog row
    done = subprocess.run([sys.executable, "-c", REPAIR, "d5.txt#3"], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert index.catalog.revision() == revision

    index.vectors.refresh()  # this process's client reads the store's files again (as after any reopen)
    index._connection.reopen()
    assert "d5.txt#3" not in [m.chunk_id for m in index.vectors.query(target, 40)]
    assert "d5.txt#3" not in search_elsewhere(target)["ids"]  # type: ignore[operator]


@pytest.mark.embedded_only
def test_a_copy_read_while_the_vectors_changed_is_not_saved() -> None:
    index = build()
    vectors = index.vectors
    real_call = vectors._call

    def read_then_another_write(action: object, empty: object) -> object:
        found = real_call(action, empty)  # type: ignore[arg-type]
        record_vector_write(index.settings.index_dir / WRITES_FILE)  # as another process's write begins
        return found

    vectors._call = read_then_another_write  # type: ignore[method-assign]
    assert vectors.write_copy() is False and not copy_path().exists()
    vectors._call = real_call  # type: ignore[method-assign]
    assert vectors.write_copy() is True and copy_path().exists()


@pytest.mark.embedded_only
def test_the_copy_is_not_used_while_an_update_is_pending() -> None:
    index = build()
    index.vectors.write_copy()
    target = document("d2.txt", 40, seed=3)[2][0]
    # an update interrupted after its vectors were deleted, before its catalog rows changed
    index.catalog.mark_pending("d2.txt")
    index.vectors.delete_documents(["d2.txt"])
    assert not copy_path().exists(), "a write deletes the copy first"
    assert not any(m.chunk_id.startswith("d2.txt#") for m in index.vectors.query(target, 20))
    assert not copy_path().exists(), "no copy is read while an update is pending"
    assert index.undo_pending() == ["d2.txt"]


@pytest.mark.embedded_only
@pytest.mark.parametrize("damage", ["truncated", "flipped", "garbage", "other-key"])
def test_a_damaged_or_foreign_copy_is_read_again_from_chroma(damage: str) -> None:
    index = build()
    index.vectors.write_copy()
    path = copy_path()
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        path.write_bytes(bytes(data[: len(data) // 2]))
    elif damage == "flipped":  # one byte inside the vectors, beyond the zip's headers
        data[len(data) - 2000] ^= 0xFF
        path.write_bytes(bytes(data))
    elif damage == "garbage":
        path.write_bytes(b"not a copy")
    else:  # a copy read under another revision
        stale = VectorCopy.from_store(
            CopyKey("elsewhere:1", "", MODEL, DIM, "documents"), ["x#0"], ["x"], np.ones((1, DIM), dtype=np.float32)
        )
        stale.save(path)
    assert VectorCopy.load(path, current_key(index)) is None

    fresh = Index(load_settings(), MODEL, DIM)  # what a new process sees (the same client of the store)
    vector = questions(1)[0]
    assert [m.chunk_id for m in fresh.vectors.query(vector, 10)] == [
        m.chunk_id for m in fresh.vectors._chroma_query(vector, 10, None)
    ]
    restored = VectorCopy.load(path, current_key(index))
    assert restored is not None and len(restored) == 240


def test_no_copy_in_server_mode_or_when_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    if SUITE_CHROMA_MODE == "embedded":
        monkeypatch.setenv("ASSISTANT_CHROMA__LOCAL_COPY", "false")
    index = build(docs=2)
    assert index.vectors.write_copy() is False
    assert index.vectors.query(questions(1)[0], 3) and not copy_path().exists()


@pytest.mark.embedded_only
def test_an_ingest_leaves_a_copy_that_ranks_the_shipped_questions_as_chroma(corpus_services: object) -> None:
    from assistant.services import Services

    assert isinstance(corpus_services, Services)
    settings = corpus_services.settings
    index = corpus_services.index
    saved = VectorCopy.load(settings.index_dir / COPY_FILE, current_key(index))
    assert saved is not None and len(saved) == index.counts()[1], "the ingest saved a current copy"
    pool = settings.retrieval.candidates
    for line in (CORPUS / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        vector = corpus_services.embedder.embed_query(json.loads(line)["question"])
        from_copy = index.vectors.query(vector, pool)
        from_chroma = index.vectors._chroma_query(vector, pool, None)
        assert [m.chunk_id for m in from_copy] == [m.chunk_id for m in from_chroma]
        assert np.allclose([m.similarity for m in from_copy], [m.similarity for m in from_chroma], atol=1e-5)
