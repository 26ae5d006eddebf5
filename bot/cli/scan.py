"""``csbot scan``: score the portfolio, store the day's snapshots, print a summary and post (or
plan, with --dry-run) the day's alerts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import typer

from bot.cli.common import DbOption, console, database_url_from, err_console, open_context
from tools import db

if TYPE_CHECKING:
    from bot.jobs.daily_scan import DailyScanReport


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
    """Score every account; store today's snapshots, triggers and team figures; print a summary.

    With SLACK_BOT_TOKEN set, also posts today's churn alerts and book messages (each exactly
    once, like the scheduled daily job); --dry-run shows the plan grouped by recipient instead.
    """
    from datetime import date, datetime, time

    from rich.table import Table

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
        # Only a daily run imports the jobs (Claude's client, the themes' scikit-learn): a
        # plain scan does not pay for them (~3 s of imports).
        from bot.jobs.daily_scan import run_daily_scan
        from bot.jobs.delivery import scheduler_client

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
            report = scan_portfolio(session, as_of=day, config=config, team_figures=True)
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
