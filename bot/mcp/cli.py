"""The ``csbot mcp`` command: serve the tool registry to Claude Desktop, Claude Code and others."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer


def mcp_command(
    http: Annotated[
        bool,
        typer.Option(
            "--http",
            help="Serve streamable HTTP at /mcp (needs MCP_TOKEN) instead of stdio.",
        ),
    ] = False,
    allow_drafts: Annotated[
        bool,
        typer.Option(
            "--allow-drafts",
            help="Also expose draft_qbr, revise_qbr_section and propose_expansion_handoff. They "
            "only create drafts and proposals; a person approves them in Slack.",
        ),
    ] = False,
    host: Annotated[str, typer.Option("--host", help="HTTP address (with --http).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, help="HTTP port (with --http).")] = 8765,
    database: Annotated[
        str | None,
        typer.Option("--db", help="Database URL or SQLite file path (overrides DATABASE_URL)."),
    ] = None,
) -> None:
    """Serve csbot's tools over MCP: stdio by default (Claude Desktop / Claude Code), or
    streamable HTTP with --http and a bearer token in MCP_TOKEN. Read-only unless
    --allow-drafts. See docs/mcp.md."""
    import anyio

    from bot.cli import database_url_from, err_console, open_context
    from bot.mcp.http import McpTokenError, checked_token, serve_http
    from bot.mcp.server import McpSettings, build_server, run_stdio
    from bot.narrator import anthropic_client
    from bot.voc_blocks import theme_labeller

    ctx = open_context(database_url_from(database))
    token = ctx.settings.mcp_token.get_secret_value() if ctx.settings.mcp_token else None
    if http:
        try:
            token = checked_token(token)
        except McpTokenError as exc:
            err_console.print(f"[red]Cannot start the MCP server:[/red] {exc}", highlight=False)
            raise typer.Exit(2) from None
    zone = ZoneInfo(ctx.settings.timezone)
    server = build_server(
        McpSettings(
            sessions=ctx.sessions,
            config=ctx.config,
            today=lambda: datetime.now(zone).date(),
            allow_drafts=allow_drafts,
            theme_labeller=theme_labeller(
                anthropic_client(ctx.settings), ctx.settings.anthropic_model
            ),
        )
    )
    if http:
        assert token is not None
        err_console.print(f"csbot MCP on http://{host}:{port}/mcp (bearer token required)")
        serve_http(server, token=token, host=host, port=port)
    else:
        anyio.run(run_stdio, server)
