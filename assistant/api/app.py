"""The FastAPI app of ``assistant serve``: REST, OpenAI-compatible chat, errors as JSON, token and CORS."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

from assistant.api import evidence_rest, openai_compat, rest
from assistant.api.problems import install_handlers
from assistant.api.security import TokenMiddleware

if TYPE_CHECKING:
    from assistant.services import Services

DESCRIPTION = (
    "Questions answered from your documents, every claim cited with a verbatim quote and its offsets. "
    "Errors are `{\"error\": {\"code\", \"message\"}}` with the stable codes of the CLI's exit codes."
)


def build_api(services: Services) -> FastAPI:
    """The API over ``services``: ``/v1/...`` and ``/openapi.json`` (no docs pages: they load assets from a CDN)."""
    from importlib.metadata import version

    app = FastAPI(
        title="Local document assistant",
        version=version("local-doc-assistant"),
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.services = services
    install_handlers(app)
    app.include_router(rest.router)
    app.include_router(evidence_rest.router)
    app.include_router(openai_compat.router)
    settings = services.settings.api
    app.add_middleware(TokenMiddleware, token=settings.token)
    if settings.cors_origins:  # added last, so outermost: a preflight (sent without the token) is answered
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    return app
