"""The contract in force: one reader for Lean, expansion, the QBR, alerts, metrics and handoffs.

A contract is in force on D when ``start_date <= D <= end_date``; when several overlap (a renewal
starting before its predecessor ends) the latest-starting one wins. ``Contract.status`` is never
read (see ``tools.facts.definitions``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
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


def active_contracts(
    session: Session, *, on: date, account_ids: Sequence[int] | None = None
) -> dict[int, ActiveContract]:
    """Contracts in force on ``on`` (start_date <= on <= end_date), one per account."""
    stmt = (
        select(
            col(Contract.account_id),
            col(Account.external_id),
            col(Contract.plan),
            col(Contract.arr),
            col(Contract.seats_purchased),
            col(Contract.start_date),
            col(Contract.end_date),
        )
        .join(Account, col(Account.id) == col(Contract.account_id))
        .where(col(Contract.start_date) <= on, col(Contract.end_date) >= on)
        .order_by(col(Contract.account_id), col(Contract.start_date), col(Contract.id))
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
        )
    return result
