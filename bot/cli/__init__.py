"""The ``csbot`` command: import data, run the demo, score the portfolio, serve Slack.

One module per command group; this one builds the app and registers the commands in the order
``csbot --help`` lists them.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from bot.cli import chat, data, demo, evaluate, qbr, scan, serve
from bot.cli.common import (
    Context,
    DbOption,
    FriendlyErrors,
    console,
    database_url_from,
    err_console,
    open_context,
    scoring_config,
)
from bot.cli_alerts import alerts_app
from bot.mcp.cli import mcp_command

__all__ = [
    "Context",
    "DbOption",
    "app",
    "console",
    "database_url_from",
    "err_console",
    "main",
    "open_context",
    "scoring_config",
]

app = typer.Typer(
    cls=FriendlyErrors,
    help=(
        "cs-copilot: a Customer Success copilot for Slack.\n\n"
        "Start with `csbot demo` (SQLite + a generated portfolio, no accounts needed), or "
        "`csbot import DIR` to load your own CSV/JSONL files (see docs/data-format.md)."
    ),
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _main(
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", help="Show the full traceback of an error (LOG_LEVEL=DEBUG does too)."
        ),
    ] = False,
) -> None:
    if debug:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")


app.add_typer(data.db_app, name="db")
app.add_typer(alerts_app, name="alerts")
app.command("import")(data.import_data)
app.command("backtest")(evaluate.backtest)
app.command("calibrate")(evaluate.calibrate)
app.command("chat")(chat.chat)
app.command("ask")(chat.ask)
app.add_typer(evaluate.config_app, name="config")
app.command("scan")(scan.scan)
app.command("jobs")(serve.jobs)
app.command("serve")(serve.serve)
app.command("mcp")(mcp_command)
app.command("demo")(demo.demo)
app.command("qbr")(qbr.qbr)
app.add_typer(qbr.notion_app, name="notion")


def main() -> None:
    """Entry point of the ``csbot`` console script."""
    app()
