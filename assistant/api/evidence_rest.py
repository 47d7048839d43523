"""REST for what the web UI shows beside an answer: the evidence viewer, PDF pages, kept conversations.

Thin calls of :class:`Services`, like :mod:`assistant.api.rest`: ``GET /v1/evidence`` looks a cited
quote up again in its document's current file (:meth:`Services.evidence`), ``GET /v1/pages`` draws a
page of an indexed PDF (:meth:`Services.page_image`), ``GET /v1/conversations`` and
``GET /v1/conversations/{id}`` read the kept conversations of the local user (the CLI's ``assistant
chat`` and a UI without login keep theirs there). Server paths are never sent.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from assistant.api.problems import APIError
from assistant.api.rest import ERRORS, services_of
from assistant.api.schemas import PRIVATE_SOURCE_FIELDS
from assistant.conversations.store import LOCAL_USER, ConversationSummary
from assistant.models import EvidenceView

router = APIRouter(prefix="/v1", responses=ERRORS)

MAX_QUOTE_CHARS = 20_000
"""A quote longer than this is not a quote an answer could have cited."""


@router.get("/evidence", response_model=EvidenceView, summary="A cited quote, looked up again in its file")
def evidence(
    request: Request,
    doc_id: Annotated[str, Query(description="The source's `doc_id`.", max_length=4096)],
    start: Annotated[int, Query(ge=0, description="The source's `start` (document offset).")],
    end: Annotated[int, Query(ge=0, description="The source's `end`.")],
    quote: Annotated[str, Query(description="The source's `quote`.", max_length=MAX_QUOTE_CHARS)],
    sha256: Annotated[str, Query(description="The source's `sha256`, if known.", max_length=64)] = "",
) -> EvidenceView:
    """Unchanged, moved, changed, missing or unknown, with the section around the quote and its locator;
    for a PDF, the page and the quote's boxes on it. Only indexed documents are opened, by id."""
    if end < start:
        raise APIError(400, "bad_input", "invalid request: end is before start")
    return services_of(request).evidence(doc_id, start, end, quote, sha256)


@router.get(
    "/pages",
    summary="A page of an indexed PDF, as PNG",
    responses={200: {"content": {"image/png": {}}, "description": "The page drawn as a PNG image."}},
    response_class=Response,
)
def page_image(
    request: Request,
    doc_id: Annotated[str, Query(description="An indexed PDF's `doc_id`.", max_length=4096)],
    page: Annotated[int, Query(ge=1, description="1-based page number.")],
    width: Annotated[int, Query(ge=100, le=2000, description="Width in pixels (about).")] = 1000,
) -> Response:
    """The page as the evidence viewer draws it; 400 for a document that is not an indexed PDF or a page it lacks."""
    return Response(services_of(request).page_image(doc_id, page, width), media_type="image/png")


@router.get("/conversations", response_model=list[ConversationSummary], summary="The kept conversations")
def conversations(
    request: Request, limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 200
) -> list[ConversationSummary]:
    """The local user's kept conversations, the most recently updated first."""
    return services_of(request).conversations.list(LOCAL_USER, limit)


@router.get("/conversations/{conversation_id}", summary="One kept conversation with its answers")
def conversation(conversation_id: str, request: Request) -> dict[str, Any]:
    """The conversation's summary and its turns, each with its full answer (sources without server paths);
    404 for an id the local user has no conversation by."""
    found = services_of(request).conversations.get(conversation_id, LOCAL_USER)
    if found is None:
        raise APIError(404, "not_found", f"no kept conversation has the id {conversation_id!r}")
    return found.model_dump(mode="json", exclude={"turns": {"__all__": {"answer": PRIVATE_SOURCE_FIELDS}}})
