"""``csbot backtest``, ``csbot calibrate`` and ``csbot config show``: how well the score calls
churn and upsells on your history, fitting it, and the effective scoring config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from bot.cli.common import (
    DbOption,
    console,
    database_url_from,
    err_console,
    open_context,
    parse_day,
    scoring_config,
)
from bot.config import Settings

config_app = typer.Typer(help="Scoring configuration commands.", no_args_is_help=True)


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

    first, last, cutoff = (
        parse_day(start, "--from"),
        parse_day(end, "--to"),
        parse_day(as_of, "--as-of"),
    )
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
    first, last = parse_day(start, "--from"), parse_day(end, "--to")
    split, cutoff = parse_day(evaluate_from, "--evaluate-from"), parse_day(as_of, "--as-of")
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
