"""Block Kit for portfolio lists: at risk, expansion, renewals."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from bot.blocks.kit import (
    ACTION_MORE_AT_RISK,
    ACTION_MORE_EXPANSION,
    ACTION_OPEN_HEALTH,
    MAX_LIST_ITEMS,
    RISK_EMOJI,
    Block,
    Rendered,
    actions,
    band_label,
    button,
    context,
    esc,
    header,
    message,
    owner_label,
    renewal_label,
    section,
)
from tools.facts import money_text
from tools.freshness import DataState
from tools.results import (
    AccountReport,
    AccountSummary,
    Band,
    ExpansionOpportunity,
    RiskLevel,
    TriggerHit,
)
from tools.wording import plural

# -- lists ----------------------------------------------------------------------------------


def at_risk_list(
    reports: Sequence[AccountReport],
    *,
    as_of: date,
    mine: bool = False,
    offset: int = 0,
    within_days: int | None = None,
    page_size: int = MAX_LIST_ITEMS,
    state: DataState | None = None,
    segment: str | None = None,
) -> Rendered:
    """At-risk accounts, riskiest first; a "Show more" button pages through the rest. With no
    account at risk, ``state`` tells an empty or stale database from a healthy book."""
    title = "Your at-risk accounts" if mine else "At-risk accounts"
    if segment:
        title += f" ({segment})"
    if within_days is not None:
        title += f" renewing within {within_days} days"
    page = list(reports[offset : offset + page_size])
    total_arr = sum((r.churn.arr_at_risk for r in reports), Decimal("0"))
    blocks: list[Block] = [header(title)]
    problem = state.problem() if state is not None else None
    if not reports and problem is not None:
        blocks.append(section(f":information_source: {problem}"))
        return message(blocks, f"{title}: no current data")
    if not reports:
        empty = "None of your accounts is at risk right now." if mine else "No account is at risk."
        blocks.append(section(f":tada: {empty}"))
        return message(blocks, f"{title}: none")
    blocks.append(
        context(
            f"{plural(len(reports), 'account')} · {money_text(total_arr)} ARR at risk · "
            f"as of {as_of.isoformat()}"
            + (
                f" · showing {offset + 1}-{offset + len(page)}"
                if offset or len(reports) > page_size
                else ""
            )
        )
    )
    for report in page:
        blocks.append(_at_risk_row(report, as_of))
    more = None
    remaining = len(reports) - offset - len(page)
    if remaining > 0:
        cursor: dict[str, object] = {
            "offset": offset + page_size,
            "mine": mine,
            "within_days": within_days,
        }
        if segment:
            cursor["segment"] = segment
        value = json.dumps(cursor)
        more = actions(button(f"Show more ({remaining})", ACTION_MORE_AT_RISK, value))
        blocks.append(more)
    names = ", ".join(esc(r.account.name) for r in page[:5])
    return message(blocks, f"{title} ({len(reports)}): {names}", more=more)


def _at_risk_row(report: AccountReport, as_of: date) -> Block:
    health, churn = report.health, report.churn
    return risk_row(
        report.account,
        score=health.score,
        band=health.band,
        level=churn.level,
        triggers=churn.triggers,
        as_of=as_of,
    )


def risk_row(
    acct: AccountSummary,
    *,
    score: float,
    band: Band,
    level: RiskLevel,
    triggers: Sequence[TriggerHit],
    as_of: date,
) -> Block:
    """One at-risk account: level, band and score, ARR, its first triggers, renewal, owner."""
    reasons = "; ".join(esc(t.label) for t in triggers[:3]) or "no trigger detail"
    text = (
        f"{RISK_EMOJI[level]} *{esc(acct.name)}* · {band_label(band)} "
        f"{score:.0f} · {money_text(acct.arr)} ARR\n{reasons}\n"
        f"Renewal {renewal_label(acct, as_of)} · owner {owner_label(acct)}"
    )
    return section(text, accessory=button("Health", ACTION_OPEN_HEALTH, str(acct.account_id)))


def expansion_list(
    items: Sequence[tuple[AccountSummary, ExpansionOpportunity]],
    *,
    as_of: date,
    offset: int = 0,
    page_size: int = MAX_LIST_ITEMS,
) -> Rendered:
    """Open expansion opportunities across the portfolio, largest first."""
    blocks: list[Block] = [header("Expansion opportunities")]
    if not items:
        blocks.append(section("No open expansion opportunities right now."))
        return message(blocks, "Expansion opportunities: none")
    total = sum((opp.estimated_arr for _, opp in items), Decimal("0"))
    blocks.append(
        context(
            f"{len(items)} opportunities · ~{money_text(total)}/yr pipeline · "
            f"as of {as_of.isoformat()}"
        )
    )
    page = list(items[offset : offset + page_size])
    for summary, opp in page:
        evidence = "; ".join(esc(e) for e in opp.evidence[:2])
        blocks.append(
            section(
                f"*{esc(summary.name)}* · {esc(opp.title)} · ~{money_text(opp.estimated_arr)}/yr\n"
                f"{evidence}\nOwner {owner_label(summary)}",
                accessory=button("Health", ACTION_OPEN_HEALTH, str(summary.account_id)),
            )
        )
    more = None
    remaining = len(items) - offset - len(page)
    if remaining > 0:
        value = json.dumps({"offset": offset + page_size})
        more = actions(button(f"Show more ({remaining})", ACTION_MORE_EXPANSION, value))
        blocks.append(more)
    return message(
        blocks, f"{len(items)} expansion opportunities (~{money_text(total)}/yr)", more=more
    )


def renewals_list(
    reports: Sequence[AccountReport], *, as_of: date, start: date, end: date
) -> Rendered:
    """Renewals between ``start`` and ``end``, soonest first, with their band."""
    title = f"Renewals {start.strftime('%d %b')} to {end.strftime('%d %b %Y')}"
    blocks: list[Block] = [header(title)]
    if not reports:
        blocks.append(section("No contract renews in that window."))
        return message(blocks, f"{title}: none")
    total = sum((r.account.arr for r in reports), Decimal("0"))
    blocks.append(context(f"{len(reports)} renewals · {money_text(total)} ARR"))
    for report in reports[:MAX_LIST_ITEMS]:
        acct, health = report.account, report.health
        blocks.append(
            section(
                f"*{esc(acct.name)}* · {renewal_label(acct, as_of)} · {money_text(acct.arr)}\n"
                f"{band_label(health.band)} {health.score:.0f} · churn risk "
                f"{report.churn.level.value} · owner {owner_label(acct)}",
                accessory=button("Health", ACTION_OPEN_HEALTH, str(acct.account_id)),
            )
        )
    if len(reports) > MAX_LIST_ITEMS:
        blocks.append(context(f"…and {len(reports) - MAX_LIST_ITEMS} more"))
    return message(blocks, f"{title}: {len(reports)} renewals, {money_text(total)} ARR")
