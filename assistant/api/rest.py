"""The REST endpoints: ask (JSON or server-sent events), search, documents, health.

Each endpoint is a thin call of :class:`Services`; blocking work runs in the server's thread pool,
so concurrent requests answer side by side and each one's answer is its own.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import StreamingResponse

from assistant.api.passages import document_text
from assistant.api.problems import APIError, ErrorBody, error_body
from assistant.api.schemas import (
    AskRequest,
    DocumentText,
    Health,
    HealthCheck,
    PublicDocument,
    UploadResult,
    public_answer,
)
from assistant.api.security import token_accepted
from assistant.config import MAX_TOP_K
from assistant.errors import UsageError
from assistant.models import Answer, Scope, SearchResult
from assistant.services import collect

if TYPE_CHECKING:
    from assistant.answer.compose import AnswerEvent
    from assistant.services import Services

UPLOAD_CHUNK = 1024 * 1024
MAX_UPLOAD_FILES = 20
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (400, 401, 404, 409, 500, 502, 503, 504)
}

router = APIRouter(prefix="/v1", responses=ERRORS)


def services_of(request: Request) -> Services:
    """The services the app was built over."""
    return request.app.state.services  # type: ignore[no-any-return]


def sse(event: str, data: Any) -> str:
    """One server-sent event with a JSON payload."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def started(events: Iterator[AnswerEvent]) -> Iterator[AnswerEvent]:
    """``events`` run up to the first text (or the answer), so that a model that cannot be used fails the
    request with its HTTP status; a failure after that point is reported inside the stream."""
    taken: list[AnswerEvent] = []
    for event in events:
        taken.append(event)
        if event.kind != "status":
            break
    return chain(taken, events)


def answer_events(events: Iterator[AnswerEvent]) -> Iterator[str]:
    """The answer stream as server-sent events; a failure mid-stream ends it with an ``error`` event."""
    try:
        for event in events:
            if event.kind == "answer" and event.answer is not None:
                yield sse("answer", public_answer(event.answer))
            else:
                yield sse(event.kind, {"text": event.text})
    except Exception as exc:
        yield sse("error", error_body(exc).model_dump())


@router.post(
    "/ask",
    summary="Answer a question with verified citations",
    responses={
        200: {"model": Answer, "content": {"text/event-stream": {}}, "description": "The answer (sources without "
              "`path`), or its events: status, token, reset, then answer (or error)"}
    },
)
def ask(body: AskRequest, request: Request) -> Any:
    """The same :class:`Answer` as ``assistant ask --json``; with ``stream``, its events as SSE."""
    services = services_of(request)
    events = started(services.stream(body.question, **body.options()))
    if body.stream:
        return StreamingResponse(
            answer_events(events), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )
    return public_answer(collect(events)[1])


@router.get("/search", response_model=SearchResult, summary="Ranked passages for a query")
def search(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=2000, description="The query.")],
    k: Annotated[int | None, Query(ge=1, le=MAX_TOP_K, description="Passages returned.")] = None,
    mode: Annotated[Literal["hybrid", "dense", "bm25"] | None, Query(description="Retrieval mode.")] = None,
    within: Annotated[
        list[str] | None, Query(alias="in", description='Only documents whose id matches this glob ("contracts/**").')
    ] = None,
    doc: Annotated[list[str] | None, Query(description="Only this document id.")] = None,
    lang: Annotated[
        list[Literal["it", "fr", "en"]] | None, Query(description="Only documents in this language.")
    ] = None,
) -> SearchResult:
    """Hybrid (or dense, or BM25) retrieval, as ``assistant search --json``; ``in``, ``doc``, ``lang`` scope it."""
    if not q.strip():
        raise UsageError("the query is empty")
    scope = Scope(globs=within or [], doc_ids=doc or [], languages=list(lang or []))
    return services_of(request).search(q, k=k, mode=mode, scope=scope)


@router.get("/documents", response_model=list[PublicDocument], summary="The indexed documents")
def documents(request: Request) -> list[PublicDocument]:
    """Every indexed document's metadata."""
    return [PublicDocument.of(info) for info in services_of(request).documents()]


@router.get("/documents/{doc_id:path}", response_model=DocumentText, summary="One document and its text")
def document(doc_id: str, request: Request) -> DocumentText:
    """The metadata and the text that citation offsets index into; 404 for an id that is not indexed."""
    return document_text(services_of(request), doc_id)


@router.delete("/documents/{doc_id:path}", response_model=PublicDocument, summary="Remove a document")
def remove(doc_id: str, request: Request) -> PublicDocument:
    """Remove a document from the index (and its file when it was uploaded); 404 when it is not indexed."""
    removed = services_of(request).remove_document(doc_id)
    if removed is None:
        raise APIError(404, "unknown_document", f"no indexed document has the id {doc_id!r}")
    return PublicDocument.of(removed)


@router.post("/documents", response_model=UploadResult, summary="Upload documents (multipart)")
def upload(request: Request, files: Annotated[list[UploadFile], File(description="The files to add.")]) -> Any:
    """Add files as the UI does (same formats, size limit and sync as ``assistant ingest``).

    400 when no file was accepted; refused files are named with the reason.
    """
    services = services_of(request)
    limit = services.settings.api.max_upload_mb or services.settings.ui.max_upload_mb
    if len(files) > MAX_UPLOAD_FILES:
        raise UsageError(f"at most {MAX_UPLOAD_FILES} files per upload")
    with tempfile.TemporaryDirectory(prefix="assistant-upload-") as folder:
        paths = [copy_capped(item, Path(folder) / str(n), int(limit * 1024 * 1024)) for n, item in enumerate(files)]
        outcome = services.add_files(paths, max_mb=limit)
    if not outcome.saved:
        raise UsageError("; ".join(outcome.rejected) or "no file was given")
    report = outcome.report
    return UploadResult(
        saved=outcome.saved,
        rejected=outcome.rejected,
        failed=[f"{Path(f.path).name}: {f.reason}" for f in report.failed] if report else [],
        added=report.added if report else [],
        updated=report.updated if report else [],
        documents=services.counts()[0],
    )


def copy_capped(item: UploadFile, folder: Path, limit: int) -> Path:
    """Save an upload under its own base name in ``folder``, stopping one byte past ``limit``.

    A file over the limit is kept one byte too long so that :meth:`Services.add_files` refuses it
    with its usual message, without writing the rest to disk.
    """
    folder.mkdir()
    name = Path((item.filename or "upload").replace("\\", "/")).name or "upload"
    target = folder / name
    written = 0
    with target.open("wb") as out:
        while written <= limit and (piece := item.file.read(min(UPLOAD_CHUNK, limit + 1 - written))):
            out.write(piece)
            written += len(piece)
    return target


@router.get("/health", response_model=Health, summary="What `assistant doctor` checks")
def health(request: Request) -> Health:
    """The doctor's checks; without the token (when one is set) only their names and statuses."""
    from assistant.doctor import run_checks

    services = services_of(request)
    shown = token_accepted(services.settings.api.token, request.headers.get("authorization"))
    checks = [HealthCheck(name=c.name, status=c.status, detail=c.detail if shown else "") for c in run_checks(services)]
    statuses = {c.status for c in checks}
    worst = "fail" if "fail" in statuses else "warn" if "warn" in statuses else "ok"
    return Health(status=worst, checks=checks)
