"""Who may call the API: loopback by default, a bearer token for anything else, CORS only when configured."""

from __future__ import annotations

import hmac
import ipaddress
from typing import TYPE_CHECKING

from starlette.responses import JSONResponse

from assistant.errors import ConfigError

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from assistant.config import APISettings

PUBLIC_PATHS = frozenset({"/v1/health"})
"""Endpoints that answer without the token (what a load balancer or a monitor polls)."""


def is_loopback(host: str) -> bool:
    """True when ``host`` names this machine only (127.0.0.0/8, ::1 or ``localhost``)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(settings: APISettings, host: str) -> None:
    """Raise :class:`ConfigError` when ``host`` is not loopback and no token is set."""
    if not is_loopback(host) and not settings.token:
        raise ConfigError(
            f"refusing to listen on {host} without a token: set ASSISTANT_API__TOKEN "
            "(clients send it as `Authorization: Bearer …`), or listen on 127.0.0.1"
        )


def token_accepted(expected: str | None, authorization: str | None) -> bool:
    """True when no token is configured, or ``authorization`` is ``Bearer <expected>`` (compared in constant time)."""
    if not expected:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())


class TokenMiddleware:
    """ASGI middleware: every HTTP request but :data:`PUBLIC_PATHS` needs ``Authorization: Bearer <token>``.

    Without a configured token it lets everything through (the server is on loopback then).
    """

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.token or scope.get("path") in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        if token_accepted(self.token, headers.get("authorization")):
            await self.app(scope, receive, send)
            return
        body = {"error": {"code": "unauthorized", "message": "a valid bearer token is required"}}
        response = JSONResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        await response(scope, receive, send)
