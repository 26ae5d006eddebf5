"""The book messages: one DM per owner a day instead of one message per item.

The first daily scan an owner sees (a new database, a new owner, or the first run after
``catch_up_days`` without one) sends a "state of your book": their at-risk accounts (including
the ones that were already at risk before alerting began, which no churn alert announces), their
renewals inside 90 days with QBR drafts ready, their top expansion proposals. Every later day
sends at most one "your book today" with that day's QBR-due and proposal items and the churn
alerts over the per-owner cap. Churn alerts within the cap stay individual in the channel.

No Slack here: ``bot.jobs.book`` renders and delivers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from sqlalchemy import func, select
from sqlmodel import Session, col

from tools.alerts.ledger import AlertClaim
from tools.alerts.policy import LEVEL_RANK, ChurnDecision
from tools.models import Alert, AlertKind, AlertStatus
from tools.results import AccountReport

Mode = Literal["state", "today"]
UNOWNED = "unowned"
"""The recipient key of accounts without an owner (their book goes to the alerts channel)."""


def owner_of(report: AccountReport) -> str:
    """Who a report's account belongs to, as a book recipient key."""
    return report.account.owner_slack_id or UNOWNED


def severity(report: AccountReport) -> tuple[int, float, float]:
    """Sort key, most severe first: churn level, then ARR at risk, then the lower score."""
    arr = float(report.churn.arr_at_risk or report.account.arr or 0)
    return (-LEVEL_RANK.get(report.churn.level.value, 0), -arr, report.health.score)


@dataclass(frozen=True)
class CappedAlerts:
    """Today's churn alerts split by the per-owner cap."""

    channel: list[ChurnDecision]
    """Posted individually in the channel (at most ``cap`` per owner)."""
    overflow: list[ChurnDecision]
    """Over the cap: listed in the owner's book DM instead."""


def cap_per_owner(decisions: Iterable[ChurnDecision], *, cap: int) -> CappedAlerts:
    """The most severe ``cap`` alerts per owner stay in the channel; the rest overflow."""
    per_owner: dict[str, int] = {}
    channel: list[ChurnDecision] = []
    overflow: list[ChurnDecision] = []
    for decision in sorted(decisions, key=lambda d: severity(d.report)):
        owner = owner_of(decision.report)
        if per_owner.get(owner, 0) < cap:
            per_owner[owner] = per_owner.get(owner, 0) + 1
            channel.append(decision)
        else:
            overflow.append(decision)
    return CappedAlerts(channel=channel, overflow=overflow)


def last_run_day(session: Session, *, before: date) -> date | None:
    """The last day before ``before`` on which the daily scan delivered (its marker)."""
    stmt = select(func.max(col(Alert.period))).where(
        col(Alert.kind) == AlertKind.DAILY_RUN.value, col(Alert.period) < before.isoformat()
    )
    value = session.execute(stmt).scalar_one_or_none()
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def owners_with_a_state(session: Session) -> set[str]:
    """Recipients who already got a "state of your book" (claimed or posted)."""
    stmt = select(col(Alert.period)).where(
        col(Alert.kind) == AlertKind.BOOK_STATE.value,
        col(Alert.status).in_([AlertStatus.CLAIMED.value, AlertStatus.POSTED.value]),
    )
    return {str(p).partition(":")[2] for p in session.execute(stmt).scalars()}


def modes(
    session: Session, *, owners: Sequence[str], today: date, catch_up_days: int
) -> dict[str, Mode]:
    """ "state" for every owner after a downtime (or on the first run), and for an owner who never
    had one; "today" otherwise."""
    last = last_run_day(session, before=today)
    if last is None or (today - last).days > catch_up_days:
        return dict.fromkeys(owners, "state")
    seen = owners_with_a_state(session)
    return {o: "state" if o not in seen else "today" for o in owners}


def book_claim(mode: Mode, *, owner: str, today: date, payload: dict[str, object]) -> AlertClaim:
    """The claim of one owner's book message for ``today``."""
    kind = AlertKind.BOOK_STATE if mode == "state" else AlertKind.BOOK_TODAY
    return AlertClaim(kind=kind, account_id=None, period=f"{today}:{owner}", payload=payload)


def run_marker(today: date) -> AlertClaim:
    """The marker that the daily scan delivered on ``today``."""
    return AlertClaim(
        kind=AlertKind.DAILY_RUN, account_id=None, period=today.isoformat(), payload={}
    )
