"""``csbot db upgrade|status`` and ``csbot import``: the schema and loading your own data."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from bot import cli_errors
from bot.cli.common import DbOption, console, database_url_from, err_console, open_context
from bot.config import Settings
from tools import db

db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(database: DbOption = None) -> None:
    """Create or upgrade the schema to the newest revision."""
    settings = Settings()
    url = database_url_from(database) or settings.database_url
    cli_errors.remember_database(url)
    engine = db.make_engine(url)
    applied = db.upgrade(engine)
    state = "upgraded to" if applied else "already at"
    console.print(f"Database {state} revision {db.current_revision(engine)}.")


@db_app.command("status")
def db_status(database: DbOption = None) -> None:
    """Show the schema revision of the database and of this code."""
    settings = Settings()
    url = database_url_from(database) or settings.database_url
    cli_errors.remember_database(url)
    engine = db.make_engine(url)
    console.print(f"database: {db.current_revision(engine) or 'empty'}")
    console.print(f"code:     {db.head_revision(engine)}")


def import_data(
    directory: Annotated[
        Path,
        typer.Argument(
            help="Folder of CSV/JSONL files (see docs/data-format.md).",
            exists=True,
            file_okay=False,
            dir_okay=True,
        ),
    ],
    database: DbOption = None,
    shift_dates: Annotated[
        bool,
        typer.Option(
            "--shift-dates-to-today",
            help="Move every date so that the newest usage is yesterday (for sample data such "
            "as examples/data, so that it describes a live portfolio).",
        ),
    ] = False,
) -> None:
    """Validate a folder of CSV/JSONL files and load it; nothing is written if any row is bad."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn
    from rich.table import Table

    from tools.importer import ImportValidationError, import_directory

    context = open_context(database_url_from(database))
    large_file = 4 * 1024 * 1024
    tasks: dict[str, TaskID] = {}
    with Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), console=err_console
    ) as bar:

        def on_progress(name: str, done: int, total: int) -> None:
            if total < large_file:
                return
            if name not in tasks:
                tasks[name] = bar.add_task(f"reading {name}", total=total)
            bar.update(tasks[name], completed=done)

        try:
            report = import_directory(
                sessions=context.sessions,
                directory=directory,
                progress=on_progress,
                # the newest usage lands on yesterday, the last complete day
                shift_to=context.today() - timedelta(days=1) if shift_dates else None,
                login_events=context.config.activity.login_events,
            )
        except ImportValidationError as exc:
            bar.stop()
            for error in exc.errors:
                err_console.print(str(error), markup=False, highlight=False, soft_wrap=True)
            if exc.total > len(exc.errors):
                err_console.print(f"... and {exc.total - len(exc.errors)} more")
            err_console.print(
                f"[red]Import failed: {exc.total} problem(s) in {directory}; nothing was written.",
                soft_wrap=True,
            )
            raise typer.Exit(1) from None
    table = Table("entity", "inserted", "updated", "unchanged", title=f"Imported {directory}")
    for name, counts in report.counts.items():
        table.add_row(name, str(counts.inserted), str(counts.updated), str(counts.unchanged))
    console.print(table)
    if report.event_rows:
        console.print(f"{report.event_rows:,} product events aggregated into daily usage.")
        if not report.logins:
            console.print(
                "No event counted as a login (login_events: "
                + ", ".join(report.login_events)
                + "): activity is measured as active users. Set [activity] login_events in the "
                "scoring config if your login event has another name.",
                markup=False,
                soft_wrap=True,
            )
    if report.ignored_files:
        console.print("Ignored (not a known entity): " + ", ".join(report.ignored_files))
    if report.shifted_days and report.newest_activity is not None:
        console.print(
            f"Moved every date by {report.shifted_days:+,} days: the newest usage "
            f"({report.newest_activity}) is now yesterday, the last complete day."
        )
    console.print("Next: [bold]csbot scan[/bold] scores the portfolio as of today.")
