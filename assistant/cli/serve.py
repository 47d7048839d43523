"""``assistant serve`` (the REST and OpenAI-compatible API) and ``assistant mcp`` (the MCP server).

Register them on the command group with :func:`register`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from assistant.cli.common import ConfigOption, Exit, fail, friendly_errors, services_for, settings_or_exit

HostOption = Annotated[
    str | None, typer.Option("--host", help="Address to listen on (default 127.0.0.1; others need a token).")
]
PortOption = Annotated[int | None, typer.Option("--port", help="Port, 1 to 65535 (default 8765).")]


def serve(host: HostOption = None, port: PortOption = None, config: ConfigOption = None) -> None:
    """Serve the REST API and the OpenAI-compatible endpoint (http://127.0.0.1:8765 by default)."""
    if port is not None and not 1 <= port <= 65535:
        fail(f"--port must be between 1 and 65535, not {port}", Exit.USAGE)
    settings = settings_or_exit(config)
    with friendly_errors():
        from assistant.api.serve import serve_api

        serve_api(services_for(settings, need_index=False), host, port)


def mcp(
    http: Annotated[bool, typer.Option("--http", help="Streamable HTTP at /mcp instead of stdio.")] = False,
    host: HostOption = None,
    port: PortOption = None,
    config: ConfigOption = None,
) -> None:
    """Serve the documents as MCP tools, over stdio (for desktop agents) or streamable HTTP."""
    if port is not None and not 1 <= port <= 65535:
        fail(f"--port must be between 1 and 65535, not {port}", Exit.USAGE)
    settings = settings_or_exit(config)
    with friendly_errors():
        from assistant.api.serve import serve_mcp

        serve_mcp(services_for(settings, need_index=not settings.api.mcp_allow_writes), http, host, port)


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``mcp`` to the command group ``app``."""
    app.command()(serve)
    app.command()(mcp)
