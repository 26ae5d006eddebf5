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
from datetime import date
from typing import Any

from sqlalchemy import Connection, func, or_, select
from sqlmodel import Session, col

from tools.models import Account, Contract, Feature, FeatureUsage, UsageDaily

Reader = Session | Connection
IN_CHUNK = 900


def chunks(ids: Sequence[int]) -> list[list[int]]:
    """``ids`` in lists of at most ``IN_CHUNK``."""
    return [list(ids[i : i + IN_CHUNK]) for i in range(0, len(ids), IN_CHUNK)]


def start_dates(session: Reader, account_ids: Sequence[int] | None) -> dict[int, date]:
    """The onboarding start of each account: first contract start, else its creation day."""
    query: Any = select(col(Contract.account_id), func.min(col(Contract.start_date))).group_by(
        col(Contract.account_id)
    )
    accounts: Any = select(col(Account.id), col(Account.created_at))
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
