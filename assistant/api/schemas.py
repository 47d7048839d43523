"""The shapes the API reads and writes (answers and search results are the package's own models)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.config import MAX_TOP_K
from assistant.models import Answer, DocumentInfo, Scope

PRIVATE_SOURCE_FIELDS = {"sources": {"__all__": {"path"}}}
"""Server paths are not sent to clients (as in the web UI)."""


class AskRequest(BaseModel):
    """``POST /v1/ask``: the options of ``assistant ask``."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(description="The question (English, Italian or French).")
    stream: bool = Field(False, description="Answer with server-sent events: status, token, reset, then answer.")
    k: int | None = Field(None, ge=1, le=MAX_TOP_K, description="Passages retrieved (default: retrieval.top_k).")
    mode: Literal["auto", "generative", "extractive"] | None = Field(None, description="Answer mode.")
    backend: Literal["auto", "ollama", "embedded"] | None = Field(None, description="Model backend.")
    model: str | None = Field(None, description="An Ollama model name (the embedded backend ignores it).")
    strict: bool | None = Field(None, description="Drop sentences that no passage supports.")
    history: list[tuple[str, str]] = Field(
        default_factory=list, description="Earlier turns of the conversation, as [question, answer] pairs."
    )
    scope: Scope | None = Field(
        None, description="Answer only from these documents (globs, document ids, languages): `ask --in/--doc/--lang`."
    )

    def options(self) -> dict[str, Any]:
        """The keyword options of :meth:`Services.stream` (the mode `auto` is the default)."""
        return {
            "history": [tuple(turn) for turn in self.history],
            "k": self.k,
            "mode": None if self.mode == "auto" else self.mode,
            "backend": None if self.backend == "auto" else self.backend,
            "model": self.model,
            "strict": self.strict,
            "scope": self.scope,
        }


class PublicDocument(BaseModel):
    """An indexed document as clients see it (no server path)."""

    doc_id: str
    title: str
    language: str
    date: str | None = None
    sha256: str
    format: str
    n_chars: int
    n_chunks: int = 0
    indexed_at: str = ""

    @classmethod
    def of(cls, info: DocumentInfo) -> PublicDocument:
        """The public view of ``info``."""
        return cls.model_validate(info.model_dump(exclude={"path", "encoding"}))


class DocumentText(PublicDocument):
    """``GET /v1/documents/{id}``: the metadata and the extracted text that citation offsets point into."""

    text: str = Field(description="The document's text as the ingest extracted it.")
    changed: bool = Field(False, description="The file changed since it was indexed: offsets may not match.")


class UploadResult(BaseModel):
    """``POST /v1/documents``: what was added and what was refused."""

    saved: list[str] = Field(default_factory=list, description="File names saved in the uploads folder.")
    rejected: list[str] = Field(default_factory=list, description="Why each refused file was refused.")
    failed: list[str] = Field(default_factory=list, description="Saved files that could not be read (removed).")
    added: list[str] = Field(default_factory=list, description="Document ids added to the index.")
    updated: list[str] = Field(default_factory=list, description="Document ids whose text changed.")
    documents: int = Field(0, description="Documents in the index after the upload.")


class HealthCheck(BaseModel):
    """One check of ``assistant doctor``."""

    name: str
    status: Literal["ok", "warn", "fail"]
    detail: str


class Health(BaseModel):
    """``GET /v1/health``: `fail` when any check fails, `warn` when one warns, else `ok`."""

    status: Literal["ok", "warn", "fail"]
    checks: list[HealthCheck]


class Passage(BaseModel):
    """A span of a document with the text around it (the MCP tool ``get_passage``)."""

    doc_id: str
    title: str
    start: int = Field(description="Offset of the span in the document's text.")
    end: int
    quote: str = Field(description="text[start:end]")
    context_start: int = Field(description="Offset where `context` starts.")
    context_end: int
    context: str = Field(description="The span with up to `api.passage_context` characters on each side.")
    changed: bool = Field(False, description="The file changed since it was indexed: offsets may not match.")


def public_answer(answer: Answer) -> dict[str, Any]:
    """The JSON of an answer without server paths."""
    return answer.model_dump(mode="json", exclude=PRIVATE_SOURCE_FIELDS)
