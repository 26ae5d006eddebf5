"""``lean_findings``: Muda, Mura and Muri for a set of accounts, from the metric layer's readers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from sqlmodel import Session

from tools.facts import (
    ActiveContract,
    Scope,
    UrgentOpen,
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
    from tools.facts.findings import FindingFacts
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

    facts = {
        a: _Inputs(
            contract=contract,
            seats_used=used.get(a, 0),
            weekly_mean=weekly.mean_dau[week_row[a]] if a in week_row else None,
            gap=gaps.get(a),
            tickets=tickets.get(a, 0),
            urgent=urgent.get(a),
        )
        for a, contract in contracts.items()
    }
    return _findings(facts, median_ratio, config)


def lean_findings_of(
    session: Session, *, facts: dict[int, FindingFacts], config: ScoringConfig
) -> dict[int, list[LeanFinding]]:
    """``lean_findings`` of a few accounts from the facts their report already extracted
    (``extract_days(..., findings=True)``): the same findings, no table read again except the
    portfolio median (``portfolio_median_ticket_ratio``, cached)."""
    cfg = config.lean
    inputs: dict[int, _Inputs] = {}
    for account_id, fact in facts.items():
        if fact.contract is None:
            continue
        weekly = fact.weekly(cfg.mura_weeks)
        inputs[account_id] = _Inputs(
            contract=fact.contract,
            seats_used=fact.seats_used,
            weekly_mean=weekly[0] if weekly is not None else None,
            gap=fact.longest_gap(7 * cfg.mura_weeks),
            tickets=fact.tickets_window,
            urgent=fact.urgent,
        )
    if not inputs:
        return {}
    as_of = next(iter(facts.values())).as_of
    median_ratio = portfolio_median_ticket_ratio(session, as_of=as_of, config=config)
    return _findings(inputs, median_ratio, config)


@dataclass(frozen=True)
class _Inputs:
    """What the three rules read about one account in force."""

    contract: ActiveContract
    seats_used: int
    weekly_mean: npt.NDArray[np.float64] | None
    gap: int | None
    tickets: int
    urgent: UrgentOpen | None


def _findings(
    inputs: dict[int, _Inputs], median_ratio: float | None, config: ScoringConfig
) -> dict[int, list[LeanFinding]]:
    cfg = config.lean
    norm = config.health.normalise
    findings: dict[int, list[LeanFinding]] = {}
    for account_id, facts in inputs.items():
        candidates = [
            muda_finding(facts.contract, facts.seats_used, cfg, norm.usage_window_days),
            mura_finding(account_id, facts.weekly_mean, facts.gap, cfg),
            muri_finding(
                account_id,
                facts.tickets,
                facts.seats_used,
                median_ratio,
                facts.urgent,
                cfg,
                norm.ticket_window_days,
            ),
        ]
        findings[account_id] = [f for f in candidates if f is not None]
    return findings
