"""Scheduled alerts, exactly once: what deserves an alert, claiming it, recording the outcome.

The database is the arbiter (several schedulers may run): an alert is a row in ``alert`` with a
unique ``key`` (kind, account, period). A job *claims* the key (``INSERT ... ON CONFLICT DO
NOTHING``) and commits before it posts anything; only the caller whose insert won posts. The row
keeps the rendered payload, so a crash between claim and post is repaired by the next run, which
takes over the stale claim (a conditional ``UPDATE``) and posts the same message. Marking an alert
posted is conditional too (``WHERE status = 'claimed'``), so nothing is posted or counted twice.

Churn alerts: an account is alerted when it is at risk (churn level medium/high, or band RED)
and either has never been alerted, got worse since its last alert (level up, band down, a new
trigger), or stayed at risk for ``quiet_days`` since the last alert.

No Slack here: payloads are plain dicts that ``bot/`` renders and posts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Table, and_, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from tools.lean import (
    active_contracts,
    adoption_training_playbook,
    in_ids,
    licence_optimisation_playbook,
    qbr_support_alignment_playbook,
    rows,
)
from tools.models import (
    Account,
    Alert,
    AlertKind,
    AlertStatus,
    ChurnTriggerRecord,
    Contract,
    ContractStatus,
    HealthSnapshot,
)
from tools.results import (
    AccountReport,
    Band,
    BandMix,
    Playbook,
    PlaybookStep,
    RenewalBucket,
    RiskLevel,
)

LEASE = timedelta(minutes=10)
"""A claim younger than this belongs to the job that made it (it may be posting right now)."""
RETRY_WINDOW = timedelta(days=3)
"""Claims older than this are not retried any more: they are marked failed ("expired")."""
MAX_ATTEMPTS = 5
T90_DAYS = 90
SNAPSHOT_DAYS = 30
"""A previous snapshot older than this is no baseline for "newly at risk"."""
LEVEL_RANK = {RiskLevel.LOW.value: 0, RiskLevel.MEDIUM.value: 1, RiskLevel.HIGH.value: 2}
BAND_RANK = {Band.GREEN.value: 0, Band.AMBER.value: 1, Band.RED.value: 2}


# -- keys and periods ------------------------------------------------------------------------


def alert_key(kind: AlertKind, account_id: int | None, period: str) -> str:
    """The unique key of an alert: ``kind:account:period`` (``-`` for portfolio-wide alerts)."""
    account = "-" if account_id is None else str(account_id)
    return f"{kind.value}:{account}:{period}"[:255]


def quarter_of(day: date) -> str:
    """``2026-Q2`` for any day from April 1 to June 30, 2026."""
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def iso_week_of(day: date) -> str:
    """The ISO week of ``day``, e.g. ``2026-W47``."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


# -- claiming --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertClaim:
    """What to claim: the key's parts, the payload to post and the churn state alerted."""

    kind: AlertKind
    account_id: int | None
    period: str
    payload: dict[str, Any]
    level: str | None = None
    band: str | None = None
    score: float | None = None
    triggers: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The claim's unique key."""
        return alert_key(self.kind, self.account_id, self.period)


def _alert_table() -> Table:
    table = Alert.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


def claim_alert(
    session: Session, *, claim: AlertClaim, claimed_by: str, now: datetime
) -> int | None:
    """Insert the alert unless its key exists: its id when this caller won, else None.

    Does not commit: the caller commits (with anything that must happen atomically with the
    claim, such as storing a QBR draft) before posting.
    """
    values = {
        "key": claim.key,
        "kind": claim.kind.value,
        "account_id": claim.account_id,
        "period": claim.period[:128],
        "status": AlertStatus.CLAIMED.value,
        "level": claim.level,
        "band": claim.band,
        "score": claim.score,
        "triggers": list(claim.triggers),
        "payload": claim.payload,
        "claimed_by": claimed_by[:128],
        "claimed_at": now,
        "attempts": 1,
    }
    table = _alert_table()
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt = pg_insert(table).values(values).on_conflict_do_nothing(index_elements=["key"])
        row = session.execute(stmt.returning(table.c.id)).first()
    elif dialect == "sqlite":
        lite = sqlite_insert(table).values(values).on_conflict_do_nothing(index_elements=["key"])
        row = session.execute(lite.returning(table.c.id)).first()
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise RuntimeError(f"claim_alert does not support the {dialect} dialect")
    return None if row is None else int(row[0])


def set_payload(session: Session, *, alert_id: int, payload: dict[str, Any]) -> None:
    """Replace the payload of a claimed alert (e.g. once the QBR draft it announces exists)."""
    session.execute(
        update(Alert)
        .where(col(Alert.id) == alert_id, col(Alert.status) == AlertStatus.CLAIMED.value)
        .values(payload=payload)
    )


def stale_claims(
    session: Session,
    *,
    now: datetime,
    kinds: Iterable[AlertKind] = tuple(AlertKind),
    lease: timedelta = LEASE,
    window: timedelta = RETRY_WINDOW,
) -> list[Alert]:
    """Claimed-but-unposted alerts whose lease expired (a crash or a failed post), oldest first."""
    stmt = (
        select(Alert)
        .where(
            col(Alert.status) == AlertStatus.CLAIMED.value,
            col(Alert.kind).in_([k.value for k in kinds]),
            col(Alert.claimed_at) < now - lease,
            col(Alert.claimed_at) >= now - window,
        )
        .order_by(col(Alert.claimed_at), col(Alert.id))
    )
    return list(session.execute(stmt).scalars())


def expire_claims(session: Session, *, now: datetime, window: timedelta = RETRY_WINDOW) -> int:
    """Mark claims older than ``window`` failed (too late to be news); returns how many. Commits."""
    result = session.execute(
        update(Alert)
        .where(
            col(Alert.status) == AlertStatus.CLAIMED.value,
            col(Alert.claimed_at) < now - window,
        )
        .values(status=AlertStatus.FAILED.value, last_error="expired before it could be posted")
    )
    session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def take_over(
    session: Session, *, alert_id: int, claimed_by: str, now: datetime, lease: timedelta = LEASE
) -> bool:
    """Take over a stale claim; True when this caller now owns it. Commits."""
    result = session.execute(
        update(Alert)
        .where(
            col(Alert.id) == alert_id,
            col(Alert.status) == AlertStatus.CLAIMED.value,
            col(Alert.claimed_at) < now - lease,
        )
        .values(claimed_by=claimed_by[:128], claimed_at=now, attempts=col(Alert.attempts) + 1)
    )
    session.commit()
    return int(getattr(result, "rowcount", 0) or 0) == 1


def record_message(
    session: Session, *, alert_id: int, channel: str, ts: str, reply: bool = False
) -> None:
    """Remember a posted message (or its thread reply) so a retry never posts it again. Commits."""
    values: dict[str, Any] = {"reply_ts": ts} if reply else {"channel": channel, "message_ts": ts}
    session.execute(
        update(Alert)
        .where(col(Alert.id) == alert_id, col(Alert.status) == AlertStatus.CLAIMED.value)
        .values(**values)
    )
    session.commit()


def mark_posted(session: Session, *, alert_id: int, claimed_by: str, now: datetime) -> bool:
    """Mark the claim posted; False when it was not ours any more. Commits."""
    result = session.execute(
        update(Alert)
        .where(
            col(Alert.id) == alert_id,
            col(Alert.status) == AlertStatus.CLAIMED.value,
            col(Alert.claimed_by) == claimed_by[:128],
        )
        .values(status=AlertStatus.POSTED.value, posted_at=now, last_error=None)
    )
    session.commit()
    return int(getattr(result, "rowcount", 0) or 0) == 1


def record_failure(
    session: Session,
    *,
    alert_id: int,
    error: str,
    permanent: bool,
    max_attempts: int = MAX_ATTEMPTS,
) -> str:
    """Note a failed post: ``failed`` when permanent or out of attempts, else stays claimed.

    Returns the new status. Commits.
    """
    alert = session.get(Alert, alert_id)
    if alert is None or alert.status != AlertStatus.CLAIMED.value:
        return alert.status if alert is not None else AlertStatus.FAILED.value
    give_up = permanent or alert.attempts >= max_attempts
    status = AlertStatus.FAILED if give_up else AlertStatus.CLAIMED
    session.execute(
        update(Alert)
        .where(col(Alert.id) == alert_id, col(Alert.status) == AlertStatus.CLAIMED.value)
        .values(status=status.value, last_error=error[:1000])
    )
    session.commit()
    return status.value


def latest_alerts(
    session: Session,
    *,
    kind: AlertKind,
    account_ids: Sequence[int] | None = None,
    statuses: Iterable[AlertStatus] = tuple(AlertStatus),
) -> dict[int, Alert]:
    """The newest alert of ``kind`` per account, among those with one of ``statuses``."""
    newest = (
        select(func.max(col(Alert.id)))
        .where(
            col(Alert.kind) == kind.value,
            col(Alert.account_id).is_not(None),
            col(Alert.status).in_([s.value for s in statuses]),
        )
        .group_by(col(Alert.account_id))
    )
    if account_ids is not None:
        newest = newest.where(col(Alert.account_id).in_(sorted(set(account_ids))))
    stmt = select(Alert).where(col(Alert.id).in_(newest.scalar_subquery()))
    return {int(a.account_id): a for a in session.execute(stmt).scalars() if a.account_id}


# -- churn alerts: who deserves one ----------------------------------------------------------


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
) -> str | None:
    """Why this account deserves a churn alert today, or None when it does not.

    Compared with the last alert when there is one, else with the previous snapshot
    (``previous``): an account that was already just as risky before alerting began is not
    news. With neither, being at risk is new.
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
    since = _days_since(last.period, today)
    if since is not None and since >= quiet_days:
        return f"still at {state.level} churn risk {since} days after the last alert"
    return None


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


# -- churn alerts: what they say -------------------------------------------------------------


def _money(value: Decimal) -> str:
    return f"${value:,.0f}"


def template_narrative(report: AccountReport, *, as_of: date) -> str:
    """A plain-language account of the risk, from the numbers only (the no-Claude narrative)."""
    acct, health, churn = report.account, report.health, report.churn
    parts = [
        f"{acct.name} is at {churn.level.value} churn risk with a health score of "
        f"{health.score:.0f}/100 ({health.band.value})."
    ]
    if churn.triggers:
        parts.append("What fired: " + "; ".join(t.evidence for t in churn.triggers[:3]) + ".")
    hurting = [d.text for d in health.drivers if d.impact < 0][:2]
    if hurting:
        parts.append("The score is held down by " + " and ".join(hurting) + ".")
    if acct.renewal_date is not None:
        days = (acct.renewal_date - as_of).days
        parts.append(
            f"The contract renews on {acct.renewal_date.isoformat()} ({days} days), "
            f"with {_money(churn.arr_at_risk or acct.arr)} ARR at stake."
        )
    return " ".join(parts)


def renewal_save_playbook() -> Playbook:
    """What to do when a renewal is close and the account is not healthy."""
    return Playbook(
        key="renewal_save",
        title="Renewal save plan",
        goal="Reach the renewal with a sponsor who sees the value and a plan for the gaps.",
        steps=[
            PlaybookStep(
                title="Call the sponsor this week",
                detail="Confirm the decision maker, the date and what a renewal depends on.",
            ),
            PlaybookStep(
                title="Show the value delivered",
                detail="A short value review: outcomes, usage, what improved since signing.",
            ),
            PlaybookStep(
                title="Agree a recovery plan",
                detail="Owners and dates for each risk driver; review it weekly until renewal.",
            ),
            PlaybookStep(
                title="Loop in Sales early",
                detail="Share the risk and the plan with the account executive.",
                owner="Sales",
            ),
        ],
    )


def stakeholder_playbook() -> Playbook:
    """What to do when the champion left or the customer is unhappy."""
    return Playbook(
        key="stakeholder_recovery",
        title="Stakeholder recovery",
        goal="Rebuild a relationship with someone who owns the outcome.",
        steps=[
            PlaybookStep(
                title="Find the new owner",
                detail="Ask the remaining contacts who now owns the tool and the budget.",
            ),
            PlaybookStep(
                title="Listen first",
                detail="A call to hear the complaints (NPS comments, tickets) before pitching.",
            ),
            PlaybookStep(
                title="Re-onboard the new champion",
                detail="A tailored onboarding and a success plan with measurable goals.",
            ),
        ],
    )


TRIGGER_PLAYBOOKS = {
    "renewal_window": renewal_save_playbook,
    "no_usage": adoption_training_playbook,
    "logins_declining": adoption_training_playbook,
    "usage_declining": adoption_training_playbook,
    "ticket_spike": qbr_support_alignment_playbook,
    "tam_escalation": qbr_support_alignment_playbook,
    "champion_left": stakeholder_playbook,
    "detractor_nps": stakeholder_playbook,
    "overdue_invoice": renewal_save_playbook,
}


def churn_playbook(report: AccountReport) -> Playbook:
    """The playbook to suggest: the first trigger's, else the worst Lean finding's."""
    for trigger in report.churn.triggers:
        make = TRIGGER_PLAYBOOKS.get(trigger.key)
        if make is not None:
            return make()
    if report.lean:
        return report.lean[0].playbook
    if report.account.seats_used is not None and report.account.seats_purchased:
        return licence_optimisation_playbook()
    return renewal_save_playbook()


class OutreachDraft(BaseModel):
    """A draft email for the CSM to adapt and send themselves; the bot never sends it."""

    subject: str
    body: str


def outreach_email(report: AccountReport, *, as_of: date) -> OutreachDraft:
    """A short, honest check-in email built from the account's own signals."""
    acct = report.account
    topics = {
        "renewal_window": "how the renewal fits your plans for next year",
        "no_usage": "getting your team back into a working rhythm",
        "logins_declining": "what changed in how your team uses the product",
        "usage_declining": "what changed in how your team uses the product",
        "ticket_spike": "the support issues you have run into recently",
        "tam_escalation": "the open technical escalation and its plan",
        "champion_left": "who now owns the project on your side",
        "detractor_nps": "the feedback you shared in our recent survey",
        "overdue_invoice": "sorting out the open invoice together",
    }
    points = list(dict.fromkeys(topics[t.key] for t in report.churn.triggers if t.key in topics))
    if not points:
        points = ["what is working well and what is not"]
    agenda = "\n".join(f"- {p}" for p in points[:3])
    body = (
        "Hi <first name>,\n\n"
        f"I'd like to set up 30 minutes to review how things are going for {acct.name}. "
        "I'd love to cover:\n"
        f"{agenda}\n\n"
        "Would one day next week work for you? I'll bring a short summary of your usage so we "
        "can focus on what matters most to your team.\n\n"
        "Best,\n<your name>"
    )
    return OutreachDraft(subject=f"{acct.name} — time for a quick check-in?", body=body)


# -- QBRs on schedule ------------------------------------------------------------------------


@dataclass(frozen=True)
class RenewalDue:
    """A contract whose T-90 QBR is due: it ends within ``T90_DAYS`` and has not ended."""

    account_id: int
    contract_external_id: str
    end_date: date
    arr: Decimal


def contracts_due_for_t90(
    session: Session, *, today: date, days: int = T90_DAYS
) -> list[RenewalDue]:
    """Active contracts ending within ``days`` (T-90 passed, end not passed), by end date.

    A contract imported after its T-90 date is still due, as long as it has not ended.
    """
    stmt = (
        select(
            col(Contract.account_id),
            col(Contract.external_id),
            col(Contract.end_date),
            col(Contract.arr),
        )
        .where(
            col(Contract.status) == ContractStatus.ACTIVE.value,
            col(Contract.start_date) <= today,
            col(Contract.end_date) >= today,
            col(Contract.end_date) <= today + timedelta(days=days),
        )
        .order_by(col(Contract.end_date), col(Contract.id))
    )
    return [
        RenewalDue(account_id=int(a), contract_external_id=str(e), end_date=d, arr=Decimal(arr))
        for a, e, d, arr in rows(session, stmt)
    ]


def active_account_ids(session: Session, *, today: date) -> list[int]:
    """Accounts with a contract in force on ``today`` (the quarterly QBR population)."""
    return sorted(active_contracts(session, on=today))


# -- the weekly digest -----------------------------------------------------------------------


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
    expansion_count: int
    expansion_arr: Decimal
    alerts_sent: int


def _snapshot_state(session: Session, *, on: date) -> dict[int, tuple[float, str, str]]:
    """(score, band, churn level) of each account's latest snapshot on or before ``on``."""
    latest = (
        select(
            col(HealthSnapshot.account_id).label("account_id"),
            func.max(col(HealthSnapshot.day)).label("day"),
        )
        .where(col(HealthSnapshot.day) <= on, col(HealthSnapshot.day) > on - timedelta(days=31))
        .group_by(col(HealthSnapshot.account_id))
        .subquery()
    )
    stmt = select(
        col(HealthSnapshot.account_id),
        col(HealthSnapshot.score),
        col(HealthSnapshot.band),
        col(HealthSnapshot.churn_level),
    ).join(
        latest,
        and_(
            col(HealthSnapshot.account_id) == latest.c.account_id,
            col(HealthSnapshot.day) == latest.c.day,
        ),
    )
    return {int(a): (float(s), str(b), str(lv)) for a, s, b, lv in rows(session, stmt)}


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


def alerts_posted_since(session: Session, *, since: datetime) -> int:
    """Churn alerts posted at or after ``since``."""
    stmt = select(func.count(col(Alert.id))).where(
        col(Alert.kind) == AlertKind.CHURN.value,
        col(Alert.status) == AlertStatus.POSTED.value,
        col(Alert.posted_at) >= since,
    )
    return int(session.execute(stmt).scalar_one())


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
    now_states = _snapshot_state(session, on=as_of)
    then_states = _snapshot_state(session, on=week_ago)
    then_active = set(active_contracts(session, on=week_ago))
    since = datetime.combine(as_of - timedelta(days=6), time.min, tzinfo=UTC)
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
        alerts_sent=alerts_posted_since(session, since=since),
    )
