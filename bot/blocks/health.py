"""Block Kit for one account: the ``/health`` card, its history and its expansion."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from bot.blocks.kit import (
    ACTION_EXPANSION,
    ACTION_EXPLAIN,
    ACTION_HISTORY,
    ACTION_QBR,
    ACTION_SHARE,
    BAND_EMOJI,
    MAX_LIST_ITEMS,
    RISK_EMOJI,
    Block,
    Rendered,
    actions,
    band_label,
    bullets,
    button,
    context,
    esc,
    header,
    message,
    owner_label,
    renewal_label,
    section,
    signed,
)
from bot.slack_out import mention
from tools.facts import money_text
from tools.results import (
    AccountReport,
    Band,
    ExpansionOpportunity,
)

# -- /health --------------------------------------------------------------------------------


def health_report(
    report: AccountReport,
    *,
    with_actions: bool = True,
    shared_by: str | None = None,
    voice: Block | None = None,
) -> Rendered:
    """The full health card of one account (``/health``, Share to channel, the router);
    ``voice`` is the voice-of-the-customer section (``bot/voc_blocks.py``)."""
    acct, health, churn = report.account, report.health, report.churn
    blocks: list[Block] = [
        header(f"{acct.name} · {health.score:.0f}/100 · {health.band.value}"),
        section(
            fields=[
                f"*Health*\n{band_label(health.band)} {health.score:.0f}/100",
                f"*Trend*\n30d {signed(health.trend_30d)} · 90d {signed(health.trend_90d)}",
                f"*Churn risk*\n{RISK_EMOJI[churn.level]} {churn.level.value}",
                f"*Renewal*\n{renewal_label(acct, health.as_of)}",
                f"*ARR*\n{money_text(acct.arr)}" + (f" ({esc(acct.plan)})" if acct.plan else ""),
                f"*Owner*\n{owner_label(acct)}",
            ]
        ),
        section(
            "*Top drivers*\n"
            + bullets(
                (f"{esc(d.text)} ({d.impact:+.0f} pts)" for d in health.drivers),
                limit=5,
                empty="_No strong drivers: every signal is near neutral._",
            )
        ),
        section(
            "*Churn triggers*\n"
            + bullets(
                (f"*{esc(t.label)}* — {esc(t.evidence)}" for t in churn.triggers),
                limit=6,
                empty="_None fired._",
            )
        ),
    ]
    if report.lean:
        blocks.append(section("*Lean findings*\n" + _lean_lines(report)))
    if report.expansion:
        blocks.append(
            section(
                "*Expansion signals*\n"
                + bullets(
                    (
                        f"{esc(o.title)} (~{money_text(o.estimated_arr)}/yr)"
                        for o in report.expansion
                    ),
                    limit=4,
                    empty="",
                )
            )
        )
    if voice is not None:
        blocks.append(voice)
    blocks.append(context(_health_context(report)))
    if shared_by:
        blocks.append(context(f"Shared by {mention(shared_by)}"))
    if with_actions:
        blocks.append(health_actions(report))
    text = (
        f"{esc(acct.name)}: health {health.score:.0f}/100 ({health.band.value}), churn risk "
        f"{churn.level.value}, renewal {renewal_label(acct, health.as_of)}, "
        f"ARR {money_text(acct.arr)}"
    )
    return message(blocks, text)


def _lean_lines(report: AccountReport) -> str:
    lines = []
    for finding in report.lean:
        evidence = f" — {esc(finding.evidence[0])}" if finding.evidence else ""
        lines.append(
            f"*{esc(finding.kind.capitalize())}*: {esc(finding.title)}{evidence} "
            f"→ _{esc(finding.playbook.title)}_"
        )
    return bullets(lines, limit=3, empty="")


def _health_context(report: AccountReport) -> str:
    acct = report.account
    seats = ""
    if acct.seats_purchased:
        used = "?" if acct.seats_used is None else str(acct.seats_used)
        seats = f" · seats {used}/{acct.seats_purchased}"
    return (
        f"As of {report.health.as_of.isoformat()} · {esc(acct.segment)} · "
        f"{esc(acct.lifecycle_stage)}{seats} · id `{esc(acct.external_id)}`"
    )


def health_actions(report: AccountReport) -> Block:
    """The buttons under a health card: QBR, history, expansion (when any), share."""
    value = str(report.account.account_id)
    buttons = [
        button("Draft QBR", ACTION_QBR, value, style="primary"),
        button("Show history", ACTION_HISTORY, value),
        button("Explain", ACTION_EXPLAIN, value),
    ]
    if report.expansion:
        buttons.append(button("Propose expansion", ACTION_EXPANSION, value))
    buttons.append(button("Share to channel", ACTION_SHARE, value))
    return actions(*buttons, block_id=f"health:{value}")


def health_history(report: AccountReport, points: Sequence[tuple[date, float, Band]]) -> Rendered:
    """Score history of one account: the snapshots we have, newest first."""
    acct, health = report.account, report.health
    lines = [f"`{day.isoformat()}`  {BAND_EMOJI[band]} {score:.0f}" for day, score, band in points]
    blocks = [
        header(f"{acct.name} · health history"),
        section(
            f"Now {band_label(health.band)} {health.score:.0f}/100 · "
            f"30d {signed(health.trend_30d)} · 90d {signed(health.trend_90d)}"
        ),
        section(
            bullets(
                lines,
                limit=26,
                empty="_No daily snapshots stored yet: history fills in as scores are "
                "snapshotted each day._",
            )
        ),
    ]
    return message(blocks, f"{esc(acct.name)}: health history ({len(points)} snapshots)")


def account_expansion(report: AccountReport) -> Rendered:
    """The expansion opportunities of one account, with evidence and talk track."""
    acct = report.account
    blocks: list[Block] = [header(f"{acct.name} · expansion opportunities")]
    if not report.expansion:
        blocks.append(section("_No open expansion opportunities for this account._"))
    for opp in report.expansion[:MAX_LIST_ITEMS]:
        blocks.extend(_opportunity_blocks(opp))
    if report.expansion:
        blocks.append(context("Review the evidence and talk track before passing this to Sales."))
    total = sum((o.estimated_arr for o in report.expansion), Decimal("0"))
    text = (
        f"{esc(acct.name)}: {len(report.expansion)} expansion opportunities "
        f"(~{money_text(total)}/yr)"
    )
    return message(blocks, text)


def _opportunity_blocks(opp: ExpansionOpportunity) -> list[Block]:
    return [
        section(
            f"*{esc(opp.title)}* · {esc(opp.kind)} · ~{money_text(opp.estimated_arr)}/yr\n"
            + bullets((esc(e) for e in opp.evidence), limit=4, empty="")
        ),
        context(f"_{esc(opp.formula)}_", f"Talk track: {esc(opp.talk_track)}"),
    ]
