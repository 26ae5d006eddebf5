"""The `csbot demo` tour: seed a portfolio, back-fill its history, then walk through the real app.

Everything runs locally: the real Bolt app served over HTTP on loopback, signed requests sent to
it, and a fake Slack Web API that records what the app posts (bot/harness). No Slack, Anthropic
or Notion account is involved.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.rule import Rule
from rich.text import Text
from sqlmodel import select

from bot.alert_action_blocks import (
    ACTION_ACK,
    BLOCK_ACTIONS_PREFIX,
    BLOCK_FOLLOWUP,
    alert_ref_of,
)
from bot.config import Settings
from bot.harness.fake_slack import SlackCall
from bot.harness.render import mrkdwn_to_plain, render_message
from bot.harness.terminal import TerminalSlack
from bot.jobs.daily_scan import run_daily_scan
from bot.slack_out import SafeWebClient
from tools.db import SessionFactory, session_scope
from tools.models import HealthSnapshot
from tools.scoring import backfill_snapshots, scan_portfolio
from tools.scoring_config import ScoringConfig
from tools.wording import plural

HISTORY_DAYS = 365
HISTORY_STEP_DAYS = 7
TREND_OFFSETS = (90, 30, 1)

TOUR_STEPS: tuple[tuple[str, str], ...] = (
    ("/health acme", "A CSM asks how Acme is doing (an ephemeral answer, with buttons)."),
    ("/churn", "The at-risk list, ranked."),
    ("/health vandelay", "A new account stuck in onboarding: the overdue trigger fires."),
    ("home", "The App Home: book of business, onboarding (overdue first), team view."),
)

HistoryProgress = Callable[[date, int, int], None]


@dataclass
class HistoryReport:
    """What the back-fill wrote."""

    scans: int
    snapshots: int


def has_history(sessions: SessionFactory, *, today: date) -> bool:
    """True when snapshots already exist for ``today`` (the back-fill ran)."""
    with sessions() as session:
        stmt = select(HealthSnapshot.id).where(HealthSnapshot.day == today).limit(1)
        return session.exec(stmt).first() is not None


def backfill_history(
    sessions: SessionFactory,
    *,
    today: date,
    config: ScoringConfig,
    progress: HistoryProgress | None = None,
) -> HistoryReport:
    """Snapshot the portfolio weekly over the last year, plus 90, 30 and 1 days ago and today.

    The extra days make the 30- and 90-day trends exact, and yesterday's snapshot lets the
    daily scan tell what is new today.
    """
    extra = [today - timedelta(days=d) for d in TREND_OFFSETS] + [today]
    total = HISTORY_DAYS // HISTORY_STEP_DAYS + 1 + len(extra)
    written = scans = 0
    with session_scope(sessions) as session:
        reports = backfill_snapshots(
            session,
            start=today - timedelta(days=HISTORY_DAYS),
            end=today - timedelta(days=HISTORY_STEP_DAYS),
            step_days=HISTORY_STEP_DAYS,
            config=config,
            progress=(lambda day, n, _t: progress(day, n, total)) if progress else None,
        )
        session.commit()
        scans = len(reports)
        written = sum(r.snapshots_written for r in reports)
        for day in extra:
            report = scan_portfolio(session, as_of=day, config=config)
            session.commit()
            scans += 1
            written += report.snapshots_written
            if progress is not None:
                progress(day, scans, total)
    return HistoryReport(scans=scans, snapshots=written)


def run_tour(
    settings: Settings,
    *,
    sessions: SessionFactory,
    console: Console,
    config: ScoringConfig,
    now: datetime,
    steps: tuple[tuple[str, str], ...] = TOUR_STEPS,
) -> None:
    """Run this morning's scheduled scan, show its alerts, then drive the real app through
    ``steps`` and show what a Slack user would see."""
    with TerminalSlack(settings, session_factory=sessions, console=console) as slack:
        morning_alerts(slack, sessions=sessions, console=console, config=config, now=now)
        for line, caption in steps:
            console.print(Rule(caption, style="cyan"))
            console.print(f"[bold]you>[/bold] {line}")
            slack.handle(line)
        act_on_an_alert(slack, console=console)
    mcp_glimpse(sessions=sessions, console=console, config=config, today=now.date())


def morning_alerts(
    slack: TerminalSlack,
    *,
    sessions: SessionFactory,
    console: Console,
    config: ScoringConfig,
    now: datetime,
) -> None:
    """Run the daily job against the local fake Slack and show what reached the alerts channel."""
    settings = slack.settings
    client = SafeWebClient(
        token=settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None,
        base_url=slack.fake.url,
    )
    report = run_daily_scan(
        session_factory=sessions, client=client, settings=settings, config=config, now=now
    )
    console.print(Rule(f"This morning in {settings.alerts_channel}", style="cyan"))
    posts = [
        c
        for c in slack.fake.calls_to("chat.postMessage")
        if not str(c.params.get("channel", "")).startswith("D")  # DMs: the owners' QBR drafts
    ]
    show_alert_summary(posts, console=console, channel=settings.alerts_channel)
    drafts, proposals = report.qbr_t90.counts.posted, report.handoffs.posted
    if report.books.planned:
        console.print(
            f"[dim]…and one DM to each of {len(report.books.planned)} owners: the state of "
            f"their book ({report.books.items} items: accounts at risk, renewals with QBR "
            "drafts ready, expansion proposals), instead of one message per item.[/dim]"
        )
    elif drafts or proposals:
        console.print(
            f"[dim]…and, by DM to their owners: {drafts} QBR drafts ahead of renewals (90 days "
            f"out) and {proposals} expansion proposals to approve or dismiss.[/dim]"
        )
    slack.mark_seen()


SUMMARY_LINES = 8
OWNER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)>")
ALERT_TITLE = re.compile(r"^Churn risk: (.+?) \((?:low|medium|high)\)")


def show_alert_summary(posts: list[SlackCall], *, console: Console, channel: str) -> None:
    """The morning's alerts as a short list (one line each, at most SUMMARY_LINES) and one of
    them in full with its thread, instead of every message."""
    alerts = [c for c in posts if not c.params.get("thread_ts")]
    if not alerts:
        console.print("No new churn alerts today: nothing got worse since yesterday.")
        return
    replies = [c for c in posts if c.params.get("thread_ts")]
    console.print(
        f"{plural(len(alerts), 'message')} posted to {channel}"
        + (f", {plural(len(replies), 'draft email')} in their threads" if replies else "")
        + ":",
        markup=False,
        highlight=False,
    )
    for call in alerts[:SUMMARY_LINES]:
        first_line = mrkdwn_to_plain((call.text or call.method).strip()).splitlines()[0]
        console.print(Text(f"  • {first_line}"), no_wrap=True, overflow="ellipsis")
    if len(alerts) > SUMMARY_LINES:
        console.print(f"  … and {len(alerts) - SUMMARY_LINES} more", markup=False)
    example = alerts[0]
    console.print(Rule("One of them in full", style="dim"))
    console.print(Panel(render_message(example.blocks, example.text), title=f"csbot · {channel}"))
    ts = str(example.response.get("ts", ""))
    thread = next((c for c in replies if str(c.params.get("thread_ts")) == ts), None)
    if thread is not None:
        console.print(
            Panel(render_message(thread.blocks, thread.text), title="csbot · in the thread")
        )


def mcp_glimpse(
    *, sessions: SessionFactory, console: Console, config: ScoringConfig, today: date
) -> None:
    """The same tools outside Slack: what `csbot mcp` gives Claude Desktop and Claude Code."""
    import anyio
    from mcp import Client

    from bot.mcp.server import McpSettings, build_server

    server = build_server(McpSettings(sessions=sessions, config=config, today=lambda: today))

    async def ask() -> tuple[list[str], str]:
        async with Client(server) as client:
            listed = await client.list_tools()
            voice = await client.call_tool("customer_voice", {"limit": 3})
        text = "".join(getattr(block, "text", "") for block in voice.content)
        return [t.name for t in listed.tools], text or "{}"

    names, payload = anyio.run(ask)
    themes = json.loads(payload).get("themes", [])
    console.print(Rule("Claude Desktop / Claude Code: `csbot mcp` (docs/mcp.md)", style="cyan"))
    console.print(f"{len(names)} read-only tools over MCP: {escape(', '.join(names))}")
    top = "; ".join(f"{t['label']} ({t['count']}, {t['tone']})" for t in themes)
    console.print(f"customer_voice, last 90 days → {escape(top) or 'no themes yet'}")


def _alert_buttons(call: SlackCall) -> str | None:
    """The block id of a churn alert's buttons (None for other messages)."""
    for block in call.blocks:
        block_id = str(block.get("block_id", ""))
        if block_id.startswith(BLOCK_ACTIONS_PREFIX):
            return block_id
    return None


def act_on_an_alert(slack: TerminalSlack, *, console: Console) -> None:
    """The owner of one of this morning's alerts acknowledges it (the message is updated in
    place), then logs the call they made with ``/log``."""
    alerts = [
        c
        for c in slack.fake.calls_to("chat.postMessage")
        if not c.params.get("thread_ts") and _alert_buttons(c) is not None
    ]
    alerts.sort(key=lambda c: f"<@{slack.user_id}>" not in c.text)  # yours first
    owner = OWNER_MENTION.search(alerts[0].text or "") if alerts else None
    if owner is None:
        return
    you = slack.user_id
    slack.user_id = owner.group(1)  # the policy lets the account's owner act on its alert
    try:
        _acknowledge_and_log(slack, alerts[0], console=console)
    finally:
        slack.user_id = you


def _acknowledge_and_log(slack: TerminalSlack, call: SlackCall, *, console: Console) -> None:
    block_id = str(_alert_buttons(call))
    channel, ts = str(call.response.get("channel", "")), str(call.response.get("ts", ""))
    console.print(Rule(f"The owner (@{slack.user_id}) acknowledges an alert", style="cyan"))
    console.print(f"[bold]@{slack.user_id}>[/bold] (presses Acknowledge on the alert)")
    updates = len(slack.fake.calls_to("chat.update"))
    receipts = len(slack.fake.calls_to("response_url"))
    slack.driver.action(
        ACTION_ACK,
        alert_ref_of(block_id),
        user_id=slack.user_id,
        channel_id=channel,
        message_ts=ts,
        block_id=block_id,
    )
    update = slack.fake.wait_for("chat.update", updates + 1)[-1]
    status = next((b for b in update.blocks if b.get("block_id") == BLOCK_FOLLOWUP), None)
    if status is not None:
        console.print(
            Panel(render_message([status], update.text), title=f"csbot · {channel} (updated)")
        )
    slack.fake.wait_for("response_url", receipts + 1)
    slack.mark_seen()
    name = ALERT_TITLE.match(call.text or "")
    if name is None:
        return
    line = f"/log {name.group(1)} call Called the sponsor; agreed a recovery plan"
    console.print(Rule("…and log the call you made (it feeds the health score)", style="cyan"))
    console.print(f"[bold]@{slack.user_id}>[/bold] {line}")
    slack.handle(line)
