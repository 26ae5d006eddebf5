"""Typed facts of one account, read from one extraction: what every surface shows.

``account_facts`` and ``AccountFacts.of`` give the same values the health card, ``/churn``, the
QBR, App Home, the digest and Claude's tools show (seats used, ARR, usage trend, adoption),
rounded once here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np

from tools.facts.definitions import cents, money_text
from tools.facts.extract import FloatArray, RawMetrics, extract_raw

if TYPE_CHECKING:
    from sqlmodel import Session

    from tools.scoring_config import ScoringConfig


def relative_change(recent: FloatArray, prior: FloatArray) -> FloatArray:
    """(recent - prior) / prior; +100% when only the recent window has any, 0 when neither."""
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.where(prior > 0, (recent - prior) / np.where(prior > 0, prior, 1.0), 0.0)
    return np.where((prior <= 0) & (recent > 0), 1.0, change)


def usage_changes(raw: RawMetrics) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Activity change, active-user-days change and the usage trend (the worse of the two),
    last usage window vs the one before (complete days)."""
    activity = relative_change(raw.activity_recent, raw.activity_prior)
    users = relative_change(raw.user_days_recent, raw.user_days_prior)
    return activity, users, np.minimum(activity, users)


@dataclass(frozen=True)
class AccountFacts:
    """The facts of one account as of a day (no contract in force: ARR 0, no seats)."""

    account_id: int
    as_of: date
    in_force: bool
    plan: str | None
    arr: Decimal
    seats_purchased: int
    seats_used: int
    renewal_date: date | None
    days_to_renewal: int | None
    activity: str  # "logins" or "active users"
    activity_recent: int
    activity_prior: int
    active_days: int  # active days (``active_day``) in the usage window; 0: no_usage, quiet
    usage_trend_pct: float | None  # None when the prior window had no activity
    features_used: int
    features_available: int
    tickets_window: int
    window_days: int

    @classmethod
    def of(cls, raw: RawMetrics, account_id: int, window_days: int) -> AccountFacts:
        """The facts of ``account_id`` in ``raw`` (KeyError when absent)."""
        i = raw.position(account_id)
        in_force = bool(raw.active[i])
        trend = usage_changes(raw)[2]
        days = raw.days_to_renewal[i]
        return cls(
            account_id=account_id,
            as_of=raw.as_of,
            in_force=in_force,
            plan=raw.plan[i],
            arr=cents(raw.arr[i]) if in_force else Decimal("0"),
            seats_purchased=int(raw.seats_purchased[i]) if in_force else 0,
            seats_used=int(raw.seats_used[i]),
            renewal_date=raw.renewal_date[i],
            days_to_renewal=None if np.isnan(days) else int(days),
            activity="logins" if raw.activity_is_logins[i] else "active users",
            activity_recent=int(raw.activity_recent[i]),
            activity_prior=int(raw.activity_prior[i]),
            active_days=int(raw.active_days_recent[i]),
            usage_trend_pct=(
                None if raw.active_days_prior[i] <= 0 else round(float(trend[i]) * 100.0, 2)
            ),
            features_used=int(raw.features_used[i]),
            features_available=int(raw.features_available[i]),
            tickets_window=int(raw.tickets_window[i]),
            window_days=window_days,
        )

    @property
    def seats_unused(self) -> int:
        """Seats purchased and not used (never negative)."""
        return max(self.seats_purchased - self.seats_used, 0)

    @property
    def unused_share(self) -> float:
        """Share of purchased seats unused (0 without seats)."""
        return self.seats_unused / self.seats_purchased if self.seats_purchased else 0.0

    @property
    def adoption_pct(self) -> float | None:
        """Plan features used / plan features, in percent (never above 100)."""
        if self.features_available <= 0:
            return None
        return 100.0 * min(self.features_used / self.features_available, 1.0)

    def trend_text(self) -> str:
        """The usage trend as every surface writes it: ``-39%`` (or ``n/a``)."""
        return "n/a" if self.usage_trend_pct is None else f"{self.usage_trend_pct:+.0f}%"

    def arr_text(self) -> str:
        """ARR in the one money format."""
        return money_text(self.arr)


def account_facts(
    session: Session, *, account_id: int, as_of: date, config: ScoringConfig
) -> AccountFacts:
    """The facts of one account as of ``as_of`` (one extraction of that account)."""
    raw = extract_raw(session, as_of=as_of, config=config, account_ids=[account_id])
    return AccountFacts.of(raw, account_id, config.health.normalise.usage_window_days)
