"""``csbot mcp --http``: streamable HTTP behind a bearer token, over a real loopback server."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import httpx2
import pytest
import uvicorn
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from typer.testing import CliRunner

from bot.cli import app as cli_app
from bot.mcp.http import McpTokenError, checked_token, http_app
from bot.mcp.server import build_server
from tests.bot.mcp.conftest import mcp_settings
from tools import db

TOKEN = "test-token-0123456789-abcdefghij"


@pytest.fixture
def mcp_url(mcp_book: db.SessionFactory) -> Iterator[str]:
    """A loopback uvicorn serving the MCP app for the book; yields its /mcp URL."""
    app = http_app(build_server(mcp_settings(mcp_book)), token=TOKEN)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/mcp"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def call_health(url: str, token: str) -> Any:
    async def main() -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx2.AsyncClient(headers=headers) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            return await client.call_tool("account_health", {"account": "acme"})

    return anyio.run(main)


def test_sdk_client_with_the_token_calls_a_tool(mcp_url: str) -> None:
    result = call_health(mcp_url, TOKEN)
    assert result.is_error is False
    assert json.loads(result.content[0].text)["external_id"] == "acme"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0123456789-abcdefg"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
    ],
)
def test_requests_without_the_right_token_get_401(mcp_url: str, headers: dict[str, str]) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {**headers, "Accept": "application/json, text/event-stream"}
    response = httpx.post(mcp_url, json=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "tools" not in response.text


def test_sdk_client_with_a_wrong_token_is_refused(
    mcp_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(ExceptionGroup) as caught:
        call_health(mcp_url, "wrong-token-0123456789-abcdefg")
    assert caught.group_contains(MCPError, depth=None)
    assert "refused a request without a valid bearer token" in caplog.text


@pytest.mark.parametrize("token", [None, "", "   ", "short"])
def test_weak_or_missing_token_is_refused(token: str | None) -> None:
    with pytest.raises(McpTokenError):
        checked_token(token)


def test_cli_refuses_to_serve_http_without_a_token(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MCP_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli_app, ["mcp", "--http", "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 2
    assert "MCP_TOKEN" in result.output
    assert "Traceback" not in result.output
