"""``csbot qbr`` (build an account's QBR) and ``csbot notion check`` (where QBRs are published)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import DbOption, console, database_url_from, err_console, open_context
from bot.config import Settings
from tools import db

notion_app = typer.Typer(help="Notion publishing commands.", no_args_is_help=True)


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

    from bot.narrator import anthropic_client
    from bot.voc_blocks import theme_labeller
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
        labeller = theme_labeller(anthropic_client(ctx.settings), ctx.settings.anthropic_model)
        document = build_qbr(
            session, account_id=found.id or 0, as_of=day, config=config, labeller=labeller
        )
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
