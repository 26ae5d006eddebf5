"""``csbot chat`` and ``csbot ask``: talk to csbot from the terminal."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.common import DbOption, console, database_url_from, err_console, open_context


def chat(database: DbOption = None) -> None:
    """Talk to csbot in the terminal: a local fake Slack running the real app (no Slack needed).

    Type `/health acme`, free text (a DM), a button number, `home`, or `quit`.
    """
    from bot.harness.terminal import TerminalSlack

    ctx = open_context(database_url_from(database))
    with TerminalSlack(ctx.settings, session_factory=ctx.sessions, console=console) as session:
        session.run()


def ask(
    question: Annotated[str, typer.Argument(help='What to ask, e.g. "how is Acme doing?"')],
    database: DbOption = None,
    thread: Annotated[
        str | None,
        typer.Option("--thread", help="Conversation key; reuse it to ask a follow-up."),
    ] = None,
) -> None:
    """Ask Claude one question about the book, through the same tool loop Slack uses.

    Without ANTHROPIC_API_KEY (or when Claude is unavailable) the deterministic answer is shown.
    """
    import uuid
    from datetime import UTC, datetime

    from bot.agent import Agent
    from bot.deps import Deps

    ctx = open_context(database_url_from(database))
    config = ctx.config
    deps = Deps(
        settings=ctx.settings,
        sessions=ctx.sessions,
        clock=lambda: datetime.now(UTC),
        config=config,
    )
    key = thread or f"cli:{uuid.uuid4().hex}"
    result = Agent.from_deps(deps).run_turn(key, question, user_id=None)
    typer.echo(result.text)
    if result.fell_back:
        err_console.print("[dim](answered without Claude)[/dim]")
    else:
        err_console.print(
            f"[dim]thread {key} · {result.usage.model_calls} model calls · "
            f"{result.usage.input_tokens + result.usage.cache_read_tokens} input tokens[/dim]"
        )
