"""A running reader (the UI) follows what another writer does to the same index, without a restart.

Additions, changes, removals and a rebuild, written by a second ``Services`` in this process and
by ``assistant ingest`` in another process, are seen by the reader's next search.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.config import load_settings
from assistant.services import Services, build_services

pytestmark = pytest.mark.slow

ASSISTANT = Path(sys.executable).parent / "assistant"
BASE = {
    "ferries.txt": "Inspector Quill counted 412 ferries in the harbour of Porto last spring.\n",
    "gardens.txt": "The botanical gardens of Graz hold 9000 species of alpine plants.\n",
}
NEW = "The Zorblax bridge over the river in Tartu was opened by the engineer Vantablue in May.\n"
CHANGED = "The Zorblax bridge over the river in Tartu was closed for repairs by the mayor Grimsby.\n"


def write_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in BASE.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def top(services: Services, query: str, mode: str) -> str | None:
    hits = services.search(query, k=1, mode=mode).hits  # type: ignore[arg-type]
    return hits[0].doc_id if hits else None


def texts(services: Services, query: str) -> str:
    return " ".join(hit.text for hit in services.search(query, k=3, mode="bm25").hits)


def cli_ingest(corpus: Path, *extra: str) -> None:
    done = subprocess.run(
        [str(ASSISTANT), "ingest", "-q", *extra, str(corpus)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr


def check_follows(reader: Services, corpus: Path, write: Callable[..., None]) -> None:
    """The reader sees each write ``write(corpus, *options)`` makes, at its next search."""
    assert top(reader, "How many ferries did Quill count?", "dense") == "ferries.txt"
    assert reader.search("Zorblax", mode="bm25").hits == []

    (corpus / "bridge.txt").write_text(NEW, encoding="utf-8")
    write(corpus)
    assert top(reader, "Who opened the Zorblax bridge in Tartu?", "dense") == "bridge.txt"
    assert "Vantablue" in texts(reader, "Zorblax bridge")
    assert reader.document("bridge.txt") is not None

    (corpus / "bridge.txt").write_text(CHANGED, encoding="utf-8")
    write(corpus)
    assert "Grimsby" in texts(reader, "Zorblax bridge") and "Vantablue" not in texts(reader, "Zorblax bridge")

    (corpus / "bridge.txt").unlink()
    write(corpus)
    assert reader.search("Zorblax", mode="bm25").hits == []
    assert top(reader, "Who closed the Zorblax bridge?", "dense") != "bridge.txt"
    assert reader.document("bridge.txt") is None

    (corpus / "bridge.txt").write_text(NEW, encoding="utf-8")
    write(corpus, "--rebuild")
    assert top(reader, "Who opened the Zorblax bridge in Tartu?", "dense") == "bridge.txt"
    assert top(reader, "How many ferries did Quill count?", "hybrid") == "ferries.txt"
    assert sorted(d.doc_id for d in reader.documents()) == ["bridge.txt", "ferries.txt", "gardens.txt"]
    assert reader.index.check_consistency() == []


def test_a_reader_follows_another_services_in_the_same_process(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    writer = build_services(load_settings())
    writer.ingest([corpus])
    reader = build_services(load_settings())

    def ingest(folder: Path, *options: str) -> None:
        writer.ingest([folder], rebuild="--rebuild" in options)

    check_follows(reader, corpus, ingest)


def test_a_reader_follows_cli_ingests_in_another_process(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus")
    cli_ingest(corpus)
    reader = build_services(load_settings())
    check_follows(reader, corpus, cli_ingest)
