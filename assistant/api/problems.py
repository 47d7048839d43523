"""Errors as JSON: ``{"error": {"code": ..., "message": ...}}`` with the stable code of :mod:`assistant.errors`.

Every failure of a request ends here, never as a stack trace: the assistant's own errors keep their
code and get the HTTP status that says who should act; anything else is a bug of ours, logged and
answered with a generic 500.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from assistant.errors import (
    AssistantError,
    EmbeddingError,
    IndexUnusableError,
    IngestBusyError,
    ModelBusyError,
    ModelError,
    ModelMissingError,
    ModelTimeoutError,
    ModelUnreachableError,
    StorageError,
    UsageError,
    error_code,
)

if TYPE_CHECKING:
    from fastapi import FastAPI, Request

log = logging.getLogger("assistant.api")

GENERIC = "internal error: the server log has the details"

# most specific first: the first class an error is an instance of gives its status
STATUSES: tuple[tuple[type[AssistantError], int], ...] = (
    (UsageError, 400),
    (IngestBusyError, 409),
    (ModelBusyError, 503),
    (ModelUnreachableError, 503),
    (ModelMissingError, 503),
    (ModelTimeoutError, 504),
    (ModelError, 502),
    (EmbeddingError, 502),
    (IndexUnusableError, 503),
    (StorageError, 507),
)
LATER_OPTIONS = frozenset({"in", "doc", "lang"})
"""Scopes of ``assistant ask`` that the API does not take yet: refused by name."""
HTTP_CODES = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}


class ErrorDetail(BaseModel):
    """What went wrong, for a program (``code``) and for a person (``message``)."""

    code: str = Field(description="Stable machine-readable code (assistant.errors), e.g. `model_unreachable`.")
    message: str = Field(description="One line saying what went wrong and what to do.")


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


class APIError(Exception):
    """An error the API itself raises (unknown document, missing token) with its status and code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def http_status(exc: BaseException) -> int:
    """The HTTP status for an exception (500 for one that is not the assistant's)."""
    if isinstance(exc, APIError):
        return exc.status
    return next((status for cls, status in STATUSES if isinstance(exc, cls)), 500)


def error_body(exc: BaseException) -> ErrorBody:
    """The JSON error for an exception; an unknown one is logged with its traceback and stays generic."""
    if isinstance(exc, APIError):
        return ErrorBody(error=ErrorDetail(code=exc.code, message=exc.message))
    code = error_code(exc)
    if code is None:
        log.error("unexpected error while answering a request", exc_info=exc)
        return ErrorBody(error=ErrorDetail(code="internal", message=GENERIC))
    return ErrorBody(error=ErrorDetail(code=code, message=" ".join(str(exc).split())))


def error_response(exc: BaseException) -> JSONResponse:
    """The response for an exception raised while handling a request."""
    return JSONResponse(error_body(exc).model_dump(), status_code=http_status(exc))


def install_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` as :class:`ErrorBody` (validation errors as 400 ``bad_input``)."""

    async def on_error(request: Request, exc: Exception) -> JSONResponse:
        return error_response(exc)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        message = f"invalid request: {where}: {first.get('msg', 'bad value')}" if where else "invalid request"
        if first.get("type") == "extra_forbidden":
            later = where in LATER_OPTIONS
            message = f"`{where}` is not supported yet" if later else f"invalid request: unknown field `{where}`"
        return error_response(UsageError(message))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        code = HTTP_CODES.get(exc.status_code, "http_error")
        response = error_response(APIError(exc.status_code, code, str(exc.detail)))
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    app.add_exception_handler(APIError, on_error)
    app.add_exception_handler(AssistantError, on_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(Exception, on_error)
