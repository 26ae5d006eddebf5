"""The ``csbot`` command: import data, run the demo, score the portfolio, serve Slack."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
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
from bot.cli_alerts import alerts_app
from bot.config import Settings
from bot.mcp.cli import mcp_command
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


db_app = typer.Typer(help="Database schema commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(alerts_app, name="alerts")


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


@app.command("import")
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


def _day(value: str | None, option: str) -> date | None:
    """A YYYY-MM-DD option, or a clear error naming the option."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        err_console.print(f"[red]{option} must be a date (YYYY-MM-DD), not {value!r}.[/red]")
        raise typer.Exit(2) from None


@app.command("backtest")
def backtest(
    start: Annotated[
        str | None,
        typer.Option(
            "--from", metavar="YYYY-MM-DD", help="First observation date (default: 90 days in)."
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="YYYY-MM-DD",
            help="Last observation date (default: the last one the data can label).",
        ),
    ] = None,
    horizon_days: Annotated[
        int,
        typer.Option(
            "--horizon-days", min=1, help="Days after each observation date that a churn counts."
        ),
    ] = 60,
    upsell_days: Annotated[
        int, typer.Option("--upsell-days", min=1, help="Days in which an upsell counts.")
    ] = 90,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="YYYY-MM-DD",
            help=(
                "Replay as if today were this day: labels use only data up to it, and dates "
                "whose horizon reaches past it are left out (default: the last day with data)."
            ),
        ),
    ] = None,
    k: Annotated[int, typer.Option("--k", min=1, help="precision@k of the upsell ranking.")] = 50,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", min=0, help="Bootstrap resamples for the AUC interval.")
    ] = 1000,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON on stdout, and nothing else.")
    ] = False,
    database: DbOption = None,
) -> None:
    """Recompute the scores as of past dates (no look-ahead) and report how they called churn
    and upsells: AUC with a 95% interval, lift, each band and risk level, censored dates."""
    from rich.table import Table

    from tools.backtest import (
        BAND_COLUMNS,
        SUMMARY_COLUMNS,
        group_rows,
        run_backtest,
        summary_row,
    )

    first, last, cutoff = _day(start, "--from"), _day(end, "--to"), _day(as_of, "--as-of")
    context = open_context(database_url_from(database))
    config = context.config
    with context.sessions() as session:
        report = run_backtest(
            session,
            config=config,
            today=context.today(),
            horizon_days=horizon_days,
            upsell_days=upsell_days,
            start=first,
            end=last,
            as_of=cutoff,
            k=k,
            bootstrap=bootstrap,
        )
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    wide = Console(width=max(console.width, 160))  # 14 columns: never squeeze them
    table = Table(
        *SUMMARY_COLUMNS,
        title=(
            f"Backtest: churn within {report.horizon_days} days, upsell within "
            f"{report.upsell_days} days (labels use data up to {report.labels_until or '-'})"
        ),
        caption=(
            "AUC ranks accounts by 100 - health (pooled: 95% bootstrap interval over accounts); "
            "Order AUC = the /churn order (level, then score). RED / High: precision and recall. "
            f"Upsells: upsold/observed; Opp AUC, P@k, Lift@k rank by expansion strength "
            f"(k={k}). — = not computable."
        ),
    )
    for result in report.per_date:
        table.add_row(*summary_row(result))
    table.add_section()
    table.add_row(*summary_row(report.pooled), style="bold")
    wide.print(table)
    groups = Table(*BAND_COLUMNS, title="Pooled, per band and per churn-risk level")
    for row in group_rows(report.pooled.churn):
        groups.add_row(*row)
    wide.print(groups)
    for warning in report.warnings:
        err_console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    for note in report.notes:
        console.print(note, markup=False)


@app.command("calibrate")
def calibrate(
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Where to write the reviewed-not-applied TOML."),
    ] = Path("scoring.calibrated.toml"),
    start: Annotated[
        str | None, typer.Option("--from", metavar="YYYY-MM-DD", help="First observation date.")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", metavar="YYYY-MM-DD", help="Last observation date.")
    ] = None,
    evaluate_from: Annotated[
        str | None,
        typer.Option(
            "--evaluate-from",
            metavar="YYYY-MM-DD",
            help="First evaluation date (default: the last third of the dates).",
        ),
    ] = None,
    horizon_days: Annotated[int, typer.Option("--horizon-days", min=1)] = 60,
    upsell_days: Annotated[int, typer.Option("--upsell-days", min=1)] = 90,
    step_days: Annotated[
        int, typer.Option("--step-days", min=1, help="Days between observation dates.")
    ] = 14,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", metavar="YYYY-MM-DD", help="Labels use data up to this day."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite --output.")] = False,
    database: DbOption = None,
) -> None:
    """Fit the score to your own history (earlier dates), check it on the later dates, and
    write a TOML to review. Nothing changes until SCORING_CONFIG points at that file."""
    from rich.table import Table

    from tools.backtest import fmt, fmt_interval
    from tools.calibrate import CalibrationError, run_calibration

    if output.exists() and not force:
        err_console.print(f"[red]{output} exists; pass --force to overwrite it.[/red]")
        raise typer.Exit(2)
    first, last = _day(start, "--from"), _day(end, "--to")
    split, cutoff = _day(evaluate_from, "--evaluate-from"), _day(as_of, "--as-of")
    context = open_context(database_url_from(database))
    with context.sessions() as session:
        try:
            result = run_calibration(
                session,
                config=context.config,
                today=context.today(),
                horizon_days=horizon_days,
                upsell_days=upsell_days,
                step_days=step_days,
                start=first,
                end=last,
                evaluate_from=split,
                as_of=cutoff,
            )
        except CalibrationError as exc:
            err_console.print(f"[red]Cannot calibrate:[/red] {exc}", highlight=False)
            raise typer.Exit(1) from None
    output.write_text(result.toml, encoding="utf-8")
    table = Table(
        "Later period",
        "Churn AUC [95% CI]",
        "Order AUC",
        "RED rate",
        "AMBER rate",
        "GREEN rate",
        "Upsell AUC",
        f"P@{result.after.pooled.expansion.k}",
        title=(
            f"Fitted on {result.fit_dates[0]}..{result.fit_dates[-1]}, evaluated on "
            f"{result.evaluate_dates[0]}..{result.evaluate_dates[-1]}"
        ),
    )
    for name, report in (("before (current)", result.before), ("after (calibrated)", result.after)):
        churn, expansion = report.pooled.churn, report.pooled.expansion
        table.add_row(
            name,
            fmt_interval(churn.auc),
            fmt(churn.order_auc),
            *(fmt(churn.bands[b].precision, 3) for b in ("RED", "AMBER", "GREEN")),
            fmt(expansion.strength_auc),
            fmt(expansion.precision_at_k),
        )
    Console(width=max(console.width, 130)).print(table)
    for message in result.messages:
        console.print(message, markup=False)
    console.print(
        f"Wrote {output} (not applied). Review it, then set SCORING_CONFIG={output} to use it.",
        markup=False,
    )


@app.command("chat")
def chat(database: DbOption = None) -> None:
    """Talk to csbot in the terminal: a local fake Slack running the real app (no Slack needed).

    Type `/health acme`, free text (a DM), a button number, `home`, or `quit`.
    """
    from bot.harness.terminal import TerminalSlack

    ctx = open_context(database_url_from(database))
    with TerminalSlack(ctx.settings, session_factory=ctx.sessions, console=console) as session:
        session.run()


@app.command("ask")
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


config_app = typer.Typer(help="Scoring configuration commands.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("show")
def config_show() -> None:
    """Print the effective scoring configuration (defaults merged with SCORING_CONFIG) as TOML,
    with the file it came from and, for a calibrated file, its fit date and data range."""
    from tools.scoring_config import config_as_toml

    settings = Settings()
    config = scoring_config(settings)
    source = settings.scoring_config or "built-in defaults"
    typer.echo(f"# effective scoring config ({source})")
    info = config.calibration
    if info.fitted_on is not None:
        typer.echo(
            f"# calibrated on {info.fitted_on} by csbot calibrate: fitted on "
            f"{info.fit_from}..{info.fit_to}, evaluated on {info.evaluate_from}.."
            f"{info.evaluate_to} ({info.horizon_days}-day churn)"
        )
    else:
        typer.echo("# not calibrated: hand-set weights (run `csbot calibrate` to fit your own)")
    typer.echo(config_as_toml(config), nl=False)


@app.command("scan")
def scan(
    as_of: Annotated[
        str | None,
        typer.Option(
            "--date", help="Score as of this day (YYYY-MM-DD); default: today (in TIMEZONE)."
        ),
    ] = None,
    database: DbOption = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Print the plan, grouped by recipient: the churn alerts and book messages that "
            "would be posted; post and claim nothing.",
        ),
    ] = False,
) -> None:
    """Score every account, store today's snapshots and churn triggers, print a summary.

    With SLACK_BOT_TOKEN set, also posts today's churn alerts and book messages (each exactly
    once, like the scheduled daily job); --dry-run shows the plan grouped by recipient instead.
    """
    from datetime import date, datetime, time

    from rich.table import Table

    from bot.jobs.daily_scan import DailyScanReport, run_daily_scan
    from bot.jobs.delivery import scheduler_client
    from tools.scoring import scan_portfolio, scanned_at_risk
    from tools.wording import plural

    ctx = open_context(database_url_from(database))
    try:
        day = date.fromisoformat(as_of) if as_of else ctx.today()
    except ValueError as exc:
        err_console.print(f"[red]--date must be YYYY-MM-DD, got {as_of!r}[/red]")
        raise typer.Exit(2) from exc
    config = ctx.config
    daily: DailyScanReport | None = None
    tz = ZoneInfo(ctx.settings.timezone)
    is_today = day == ctx.today()
    if dry_run or (ctx.settings.slack_bot_token is not None and is_today):
        now = datetime.now(tz) if as_of is None else datetime.combine(day, time(12), tzinfo=tz)
        daily = run_daily_scan(
            session_factory=ctx.sessions,
            client=None if dry_run else scheduler_client(ctx.settings),
            settings=ctx.settings,
            config=config,
            now=now,
            dry_run=dry_run,
        )
        report = daily.scan
    else:
        with db.session_scope(ctx.sessions) as session:
            report = scan_portfolio(session, as_of=day, config=config)
    with db.session_scope(ctx.sessions) as session:  # from the scan's snapshots: no rescoring
        top = scanned_at_risk(session, as_of=day, config=config, limit=10)
    mix = report.band_mix
    console.print(
        f"[bold]Scanned {plural(report.accounts_scored, 'active account')} as of {day}[/bold] "
        f"in {report.seconds:.2f}s"
    )
    console.print(
        f"  [green]GREEN {mix.green:,}[/green]  [yellow]AMBER {mix.amber:,}[/yellow]  "
        f"[red]RED {mix.red:,}[/red]"
    )
    console.print(
        f"  churn risk: [red]{report.high_risk:,} high[/red], {report.medium_risk:,} medium; "
        f"ARR at risk ${report.arr_at_risk:,.0f}; newly risky today: {len(report.newly_risky):,}"
    )
    state = None
    if report.accounts_scored == 0:
        from tools.freshness import data_state

        with ctx.sessions() as session:
            state = data_state(session, as_of=day)
    problem = state.problem() if state is not None else None
    if problem is not None:
        console.print(f"[yellow]{problem}[/yellow]", highlight=False)
    elif not top:
        console.print("No account at risk.")
    else:
        table = Table(
            "account", "score", "band", "risk", "renewal", "ARR", "why", title="Top at risk"
        )
        for r in top:
            why = "; ".join(t.evidence for t in r.churn.triggers[:2])
            table.add_row(
                r.account.name,
                f"{r.health.score:.0f}",
                r.health.band.value,
                r.churn.level.value,
                str(r.account.renewal_date or "-"),
                f"${r.account.arr:,.0f}",
                why,
            )
        console.print(table)
    if daily is not None:
        _print_daily(daily)
    elif ctx.settings.slack_bot_token is None:
        console.print("[dim]SLACK_BOT_TOKEN is not set: no alerts posted (try --dry-run).[/dim]")
    else:
        console.print("[dim]Alerts are posted only for today's scan, not for --date.[/dim]")


def _print_daily(daily: object) -> None:
    """The alerts and QBR drafts of a daily run (posted, or planned in a dry run)."""
    from rich.table import Table
    from rich.text import Text

    from bot.jobs.daily_scan import DailyScanReport

    assert isinstance(daily, DailyScanReport)
    planned = daily.messages
    verb = "Would post" if daily.dry_run else "Planned"
    by_recipient: dict[str, list[Any]] = {}
    for item in planned:
        by_recipient.setdefault(item.channel, []).append(item)
    title = f"{verb} {len(planned)} message(s) to {len(by_recipient)} recipient(s)"
    table = Table("to", "kind", "account", "why", "key", title=title)
    for recipient in sorted(by_recipient):  # grouped by recipient, one section each
        for item in by_recipient[recipient]:  # Text: data is shown verbatim, never as markup
            table.add_row(
                Text(recipient),
                Text(item.kind),
                Text(item.account_name),
                Text(item.reason),
                Text(item.key),
            )
        table.add_section()
    if planned:
        console.print(table)
    else:
        console.print(f"{verb}: nothing new to alert.")
    if daily.dry_run:
        console.print("[dim]Dry run: nothing was claimed or posted.[/dim]")
        return
    for label, counts in (
        ("alerts", daily.counts),
        ("T-90 QBR drafts", daily.qbr_t90.counts),
        ("expansion proposals DM'd", daily.handoffs),
        ("book messages", daily.books.counts),
    ):
        console.print(
            f"{label}: {counts.posted} posted, {counts.retried} retried, "
            f"{counts.already_claimed} already claimed, {counts.failed} failed, "
            f"{counts.pending} pending retry"
        )


@app.command("jobs")
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


@app.command("serve")
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


app.command("mcp")(mcp_command)


@app.command("demo")
def demo(
    accounts: Annotated[int, typer.Option("--accounts", min=8, help="Accounts to generate.")] = 240,
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

    The tour sends `/health acme`, `/churn` and opens the App Home through the real Slack app,
    served locally against a fake Slack, and prints what a CSM would see.
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
            f"[bold]{_runnable('chat')}[/bold], or install it in Slack: see README.md.",
            highlight=False,
        )


def _runnable(command: str) -> str:
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


@app.command("qbr")
def qbr(
    account: Annotated[str, typer.Argument(help="Account name or external id, e.g. acme.")],
    output_format: Annotated[
        str, typer.Option("--format", help="md (Markdown) or json (the document model).")
    ] = "md",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file instead of stdout.")
    ] = None,
    chart: Annotated[
        Path | None, typer.Option("--chart", help="Also write the health-trend PNG here.")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--date", help="Quarter ending this day (YYYY-MM-DD).")
    ] = None,
    save: Annotated[
        bool, typer.Option("--save/--no-save", help="Save it as a new draft version.")
    ] = True,
    database: DbOption = None,
) -> None:
    """Build an account's QBR (health, ROI, adoption, expansion) as Markdown or JSON."""
    from datetime import date

    from tools.accounts import AccountLookupError, resolve_account
    from tools.qbr import build_qbr, save_qbr
    from tools.qbr_render import render_markdown

    if output_format not in ("md", "json"):
        err_console.print("[red]--format must be md or json[/red]")
        raise typer.Exit(2)
    ctx = open_context(database_url_from(database))
    try:
        day = date.fromisoformat(as_of) if as_of else ctx.today()
    except ValueError:
        err_console.print(f"[red]--date must be YYYY-MM-DD, got {as_of!r}[/red]")
        raise typer.Exit(2) from None
    config = ctx.config
    with db.session_scope(ctx.sessions) as session:
        try:
            found = resolve_account(session, query=account)
        except AccountLookupError as exc:
            err_console.print(f"[red]{exc}[/red]", highlight=False)
            raise typer.Exit(1) from None
        document = build_qbr(session, account_id=found.id or 0, as_of=day, config=config)
        if save:
            view = save_qbr(session, document=document, created_by="cli")
            document = document.model_copy(
                update={"draft_id": view.draft_id, "version": view.version}
            )
    text = (
        render_markdown(document)
        if output_format == "md"
        else document.model_dump_json(indent=2) + "\n"
    )
    if chart is not None:
        from bot.charts import health_trend_png

        chart.write_bytes(
            health_trend_png(
                document.health.history,
                title=f"{document.account.name} — health score",
                green=config.health.green,
                amber=config.health.amber,
            )
        )
        err_console.print(f"Chart written to {chart}")
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        err_console.print(f"{document.title} written to {out}")
    if save:
        err_console.print(f"Saved as draft {document.draft_id} (v{document.version}).")


notion_app = typer.Typer(help="Notion publishing commands.", no_args_is_help=True)
app.add_typer(notion_app, name="notion")


@notion_app.command("check")
def notion_check(
    fix: Annotated[
        bool, typer.Option("--fix", help="Add the QBR database properties that are missing.")
    ] = False,
) -> None:
    """Check NOTION_TOKEN and the QBR database (NOTION_QBR_DATABASE_ID) and its properties."""
    from bot.notion import NOT_CONFIGURED, make_publisher, missing_settings

    settings = Settings()
    publisher = make_publisher(settings)
    if publisher is None:
        err_console.print(
            f"[red]{NOT_CONFIGURED}[/red] (unset: {', '.join(missing_settings(settings))})",
            highlight=False,
        )
        raise typer.Exit(1)
    report = publisher.check(fix=fix)
    if report.bot_name:
        console.print(f"Token OK (integration: {report.bot_name})", highlight=False)
    if report.data_source_id:
        console.print(
            f"Database OK: {report.database_title or '(untitled)'} "
            f"(data source {report.data_source_id})",
            highlight=False,
        )
    for name in report.fixed:
        console.print(f"[green]added property[/green] {name}", highlight=False)
    for name in report.missing:
        console.print(f"[yellow]missing property[/yellow] {name}", highlight=False)
    for problem in report.wrong_type:
        console.print(
            f"[yellow]property {problem.name} is {problem.found}, expected {problem.expected}"
            "[/yellow] (change it in Notion)",
            highlight=False,
        )
    for line in report.problems:
        err_console.print(f"[red]{line}[/red]", highlight=False)
    if report.missing and not fix:
        console.print("Run `csbot notion check --fix` to add the missing properties.")
    if not report.ok:
        raise typer.Exit(1)
    console.print("[green]Notion is ready for QBRs.[/green]")


def main() -> None:
    """Entry point of the ``csbot`` console script."""
    app()
