"""The weekly digest for CS leaders: band mix and its change, new risks, alerts sent."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal

from pydantic import BaseModel
from sqlalchemy import select
from sqlmodel import Session, col

from tools.alert_outcomes import AlertStats, alert_stats
from tools.alerts.dates import iso_week_of
from tools.alerts.policy import LEVEL_RANK
from tools.facts import active_contracts
from tools.metrics import latest_states
from tools.models import Account
from tools.results import Band, BandMix, RenewalBucket, RiskLevel

SNAPSHOT_LOOKBACK_DAYS = 31  # an account without a snapshot in a month is not in the mix


class NewRisk(BaseModel):
    """An account that became risky this week."""

    account_id: int
    name: str
    owner_slack_id: str | None
    level: str
    band: str
    score: float


class DigestData(BaseModel):
    """What the weekly digest tells leaders."""

    as_of: date
    week: str
    active_accounts: int
    band_mix: BandMix
    previous_mix: BandMix | None
    new_risks: list[NewRisk]
    renewals_90d: RenewalBucket | None
    alert_stats: AlertStats | None = None
    """Churn alerts so far: precision and time to first action (``csbot alerts stats``)."""
    expansion_count: int
    expansion_arr: Decimal
    alerts_sent: int
    """Churn alerts posted this week (``alert_stats`` over the last 7 days)."""
    alerts_capped: int = 0
    """Churn alerts listed in book DMs instead this week."""


def _mix(states: Mapping[int, tuple[float, str, str]], active: set[int]) -> BandMix:
    bands = [b for a, (_, b, _) in states.items() if a in active]
    return BandMix(
        green=bands.count(Band.GREEN.value),
        amber=bands.count(Band.AMBER.value),
        red=bands.count(Band.RED.value),
    )


def _new_risks(
    session: Session,
    now: Mapping[int, tuple[float, str, str]],
    then: Mapping[int, tuple[float, str, str]],
    active: set[int],
) -> list[NewRisk]:
    risen = [
        a
        for a, (_, _, level) in now.items()
        if a in active
        and level != RiskLevel.LOW.value
        and LEVEL_RANK.get(level, 0) > LEVEL_RANK.get(then.get(a, (0.0, "", "low"))[2], 0)
    ]
    if not risen:
        return []
    accounts = {
        a.id: a
        for a in session.execute(select(Account).where(col(Account.id).in_(risen))).scalars()
    }
    risks = [
        NewRisk(
            account_id=a,
            name=accounts[a].name,
            owner_slack_id=accounts[a].owner_slack_id,
            level=now[a][2],
            band=now[a][1],
            score=now[a][0],
        )
        for a in risen
        if a in accounts
    ]
    return sorted(risks, key=lambda r: (-LEVEL_RANK.get(r.level, 0), r.score, r.name))


def weekly_digest(
    session: Session,
    *,
    as_of: date,
    renewals: RenewalBucket | None,
    expansion_count: int,
    expansion_arr: Decimal,
) -> DigestData:
    """The digest of the week ending ``as_of``: band mix and its change, new risks, alerts sent.

    Renewals and the expansion pipeline come from ``tools.metrics.portfolio_metrics``.
    """
    active = set(active_contracts(session, on=as_of))
    week_ago = as_of - timedelta(days=7)
    now_states = latest_states(session, as_of=as_of, within_days=SNAPSHOT_LOOKBACK_DAYS)
    then_states = latest_states(session, as_of=week_ago, within_days=SNAPSHOT_LOOKBACK_DAYS)
    then_active = set(active_contracts(session, on=week_ago))
    week = alert_stats(session, since=as_of - timedelta(days=6), until=as_of)
    return DigestData(
        as_of=as_of,
        week=iso_week_of(as_of),
        active_accounts=len(active),
        band_mix=_mix(now_states, active),
        previous_mix=_mix(then_states, then_active) if then_states else None,
        new_risks=_new_risks(session, now_states, then_states, active),
        renewals_90d=renewals,
        expansion_count=expansion_count,
        expansion_arr=expansion_arr,
        alerts_sent=week.alerts,
        alerts_capped=week.capped,
        alert_stats=alert_stats(session, until=as_of),
    )
