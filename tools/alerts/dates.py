"""The calendar of scheduled messages: T-90 renewals, quarters and ISO weeks (claim periods)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlmodel import Session

from tools.facts import active_contracts
from tools.facts.contracts import renewals_due

T90_DAYS = 90


def quarter_of(day: date) -> str:
    """``2026-Q2`` for any day from April 1 to June 30, 2026."""
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def iso_week_of(day: date) -> str:
    """The ISO week of ``day``, e.g. ``2026-W47``."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True)
class RenewalDue:
    """A contract whose T-90 QBR is due: it ends within ``T90_DAYS`` and has not ended."""

    account_id: int
    contract_external_id: str
    end_date: date
    arr: Decimal


def contracts_due_for_t90(
    session: Session, *, today: date, days: int = T90_DAYS
) -> list[RenewalDue]:
    """Contracts in force on ``today`` (the metric layer's definition: by dates, the
    latest-starting one per account) ending within ``days``, by end date.

    A contract imported after its T-90 date is still due, as long as it has not ended.
    """
    return [
        RenewalDue(c.account_id, c.contract_external_id, c.end_date, c.arr)
        for c in renewals_due(session, on=today, days=days)
    ]


def active_account_ids(session: Session, *, today: date) -> list[int]:
    """Accounts with a contract in force on ``today`` (the quarterly QBR population)."""
    return sorted(active_contracts(session, on=today))
