"""Starting the servers: the REST API on uvicorn, and the MCP server over stdio or streamable HTTP.

``python -m assistant.api.serve [api|mcp] [--host H] [--port P] [--http]`` runs them without the CLI.
A bad start (a non-loopback address without a token, a port in use, bad settings) is one line on
stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import socket
import sys
from typing import TYPE_CHECKING

from assistant.api.security import TokenMiddleware, check_bind
from assistant.errors import AssistantError, UsageError

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from assistant.services import Services


def check_port(host: str, port: int) -> None:
    """Raise :class:`UsageError` when ``host:port`` cannot be listened on (in use, or no such address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


def serve_api(services: Services, host: str | None = None, port: int | None = None) -> None:
    """Serve the REST and OpenAI-compatible API until interrupted (checks the address and token first)."""
    import uvicorn

    from assistant.api.app import build_api

    settings = services.settings.api
    host, port = host or settings.host, port or settings.port
    check_bind(settings, host)
    check_port(host, port)
    print(f"assistant API on http://{host}:{port} (OpenAPI: /openapi.json)", file=sys.stderr)
    uvicorn.run(build_api(services), host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)


def serve_mcp(services: Services, http: bool = False, host: str | None = None, port: int | None = None) -> None:
    """Serve the MCP tools over stdio, or over streamable HTTP at ``/mcp`` (loopback or token, as the API)."""
    if not http:
        build_mcp_server(services).run("stdio")
        return
    import uvicorn

    settings = services.settings.api
    host, port = host or settings.host, port or settings.port
    check_bind(settings, host)
    check_port(host, port)
    server = build_mcp_server(services)
    app = TokenMiddleware(server.streamable_http_app(host=host), token=settings.token)
    print(f"assistant MCP server on http://{host}:{port}/mcp", file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)


def build_mcp_server(services: Services) -> MCPServer:
    """The MCP server over ``services`` (imported here: the SDK is only loaded for ``assistant mcp``)."""
    from assistant.api.mcp_server import build_mcp

    return build_mcp(services)


def main(argv: list[str] | None = None) -> int:
    """Run ``api`` or ``mcp`` from the command line; returns the exit code."""
    from assistant.config import load_settings
    from assistant.services import build_services

    parser = argparse.ArgumentParser(prog="python -m assistant.api.serve")
    parser.add_argument("what", choices=["api", "mcp"], nargs="?", default="api")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--http", action="store_true", help="mcp: streamable HTTP instead of stdio")
    args = parser.parse_args(argv)
    try:
        services = build_services(load_settings())
        if args.what == "api":
            serve_api(services, args.host, args.port)
        else:
            serve_mcp(services, args.http, args.host, args.port)
    except AssistantError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return int(exc.exit_code)
    return 0


if __name__ == "__main__":
    sys.exit(main())
