"""Sentence-aware chunking with exact offsets."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from assistant.ingest.chunking import chunk_document
from assistant.ingest.readers import discover_files, read_document
from tests.conftest import CORPUS


def corpus_documents() -> list:
    refs, _ = discover_files([CORPUS], [".txt"])
    return [read_document(ref, 10**8) for ref in refs]


@pytest.mark.parametrize(("size", "overlap"), [(900, 150), (300, 0), (2000, 400)])
def test_every_chunk_of_the_corpus_has_exact_offsets(size: int, overlap: int) -> None:
    for doc in corpus_documents():
        chunks = chunk_document(doc, size, overlap)
        assert chunks
        for chunk in chunks:
            assert doc.text[chunk.start : chunk.end] == chunk.text
            assert len(chunk.text) <= size
        covered = set()
        for chunk in chunks:
            covered.update(range(chunk.start, chunk.end))
        non_space = {i for i, ch in enumerate(doc.text) if not ch.isspace()}
        assert non_space <= covered, "no text may be dropped"


def test_chunks_end_on_sentence_boundaries_and_overlap() -> None:
    doc = next(d for d in corpus_documents() if d.info.doc_id.startswith("001"))
    chunks = chunk_document(doc, 600, 200)
    for chunk in chunks[:-1]:
        assert chunk.text.rstrip()[-1] in '.!?…”"’»:,)' or doc.text[chunk.end] == "\n"
    overlaps = [a.end > b.start for a, b in pairwise(chunks)]
    assert any(overlaps)
    assert all(b.start > a.start for a, b in pairwise(chunks))


def test_ids_are_deterministic_and_teasers_are_tagged_not_dropped() -> None:
    doc = next(d for d in corpus_documents() if d.info.doc_id.startswith("001"))
    first = chunk_document(doc, 900, 150)
    second = chunk_document(doc, 900, 150)
    assert [c.chunk_id for c in first] == [c.chunk_id for c in second]
    assert len({c.chunk_id for c in first}) == len(first)
    tagged = [c for c in first if c.boilerplate]
    assert (
        tagged
        and "POTREBBE INTERESSARTI"
        in "".join(c.text for c in tagged) + doc.text[tagged[0].start - 40 : tagged[0].start]
    )
    assert any("ByteDance" in c.text for c in tagged)


def test_a_sentence_longer_than_the_chunk_is_split_at_words(tmp_path: Path) -> None:
    path = tmp_path / "long.txt"
    path.write_text("parola " * 400 + "fine.")
    refs, _ = discover_files([path], [".txt"])
    doc = read_document(refs[0], 10**8)
    chunks = chunk_document(doc, 300, 50)
    assert len(chunks) > 5
    assert all(doc.text[c.start : c.end] == c.text and len(c.text) <= 300 for c in chunks)
