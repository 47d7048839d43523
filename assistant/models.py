"""Data that crosses a boundary: documents, chunks, search hits, citations and answers.

The CLI's ``--json``, the UI and the evaluation all read these same shapes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class DocumentInfo(BaseModel):
    """One indexed document, as recorded in the document registry."""

    doc_id: str = Field(description="Path relative to the corpus root, with '/' separators.")
    path: str = Field(description="Absolute path of the file when it was indexed.")
    title: str = Field(description="First heading or first line.")
    language: str = Field(description="Detected ISO 639-1 language code.")
    date: str | None = Field(None, description="A date the text states (e.g. 2024-03), if any.")
    sha256: str = Field(description="sha256 of the file's bytes.")
    encoding: str = Field(description="Text encoding used to decode the file (or the format's reader).")
    format: str = Field(description="txt, md, html, pdf or docx.")
    n_chars: int = Field(description="Length of the extracted text.")
    n_chunks: int = Field(0, description="Number of chunks in the index.")
    indexed_at: str = Field("", description="ISO timestamp of the last (re)indexing.")


class LoadedDocument(BaseModel):
    """A file read and decoded, before chunking."""

    info: DocumentInfo
    text: str = Field(description="The extracted text; chunk offsets point into it.")


class Chunk(BaseModel):
    """A passage of a document, with exact offsets into the document's text."""

    chunk_id: str
    doc_id: str
    index: int = Field(description="Position of the chunk in its document.")
    text: str
    start: int = Field(description="Offset of the first character in the document's text.")
    end: int = Field(description="Offset after the last character: text == doc_text[start:end].")
    language: str
    title: str
    boilerplate: bool = Field(False, description="Tagged as repeated navigation or teaser text.")


class Hit(BaseModel):
    """A retrieved passage with its scores."""

    rank: int = Field(description="1-based rank after fusion.")
    chunk_id: str
    doc_id: str
    title: str
    text: str
    start: int
    end: int
    language: str
    date: str | None = None
    score: float = Field(description="Fused (or single-retriever) score.")
    dense_score: float | None = Field(None, description="Cosine similarity of the dense retriever.")
    dense_rank: int | None = None
    bm25_score: float | None = Field(None, description="BM25 score.")
    bm25_rank: int | None = None
    boilerplate: bool = False


class SearchResult(BaseModel):
    """The answer of ``assistant search``."""

    query: str
    query_language: str
    mode: Literal["hybrid", "dense", "bm25"]
    hits: list[Hit]
    embedding_ms: float = Field(0.0, description="Time to embed the query.")
    retrieval_ms: float = Field(0.0, description="Total retrieval time, query embedding included.")


class Locator(BaseModel):
    """Where a quote is, in human terms (stored at ingest, so it costs nothing at question time)."""

    page: int | None = Field(None, description="1-based PDF page of the quote's first character.")
    heading: list[str] = Field(default_factory=list, description="Heading path (md, html, docx), outermost first.")
    line: int | None = Field(None, description="1-based line of the quote's first character (text files).")
    label: str = Field("", description='As printed: "p. 3", "§ Procédure › Coût", "line 12".')


class Scope(BaseModel):
    """Which documents a question may be answered from; empty means the whole index.

    The scope is applied inside retrieval (the vector store's filter and the BM25 candidates), so a
    scoped question still gets k passages. A document is in scope when it matches every non-empty
    part: one of ``globs`` or ``doc_ids``, and one of ``languages``.
    """

    globs: list[str] = Field(default_factory=list, description='Globs on document ids ("contracts/**").')
    doc_ids: list[str] = Field(default_factory=list, description="Exact document ids.")
    languages: list[str] = Field(default_factory=list, description="ISO 639-1 codes of the documents' language.")

    def is_empty(self) -> bool:
        """True when the scope lets every document through."""
        return not (self.globs or self.doc_ids or self.languages)


class Source(BaseModel):
    """A cited source: one quote from one document, numbered in order of first use."""

    number: int
    doc_id: str
    title: str
    path: str = ""
    language: str = ""
    date: str | None = None
    quote: str = Field(description="Verbatim span of the document that supports the citing sentences.")
    start: int = Field(description="Offset of the quote in the document's text.")
    end: int
    passage: str = Field("", description="The passage the quote was found in (for context).")
    passage_start: int = 0
    locator: Locator | None = Field(None, description="Page, heading path or line of the quote.")
    sha256: str = Field("", description="sha256 of the document's file when the answer was made.")


class AnswerSentence(BaseModel):
    """A sentence of the answer and the sources that support it."""

    text: str
    citations: list[int] = Field(default_factory=list, description="Numbers of the supporting sources.")
    supported: bool = True
    added_citation: bool = Field(False, description="The citation was attached after generation.")


class Timings(BaseModel):
    """Where the time went, in milliseconds."""

    retrieval_ms: float = 0.0
    first_token_ms: float | None = None
    total_ms: float = 0.0


class Answer(BaseModel):
    """A checked answer."""

    question: str
    standalone_question: str | None = Field(None, description="The follow-up rewritten before retrieval.")
    text: str = Field(description="The answer with renumbered [n] markers.")
    language: str
    refused: bool = False
    status: Literal["complete", "failed"] = "complete"
    error: str | None = None
    sentences: list[AnswerSentence] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list)
    backend: str = ""
    model: str = ""
    mode: Literal["generative", "extractive"] = "extractive"
    notes: list[str] = Field(default_factory=list, description="Dropped passages, language retries, flags.")
    passages_used: int = 0
    passages_dropped: int = 0
    confidence: float | None = Field(
        None,
        description="The evidence score the refusal decision compared with its threshold (higher: better backed); "
        "recorded for refused answers too, so a strictness curve can be drawn without asking again.",
    )
    timings: Timings = Field(default_factory=Timings)
