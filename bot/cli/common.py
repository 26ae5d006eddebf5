"""What every ``csbot`` command shares: the consoles, the error wrapper, the context (settings,
engine, sessions, scoring config) and the ``--db`` / date options."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from sqlalchemy import Engine
from typer.core import TyperGroup
from typer.exceptions import TyperException

from bot import cli_errors
from bot.config import Settings
from tools import db

if TYPE_CHECKING:
    from tools.scoring_config import ScoringConfig

console = Console()
err_console = Console(stderr=True)


class FriendlyErrors(TyperGroup):
    """Every command's unexpected error becomes one to three lines and exit code 1 (what failed,
    the likely cause, what to do); ``--debug`` or LOG_LEVEL=DEBUG shows the traceback instead."""

    def invoke(self, ctx: Any) -> Any:  # a typer (click) Context
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException):
            raise
        except Exception as exc:
            if ctx.params.get("debug") or cli_errors.debug_requested():
                raise
            problem = cli_errors.describe(exc)
            for number, line in enumerate(problem.lines()):
                style = "bold red" if number == 0 else ""
                err_console.print(line, style=style, markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None


@dataclass
class Context:
    """What every command needs: settings, an upgraded engine and a session factory."""

    settings: Settings
    engine: Engine
    sessions: db.SessionFactory

    @cached_property
    def config(self) -> ScoringConfig:
        """The scoring config (defaults + SCORING_CONFIG); a bad file exits with its error."""
        return scoring_config(self.settings)

    def today(self) -> date:
        """Today in the team's timezone (TIMEZONE)."""
        return datetime.now(ZoneInfo(self.settings.timezone)).date()


def scoring_config(settings: Settings) -> ScoringConfig:
    """Load the scoring config, or print why it is invalid and exit with status 1."""
    from tools.scoring_config import ConfigError, load_config

    try:
        return load_config(settings.scoring_config)
    except ConfigError as exc:
        err_console.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(1) from None


def configure_logging(level: str) -> None:
    """Log to stderr at ``level``; Alembic's per-migration chatter only at DEBUG."""
    logging.basicConfig(level=level.upper(), format="%(levelname)s %(name)s: %(message)s")
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("alembic").setLevel(logging.WARNING)


def open_context(database_url: str | None = None) -> Context:
    """Load settings, open the database and bring its schema up to date."""
    settings = Settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    configure_logging(settings.log_level)
    cli_errors.remember_database(settings.database_url)
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


def parse_day(value: str | None, option: str) -> date | None:
    """A YYYY-MM-DD option, or a clear error naming the option."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        err_console.print(f"[red]{option} must be a date (YYYY-MM-DD), not {value!r}.[/red]")
        raise typer.Exit(2) from None
