"""The ``csbot`` command: import data, run the demo, score the portfolio, serve Slack."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import Engine

from bot.config import Settings
from tools import db

app = typer.Typer(
    help=(
        "cs-copilot: a Customer Success copilot for Slack.\n\n"
        "Start with `csbot demo` (SQLite + a generated portfolio, no accounts needed), or "
        "`csbot import DIR` to load your own CSV/JSONL files (see docs/data-format.md)."
    ),
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")

console = Console()
err_console = Console(stderr=True)


@dataclass
class Context:
    """What every command needs: settings, an upgraded engine and a session factory."""

    settings: Settings
    engine: Engine
    sessions: db.SessionFactory


def open_context(database_url: str | None = None) -> Context:
    """Load settings, open the database and bring its schema up to date."""
    settings = Settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    return Context(settings=settings, engine=engine, sessions=db.session_factory(engine))


DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL or SQLite file path (overrides DATABASE_URL)."),
]


def database_url_from(option: str | None) -> str | None:
    """Accept either a SQLAlchemy URL or a bare SQLite file path."""
    if option is None or "://" in option:
        return option
    return f"sqlite:///{Path(option).expanduser()}"


@db_app.command("upgrade")
def db_upgrade(database: DbOption = None) -> None:
    """Create or upgrade the schema to the newest revision."""
    settings = Settings()
    url = database_url_from(database) or settings.database_url
    engine = db.make_engine(url)
    applied = db.upgrade(engine)
    state = "upgraded to" if applied else "already at"
    console.print(f"Database {state} revision {db.current_revision(engine)}.")


@db_app.command("status")
def db_status(database: DbOption = None) -> None:
    """Show the schema revision of the database and of this code."""
    settings = Settings()
    engine = db.make_engine(database_url_from(database) or settings.database_url)
    console.print(f"database: {db.current_revision(engine) or 'empty'}")
    console.print(f"code:     {db.head_revision(engine)}")


def main() -> None:
    """Entry point of the ``csbot`` console script."""
    app()
