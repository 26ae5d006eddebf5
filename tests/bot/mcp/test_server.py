"""``csbot mcp`` through the SDK's own client (in process): the registry, unchanged, over MCP."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Annotated, Any

import anyio
from mcp import Client, StdioServerParameters
from pydantic import Field
from sqlmodel import select

from bot.mcp.server import build_server
from tests.bot.mcp.conftest import mcp_settings
from tests.utils.agent_book import INJECTION, TODAY
from tools import db
from tools.agent_tools import default_registry
from tools.models import HandoffProposal, QbrDraft, QbrDraftStatus
from tools.registry import MAX_OUTPUT_CHARS, Registry, ToolContext, make_tool
from tools.scoring_config import load_config

WRITE_TOOLS = {"draft_qbr", "revise_qbr_section", "propose_expansion_handoff"}


def run(sessions: db.SessionFactory, script: Any, *, allow_drafts: bool = False) -> Any:
    """Run ``script(client)`` against a fresh server over ``sessions``; return its result."""
    server = build_server(mcp_settings(sessions, allow_drafts=allow_drafts))

    async def main() -> Any:
        async with Client(server) as client:
            return await script(client)

    return anyio.run(main)


def text_of(result: Any) -> str:
    assert len(result.content) == 1
    return str(result.content[0].text)


def test_lists_only_read_tools_with_the_registrys_schemas(mcp_book: db.SessionFactory) -> None:
    async def script(client: Client) -> Any:
        return await client.list_tools()

    listed = {t.name: t for t in run(mcp_book, script).tools}
    registry = default_registry()
    read_tools = {n for n, t in registry.tools.items() if not t.writes}
    assert set(listed) == read_tools
    assert not set(listed) & WRITE_TOOLS
    for name, tool in listed.items():
        assert tool.input_schema == registry.tools[name].input_schema()
        assert tool.description == registry.tools[name].description
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is True


def test_allow_drafts_lists_the_write_tools_as_not_read_only(mcp_book: db.SessionFactory) -> None:
    async def script(client: Client) -> Any:
        return await client.list_tools()

    listed = {t.name: t for t in run(mcp_book, script, allow_drafts=True).tools}
    assert set(listed) == set(default_registry().tools)
    for name in WRITE_TOOLS:
        annotations = listed[name].annotations
        assert annotations is not None
        assert annotations.read_only_hint is False
        assert annotations.destructive_hint is False


def test_read_tool_returns_exactly_what_the_registry_returns(mcp_book: db.SessionFactory) -> None:
    async def script(client: Client) -> Any:
        return await client.call_tool("account_health", {"account": "acme"})

    result = run(mcp_book, script)
    assert result.is_error is False
    ctx = ToolContext(sessions=mcp_book, as_of=TODAY, config=load_config(None))
    direct = default_registry().call("account_health", {"account": "acme"}, ctx)
    assert text_of(result) == direct.content
    data = json.loads(text_of(result))
    assert data["external_id"] == "acme"
    assert data["as_of"] == TODAY.isoformat()
    assert 0 <= data["score"] <= 100


def test_customer_text_arrives_only_as_untrusted_text(mcp_book: db.SessionFactory) -> None:
    async def script(client: Client) -> Any:
        return await client.call_tool("account_overview", {"account": "acme"})

    data = json.loads(text_of(run(mcp_book, script)))
    fenced = [t["untrusted_text"] for t in data["recent_tickets"]]
    assert INJECTION in fenced
    assert json.dumps(data).count(INJECTION) == 1


def test_invalid_input_is_an_error_result_from_the_registrys_validation(
    mcp_book: db.SessionFactory,
) -> None:
    async def script(client: Client) -> Any:
        return (
            await client.call_tool("account_health", {"account": ""}),
            await client.call_tool("account_health", {"account": "acme", "bogus": 1}),
            await client.call_tool("account_health", {"account": "acme", "history_months": 99}),
            await client.call_tool("no_such_tool", {}),
        )

    empty, extra, too_many, unknown = run(mcp_book, script)
    assert empty.is_error
    assert "Invalid input for account_health: account" in text_of(empty)
    assert extra.is_error
    assert "bogus" in text_of(extra)
    assert too_many.is_error
    assert "history_months" in text_of(too_many)
    assert unknown.is_error
    assert "Unknown tool 'no_such_tool'" in text_of(unknown)


def test_unknown_account_is_a_short_error_with_suggestions(mcp_book: db.SessionFactory) -> None:
    async def script(client: Client) -> Any:
        return await client.call_tool("churn_risk", {"account": "acme corpp"})

    result = run(mcp_book, script)
    assert result.is_error
    assert "Traceback" not in text_of(result)


def test_write_tool_is_refused_without_the_flag_and_writes_nothing(
    mcp_book: db.SessionFactory,
) -> None:
    async def script(client: Client) -> Any:
        return (
            await client.call_tool("draft_qbr", {"account": "acme"}),
            await client.call_tool("propose_expansion_handoff", {"account": "acme"}),
        )

    for result in run(mcp_book, script):
        assert result.is_error
        assert "--allow-drafts" in text_of(result)
    with db.session_scope(mcp_book) as session:
        assert session.exec(select(QbrDraft)).all() == []
        assert session.exec(select(HandoffProposal)).all() == []


def test_allow_drafts_creates_a_draft_only(mcp_book: db.SessionFactory) -> None:
    async def script(client: Client) -> Any:
        return await client.call_tool("draft_qbr", {"account": "acme"})

    result = run(mcp_book, script, allow_drafts=True)
    assert result.is_error is False
    assert "Draft only" in text_of(result)
    with db.session_scope(mcp_book) as session:
        drafts = session.exec(select(QbrDraft)).all()
        assert len(drafts) == 1
        assert drafts[0].status == QbrDraftStatus.DRAFT.value


def huge(ctx: ToolContext, *, rows: Annotated[int, Field(ge=1, le=100_000)] = 5_000) -> Any:
    """A tool whose answer is far larger than the output cap."""
    return {"rows": [f"row {i} " + "x" * 40 for i in range(rows)]}


def test_output_is_capped_by_the_registry_like_the_agents(mcp_book: db.SessionFactory) -> None:
    registry = Registry([make_tool(huge)])
    server = build_server(mcp_settings(mcp_book), registry=registry)

    async def main() -> Any:
        async with Client(server) as client:
            return await client.call_tool("huge", {})

    text = text_of(anyio.run(main))
    assert len(text) <= MAX_OUTPUT_CHARS
    assert "more" in json.loads(text)["rows"][-1]


def test_csbot_mcp_over_stdio_with_the_sdk_client(mcp_book_template: Path, tmp_path: Path) -> None:
    """The real command in a subprocess: nothing but protocol on stdout, tools answer."""
    path = tmp_path / "book.db"
    shutil.copy(mcp_book_template, path)
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "bot", "mcp", "--db", str(path)],
        env={**os.environ, "LOG_LEVEL": "WARNING"},
    )

    async def main() -> Any:
        async with Client(params) as client:
            listed = await client.list_tools()
            found = await client.call_tool("find_accounts", {"query": "acme"})
            refused = await client.call_tool("draft_qbr", {"account": "acme"})
            return listed, found, refused

    listed, found, refused = anyio.run(main)
    assert "draft_qbr" not in {t.name for t in listed.tools}
    assert json.loads(text_of(found))["matches"][0]["external_id"] == "acme"
    assert refused.is_error
