"""``csbot alerts stats``: how churn alerts fared (what people did, what became of the accounts).

Registered on the main CLI by ``bot.cli`` (``app.add_typer(alerts_app, name="alerts")``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import typer
from sqlmodel import Session

from tools.alert_outcomes import AlertStats, alert_stats, record_outcomes
from tools.models import utcnow

alerts_app = typer.Typer(help="Churn-alert follow-up commands.", no_args_is_help=True)


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        typer.echo(f"{option} must be a date like 2026-03-01, not {value!r}", err=True)
        raise typer.Exit(2) from None


def stats_lines(stats: AlertStats) -> list[str]:
    """The stats as the terminal prints them (the weekly digest shows the same numbers)."""
    window = f"{stats.since.isoformat() if stats.since else 'start'} .. {stats.until.isoformat()}"
    precision = (
        "n/a (no outcome known yet)" if stats.precision is None else f"{stats.precision:.0%}"
    )
    median = stats.median_hours_to_first_action
    p90 = stats.p90_hours_to_first_action
    return [
        f"Churn alerts {window}: {stats.alerts} alerts on {stats.accounts} accounts",
        f"Listed in book DMs instead (over the per-owner cap, or a quiet first day): "
        f"{stats.capped}",
        f"Acted on: {stats.acted} ({stats.acknowledged} acknowledged, {stats.snoozed} snoozed, "
        f"{stats.assigned} assigned, {stats.tasks} tasks, {stats.notes} notes)",
        "Time to first action: "
        + ("n/a" if median is None else f"median {median:.1f} h, p90 {p90:.1f} h"),
        f"Outcomes: {stats.churned} churned, {stats.saved} saved by an action, "
        f"{stats.renewed_without_action} renewed without one, {stats.pending} not known yet",
        f"Alert precision (churned or saved / outcome known): {precision}",
    ]


def stats_as_of(
    session: Session, *, since: date | None, until: date, today: date, now: datetime
) -> AlertStats:
    """The stats of alerts up to ``until`` as they stood on ``until``: the outcomes known by
    then are recorded (commits), none after it is counted (``until`` may be before ``today``)."""
    known_by = min(until, today)
    record_outcomes(session, today=known_by, now=now)
    session.commit()
    return alert_stats(
        session, until=until, since=since, known_by=known_by if known_by < today else None
    )


@alerts_app.command("stats")
def stats(
    since: Annotated[
        str | None, typer.Option("--since", help="First alert day counted (YYYY-MM-DD).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Last alert day counted (default: today).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the stats as JSON.")] = False,
    database: Annotated[
        str | None,
        typer.Option("--db", help="Database URL or SQLite file path (overrides DATABASE_URL)."),
    ] = None,
) -> None:
    """Alert precision and time to first action, after recording the outcomes known by --until."""
    from bot.cli import database_url_from, open_context

    ctx = open_context(database_url_from(database))
    today = ctx.today()
    first, last = _day(since, "--since"), _day(until, "--until") or today
    with ctx.sessions() as session:
        result = stats_as_of(session, since=first, until=last, today=today, now=utcnow())
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    for line in stats_lines(result):
        typer.echo(line)
