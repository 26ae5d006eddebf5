"""Streamable HTTP for ``csbot mcp --http``: the SDK's app behind a bearer-token gate.

The token comes from ``MCP_TOKEN`` (environment or ``.env``); without one the server refuses
to start. Every HTTP request must carry ``Authorization: Bearer <token>``, compared in
constant time, before the SDK's app sees it; anything else gets 401 and no body is read.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from mcp.server import Server
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

MIN_TOKEN_LENGTH = 24
MCP_PATH = "/mcp"


class McpTokenError(ValueError):
    """The bearer token for the HTTP transport is missing or too weak to serve with."""


def checked_token(raw: str | None) -> str:
    """The configured token, or ``McpTokenError`` saying why the server will not start."""
    token = (raw or "").strip()
    if not token:
        raise McpTokenError(
            "MCP_TOKEN is not set: the HTTP transport needs a bearer token. Generate one with "
            '`python -c "import secrets; print(secrets.token_urlsafe(32))"` and set MCP_TOKEN.'
        )
    if len(token) < MIN_TOKEN_LENGTH:
        raise McpTokenError(f"MCP_TOKEN is too short: use at least {MIN_TOKEN_LENGTH} characters.")
    return token


class BearerGate:
    """ASGI middleware: only requests with the right bearer token reach ``app``."""

    def __init__(self, app: ASGIApp, *, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {checked_token(token)}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._authorised(scope):
            await self.app(scope, receive, send)
            return
        log.warning("mcp http: refused a request without a valid bearer token")
        await _unauthorised(send)

    def _authorised(self, scope: Scope) -> bool:
        values = [v for k, v in scope.get("headers", []) if k.lower() == b"authorization"]
        if len(values) != 1:
            return False
        return hmac.compare_digest(values[0], self._expected)


async def _unauthorised(send: Send) -> None:
    body = json.dumps({"error": "invalid_token", "error_description": "Bearer token required"})
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b'Bearer error="invalid_token"'),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})


def http_app(server: Server[Any], *, token: str, host: str = "127.0.0.1") -> ASGIApp:
    """The streamable-HTTP ASGI app for ``server`` at ``/mcp``, behind the bearer gate."""
    app = server.streamable_http_app(streamable_http_path=MCP_PATH, host=host)
    return BearerGate(app, token=token)


def serve_http(server: Server[Any], *, token: str, host: str, port: int) -> None:
    """Serve ``server`` over streamable HTTP with uvicorn until interrupted."""
    import uvicorn

    app = http_app(server, token=token, host=host)
    uvicorn.run(app, host=host, port=port, log_level="warning")
