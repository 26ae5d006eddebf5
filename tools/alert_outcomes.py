"""Alert outcomes: what happened after each churn alert, and how good the alerts were.

- Suppression: an acknowledged alert's account is re-alerted only when it gets worse; a snoozed
  one when it gets worse or once the snooze has ended (``quiet_reason``).
- Outcomes: the account *churned* (its last contract ended on or after the alert day with no
  later contract) or *renewed* (a contract starting after the alert day, or the contract in
  force then was marked renewed). ``record_outcomes`` stores them on the alert's follow-up.
- Stats: alert precision = the share of alerted accounts with a known outcome that churned or
  were saved by an action (renewed after someone acted on one of their alerts), and the time
  from posting to the first action. Accounts whose outcome is not known yet are reported apart,
  never counted as hits or misses. Only alerts posted as their own message count; the ones
  listed in a book DM instead (over the per-owner cap, a quiet first day) are counted apart.
  ``csbot alerts stats`` and the weekly digest both show ``alert_stats`` (one source).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time

import numpy as np
from pydantic import BaseModel
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from tools.models import Alert, AlertKind, AlertStatus, Contract, ContractStatus
from tools.models_followup import AlertFollowup, AlertOutcome
from tools.wording import plural


def quiet_reason(
    followup: AlertFollowup | None,
    *,
    today: date,
    since_last: int | None,
    quiet_days: int,
    level: str,
) -> str | None:
    """Why an account still at risk, and no worse than at its last alert, is alerted today.

    A running snooze or an acknowledgement keeps it quiet; a snooze that has ended brings it
    back; otherwise the quiet period (``ALERT_QUIET_DAYS``) decides.
    """
    if followup is not None and followup.snoozed_until is not None:
        if today < followup.snoozed_until.date():
            return None
        return f"the snooze has ended and it is still at {level} churn risk"
    if followup is not None and followup.acknowledged_at is not None:
        return None
    if since_last is not None and since_last >= quiet_days:
        return f"still at {level} churn risk {plural(since_last, 'day')} after the last alert"
    return None


# -- outcomes --------------------------------------------------------------------------------


def _contracts(session: Session, account_ids: Iterable[int]) -> dict[int, list[Contract]]:
    ids = sorted(set(account_ids))
    out: dict[int, list[Contract]] = {}
    if not ids:
        return out
    stmt = (
        select(Contract).where(col(Contract.account_id).in_(ids)).order_by(col(Contract.end_date))
    )
    for contract in session.execute(stmt).scalars():
        out.setdefault(contract.account_id, []).append(contract)
    return out


def outcome_after(
    contracts: list[Contract], *, alerted_on: date, today: date
) -> tuple[AlertOutcome, date] | None:
    """The account's outcome after an alert on ``alerted_on``, known by ``today`` (or None)."""
    renewal = next(
        (c for c in contracts if alerted_on < c.start_date <= today),
        None,
    )
    if renewal is not None:
        return AlertOutcome.RENEWED, renewal.start_date
    in_force = [c for c in contracts if c.start_date <= alerted_on <= c.end_date]
    if any(c.status == ContractStatus.RENEWED.value for c in in_force):
        return AlertOutcome.RENEWED, max(c.end_date for c in in_force)
    if not contracts:
        return None
    last = max(contracts, key=lambda c: c.end_date)
    ended = last.end_date < today or last.status == ContractStatus.CHURNED.value
    if ended and last.end_date >= alerted_on and last.status != ContractStatus.RENEWED.value:
        return AlertOutcome.CHURNED, last.end_date
    return None


def _churn_alerts(session: Session, statuses: tuple[AlertStatus, ...]) -> list[Alert]:
    stmt = select(Alert).where(
        col(Alert.kind) == AlertKind.CHURN.value,
        col(Alert.status).in_([s.value for s in statuses]),
        col(Alert.account_id).is_not(None),
    )
    return list(session.execute(stmt).scalars())


def in_a_book(alert: Alert) -> bool:
    """A churn alert listed in its owner's book DM instead of posted (over the per-owner cap,
    or held back on a quiet first day): it had no message and no buttons."""
    return bool(alert.payload.get("via"))


def _posted_churn_alerts(session: Session) -> list[Alert]:
    """The churn alerts posted as their own message (with buttons) in a channel or a DM."""
    return [a for a in _churn_alerts(session, (AlertStatus.POSTED,)) if not in_a_book(a)]


def _alert_day(alert: Alert) -> date:
    try:
        return date.fromisoformat(alert.period[:10])
    except ValueError:
        return (alert.posted_at or alert.claimed_at).date()


def record_outcomes(session: Session, *, today: date, now: datetime) -> int:
    """Store the churned/renewed outcome of every posted churn alert that has one; returns how
    many were newly recorded. Flushes; the caller commits."""
    alerts = _posted_churn_alerts(session)
    contracts = _contracts(session, (int(a.account_id or 0) for a in alerts))
    followups = {
        f.alert_id: f
        for f in session.execute(select(AlertFollowup)).scalars()
        if f.outcome is not None
    }
    table = AlertFollowup.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    recorded = 0
    for alert in alerts:
        if alert.id in followups:
            continue
        found = outcome_after(
            contracts.get(int(alert.account_id or 0), []), alerted_on=_alert_day(alert), today=today
        )
        if found is None:
            continue
        outcome, on = found
        values = {"outcome": outcome.value, "outcome_on": on, "updated_at": now}
        stmt = insert(table).values(
            alert_id=alert.id, account_id=alert.account_id, notes=0, **values
        )
        session.execute(stmt.on_conflict_do_update(index_elements=["alert_id"], set_=values))
        recorded += 1
    session.flush()
    return recorded


# -- stats -----------------------------------------------------------------------------------


class AlertStats(BaseModel):
    """How churn alerts fared: what people did, what became of the accounts."""

    since: date | None
    until: date
    alerts: int
    """Churn alerts posted as their own message (with buttons); the figures below are theirs."""
    capped: int = 0
    """Churn alerts listed in a book DM instead (over the per-owner cap, or a quiet first day):
    not posted, so not counted in ``alerts``, precision or time to first action."""
    accounts: int
    acted: int
    acknowledged: int
    snoozed: int
    assigned: int
    tasks: int
    notes: int
    churned: int
    saved: int
    renewed_without_action: int
    pending: int
    precision: float | None
    """(churned + saved) / accounts with a known outcome; None when none is known yet."""
    median_hours_to_first_action: float | None
    p90_hours_to_first_action: float | None


def alert_stats(
    session: Session, *, until: date, since: date | None = None, known_by: date | None = None
) -> AlertStats:
    """Churn alerts posted in ``[since, until]``: actions, outcomes, precision, time to act;
    the ones listed in book DMs instead are counted apart (``capped``). With ``known_by``,
    outcomes dated after it (recorded by a later run) are not known yet."""

    def within(alert: Alert) -> bool:
        return _alert_day(alert) <= until and (since is None or _alert_day(alert) >= since)

    delivered = [a for a in _churn_alerts(session, (AlertStatus.POSTED,)) if within(a)]
    alerts = [a for a in delivered if not in_a_book(a)]
    ids = [int(a.id or 0) for a in alerts]
    rows = (
        {
            f.alert_id: f
            for f in session.execute(
                select(AlertFollowup).where(col(AlertFollowup.alert_id).in_(ids))
            ).scalars()
        }
        if ids
        else {}
    )
    hours = []
    for alert in alerts:
        row = rows.get(int(alert.id or 0))
        if row is not None and row.first_action_at is not None:
            posted = alert.posted_at or alert.claimed_at
            hours.append(max((row.first_action_at - posted).total_seconds() / 3600, 0.0))
    outcome, first_acted = _account_outcomes(alerts, rows, known_by)
    churned = sum(1 for _, o in outcome.values() if o == AlertOutcome.CHURNED.value)
    renewed = {a: on for a, (on, o) in outcome.items() if o == AlertOutcome.RENEWED.value}
    saved = sum(1 for a, on in renewed.items() if a in first_acted and first_acted[a] <= on)
    known = churned + len(renewed)
    accounts = {int(a.account_id or 0) for a in alerts}
    return AlertStats(
        since=since,
        until=until,
        alerts=len(alerts),
        capped=len(delivered) - len(alerts),
        accounts=len(accounts),
        acted=sum(1 for r in rows.values() if r.first_action_at is not None),
        acknowledged=sum(1 for r in rows.values() if r.acknowledged_at is not None),
        snoozed=sum(1 for r in rows.values() if r.snoozed_until is not None),
        assigned=sum(1 for r in rows.values() if r.assignee is not None),
        tasks=sum(1 for r in rows.values() if r.task_id is not None),
        notes=sum(r.notes for r in rows.values()),
        churned=churned,
        saved=saved,
        renewed_without_action=len(renewed) - saved,
        pending=len(accounts) - known,
        precision=round((churned + saved) / known, 3) if known else None,
        median_hours_to_first_action=_percentile(hours, 50),
        p90_hours_to_first_action=_percentile(hours, 90),
    )


def _account_outcomes(
    alerts: list[Alert], rows: dict[int, AlertFollowup], known_by: date | None = None
) -> tuple[dict[int, tuple[date, str]], dict[int, date]]:
    """Each alerted account's latest known outcome (day, outcome), and the day someone first
    acted on one of its alerts."""
    outcome: dict[int, tuple[date, str]] = {}
    acted: dict[int, date] = {}
    for alert in alerts:
        row = rows.get(int(alert.id or 0))
        account = int(alert.account_id or 0)
        if row is None:
            continue
        if row.first_action_at is not None:
            day = row.first_action_at.date()
            acted[account] = min(acted.get(account, day), day)
        on, what = row.outcome_on, row.outcome
        if (
            on is not None
            and what is not None
            and (known_by is None or on <= known_by)
            and (account not in outcome or outcome[account][0] < on)
        ):
            outcome[account] = (on, what)
    return outcome, acted


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return round(float(np.percentile(np.array(values), q)), 1)


def start_of(day: date) -> datetime:
    """Midnight UTC at the start of ``day``."""
    return datetime.combine(day, time.min, tzinfo=UTC)
