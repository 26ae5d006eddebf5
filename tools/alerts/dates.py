"""The calendar of scheduled messages: T-90 renewals, quarters and ISO weeks (claim periods)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlmodel import Session, col, select

from tools.facts import active_contracts, rows
from tools.models import Contract, ContractStatus

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
    """Active contracts ending within ``days`` (T-90 passed, end not passed), by end date.

    A contract imported after its T-90 date is still due, as long as it has not ended.
    """
    stmt = (
        select(
            col(Contract.account_id),
            col(Contract.external_id),
            col(Contract.end_date),
            col(Contract.arr),
        )
        .where(
            col(Contract.status) == ContractStatus.ACTIVE.value,
            col(Contract.start_date) <= today,
            col(Contract.end_date) >= today,
            col(Contract.end_date) <= today + timedelta(days=days),
        )
        .order_by(col(Contract.end_date), col(Contract.id))
    )
    return [
        RenewalDue(account_id=int(a), contract_external_id=str(e), end_date=d, arr=Decimal(arr))
        for a, e, d, arr in rows(session, stmt)
    ]


def active_account_ids(session: Session, *, today: date) -> list[int]:
    """Accounts with a contract in force on ``today`` (the quarterly QBR population)."""
    return sorted(active_contracts(session, on=today))
