"""Per-feature use of one account (the QBR scorecard and Claude's adoption tool).

Over the ``window_days`` complete days before ``as_of``: a feature's users are its peak daily
users, never more than the account's seats used (the metric layer's one definition: peak daily
active users over the usage window), so no feature reads "209 users, 100%" against 182 active
users; adoption = users / seats used. A feature is in the plan when its tier is the plan's or
below (an unknown plan includes every feature, as in the extraction).
"""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import Session, col, select

from tools.facts.definitions import TIER_RANK
from tools.facts.extract import Scope, seats_used_by_account
from tools.models import Feature, FeatureUsage

DEFAULT_USAGE_WINDOW_DAYS = 28


class FeatureAdoption(BaseModel):
    """How much of the account uses one feature over a window."""

    feature: str
    name: str
    tier: str
    in_plan: bool
    users: int
    events: int
    adoption: float
    benchmark: float


def feature_adoption(
    session: Session,
    *,
    account_id: int,
    as_of: date,
    plan: str | None,
    window_days: int = 30,
    usage_window_days: int = DEFAULT_USAGE_WINDOW_DAYS,
) -> list[FeatureAdoption]:
    """Per feature: its users (capped at seats used) as a share of seats used, over the window
    of complete days before ``as_of``; most adopted first."""
    since = as_of - timedelta(days=window_days)
    seats = seats_used_by_account(session, Scope([account_id]), as_of, usage_window_days)
    base = max(seats.get(account_id, 0), 1)
    usage_rows = session.exec(
        select(FeatureUsage.feature_id, func.max(FeatureUsage.users), func.sum(FeatureUsage.events))
        .where(
            FeatureUsage.account_id == account_id,
            col(FeatureUsage.day) >= since,
            col(FeatureUsage.day) < as_of,
        )
        .group_by(col(FeatureUsage.feature_id))
    ).all()
    used = {fid: (int(users or 0), int(events or 0)) for fid, users, events in usage_rows}
    plan_rank = TIER_RANK.get(plan or "", max(TIER_RANK.values()))
    result = []
    for feature in session.exec(select(Feature).order_by(col(Feature.key))).all():
        users, events = used.get(feature.id or 0, (0, 0))
        users = min(users, base) if seats else users
        result.append(
            FeatureAdoption(
                feature=feature.key,
                name=feature.name,
                tier=feature.tier,
                in_plan=TIER_RANK.get(feature.tier, 0) <= plan_rank,
                users=users,
                events=events,
                adoption=round(min(users / base, 1.0), 3),
                benchmark=feature.benchmark_adoption,
            )
        )
    return sorted(result, key=lambda f: (-f.adoption, f.feature))
