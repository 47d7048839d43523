"""Sentence-aware chunking that keeps exact character offsets into the document's text."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import NamedTuple

from assistant.models import Chunk, LoadedDocument
from assistant.text.sentences import Span, iter_sentences

# Lines that open a block of related-article teasers or share buttons on news pages. Chunks from
# there on are tagged as boilerplate (kept and searchable, but ranked lower). The spaces around a
# marker stay on its line (``\s*`` would run across blank lines from every line start: quadratic).
_BOILERPLATE_MARKERS = re.compile(
    r"^[^\S\n]*+(POTREBBE INTERESSARTI|LEGGI ANCHE|ARTICOLI CORRELATI|Share This|Related articles|"
    r"Read more|Lire aussi|À lire aussi|Sur le même sujet)[^\S\n]*+$",
    re.IGNORECASE | re.MULTILINE,
)


def chunk_id(doc_id: str, index: int, text: str) -> str:
    """A deterministic id: the same document text always gives the same ids."""
    digest = hashlib.sha256(f"{doc_id}\0{index}\0{text}".encode()).hexdigest()
    return digest[:32]


def chunk_document(doc: LoadedDocument, chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    """Cut a document into sentence-aligned chunks of about ``chunk_size`` characters.

    Consecutive chunks share trailing sentences of at most ``chunk_overlap`` characters. Every
    chunk satisfies ``doc.text[chunk.start:chunk.end] == chunk.text``.
    """
    spans = _bounded_spans(iter_sentences(doc.text), chunk_size, doc.text)
    boilerplate_from = _boilerplate_start(doc.text)
    chunks: list[Chunk] = []
    first = 0
    while first < len(spans):
        last = _last_fitting(spans, first, chunk_size, boilerplate_from)
        start, end = spans[first].start, spans[last].end
        text = doc.text[start:end]
        index = len(chunks)
        chunks.append(
            Chunk(
                chunk_id=chunk_id(doc.info.doc_id, index, text),
                doc_id=doc.info.doc_id,
                index=index,
                text=text,
                start=start,
                end=end,
                language=doc.info.language,
                title=doc.info.title,
                boilerplate=start >= boilerplate_from,
            )
        )
        if last + 1 >= len(spans):
            break
        crossing = spans[last].start < boilerplate_from <= spans[last + 1].start
        first = last + 1 if crossing else _next_first(spans, first, last, chunk_overlap)
    return chunks


def _last_fitting(spans: list[_Bounds], first: int, chunk_size: int, boundary: int) -> int:
    """The last sentence of a chunk: within the size, and never across the boilerplate boundary."""
    last = first
    while last + 1 < len(spans) and spans[last + 1].end - spans[first].start <= chunk_size:
        if spans[first].start < boundary <= spans[last + 1].start:
            break
        last += 1
    return last


def _next_first(spans: list[_Bounds], first: int, last: int, overlap: int) -> int:
    """The first sentence of the next chunk: overlap with the tail of this one, but always advance."""
    nxt = last + 1
    while nxt - 1 > first and spans[last].end - spans[nxt - 1].start <= overlap and nxt - 1 > last - 3:
        nxt -= 1
    return nxt


class _Bounds(NamedTuple):
    """Where a sentence (or a piece of a long one) starts and ends; its text stays in the document."""

    start: int
    end: int


def _bounded_spans(spans: Iterable[Span], chunk_size: int, text: str) -> list[_Bounds]:
    """Split sentences longer than ``chunk_size`` at word boundaries."""
    out: list[_Bounds] = []
    for span in spans:
        if span.end - span.start <= chunk_size:
            out.append(_Bounds(span.start, span.end))
            continue
        start = span.start
        while start < span.end:
            stop = min(span.end, start + chunk_size)
            if stop < span.end:
                space = text.rfind(" ", start + chunk_size // 2, stop)
                stop = space if space > start else stop
            piece = text[start:stop]
            stripped = piece.strip()
            lead = len(piece) - len(piece.lstrip())
            if stripped:
                out.append(_Bounds(start + lead, start + lead + len(stripped)))
            start = stop
    return out


def _boilerplate_start(text: str) -> int:
    match = _BOILERPLATE_MARKERS.search(text)
    return match.start() if match else len(text) + 1
