"""``assistant mcp``: the documents as Model Context Protocol tools (the official SDK's ``MCPServer``).

Tools: ``search_documents``, ``ask`` (the checked answer with structured citations), ``get_passage``
(a quote with the text around it) and ``list_documents``; ``add_document`` and ``remove_document``
only when ``api.mcp_allow_writes`` is set. Every tool is a thin call of :class:`Services`; the
assistant's errors come back as tool errors that start with their stable code.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

from pydantic import BaseModel, Field

from assistant.api.passages import passage
from assistant.api.problems import APIError
from assistant.api.schemas import Passage, PublicDocument
from assistant.config import MAX_TOP_K
from assistant.errors import AssistantError, UsageError
from assistant.models import Locator, Scope, SearchResult  # at run time: the SDK reads the tools' annotations

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from assistant.models import Answer
    from assistant.services import Services

T = TypeVar("T")
INSTRUCTIONS = (
    "Answers come only from the user's indexed documents. Every claim carries a numbered citation whose "
    "quote is verbatim, with character offsets; get_passage shows the text around a quote. When the "
    "documents do not contain the answer, `ask` refuses (refused: true): do not answer from elsewhere."
)


class Citation(BaseModel):
    """A cited source: the verbatim quote and where it is."""

    number: int = Field(description="The [n] marker in the answer text.")
    doc_id: str
    title: str
    quote: str = Field(description="Verbatim span of the document.")
    start: int = Field(description="Offset of the quote in the document's text (see get_passage).")
    end: int
    locator: Locator | None = Field(None, description='Page, heading path or line of the quote ("p. 3").')


class ToolAnswer(BaseModel):
    """The checked answer of the ``ask`` tool."""

    question: str
    text: str = Field(description="The answer with [n] citation markers.")
    refused: bool = Field(description="True when the documents do not contain the answer.")
    language: str
    mode: str
    model: str
    notes: list[str] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)

    @classmethod
    def of(cls, answer: Answer) -> ToolAnswer:
        """The tool's view of ``answer``."""
        return cls(
            question=answer.question,
            text=answer.text,
            refused=answer.refused,
            language=answer.language,
            mode=answer.mode,
            model=answer.model,
            notes=answer.notes,
            citations=[Citation.model_validate(s.model_dump()) for s in answer.sources],
        )


class Removed(BaseModel):
    """What ``remove_document`` removed."""

    removed: PublicDocument


class Added(BaseModel):
    """What ``add_document`` did."""

    saved: list[str]
    rejected: list[str]
    documents: int = Field(description="Documents in the index afterwards.")


def tool_call(work: Callable[[], T]) -> T:
    """Run ``work``, turning the assistant's errors into tool errors ``<code>: <message>``."""
    from mcp.server.mcpserver.exceptions import ToolError

    try:
        return work()
    except APIError as exc:
        raise ToolError(f"{exc.code}: {exc.message}") from exc
    except AssistantError as exc:
        raise ToolError(f"{exc.code}: {' '.join(str(exc).split())}") from exc


def build_mcp(services: Services, allow_writes: bool | None = None) -> MCPServer:
    """The MCP server over ``services`` (writes as ``api.mcp_allow_writes`` says, unless ``allow_writes``)."""
    from mcp.server.mcpserver import MCPServer
    from mcp.types import ToolAnnotations

    server: MCPServer = MCPServer("local-doc-assistant", instructions=INSTRUCTIONS)
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    @server.tool(annotations=read_only)
    def search_documents(query: str, k: int = 5, scope: Scope | None = None) -> SearchResult:
        """Ranked passages of the indexed documents for a query (hybrid dense + BM25), with offsets.

        ``scope`` limits them to some documents: globs on ids ("contracts/**"), ids, languages.
        """
        return tool_call(lambda: search(services, query, k, scope))

    @server.tool(annotations=read_only)
    def ask(
        question: str, mode: Literal["auto", "generative", "extractive"] = "auto", scope: Scope | None = None
    ) -> ToolAnswer:
        """Answer a question from the documents only, with numbered citations of verbatim quotes (or a refusal).

        ``scope`` limits the documents it is answered from (as in search_documents).
        """
        chosen = None if mode == "auto" else mode
        return tool_call(lambda: ToolAnswer.of(services.ask(question, mode=chosen, scope=scope)))

    @server.tool(annotations=read_only)
    def get_passage(doc_id: str, start: int, end: int) -> Passage:
        """The text of a document between two offsets (e.g. a citation's quote), with context on each side."""
        return tool_call(lambda: passage(services, doc_id, start, end))

    @server.tool(annotations=read_only)
    def list_documents() -> list[PublicDocument]:
        """The indexed documents (id, title, language, date, size)."""
        return tool_call(lambda: [PublicDocument.of(info) for info in services.documents()])

    if services.settings.api.mcp_allow_writes if allow_writes is None else allow_writes:

        @server.tool()
        def add_document(name: str, content: str) -> Added:
            """Add a text document (name ending in .txt or .md) to the index; it is synced like `assistant ingest`."""
            return tool_call(lambda: add_text(services, name, content))

        @server.tool(annotations=ToolAnnotations(destructive_hint=True))
        def remove_document(doc_id: str) -> Removed:
            """Remove one document from the index."""
            return tool_call(lambda: removed(services, doc_id))

    return server


def search(services: Services, query: str, k: int, scope: Scope | None = None) -> SearchResult:
    """``services.search`` with ``k`` and the query checked as the API checks them (``scope``: see the tool)."""
    if not 1 <= k <= MAX_TOP_K:
        raise UsageError(f"k must be between 1 and {MAX_TOP_K}")
    if not query.strip():
        raise UsageError("the query is empty")
    return services.search(query, k=k, scope=scope)


def add_text(services: Services, name: str, content: str) -> Added:
    """Add ``content`` as a file named ``name`` through :meth:`Services.add_files` (same checks as the UI)."""
    limit = services.settings.api.max_upload_mb or services.settings.ui.max_upload_mb
    if len(content.encode("utf-8")) > limit * 1024 * 1024:
        raise UsageError(f"`{name}` was not added: larger than {limit:g} MB")
    with tempfile.TemporaryDirectory(prefix="assistant-mcp-") as folder:
        path = Path(folder) / (Path(name.replace("\\", "/")).name or "document.txt")
        path.write_text(content, encoding="utf-8")
        outcome = services.add_files([path], max_mb=limit)
    if not outcome.saved:
        raise UsageError("; ".join(outcome.rejected) or "nothing was added")
    return Added(saved=outcome.saved, rejected=outcome.rejected, documents=services.counts()[0])


def removed(services: Services, doc_id: str) -> Removed:
    """Remove ``doc_id``; :class:`APIError` 404 when it is not indexed."""
    info = services.remove_document(doc_id)
    if info is None:
        raise APIError(404, "unknown_document", f"no indexed document has the id {doc_id!r}")
    return Removed(removed=PublicDocument.of(info))
