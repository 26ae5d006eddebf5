"""``csbot demo``: generate a demo portfolio, score its history and tour the real app."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from bot.cli.common import Context, DbOption, console, database_url_from, err_console, open_context
from tools.demo_catalog import STORIES


def demo(
    accounts: Annotated[
        int, typer.Option("--accounts", min=len(STORIES), help="Accounts to generate.")
    ] = 240,
    months: Annotated[
        int, typer.Option("--months", min=1, max=36, help="Months of activity history.")
    ] = 12,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same data).")] = 42,
    database: DbOption = None,
    reset: Annotated[
        bool, typer.Option("--reset", help="Wipe the database and generate a fresh portfolio.")
    ] = False,
    world: Annotated[
        str,
        typer.Option(
            "--world",
            help=(
                "What drives churn: 'signals' (churners show warning signs) or "
                "'renewal-timing' (random churn at renewals: the score cannot know; for "
                "showing that backtest and calibrate report honestly low numbers)."
            ),
        ),
    ] = "signals",
    tour: Annotated[
        bool,
        typer.Option(
            "--tour/--no-tour",
            help="After the summary, walk through the real app on a local fake Slack.",
        ),
    ] = True,
) -> None:
    """Generate a demo portfolio (or reuse it), score its history, and tour the app.

    The tour sends `/health acme`, `/churn`, `/health vandelay` (a new account stuck in
    onboarding) and opens the App Home through the real Slack app, served locally against a
    fake Slack, and prints what a CSM would see.
    """
    from datetime import UTC, datetime

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from tools import demo as demo_tools

    ctx = open_context(database_url_from(database))
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger().setLevel(logging.WARNING)  # a tour to read: only warnings interrupt it
    today = ctx.today()
    with ctx.sessions() as session:
        existing = demo_tools.count_accounts(session)
    if existing and not reset:
        console.print(
            f"[yellow]The database already holds {existing:,} accounts: reusing it[/yellow] "
            "(pass --reset to generate a fresh demo portfolio)."
        )
    else:
        columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("Generating the demo portfolio", total=None)

            def on_progress(stage: str, done: int, total: int) -> None:
                bar.update(task, description=stage, completed=done, total=total)

            try:
                report = demo_tools.generate_demo(
                    session_factory=ctx.sessions,
                    today=today,
                    accounts=accounts,
                    months=months,
                    seed=seed,
                    reset=reset,
                    progress=on_progress,
                    world=world,
                )
            except demo_tools.DemoError as exc:
                err_console.print(f"[red]Cannot generate the demo:[/red] {exc}")
                raise typer.Exit(1) from exc
        console.print(
            f"Generated {report.accounts:,} accounts and {report.total_rows:,} rows "
            f"in {report.seconds:.1f}s (seed {report.seed})."
        )
    _ensure_history(ctx, today)
    with ctx.sessions() as session:
        summary = demo_tools.demo_summary(session, today)
    _print_demo_summary(summary)
    if tour:
        from bot.tour import run_tour

        run_tour(
            ctx.settings,
            sessions=ctx.sessions,
            console=console,
            config=ctx.config,
            now=datetime.now(UTC),
        )
        console.print(
            "\nThat was the real app, answering a local fake Slack. Keep going with "
            f"[bold]{runnable('chat')}[/bold], or install it in Slack: see README.md.",
            highlight=False,
        )


def runnable(command: str) -> str:
    """How to run ``csbot COMMAND`` from this shell: plain when csbot is on PATH, else the
    Makefile target or the virtualenv's script (what `make demo` leaves behind)."""
    import shutil
    import sys

    if shutil.which("csbot"):
        return f"csbot {command}"
    script = Path(sys.argv[0])
    if command == "chat" and Path("Makefile").is_file():
        return "make chat"
    if script.name == "csbot" and script.parent.is_dir():
        return f"{script.parent.as_posix()}/csbot {command}"
    return f"csbot {command} (after `. .venv/bin/activate`)"


def _ensure_history(ctx: Context, today: date) -> None:
    """Back-fill a year of weekly health snapshots unless today's already exist."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from bot.tour import backfill_history, has_history

    if has_history(ctx.sessions, today=today):
        return
    config = ctx.config
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("Scoring 12 months of history", total=None)

        def on_progress(day: date, done: int, total: int) -> None:
            bar.update(task, description=f"Scoring history: {day}", completed=done, total=total)

        scan_log = logging.getLogger("tools.scoring")
        level = scan_log.level
        scan_log.setLevel(logging.WARNING)  # one line per historical scan would bury the bar
        try:
            report = backfill_history(
                ctx.sessions, today=today, config=config, progress=on_progress
            )
        finally:
            scan_log.setLevel(level)
    console.print(
        f"Scored 12 months of history: {report.scans} scans, weekly plus the days the trends "
        f"compare against ({report.snapshots:,} account snapshots)."
    )


def _print_demo_summary(summary: Any) -> None:
    from rich.table import Table

    overview = Table(title=f"Demo portfolio as of {summary.as_of}", show_header=False)
    segments = ", ".join(f"{k} {v}" for k, v in summary.accounts_by_segment.items())
    for label, value in (
        ("Accounts", f"{summary.accounts:,} ({summary.active_accounts:,} active)"),
        ("Total ARR", f"${summary.total_arr:,.0f}"),
        ("By segment", segments),
        (
            "Renewals next 90 days",
            f"{summary.renewals_90d} (${summary.renewals_90d_arr:,.0f} ARR)",
        ),
        ("Churned last 12 months", f"{summary.churned_12m} (${summary.churned_12m_arr:,.0f} ARR)"),
    ):
        overview.add_row(label, value)
    console.print(overview)
    stories = Table("Account", "id", "What the data shows", title="Stories to try")
    for fact in summary.stories:
        stories.add_row(fact.name, fact.external_id, fact.fact)
    console.print(stories)
