"""Onboarding facts: when each account started, and the first day it reached a usage or feature
milestone (``tools.onboarding`` arranges them into milestones and time to value).

Read as of ``as_of``: usage and feature rows of the complete days before it (a milestone
reached on ``as_of`` counts from the next day, so a scan at 00:30 and one at 23:30 agree on the
onboarding-overdue trigger); a past day gives the answer one would have had then. First
activity is the metric layer's active day (``active_day``, ``auto``: a login or an active
user). ``session`` may be a ``Session`` or a ``Connection``; ids go in chunks of ``IN_CHUNK``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, exists, func, or_, select
from sqlmodel import Session, col

from tools.models import Account, Contract, Feature, FeatureUsage, UsageDaily

Reader = Session | Connection
IN_CHUNK = 900


def chunks(ids: Sequence[int]) -> list[list[int]]:
    """``ids`` in lists of at most ``IN_CHUNK``."""
    return [list(ids[i : i + IN_CHUNK]) for i in range(0, len(ids), IN_CHUNK)]


def start_dates(
    session: Reader,
    account_ids: Sequence[int] | None,
    *,
    between: tuple[date, date] | None = None,
) -> dict[int, date]:
    """The onboarding start of each account: first contract start, else its creation day.

    ``between`` (first, last day, inclusive): only the accounts that started in those days,
    filtered by the statements (time to value, the accounts still onboarding: a few of many).
    """
    first_start = func.min(col(Contract.start_date))
    query: Any = select(col(Contract.account_id), first_start).group_by(col(Contract.account_id))
    accounts: Any = select(col(Account.id), col(Account.created_at))
    if between is not None:
        low, high = between
        query = query.having(first_start >= low, first_start <= high)
        has_contract = exists().where(col(Contract.account_id) == col(Account.id))
        accounts = accounts.where(
            col(Account.created_at) >= datetime.combine(low, time(), tzinfo=UTC),
            col(Account.created_at)
            < datetime.combine(high + timedelta(days=1), time(), tzinfo=UTC),
            ~has_contract,
        )
    starts: dict[int, date] = {}
    for ids in chunks(account_ids) if account_ids is not None else [None]:
        scoped = query if ids is None else query.where(col(Contract.account_id).in_(ids))
        starts.update({int(a): d for a, d in session.execute(scoped).all() if d is not None})
        rows = accounts if ids is None else accounts.where(col(Account.id).in_(ids))
        for account_id, created in session.execute(rows).all():
            starts.setdefault(int(account_id), created.date())
    return starts


def first_usage_days(
    session: Reader, ids: list[int], as_of: date, *, min_users: int | None
) -> dict[int, date]:
    """Per account, the first active day (``min_users`` None) or the first day with at least
    ``min_users`` active users, before ``as_of``."""
    # Imported here: tools.facts.definitions -> tools.results -> tools.onboarding -> this module.
    from tools.facts.definitions import active_day

    if min_users is None:
        active = active_day("auto", col(UsageDaily.logins), col(UsageDaily.active_users))
    else:
        active = col(UsageDaily.active_users) >= min_users
    query: Any = (
        select(col(UsageDaily.account_id), func.min(col(UsageDaily.day)))
        .where(col(UsageDaily.account_id).in_(ids), col(UsageDaily.day) < as_of, active)
        .group_by(col(UsageDaily.account_id))
    )
    return {int(a): d for a, d in session.execute(query).all()}


def feature_first_days(
    session: Reader, ids: list[int], as_of: date, *, keys: list[str], integration: bool
) -> dict[int, list[date]]:
    """Per account, the first-use day of each (key / integration) feature, earliest first."""
    query: Any = (
        select(
            col(FeatureUsage.account_id),
            col(FeatureUsage.feature_id),
            func.min(col(FeatureUsage.day)),
        )
        .join(Feature, col(Feature.id) == col(FeatureUsage.feature_id))
        .where(
            col(FeatureUsage.account_id).in_(ids),
            col(FeatureUsage.day) < as_of,
            or_(col(FeatureUsage.users) > 0, col(FeatureUsage.events) > 0),
        )
        .group_by(col(FeatureUsage.account_id), col(FeatureUsage.feature_id))
    )
    if keys:
        query = query.where(col(Feature.key).in_(keys))
    if integration:
        query = query.where(col(Feature.is_integration).is_(True))
    days: dict[int, list[date]] = defaultdict(list)
    for account_id, _feature, day in session.execute(query).all():
        days[int(account_id)].append(day)
    return {a: sorted(d) for a, d in days.items()}


# -- the same facts, read by the extraction of a few accounts ----------------------------------


@dataclass(frozen=True)
class MilestoneReads:
    """The first-use days a report's extraction reads along with its usage and feature-usage
    rows (``extract_days(..., findings=True)`` with an account still onboarding), as of
    ``as_of``: the same days ``first_usage_days`` and ``feature_first_days`` return.

    ``thresholds``: one usage column per entry, None for the first active day, N for the first
    day with at least N active users. Hashable: part of the statements' cache keys."""

    as_of: date
    thresholds: tuple[int | None, ...]

    def usage_columns(self) -> list[Any]:
        """Per account, ``MIN(day)`` of the rows before ``as_of`` meeting each threshold."""
        from tools.facts.definitions import active_day  # see first_usage_days

        day, users = col(UsageDaily.day), col(UsageDaily.active_users)
        columns = []
        for need in self.thresholds:
            met = (
                active_day("auto", col(UsageDaily.logins), users) if need is None else users >= need
            )
            columns.append(func.min(case((and_(day < self.as_of, met), day), else_=None)))
        return columns

    def feature_column(self) -> Any:
        """Per (account, feature), ``MIN(day)`` of its rows before ``as_of`` with use."""
        day = col(FeatureUsage.day)
        used = or_(col(FeatureUsage.users) > 0, col(FeatureUsage.events) > 0)
        return func.min(case((and_(day < self.as_of, used), day), else_=None))


@dataclass(frozen=True)
class FirstDays:
    """What ``MilestoneReads`` returned: per account the first day of each usage threshold (in
    ``thresholds`` order, None when never met), and per (account, feature) its first use."""

    reads: MilestoneReads
    usage: dict[int, tuple[date | None, ...]]
    features: dict[int, list[tuple[int, date]]]  # account -> (feature id, first day)
    catalogue: dict[int, tuple[str, str, str, bool]]  # feature id -> (key, name, tier, integr.)

    def usage_days(self, min_users: int | None) -> dict[int, date]:
        """``first_usage_days`` of the extracted accounts."""
        at = self.reads.thresholds.index(min_users)
        firsts = {a: days[at] for a, days in self.usage.items()}
        return {a: day for a, day in firsts.items() if day is not None}

    def feature_days(self, *, keys: list[str], integration: bool) -> dict[int, list[date]]:
        """``feature_first_days`` of the extracted accounts."""
        out: dict[int, list[date]] = {}
        for account_id, firsts in self.features.items():
            days = []
            for feature_id, day in firsts:
                key, _, _, is_integration = self.catalogue[feature_id]
                if (keys and key not in keys) or (integration and not is_integration):
                    continue
                days.append(day)
            if days:
                out[account_id] = sorted(days)
        return out
