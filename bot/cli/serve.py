"""``csbot serve`` (the Slack app and its scheduled jobs) and ``csbot jobs`` (what it schedules)."""

from __future__ import annotations

from typing import Annotated

import typer

from bot import cli_errors
from bot.cli.common import (
    DbOption,
    console,
    database_url_from,
    err_console,
    open_context,
    scoring_config,
)
from bot.config import Settings
from tools import db


def jobs() -> None:
    """List every scheduled job that `csbot serve` runs, with its schedule and next run."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from rich.table import Table
    from rich.text import Text

    from bot.jobs.delivery import scheduler_client
    from bot.jobs.schedule import SCHEDULE, build_scheduler, next_runs

    settings = Settings()
    config = scoring_config(settings)
    cli_errors.remember_database(settings.database_url)
    engine = db.make_engine(settings.database_url)
    scheduler = build_scheduler(
        settings,
        session_factory=db.session_factory(engine),
        client=scheduler_client(settings),
        clock=lambda: datetime.now(UTC),
        config=config,
    )
    tz = ZoneInfo(settings.timezone)
    runs = dict(next_runs(scheduler, datetime.now(tz)))
    table = Table(
        "job", "what", "schedule", "next run", title=f"Scheduled jobs ({settings.timezone})"
    )
    for row in SCHEDULE:
        job = scheduler.get_job(row.id)
        if job is None:
            table.add_row(Text(row.id), Text(row.what), Text(row.off_when or "off"), Text("-"))
            continue
        when = runs.get(row.id)
        when_text = when.astimezone(tz).isoformat() if when else "never"
        table.add_row(Text(row.id), Text(row.what), Text(str(job.trigger)), Text(when_text))
    console.print(table)


def serve(
    http: Annotated[
        bool,
        typer.Option(
            "--http", help="Serve /slack/events over HTTP instead of connecting via Socket Mode."
        ),
    ] = False,
    port: Annotated[int, typer.Option("--port", min=0, help="HTTP port (with --http).")] = 3000,
    host: Annotated[
        str, typer.Option("--host", help="HTTP address to bind (with --http).")
    ] = "0.0.0.0",  # noqa: S104  (a server meant to be reached by Slack)
    jobs: Annotated[
        bool,
        typer.Option(
            "--jobs/--no-jobs",
            help="Run the scheduled jobs (daily scan and alerts, QBR drafts, weekly digest) in "
            "this process too. Safe on several replicas: each alert is claimed once in the DB.",
        ),
    ] = True,
    database: DbOption = None,
) -> None:
    """Run the Slack app: Socket Mode with SLACK_APP_TOKEN, or HTTP with --http."""
    from bot.app import SlackSetupError
    from bot.serve import serve_http, serve_socket_mode

    context = open_context(database_url_from(database))
    sessions = context.sessions
    try:
        if http:
            serve_http(
                context.settings, session_factory=sessions, host=host, port=port, with_jobs=jobs
            )
        else:
            serve_socket_mode(context.settings, session_factory=sessions, with_jobs=jobs)
    except SlackSetupError as exc:
        err_console.print(f"[red]Cannot start the Slack app:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
