"""MCP round trip of ``account_health`` through the SDK's own client (240-account demo book).

Two transports: in process (the SDK's direct dispatcher: our adapter + registry + scoring) and
streamable HTTP over loopback uvicorn with the bearer gate (what a remote client pays).
Each call is a full ``tools/call`` round trip; the first call of each run is a warm-up.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench.bench_agent import TODAY, _book
from bench.common import Measurement, percentile
from bot.mcp.http import http_app
from bot.mcp.server import McpSettings, build_server
from tools.scoring_config import load_config

CALLS = 200
HTTP_TIMEOUT_SECONDS = 60.0
TOKEN = secrets.token_urlsafe(32)
ACCOUNTS = ("acme", "globex", "initech", "umbrella", "hooli")


async def _timed_calls(client: Client) -> list[float]:
    await client.call_tool("account_health", {"account": "acme"})
    samples = []
    for i in range(CALLS):
        started = time.perf_counter()
        result = await client.call_tool("account_health", {"account": ACCOUNTS[i % len(ACCOUNTS)]})
        samples.append((time.perf_counter() - started) * 1000)
        if result.is_error:
            raise RuntimeError(result.content)
    return samples


def _serve(server: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    web = uvicorn.Server(uvicorn.Config(http_app(server, token=TOKEN), log_level="warning"))
    thread = threading.Thread(target=web.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not web.started:
        time.sleep(0.02)
    return web, thread, f"http://127.0.0.1:{port}/mcp"


def _measurements(transport: str, samples: list[float]) -> list[Measurement]:
    note = f"{CALLS} calls, 240 accounts"
    return [
        Measurement(f"mcp account_health {transport} p50", percentile(samples, 50), "ms", note),
        Measurement(f"mcp account_health {transport} p99", percentile(samples, 99), "ms", note),
    ]


def run(workdir: Path) -> list[Measurement]:
    settings = McpSettings(sessions=_book(workdir), config=load_config(None), today=lambda: TODAY)

    async def in_process() -> list[float]:
        async with Client(build_server(settings)) as client:
            return await _timed_calls(client)

    web, thread, url = _serve(build_server(settings))

    async def over_http() -> list[float]:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with (
            # not httpx's 5-second default: on a loaded machine one round trip can take longer
            httpx2.AsyncClient(headers=headers, timeout=HTTP_TIMEOUT_SECONDS) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            return await _timed_calls(client)

    try:
        local = anyio.run(in_process)
        remote = anyio.run(over_http)
    finally:
        web.should_exit = True
        thread.join(timeout=10)
    return _measurements("in-process", local) + _measurements("HTTP", remote)
