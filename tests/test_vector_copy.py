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
from assistant.index.vector_copy import COPY_FILE, CopyKey, VectorCopy
from tests.conftest import SUITE_CHROMA_MODE
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
    return CopyKey(index.catalog.revision(), MODEL, DIM, index.settings.chroma.collection)


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
            CopyKey("elsewhere:1", MODEL, DIM, "documents"), ["x#0"], ["x"], np.ones((1, DIM), dtype=np.float32)
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
