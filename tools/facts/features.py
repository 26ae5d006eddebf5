"""Feature use for one account set: heavy use per feature, peak users per tier, event totals.

Expansion's module and integration rules, the expansion strength's tier pull and the QBR's
product-action totals read these; none of them queries ``feature_usage`` itself. Per-feature
adoption against seats used (the QBR scorecard) is in ``tools.facts.usage``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, or_, select
from sqlmodel import Session, col

from tools.facts.definitions import window_start
from tools.facts.query import in_ids, rows
from tools.models import Feature, FeatureUsage


@dataclass(frozen=True)
class FeatureUse:
    """One account's use of one feature over a window: peak daily users and events."""

    key: str
    name: str
    tier: str
    is_integration: bool
    peak_users: int
    events: int


def feature_use(
    session: Session,
    *,
    as_of: date,
    window_days: int,
    min_users: int,
    min_events: int,
    always: Sequence[str] = (),
    account_ids: Sequence[int] | None = None,
) -> dict[int, list[FeatureUse]]:
    """Per account, the features used over the ``window_days`` complete days before ``as_of``
    with at least ``min_users`` peak users or ``min_events`` events (features keyed in
    ``always``, e.g. the API, whatever their use), by feature key."""
    since = as_of - timedelta(days=window_days)
    catalogue = {
        int(i): (str(key), str(name), str(tier), bool(integration))
        for i, key, name, tier, integration in rows(
            session,
            select(
                col(Feature.id),
                col(Feature.key),
                col(Feature.name),
                col(Feature.tier),
                col(Feature.is_integration),
            ),
        )
    }
    always_ids = [i for i, (key, *_) in catalogue.items() if key in always]
    peak = func.max(col(FeatureUsage.users))
    events = func.sum(col(FeatureUsage.events))
    # Grouped by feature id on feature_usage alone (the catalogue joined here, in Python):
    # grouping a join by the feature's text columns costs twice as much at 10k accounts.
    stmt = (
        select(col(FeatureUsage.account_id), col(FeatureUsage.feature_id), peak, events)
        .where(col(FeatureUsage.day) >= since, col(FeatureUsage.day) < as_of)
        .group_by(col(FeatureUsage.account_id), col(FeatureUsage.feature_id))
        .having(
            or_(
                peak >= min_users,
                events >= min_events,
                col(FeatureUsage.feature_id).in_(always_ids),
            )
        )
    )
    if account_ids is not None:
        stmt = stmt.where(in_ids(col(FeatureUsage.account_id), account_ids))
    result: dict[int, list[FeatureUse]] = {}
    for account_id, feature_id, users, n in rows(session, stmt):
        known = catalogue.get(int(feature_id))
        if known is None:
            continue
        key, name, tier, is_integration = known
        use = FeatureUse(key, name, tier, is_integration, int(users or 0), int(n or 0))
        result.setdefault(int(account_id), []).append(use)
    for uses in result.values():
        uses.sort(key=lambda u: u.key)
    return result


def tier_peak_users(
    session: Session, *, as_of: date, window_days: int, account_ids: Sequence[int]
) -> dict[int, list[tuple[str, int]]]:
    """Peak daily users per (account, feature tier) over the ``window_days`` complete days
    before ``as_of`` (the window of ``feature_use``)."""
    since = as_of - timedelta(days=window_days)
    stmt = (
        select(col(FeatureUsage.account_id), col(Feature.tier), func.max(col(FeatureUsage.users)))
        .join(Feature, col(Feature.id) == col(FeatureUsage.feature_id))
        .where(col(FeatureUsage.day) >= since, col(FeatureUsage.day) < as_of)
        .where(in_ids(col(FeatureUsage.account_id), account_ids))
        .group_by(col(FeatureUsage.account_id), col(Feature.tier))
    )
    found: dict[int, list[tuple[str, int]]] = {}
    for account_id, tier, users in rows(session, stmt):
        found.setdefault(int(account_id), []).append((str(tier), int(users or 0)))
    return found


@dataclass(frozen=True)
class EventTotals:
    """Feature events of one account over a period, product vs integration features."""

    product: int
    integration: int


def event_totals(session: Session, *, account_id: int, as_of: date, days: int) -> EventTotals:
    """Feature events of one account over the ``days`` complete days before ``as_of``
    (``window_start(as_of, days)`` .. ``as_of`` - 1), split into product and integration
    features (the QBR's product actions)."""
    stmt = (
        select(col(Feature.is_integration), func.sum(col(FeatureUsage.events)))
        .join(Feature, col(Feature.id) == col(FeatureUsage.feature_id))
        .where(
            col(FeatureUsage.account_id) == account_id,
            col(FeatureUsage.day) >= window_start(as_of, days),
            col(FeatureUsage.day) < as_of,
        )
        .group_by(col(Feature.is_integration))
    )
    found = rows(session, stmt)
    product = sum(int(n or 0) for integ, n in found if not integ)
    integration = sum(int(n or 0) for integ, n in found if integ)
    return EventTotals(product, integration)
