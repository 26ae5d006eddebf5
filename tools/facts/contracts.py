"""The contract in force: one reader for Lean, expansion, the QBR, alerts, metrics and handoffs.

A contract is in force on D when ``start_date <= D <= end_date``; when several overlap (a renewal
starting before its predecessor ends) the latest-starting one wins. ``Contract.status`` is never
read (see ``tools.facts.definitions``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from tools.facts.query import in_ids, rows
from tools.models import Account, Contract


@dataclass(frozen=True)
class ActiveContract:
    """The contract in force for an account on a day (the latest-starting one if several)."""

    account_id: int
    external_id: str
    plan: str
    arr: Decimal
    seats_purchased: int
    start_date: date
    end_date: date
    contract_external_id: str


def _in_force(stmt: Any, on: date) -> Any:
    """``stmt`` restricted to the contracts in force on ``on``, by account then start date: the
    last row of an account is its contract in force (a renewal overlapping its predecessor
    wins)."""
    return stmt.where(col(Contract.start_date) <= on, col(Contract.end_date) >= on).order_by(
        col(Contract.account_id), col(Contract.start_date), col(Contract.id)
    )


def active_contracts(
    session: Session, *, on: date, account_ids: Sequence[int] | None = None
) -> dict[int, ActiveContract]:
    """Contracts in force on ``on`` (start_date <= on <= end_date), one per account."""
    stmt = _in_force(
        select(
            col(Contract.account_id),
            col(Account.external_id),
            col(Contract.plan),
            col(Contract.arr),
            col(Contract.seats_purchased),
            col(Contract.start_date),
            col(Contract.end_date),
            col(Contract.external_id),
        ).join(Account, col(Account.id) == col(Contract.account_id)),
        on,
    )
    if account_ids is not None:
        stmt = stmt.where(in_ids(col(Contract.account_id), account_ids))
    result: dict[int, ActiveContract] = {}
    for row in rows(session, stmt):
        # Ordered by start date: a renewal overlapping its predecessor wins.
        result[row[0]] = ActiveContract(
            account_id=row[0],
            external_id=row[1],
            plan=row[2],
            arr=Decimal(row[3] or 0),
            seats_purchased=int(row[4] or 0),
            start_date=row[5],
            end_date=row[6],
            contract_external_id=str(row[7]),
        )
    return result


def arr_in_force(session: Session, *, on: date) -> dict[int, tuple[Decimal, date]]:
    """The ARR and end date of each account's contract in force on ``on`` (the contract
    ``active_contracts`` gives; the team figures' retention and renewals read only these)."""
    stmt = _in_force(
        select(col(Contract.account_id), col(Contract.arr), col(Contract.end_date)), on
    )
    return {int(a): (Decimal(arr or 0), end) for a, arr, end in rows(session, stmt)}


def renewals_due(
    session: Session, *, on: date, days: int, account_ids: Sequence[int] | None = None
) -> list[ActiveContract]:
    """Contracts in force on ``on`` that end within ``days`` (``on <= end_date <= on + days``),
    soonest first."""
    horizon = on + timedelta(days=days)
    due = [
        c
        for c in active_contracts(session, on=on, account_ids=account_ids).values()
        if c.end_date <= horizon
    ]
    return sorted(due, key=lambda c: (c.end_date, c.contract_external_id))


def accounts_with_contracts(session: Session, *, by: date) -> int:
    """How many accounts have a contract that started on or before ``by`` (known accounts)."""
    stmt = select(func.count(func.distinct(col(Contract.account_id)))).where(
        col(Contract.start_date) <= by
    )
    return int(rows(session, stmt)[0][0] or 0)
