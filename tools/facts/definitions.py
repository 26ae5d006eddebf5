"""The definitions every surface shares: complete days, activity, plan tiers, money, "at risk".

- **As of D** means data through the end of D-1 (UTC): a window of N days "as of D" is the N
  complete days D-N .. D-1. Today's partial day never enters a rate or a trend, so a scan at
  00:30 and one at 23:30 of the same day agree. Contracts are the exception: the contract in
  force on D is the one with ``start_date <= D <= end_date`` (dates, not events).
- **Active day** (``active_day``, the one definition): a day with usage is active for an account
  under ``[activity] measure``: ``auto`` when it has a login or an active user, ``logins`` when
  it has a login, ``active_users`` when it has an active user. ``no_usage``, quiet accounts and
  the card's "no activity" all count active days with it.
- **Activity** (how much, for rates and trends): ``measure = "auto"`` counts logins for an
  account that has any login in the current or the previous usage window, otherwise active
  user-days (distinct users with any event, per day, summed); ``"logins"`` or
  ``"active_users"`` force one. ``no_usage`` means no active day in the window.
- **Plan tiers**: starter < pro < enterprise; a plan includes its tier's features and those below.
- **Money**: whole dollars, rounded half up, ``$45,000``; ``money_text`` is the one formatter
  (``—`` when unknown). **Shares** are written as whole percents by ``percent_text``.
- **At risk**: an account with a contract in force whose churn level is MEDIUM or HIGH. Its
  **ARR at risk** is its whole current ARR (the revenue that does not renew if it churns);
  the ARR at risk of a set of accounts is the sum over its at-risk accounts.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tools.models import Tier
from tools.results import RiskLevel

TIER_RANK: dict[str, int] = {Tier.STARTER.value: 0, Tier.PRO.value: 1, Tier.ENTERPRISE.value: 2}
AT_RISK_LEVELS: frozenset[RiskLevel] = frozenset({RiskLevel.MEDIUM, RiskLevel.HIGH})
AT_RISK_NAME = "at risk"
AT_RISK_MEANING = (
    "at risk = churn risk medium or high (renewal within 60 days while AMBER/RED, or a "
    "behavioural trigger); ARR at risk = the current ARR of those accounts"
)

MISSING = "—"  # how every surface writes an unknown number

ActivityMeasure = Literal["auto", "logins", "active_users"]


class ActivityConfig(BaseModel):
    """What counts as product activity (TOML section ``[activity]``)."""

    model_config = ConfigDict(extra="forbid")

    measure: ActivityMeasure = Field(
        default="auto",
        description="auto: logins when the account has any, else active user-days.",
    )
    login_events: list[str] = Field(
        default_factory=lambda: ["login"],
        description="Raw event names (any case) that `csbot import` counts as logins, "
        'e.g. ["login", "sign_in", "session_start"].',
    )
    active_days_per_seat_week_target: float = Field(
        default=4.0,
        gt=0,
        le=7,
        description="Login frequency scoring 100 when activity is active user-days "
        "(health.normalise.logins_per_seat_week_target applies to logins).",
    )

    @field_validator("login_events")
    @classmethod
    def _named(cls, names: list[str]) -> list[str]:
        stripped = [name.strip() for name in names]
        if any(not name for name in stripped):
            raise ValueError("login event names must not be blank")
        return stripped


def active_day(measure: str, logins: Any, active_users: Any) -> Any:
    """Whether a day counts as active for an account under ``[activity] measure`` (see the
    module docstring): ``logins`` and ``active_users`` are the day's counts, as SQL columns (a
    predicate for a ``WHERE``) or NumPy arrays (a boolean array)."""
    if measure == "logins":
        return logins > 0
    if measure == "active_users":
        return active_users > 0
    return (logins > 0) | (active_users > 0)


def tier_rank(tier: str | None) -> int | None:
    """The rank of a plan or feature tier (None when unknown)."""
    return None if tier is None else TIER_RANK.get(tier)


def is_at_risk(level: RiskLevel) -> bool:
    """The one definition of "at risk": churn level medium or high."""
    return level in AT_RISK_LEVELS


def data_end(as_of: date) -> datetime:
    """The first instant not counted "as of" ``as_of``: midnight UTC at its start."""
    return datetime.combine(as_of, time(), tzinfo=UTC)


def window_start(as_of: date, days: int) -> date:
    """First day of the ``days`` complete days before ``as_of`` (the window ends at ``as_of``-1)."""
    return as_of - timedelta(days=days)


def dollars(amount: Decimal | float | int) -> Decimal:
    """Money rounded to whole dollars (half up)."""
    value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    return value.quantize(Decimal("1"), rounding=ROUND_HALF_UP)


def cents(amount: float | Decimal) -> Decimal:
    """An amount the extraction holds as a float (ARR) as money to the cent, as every summary,
    card and ARR at risk shows it."""
    return Decimal(str(round(float(amount), 2))).quantize(Decimal("0.01"))


def money_text(amount: Decimal | float | int | None) -> str:
    """``45000.4`` -> ``"$45,000"``; negative amounts as ``-$1,200``; None as ``"—"``."""
    if amount is None:
        return MISSING
    whole = dollars(amount)
    return f"-${-whole:,}" if whole < 0 else f"${whole:,}"


def percent_text(share: float | None, missing: str = MISSING) -> str:
    """A share as a whole percent: ``0.354`` -> ``"35%"`` (half to even); None as ``missing``."""
    return missing if share is None else f"{share:.0%}"
