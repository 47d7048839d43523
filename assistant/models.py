"""Data that crosses a boundary: documents, chunks, search hits, citations and answers.

The CLI's ``--json``, the UI and the evaluation all read these same shapes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class OutlineHeading(BaseModel):
    """A heading of a document's text (Markdown, HTML, DOCX)."""

    start: int = Field(description="Offset of the heading's first character in the document's text.")
    level: int = Field(description="1 for a top heading (0 for a DOCX Title), deeper headings have higher levels.")
    title: str


class Outline(BaseModel):
    """What maps a text offset to a page, a heading path or a line, recorded at ingest (empty in older indexes)."""

    pages: list[int] = Field(default_factory=list, description="Where each PDF page's text starts (page 1 first).")
    headings: list[OutlineHeading] = Field(default_factory=list, description="Headings in document order.")
    lines: list[tuple[int, int]] = Field(
        default_factory=list, description="(offset, 1-based line) at each chunk start (txt and md)."
    )


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
    outline: Outline = Field(default_factory=Outline, description="Pages, headings and lines, for locators.")


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


class PageBox(BaseModel):
    """A highlighted box on a rendered PDF page, in fractions of the page's width and height (origin top left)."""

    left: float
    top: float
    width: float
    height: float


class EvidenceView(BaseModel):
    """A cited quote looked up again in its document's current file (the web UI's evidence viewer)."""

    doc_id: str
    title: str = ""
    format: str = ""
    status: Literal["unchanged", "moved", "changed", "missing", "unknown"] = Field(
        description="unchanged: the same file, the quote at its offsets; moved: the file changed, the quote "
        "is still in it; changed: the quote is no longer there; missing: the file is gone or unreadable; "
        "unknown: no indexed document has this id."
    )
    message: str = Field(description="What the status means, in one sentence.")
    quote: str = Field(description="The quote as the answer cited it.")
    cited_start: int = Field(description="The quote's offsets when the answer was made.")
    cited_end: int
    start: int | None = Field(None, description="Where the quote is in the current text (None: not found).")
    end: int | None = None
    locator: Locator | None = Field(None, description="Page, heading path or line of the quote in the current text.")
    excerpt: str = Field("", description="The section (or page) around the quote, from the current text.")
    excerpt_start: int = Field(0, description="Offset of the excerpt in the current text.")
    n_chars: int = Field(0, description="Length of the current text.")
    sha256: str = Field("", description="sha256 of the file read now.")
    page: int | None = Field(None, description="1-based PDF page shown.")
    page_count: int = 0
    boxes: list[PageBox] = Field(default_factory=list, description="The quote's boxes on that page.")
