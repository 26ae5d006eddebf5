"""What happened next: churn and upsell labels from contract dates, and the end of the data.

The labels read contract dates, ARR and seats only; never ``Contract.status`` or
``Account.lifecycle_stage`` (those describe today, not the observation date ``d``).

- **Observed** on ``d``: the account has a contract in force on ``d`` (``start <= d <= end``),
  its first contract started before ``d`` (an account signing on ``d`` has no history to score),
  and its coverage runs past ``d`` (an account whose last contract ends on ``d`` is leaving that
  day; it was observed on the dates before).
- **Coverage**: from the contracts in force on ``d``, follow every later contract that starts
  no more than ``grace`` days after the coverage so far ends (a renewal, even a little late, or
  an overlapping upsell). The coverage end is the day the account stops being a customer.
- **Churned** (logo churn): the coverage ends in ``(d, d + horizon]``. A monthly account that
  renews once more inside the horizon and then leaves is a churn; so is one that comes back
  more than ``grace`` days later (a win-back is a new customer).
- **Upsold**: a contract starting in ``(d, d + upsell_days]`` has more seats or more ARR than
  the contract in force on ``d`` (the latest-starting one, as the product reads it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from tools.models import Contract, FeatureUsage, Invoice, Ticket, UsageDaily

DEFAULT_HORIZON_DAYS = 60
DEFAULT_UPSELL_DAYS = 90
RENEWAL_GRACE_DAYS = 30


@dataclass(frozen=True)
class Term:
    """The dates and size of one contract: all the labels need."""

    start: date
    end: date
    arr: Decimal
    seats: int


@dataclass(frozen=True)
class Outcome:
    """What happened to an account after an observation date."""

    churned: bool
    upsold: bool
    coverage_end: date

    @property
    def expanded(self) -> bool:
        """Alias of ``upsold`` (the field's earlier name)."""
        return self.upsold


def active_term(terms: Sequence[Term], as_of: date) -> Term | None:
    """The contract in force on ``as_of`` (start <= as_of <= end); the latest-starting if several
    overlap (the same choice the scoring makes), then the latest-ending."""
    active = [t for t in terms if t.start <= as_of <= t.end]
    return max(active, key=lambda t: (t.start, t.end)) if active else None


def coverage_end(terms: Sequence[Term], as_of: date, grace_days: int) -> date | None:
    """The last day the account is a customer, following renewals from ``as_of``."""
    active = [t for t in terms if t.start <= as_of <= t.end]
    if not active:
        return None
    end = max(t.end for t in active)
    grace = timedelta(days=grace_days)
    later = sorted((t for t in terms if t.start > as_of), key=lambda t: t.start)
    for t in later:
        if t.start > end + grace:
            break
        end = max(end, t.end)
    return end


def outcome(
    terms: Sequence[Term],
    as_of: date,
    *,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    upsell_days: int = DEFAULT_UPSELL_DAYS,
    grace_days: int = RENEWAL_GRACE_DAYS,
) -> Outcome | None:
    """The churn and upsell labels of an account at ``as_of``; None when it is not observed."""
    current = active_term(terms, as_of)
    if current is None or min(t.start for t in terms) >= as_of:
        return None
    end = coverage_end(terms, as_of, grace_days)
    if end is None or end <= as_of:
        return None
    churned = end <= as_of + timedelta(days=horizon_days)
    upsell_end = as_of + timedelta(days=upsell_days)
    upsold = any(
        as_of < t.start <= upsell_end and (t.arr > current.arr or t.seats > current.seats)
        for t in terms
    )
    return Outcome(churned=churned, upsold=upsold, coverage_end=end)


def load_terms(session: Session, *, known_by: date | None = None) -> dict[int, list[Term]]:
    """Every account's contract terms (dates, ARR, seats; never the status column).

    ``known_by`` drops contracts that start after that day: they were not known then.
    """
    stmt = sa_select(
        col(Contract.account_id),
        col(Contract.start_date),
        col(Contract.end_date),
        col(Contract.arr),
        col(Contract.seats_purchased),
    )
    if known_by is not None:
        stmt = stmt.where(col(Contract.start_date) <= known_by)
    terms: dict[int, list[Term]] = defaultdict(list)
    for account_id, start, end, arr, seats in session.connection().execute(stmt):
        terms[account_id].append(Term(start=start, end=end, arr=Decimal(arr), seats=seats))
    return dict(terms)


def _as_day(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    if hasattr(value, "date") and callable(value.date):
        day: date = value.date()
        return day
    return value if isinstance(value, date) else None


def data_end(session: Session) -> date | None:
    """The last day with data: the latest usage or feature-usage day, ticket opened, invoice
    issued or contract start. Contract *end* dates do not count: they are plans, not data."""
    columns = (
        col(UsageDaily.day),
        col(FeatureUsage.day),
        col(Ticket.opened_at),
        col(Invoice.issued_on),
        col(Contract.start_date),
    )
    candidates = [session.execute(sa_select(func.max(c))).scalar() for c in columns]
    days = [d for d in (_as_day(c) for c in candidates) if d is not None]
    return max(days) if days else None


def history_start(session: Session) -> date | None:
    """The first day of the data: the earliest usage day, else the earliest contract start."""
    first_usage = session.execute(sa_select(func.min(col(UsageDaily.day)))).scalar()
    if first_usage is not None:
        return _as_day(first_usage)
    return _as_day(session.execute(sa_select(func.min(col(Contract.start_date)))).scalar())
