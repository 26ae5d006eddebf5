"""Churn alerts: which accounts deserve one today, and where it goes.

An account is alerted when it is at risk (churn level medium/high, or band RED) and either has
never been alerted, got worse since its last alert (level up, band down, a new trigger), or
stayed at risk for ``quiet_days`` since the last alert. ``suppressed`` is the one place that
says an account must stay quiet whatever its state (acknowledged, snoozed): the daily job asks
it before claiming any churn alert.

A first day (an owner's "state of your book": the first run on a database, a new owner, a run
after a downtime) is quiet in the channel too (``first_day_alerts``): being at risk with no
earlier state to compare with is not news, so those accounts are listed in the owner's book
DM, and the channel gets only the most urgent few (high churn risk with the renewal close),
at most ``FirstDay.max_alerts`` in all, most severe first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlmodel import Session, col

from tools.alert_outcomes import quiet_reason
from tools.alerts.ledger import AlertClaim, followups_of, latest_alerts
from tools.facts import in_ids, rows
from tools.models import Alert, AlertKind, AlertStatus, ChurnTriggerRecord, HealthSnapshot
from tools.models_followup import AlertFollowup
from tools.results import AccountReport, Band, RiskLevel

SNAPSHOT_DAYS = 30
"""A previous snapshot older than this is no baseline for "newly at risk"."""
LEVEL_RANK = {RiskLevel.LOW.value: 0, RiskLevel.MEDIUM.value: 1, RiskLevel.HIGH.value: 2}
BAND_RANK = {Band.GREEN.value: 0, Band.AMBER.value: 1, Band.RED.value: 2}


@dataclass(frozen=True)
class ChurnState:
    """The churn state an alert is about (and, stored on the alert, what was last said)."""

    level: str
    band: str
    triggers: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, report: AccountReport) -> ChurnState:
        """The state of an account report."""
        keys = frozenset(t.key for t in report.churn.triggers)
        return cls(level=report.churn.level.value, band=report.health.band.value, triggers=keys)

    @property
    def at_risk(self) -> bool:
        """Medium/high churn risk, or a RED band."""
        return self.level != RiskLevel.LOW.value or self.band == Band.RED.value


def worsening(now: ChurnState, before: ChurnState, labels: Mapping[str, str]) -> list[str]:
    """How ``now`` is worse than ``before`` (level up, band down, new triggers), in words."""
    reasons = []
    if LEVEL_RANK.get(now.level, 0) > LEVEL_RANK.get(before.level, 0):
        reasons.append(f"churn risk rose from {before.level} to {now.level}")
    if BAND_RANK.get(now.band, 0) > BAND_RANK.get(before.band, 0):
        reasons.append(f"health band fell from {before.band} to {now.band}")
    new = sorted(now.triggers - before.triggers)
    if new:
        reasons.append("new: " + ", ".join(labels.get(k, k) for k in new))
    return reasons


def previous_states(
    session: Session, *, before: date, account_ids: Sequence[int], days: int = SNAPSHOT_DAYS
) -> dict[int, ChurnState]:
    """Each account's churn state in its latest snapshot before ``before`` (last ``days`` days)."""
    if not account_ids:
        return {}
    ids = sorted(set(account_ids))
    latest = (
        select(
            col(HealthSnapshot.account_id).label("account_id"),
            func.max(col(HealthSnapshot.day)).label("day"),
        )
        .where(
            col(HealthSnapshot.day) < before,
            col(HealthSnapshot.day) >= before - timedelta(days=days),
            in_ids(col(HealthSnapshot.account_id), ids),
        )
        .group_by(col(HealthSnapshot.account_id))
        .subquery()
    )
    snapshots = select(
        col(HealthSnapshot.account_id), col(HealthSnapshot.band), col(HealthSnapshot.churn_level)
    ).join(
        latest,
        and_(
            col(HealthSnapshot.account_id) == latest.c.account_id,
            col(HealthSnapshot.day) == latest.c.day,
        ),
    )
    fired = select(col(ChurnTriggerRecord.account_id), col(ChurnTriggerRecord.key)).join(
        latest,
        and_(
            col(ChurnTriggerRecord.account_id) == latest.c.account_id,
            col(ChurnTriggerRecord.day) == latest.c.day,
        ),
    )
    keys: dict[int, set[str]] = {}
    for account_id, key in rows(session, fired):
        keys.setdefault(int(account_id), set()).add(str(key))
    return {
        int(a): ChurnState(
            level=str(level), band=str(band), triggers=frozenset(keys.get(int(a), set()))
        )
        for a, band, level in rows(session, snapshots)
    }


def churn_alert_reason(
    report: AccountReport,
    last: Alert | None,
    *,
    today: date,
    quiet_days: int,
    previous: ChurnState | None = None,
    followup: AlertFollowup | None = None,
) -> str | None:
    """Why this account deserves a churn alert today, or None when it does not.

    Compared with the last alert when there is one, else with the previous snapshot
    (``previous``): an account that was already just as risky before alerting began is not
    news. With neither, being at risk is new. A last alert that was acknowledged or snoozed
    (``followup``) is repeated only when the account got worse or the snooze ended.
    """
    state = ChurnState.of(report)
    if not state.at_risk:
        return None
    if last is None:
        labels = {t.key: t.label for t in report.churn.triggers}
        if previous is not None:
            worse = worsening(state, previous, labels)
            return "; ".join(worse) if worse else None
        triggers = ", ".join(t.label for t in report.churn.triggers)
        return f"newly at {state.level} churn risk" + (f" ({triggers})" if triggers else "")
    before = ChurnState(
        level=last.level or RiskLevel.LOW.value,
        band=last.band or Band.GREEN.value,
        triggers=frozenset(last.triggers),
    )
    labels = {t.key: t.label for t in report.churn.triggers}
    worse = worsening(state, before, labels)
    if worse:
        return "; ".join(worse)
    return quiet_reason(
        followup,
        today=today,
        since_last=_days_since(last.period, today),
        quiet_days=quiet_days,
        level=state.level,
    )


def _days_since(period: str, today: date) -> int | None:
    try:
        return (today - date.fromisoformat(period)).days
    except ValueError:
        return None


def churn_claim(report: AccountReport, *, today: date, payload: dict[str, Any]) -> AlertClaim:
    """The claim of today's churn alert for ``report``'s account."""
    state = ChurnState.of(report)
    return AlertClaim(
        kind=AlertKind.CHURN,
        account_id=report.account.account_id,
        period=today.isoformat(),
        payload=payload,
        level=state.level,
        band=state.band,
        score=round(report.health.score, 1),
        triggers=tuple(sorted(state.triggers)),
    )


def route_channel(
    routes: Mapping[str, str], *, default: str, segment: str | None, owner_slack_id: str | None
) -> str:
    """The channel for an account's alert: an owner route, else a segment route, else default."""
    if owner_slack_id and f"owner:{owner_slack_id}" in routes:
        return routes[f"owner:{owner_slack_id}"]
    if segment and f"segment:{segment}" in routes:
        return routes[f"segment:{segment}"]
    return default


# -- the decision ----------------------------------------------------------------------------

UNOWNED = "unowned"
"""The recipient key of accounts without an owner (their book goes to the alerts channel)."""


def owner_of(report: AccountReport) -> str:
    """Who a report's account belongs to, as a book recipient key."""
    return report.account.owner_slack_id or UNOWNED


def severity(report: AccountReport) -> tuple[int, float, float]:
    """Sort key, most severe first: churn level, then ARR at risk, then the lower score."""
    arr = float(report.churn.arr_at_risk or report.account.arr or 0)
    return (-LEVEL_RANK.get(report.churn.level.value, 0), -arr, report.health.score)


Suppressor = Callable[[Session, Sequence[int], date], set[int]]
"""A rule that keeps accounts quiet today whatever their state: ``(session, ids, today) -> ids``."""

SUPPRESSORS: list[Suppressor] = []
"""Every suppression rule (acknowledged, snoozed, ...); a feature registers its own here."""


def suppressed(session: Session, account_ids: Sequence[int], today: date) -> set[int]:
    """The accounts that must not get a churn alert today, by any registered rule."""
    if not account_ids:
        return set()
    quiet: set[int] = set()
    for rule in SUPPRESSORS:
        quiet |= rule(session, account_ids, today)
    return quiet


@dataclass(frozen=True)
class ChurnDecision:
    """One account that deserves a churn alert today, and why."""

    report: AccountReport
    reason: str
    baseline: bool = True
    """Compared with something (a last alert or an earlier snapshot); False: merely at risk
    with nothing to compare with (the first run on a database)."""


def decide_churn_alerts(
    session: Session, reports: Sequence[AccountReport], *, today: date, quiet_days: int
) -> list[ChurnDecision]:
    """Which of these at-risk ``reports`` deserve a churn alert today (the one place to decide).

    New, worse, or quiet period over (``churn_alert_reason``), minus ``suppressed`` accounts.
    """
    ids = [r.account.account_id for r in reports]
    # A failed alert (say, an unknown channel, or a book that never arrived) was never seen:
    # it is no baseline, so the account is alerted again once the cause is fixed. One held for
    # a book still being delivered is (the book will tell it).
    last = latest_alerts(
        session,
        kind=AlertKind.CHURN,
        account_ids=ids,
        statuses=(AlertStatus.CLAIMED, AlertStatus.HELD, AlertStatus.POSTED),
    )
    # Never alerted at all: the previous snapshot says whether being at risk is news.
    ever = latest_alerts(session, kind=AlertKind.CHURN, account_ids=ids)
    unalerted = [a for a in ids if a not in ever]
    before = previous_states(session, before=today, account_ids=unalerted)
    quiet = suppressed(session, ids, today)
    # Acknowledged / snoozed last alerts: quiet unless worse, or until the snooze ends.
    followups = followups_of(session, [int(a.id or 0) for a in last.values()])
    decisions = []
    for report in reports:
        account_id = report.account.account_id
        if account_id in quiet:
            continue
        previous_alert = last.get(account_id)
        reason = churn_alert_reason(
            report,
            previous_alert,
            today=today,
            quiet_days=quiet_days,
            previous=before.get(account_id),
            followup=followups.get(int(previous_alert.id or 0)) if previous_alert else None,
        )
        if reason is not None:
            baseline = previous_alert is not None or account_id in before
            decisions.append(ChurnDecision(report=report, reason=reason, baseline=baseline))
    return decisions


# -- a quiet first day -----------------------------------------------------------------------


@dataclass(frozen=True)
class FirstDay:
    """How loud an owner's first day may be in the channel (``ALERT_FIRST_DAY_*``)."""

    max_alerts: int = 3
    """Churn alerts in the channel on a first day, all owners together."""
    renewal_days: int = 60
    """"Urgent": high churn risk with the renewal at most this many days away."""


def renewal_in(report: AccountReport, today: date) -> int | None:
    """Days until the account's renewal (None without a contract in force)."""
    renewal = report.account.renewal_date
    return None if renewal is None else (renewal - today).days


def urgent(report: AccountReport, *, today: date, renewal_days: int) -> bool:
    """High churn risk with the renewal at most ``renewal_days`` days away."""
    days = renewal_in(report, today)
    return report.churn.level == RiskLevel.HIGH and days is not None and 0 <= days <= renewal_days


def first_day_alerts(
    session: Session,
    reports: Sequence[AccountReport],
    decisions: Sequence[ChurnDecision],
    *,
    owners: set[str],
    today: date,
    rule: FirstDay,
) -> tuple[list[ChurnDecision], list[ChurnDecision]]:
    """(channel, book) for the first day of ``owners``: the channel gets only news and urgency.

    News is a decision with a baseline (got worse than an earlier snapshot or alert). Urgent
    is high churn risk with the renewal inside ``rule.renewal_days``, including an account that
    was already at risk before alerting began (never alerted, not suppressed). The most severe
    ``rule.max_alerts`` of those go to the channel; every other decision of these owners goes
    to their book. Decisions of other owners are returned in the channel list untouched.
    """
    mine = [d for d in decisions if owner_of(d.report) in owners]
    channel = [d for d in decisions if owner_of(d.report) not in owners]
    decided = {d.report.account.account_id for d in mine}
    ids = [r.account.account_id for r in reports if owner_of(r) in owners]
    ever = latest_alerts(session, kind=AlertKind.CHURN, account_ids=ids)
    quiet = suppressed(session, ids, today)
    candidates = [
        d
        for d in mine
        if d.baseline or urgent(d.report, today=today, renewal_days=rule.renewal_days)
    ]
    for report in reports:
        account_id = report.account.account_id
        if (
            owner_of(report) in owners
            and account_id not in decided
            and account_id not in ever
            and account_id not in quiet
            and urgent(report, today=today, renewal_days=rule.renewal_days)
        ):
            days = renewal_in(report, today)
            triggers = ", ".join(t.label for t in report.churn.triggers)
            reason = f"at high churn risk with the renewal in {days} days" + (
                f" ({triggers})" if triggers else ""
            )
            candidates.append(ChurnDecision(report=report, reason=reason, baseline=False))
    candidates.sort(key=lambda d: severity(d.report))
    loud = candidates[: max(rule.max_alerts, 0)]
    chosen = {d.report.account.account_id for d in loud}
    book = [d for d in mine if d.report.account.account_id not in chosen]
    return channel + loud, book
