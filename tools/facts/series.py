"""Usage over time for one account set: weekly active users, usage gaps, period totals.

Complete days only (see ``tools.facts.definitions``): a window "as of D" ends on D-1. Lean's
Mura (erratic usage, gaps), expansion's seat rule and strength, and the QBR's quarter totals
read these; none of them queries ``usage_daily`` itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Date, Integer, and_, case, func, literal, select
from sqlalchemy import cast as sa_cast
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from tools.facts.definitions import active_day, window_start
from tools.facts.query import as_date, in_ids, rows
from tools.models import UsageDaily


@dataclass(frozen=True)
class WeeklyUsage:
    """Per-account weekly usage, oldest week first; week ``w`` ends ``7*(weeks-1-w)`` days
    before ``as_of`` - 1. ``mean_dau`` counts missing days as zero."""

    account_ids: npt.NDArray[np.int64]
    mean_dau: npt.NDArray[np.float64]  # shape (accounts, weeks)
    peak_dau: npt.NDArray[np.float64]  # shape (accounts, weeks)

    def index(self) -> dict[int, int]:
        """Row index of each account id."""
        return {int(a): i for i, a in enumerate(self.account_ids)}


def weekly_usage(
    session: Session, *, as_of: date, weeks: int, account_ids: Sequence[int] | None = None
) -> WeeklyUsage:
    """Mean and peak daily active users per week for the ``weeks`` complete weeks before
    ``as_of`` (the last week ends on ``as_of`` - 1).

    Accounts with no active user at all in those weeks are absent.
    """
    # One aggregate column per week: grouping by a computed week number is far slower on
    # SQLite (it cannot use the (account_id, day) index order).
    columns: list[Any] = [col(UsageDaily.account_id)]
    last = as_of - timedelta(days=1)  # complete days only
    for w in range(weeks):
        hi = last - timedelta(days=7 * (weeks - 1 - w))
        in_week = col(UsageDaily.day) >= hi - timedelta(days=6)
        if w < weeks - 1:
            in_week = and_(in_week, col(UsageDaily.day) <= hi)
        users = case((in_week, col(UsageDaily.active_users)), else_=0)
        columns.extend([func.sum(users), func.max(users)])
    start = as_of - timedelta(days=7 * weeks)
    stmt = (
        select(*columns)
        .where(
            col(UsageDaily.day) >= start,
            col(UsageDaily.day) < as_of,
            col(UsageDaily.active_users) > 0,  # zeros change neither the sum nor the peak
        )
        .group_by(col(UsageDaily.account_id))
    )
    if account_ids is not None:
        stmt = stmt.where(in_ids(col(UsageDaily.account_id), account_ids))
    result = rows(session, stmt)
    if not result:
        empty = np.zeros((0, weeks), dtype=np.float64)
        return WeeklyUsage(np.zeros(0, dtype=np.int64), empty, empty.copy())
    # Every column is a sum or max of CASE ... ELSE 0 over the rows read: never NULL.
    data = np.array([tuple(row) for row in result], dtype=np.float64)
    return WeeklyUsage(
        account_ids=data[:, 0].astype(np.int64),
        mean_dau=data[:, 1::2] / 7.0,
        peak_dau=data[:, 2::2],
    )


def longest_gaps(
    session: Session, *, as_of: date, days: int, account_ids: Sequence[int] | None
) -> dict[int, int]:
    """Longest run of consecutive days without active users, per account, in the ``days``
    complete days before ``as_of``.

    Measured from the first active day in the window (days before it are not a gap: the
    account may be new), including the run from the last active day up to ``as_of`` - 1.
    Missing usage rows count as zero. Accounts with no active day in the window are absent.
    """
    start = as_of - timedelta(days=days)
    day_no = _day_number(session, col(UsageDaily.day))
    active = select(
        col(UsageDaily.account_id).label("account_id"),
        col(UsageDaily.day).label("day"),
        day_no.label("dn"),
        func.lag(day_no)
        .over(partition_by=col(UsageDaily.account_id), order_by=day_no)
        .label("prev"),
    ).where(
        col(UsageDaily.day) >= start,
        col(UsageDaily.day) < as_of,
        col(UsageDaily.active_users) > 0,
    )
    if account_ids is not None:
        active = active.where(in_ids(col(UsageDaily.account_id), account_ids))
    sub = active.subquery()
    stmt = select(
        sub.c.account_id,
        func.max(sub.c.dn - sub.c.prev - 1),
        func.max(sub.c.day),
    ).group_by(sub.c.account_id)
    gaps: dict[int, int] = {}
    for account_id, inner_gap, last_day in rows(session, stmt):
        trailing = (as_of - as_date(last_day)).days - 1  # days after the last active one
        gaps[int(account_id)] = max(int(inner_gap or 0), trailing)
    return gaps


def _day_number(session: Session, column: Any) -> ColumnElement[int]:
    """An integer day number for a DATE column, on SQLite and PostgreSQL alike."""
    if session.get_bind().dialect.name == "sqlite":
        return sa_cast(func.julianday(column), Integer)
    return sa_cast(column - literal(date(1970, 1, 1), Date), Integer)


def last_active_days(session: Session, *, as_of: date, measure: str = "auto") -> dict[int, date]:
    """The last active day (``active_day`` under ``[activity] measure``), per account, among the
    complete days before ``as_of``; accounts with no active day on record are absent. The same
    definition counts ``no_usage``'s active days, so quiet accounts and the trigger agree."""
    active = active_day(measure, col(UsageDaily.logins), col(UsageDaily.active_users))
    stmt = (
        select(col(UsageDaily.account_id), func.max(col(UsageDaily.day)))
        .where(active, col(UsageDaily.day) < as_of)
        .group_by(col(UsageDaily.account_id))
    )
    return {int(account_id): as_date(day) for account_id, day in rows(session, stmt)}


@dataclass(frozen=True)
class UsageTotals:
    """One account's usage over a period: logins summed, mean daily active users."""

    logins: int
    mean_active_users: float


def usage_totals(session: Session, *, account_id: int, as_of: date, days: int) -> UsageTotals:
    """Logins and mean daily active users of one account over the ``days`` complete days before
    ``as_of`` (``window_start(as_of, days)`` .. ``as_of`` - 1; the QBR's quarter). Days without
    a usage row are not averaged."""
    stmt = select(func.sum(col(UsageDaily.logins)), func.avg(col(UsageDaily.active_users))).where(
        col(UsageDaily.account_id) == account_id,
        col(UsageDaily.day) >= window_start(as_of, days),
        col(UsageDaily.day) < as_of,
    )
    logins, mean_active = rows(session, stmt)[0]
    return UsageTotals(int(logins or 0), float(mean_active or 0.0))
