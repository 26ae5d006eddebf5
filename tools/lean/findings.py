"""``lean_findings``: Muda, Mura and Muri for a set of accounts, from the metric layer's readers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

from sqlmodel import Session

from tools.facts import (
    Scope,
    active_contracts,
    longest_gaps,
    median_ticket_ratio,
    portfolio_median_ticket_ratio,
    remember_portfolio_median,
    seats_used_by_account,
    urgent_open,
    weekly_usage,
    window_tickets,
)
from tools.lean.muda import muda_finding
from tools.lean.mura import mura_finding
from tools.lean.muri import muri_finding
from tools.results import LeanFinding

if TYPE_CHECKING:
    from tools.scoring_config import ScoringConfig


def lean_findings(
    session: Session,
    *,
    as_of: date,
    config: ScoringConfig,
    account_ids: Sequence[int] | None = None,
) -> dict[int, list[LeanFinding]]:
    """Muda, Mura and Muri findings per account with a contract in force on ``as_of``.

    Reads only data dated before ``as_of`` (contracts: in force on it). Every account in force
    gets a key (an empty list when nothing is found); churned accounts are absent.
    """
    cfg = config.lean
    norm = config.health.normalise
    contracts = active_contracts(session, on=as_of, account_ids=account_ids)
    if not contracts:
        return {}
    ids = list(contracts) if account_ids is not None else None
    # Seats used: the metric layer's one definition, shared by Muda and Muri.
    used = seats_used_by_account(session, Scope(ids), as_of, norm.usage_window_days)
    weekly = weekly_usage(session, as_of=as_of, weeks=cfg.mura_weeks, account_ids=ids)
    week_row = weekly.index()
    gaps = longest_gaps(session, as_of=as_of, days=7 * cfg.mura_weeks, account_ids=ids)
    # Muri compares with the whole portfolio's median (cached for calls on a few accounts).
    tickets = window_tickets(session, as_of=as_of, config=config, account_ids=ids)
    if ids is None:
        median_ratio = median_ticket_ratio(tickets, used)
        remember_portfolio_median(session, as_of=as_of, config=config, median=median_ratio)
    else:
        median_ratio = portfolio_median_ticket_ratio(session, as_of=as_of, config=config)
    urgent = urgent_open(session, as_of=as_of, days=cfg.muri_urgent_open_days, account_ids=ids)

    findings: dict[int, list[LeanFinding]] = {}
    for account_id, contract in contracts.items():
        row = week_row.get(account_id)
        weekly_mean = weekly.mean_dau[row] if row is not None else None
        seats = used.get(account_id, 0)
        candidates = [
            muda_finding(contract, seats, cfg, norm.usage_window_days),
            mura_finding(account_id, weekly_mean, gaps.get(account_id), cfg),
            muri_finding(
                account_id,
                tickets.get(account_id, 0),
                seats,
                median_ratio,
                urgent.get(account_id),
                cfg,
                norm.ticket_window_days,
            ),
        ]
        findings[account_id] = [f for f in candidates if f is not None]
    return findings
