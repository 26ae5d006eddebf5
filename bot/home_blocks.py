"""The App Home tab: the viewer's book of business (``tools.home_book``) and the team view
(``tools.metrics.portfolio_metrics``), within Slack's 100-block limit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from bot.blocks import (
    BAND_EMOJI,
    MAX_VIEW_BLOCKS,
    Block,
    band_label,
    bullets,
    context,
    divider,
    esc,
    fit_blocks,
    header,
    renewal_label,
    risk_row,
    section,
)
from tools.facts import money_text, percent_text
from tools.freshness import DataState
from tools.home_book import BookEntry
from tools.results import Band, PortfolioMetrics, RiskLevel


@dataclass(frozen=True)
class HomeData:
    """What the App Home shows one viewer."""

    user_id: str
    as_of: date
    book: Sequence[BookEntry]
    metrics: PortfolioMetrics | None
    renewal_days: int = 90
    state: DataState | None = None
    """Set when no account has a contract in force: the team view explains instead."""
    onboarding: Sequence[Block] = ()
    """The viewer's accounts still onboarding (bot/onboarding_blocks.py)."""
    time_to_value: Sequence[Block] = ()
    """The team's median time to first value by start month (bot/onboarding_blocks.py)."""


def home_view(data: HomeData) -> dict[str, Any]:
    """The App Home tab: the viewer's book of business and the team view (≤ 100 blocks)."""
    blocks: list[Block] = [header("Your book of business")]
    blocks.extend(_home_book(data))
    blocks.extend(data.onboarding)
    blocks.append(divider())
    blocks.append(header("Team view"))
    problem = data.state.problem() if data.state is not None else None
    if problem is not None:
        blocks.append(section(f":information_source: {problem}"))
    else:
        blocks.extend(_home_team(data.metrics))
        blocks.extend(data.time_to_value)
    blocks.append(context(f"As of {data.as_of.isoformat()} · `/csbot help` for commands"))
    return {"type": "home", "blocks": fit_blocks(blocks, max_blocks=MAX_VIEW_BLOCKS)}


def _home_book(data: HomeData) -> list[Block]:
    book = data.book
    if not book:
        return [
            section(
                "You don't own any accounts yet (accounts are matched on their owner's Slack id)."
                " The team view below covers the whole portfolio."
            )
        ]
    mix = {band: [r for r in book if r.band == band] for band in Band}
    arr = sum((r.account.arr for r in book), Decimal("0"))
    at_risk = sum((r.arr_at_risk for r in book), Decimal("0"))
    blocks: list[Block] = [
        section(
            fields=[
                f"*Accounts*\n{len(book)}",
                f"*ARR*\n{money_text(arr)}",
                f"*By band*\n{_band_counts(mix)}",
                f"*ARR at risk*\n{money_text(at_risk)}",
            ]
        )
    ]
    alerts = [r for r in book if r.level == RiskLevel.HIGH]
    blocks.append(section(f"*Open alerts* ({len(alerts)} high churn risk)"))
    blocks.extend(_risk_row(r, data.as_of) for r in alerts[:10])
    if len(alerts) > 10:
        blocks.append(context(f"…and {len(alerts) - 10} more — `/churn mine` lists them all"))
    renewals = _renewals_within(book, data.as_of, data.renewal_days)
    lines = [
        f"*{esc(r.account.name)}* · {renewal_label(r.account, data.as_of)} · "
        f"{money_text(r.account.arr)} · {band_label(r.band)}"
        for r in renewals
    ]
    blocks.append(
        section(
            f"*Renewals in the next {data.renewal_days} days* ({len(renewals)})\n"
            + bullets(lines, limit=15, empty="_None._")
        )
    )
    for band in (Band.RED, Band.AMBER, Band.GREEN):
        names = ", ".join(esc(r.account.name) for r in mix[band])
        if names:
            blocks.append(section(f"{band_label(band)} ({len(mix[band])})\n{names}"))
    return blocks


def _risk_row(entry: BookEntry, as_of: date) -> Block:
    return risk_row(
        entry.account,
        score=entry.score,
        band=entry.band,
        level=entry.level,
        triggers=entry.triggers,
        as_of=as_of,
    )


def _renewals_within(book: Sequence[BookEntry], as_of: date, days: int) -> list[BookEntry]:
    due = [
        r
        for r in book
        if r.account.renewal_date is not None and 0 <= (r.account.renewal_date - as_of).days <= days
    ]
    return sorted(due, key=lambda r: r.account.renewal_date or as_of)


def _band_counts(mix: dict[Band, list[BookEntry]]) -> str:
    return " ".join(f"{BAND_EMOJI[b]} {len(mix[b])}" for b in (Band.GREEN, Band.AMBER, Band.RED))


def _home_team(metrics: PortfolioMetrics | None) -> list[Block]:
    if metrics is None:
        return [section("_Portfolio metrics are not available yet._")]
    mix = metrics.band_mix
    fields = [
        f"*Active accounts*\n{metrics.active_accounts} of {metrics.accounts}",
        f"*Total ARR*\n{money_text(metrics.total_arr)}",
        f"*NRR / GRR*\n{percent_text(metrics.nrr)} / {percent_text(metrics.grr)}",
        f"*Logo churn (12m)*\n{percent_text(metrics.logo_churn)}",
        f"*Average health*\n{_num(metrics.average_health)}",
        f"*Band mix*\n{BAND_EMOJI[Band.GREEN]} {mix.green} {BAND_EMOJI[Band.AMBER]} {mix.amber} "
        f"{BAND_EMOJI[Band.RED]} {mix.red}",
        f"*NPS (90d)*\n{_num(metrics.nps)}",
        f"*Expansion pipeline*\n{metrics.expansion_pipeline_count} signals · "
        f"{money_text(metrics.expansion_pipeline_arr)}\n{metrics.handoff_pipeline_count} hand-offs "
        f"open · {money_text(metrics.handoff_pipeline_arr)}",
    ]
    blocks = [section(fields=fields)]
    lines = [
        f"next {b.days} days: {b.count} renewals · {money_text(b.arr)} ARR · "
        f"{money_text(b.arr_at_risk)} at risk"
        for b in metrics.renewals
    ]
    if lines:
        blocks.append(section("*Renewals*\n" + bullets(lines, limit=6, empty="")))
    return blocks


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"
