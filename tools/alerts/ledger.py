"""The delivery ledger: every outbound write is claimed under a unique key before it is sent.

The database is the arbiter (several schedulers may run): a message is a row in ``alert`` with a
unique ``key`` (kind, account, period). A job *claims* the key (``INSERT ... ON CONFLICT DO
NOTHING``) and commits before it posts anything; only the caller whose insert won posts. The row
keeps the rendered payload, so a crash between claim and post is repaired by the next run, which
takes over the stale claim (a conditional ``UPDATE``) and, before posting again, asks Slack
whether the first attempt landed after all (``bot.jobs.delivery`` reconciles by the key carried
in the message metadata). Marking a claim posted is conditional too (``WHERE status =
'claimed'``), so nothing is posted or counted twice.

Churn alerts, QBR DMs, expansion-proposal DMs, the digest and the book messages all go through
this one ledger, and so do Notion pages (QBR pages, follow-up tasks and their status: see
``tools.outbox``). One row per delivery key holds its state (``claimed`` → ``posted`` or
``failed``), attempts, last error, the next retry (``next_attempt_at``) and what it produced (a
Slack ``ts``, a Notion page id). A claim without ``next_attempt_at`` belongs to its claimer for
the lease; a failed send sets ``next_attempt_at`` by the kind's ``RetryPolicy`` and anyone may
take it over then. No Slack or Notion here (``bot.jobs.delivery`` posts, ``bot.notion`` writes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from tools.models import Alert, AlertKind, AlertStatus
from tools.models_followup import AlertFollowup

LEASE = timedelta(minutes=10)
"""A claim younger than this belongs to the job that made it (it may be posting right now)."""
RETRY_WINDOW = timedelta(days=3)
"""Claims older than this are not retried any more: they are marked failed ("expired")."""
MAX_ATTEMPTS = 5
ERROR_MAX = 1000

NOTION_KINDS = frozenset(
    {
        AlertKind.NOTION_QBR,
        AlertKind.NOTION_TASK,
        AlertKind.NOTION_TASK_STATUS,
        AlertKind.NOTION_HANDOFF,
    }
)
"""Deliveries written to Notion (``bot.notion`` sends them); every other kind is a Slack post."""
SLACK_KINDS = frozenset(k for k in AlertKind if k not in NOTION_KINDS)
INTERACTIVE_KINDS = frozenset({AlertKind.HANDOFF_SALES, AlertKind.HANDOFF_NOTICE})
"""Slack posts a button press asks for (a hand-off's Sales card, the CSM's notice): posted at
once, and a failed one retried within minutes by the Slack retry job, not the next day."""


@dataclass(frozen=True)
class RetryPolicy:
    """When a delivery that failed is tried again, and for how long.

    ``backoff=None`` waits for the lease to run out from the last claim (Slack: a lost response
    is looked up in the history, which needs a moment to settle); otherwise ``backoff`` doubles
    per attempt up to ``max_backoff``, and never before a server's ``Retry-After``.
    """

    max_attempts: int = MAX_ATTEMPTS
    window: timedelta = RETRY_WINDOW
    backoff: timedelta | None = None
    max_backoff: timedelta = timedelta(hours=1)

    def next_attempt(
        self, *, attempts: int, now: datetime, claimed_at: datetime, retry_after: timedelta | None
    ) -> datetime:
        """When a delivery that failed its ``attempts``-th attempt at ``now`` is due again."""
        if self.backoff is None:
            due = max(claimed_at + LEASE, now)
        else:
            due = now + min(self.backoff * (2 ** max(attempts - 1, 0)), self.max_backoff)
        return max(due, now + retry_after) if retry_after is not None else due


SLACK_RETRY = RetryPolicy()
NOTION_RETRY = RetryPolicy(max_attempts=20, window=timedelta(days=14), backoff=timedelta(minutes=1))
"""A Notion outage of a day is ridden out: 1, 2, 4 … 60 minutes apart, twenty times."""


def retry_policy(kind: str) -> RetryPolicy:
    """The retry policy of a delivery kind."""
    return NOTION_RETRY if kind in {k.value for k in NOTION_KINDS} else SLACK_RETRY


# -- keys -----------------------------------------------------------------------------------------


def alert_key(kind: AlertKind, account_id: int | None, period: str) -> str:
    """The unique key of an alert: ``kind:account:period`` (``-`` for portfolio-wide alerts)."""
    account = "-" if account_id is None else str(account_id)
    return f"{kind.value}:{account}:{period}"[:255]


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
    session: Session,
    *,
    claim: AlertClaim,
    claimed_by: str,
    now: datetime,
    status: AlertStatus = AlertStatus.CLAIMED,
    queued: bool = False,
) -> int | None:
    """Insert the alert unless its key exists: its id when this caller won, else None.

    Does not commit: the caller commits (with anything that must happen atomically with the
    claim, such as storing a QBR draft) before posting. ``status=POSTED`` records an item that
    is delivered inside another message (its payload names it in ``via``) or a marker.
    ``queued`` stores it due now and owned by nobody (no attempt yet): whoever takes it over
    first (``take_over``) sends it.
    """
    values = {
        "key": claim.key,
        "kind": claim.kind.value,
        "account_id": claim.account_id,
        "period": claim.period[:128],
        "status": status.value,
        "level": claim.level,
        "band": claim.band,
        "score": claim.score,
        "triggers": list(claim.triggers),
        "payload": claim.payload,
        "claimed_by": "" if queued else claimed_by[:128],
        "claimed_at": now,
        "attempts": 0 if queued else 1,
        "next_attempt_at": now if queued else None,
        "posted_at": now if status == AlertStatus.POSTED else None,
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


def _due(now: datetime, lease: timedelta) -> ColumnElement[bool]:
    """Claimed and nobody's: its retry is due, or its claimer's lease ran out (a crash)."""
    return and_(
        col(Alert.status) == AlertStatus.CLAIMED.value,
        or_(
            and_(col(Alert.next_attempt_at).is_not(None), col(Alert.next_attempt_at) <= now),
            and_(col(Alert.next_attempt_at).is_(None), col(Alert.claimed_at) < now - lease),
        ),
    )


def stale_claims(
    session: Session,
    *,
    now: datetime,
    kinds: Iterable[AlertKind] = SLACK_KINDS,
    lease: timedelta = LEASE,
    window: timedelta = RETRY_WINDOW,
    limit: int | None = None,
) -> list[Alert]:
    """Claimed-but-unsent deliveries that are due again (a failed send or a crash), oldest first."""
    stmt = (
        select(Alert)
        .where(
            _due(now, lease),
            col(Alert.kind).in_([k.value for k in kinds]),
            col(Alert.claimed_at) >= now - window,
        )
        .order_by(col(Alert.claimed_at), col(Alert.id))
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.execute(stmt).scalars())


def expire_claims(
    session: Session,
    *,
    now: datetime,
    window: timedelta = RETRY_WINDOW,
    kinds: Iterable[AlertKind] = SLACK_KINDS,
) -> int:
    """Mark claims older than ``window`` failed (too late to be news); returns how many. Commits."""
    result = session.execute(
        update(Alert)
        .where(
            col(Alert.status) == AlertStatus.CLAIMED.value,
            col(Alert.kind).in_([k.value for k in kinds]),
            col(Alert.claimed_at) < now - window,
        )
        .values(status=AlertStatus.FAILED.value, last_error="expired before it could be posted")
    )
    session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def take_over(
    session: Session, *, alert_id: int, claimed_by: str, now: datetime, lease: timedelta = LEASE
) -> bool:
    """Take over a due claim (see ``stale_claims``); True when this caller now owns it. Commits."""
    result = session.execute(
        update(Alert)
        .where(col(Alert.id) == alert_id, _due(now, lease))
        .values(
            claimed_by=claimed_by[:128],
            claimed_at=now,
            attempts=col(Alert.attempts) + 1,
            next_attempt_at=None,
        )
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


def record_target(
    session: Session, *, alert_id: int, external_id: str, url: str | None = None
) -> None:
    """Remember what a Notion delivery produced (its page) so a retry finds it. Commits."""
    session.execute(
        update(Alert)
        .where(col(Alert.id) == alert_id, col(Alert.status) == AlertStatus.CLAIMED.value)
        .values(external_id=external_id[:64], external_url=(url or None) and url[:500])
    )
    session.commit()


def mark_posted(
    session: Session,
    *,
    alert_id: int,
    claimed_by: str,
    now: datetime,
    then: Callable[[Session], None] | None = None,
) -> bool:
    """Mark the claim posted; False when it was not ours any more. Commits, with what ``then``
    does (e.g. marking a hand-off sent) in the same transaction when it was ours."""
    result = session.execute(
        update(Alert)
        .where(
            col(Alert.id) == alert_id,
            col(Alert.status) == AlertStatus.CLAIMED.value,
            col(Alert.claimed_by) == claimed_by[:128],
        )
        .values(
            status=AlertStatus.POSTED.value, posted_at=now, last_error=None, next_attempt_at=None
        )
    )
    ours = int(getattr(result, "rowcount", 0) or 0) == 1
    if ours and then is not None:
        then(session)
    session.commit()
    return ours


def record_failure(
    session: Session,
    *,
    alert_id: int,
    error: str,
    permanent: bool,
    max_attempts: int | None = None,
    now: datetime | None = None,
    retry_after: timedelta | None = None,
) -> str:
    """Note a failed send: ``failed`` when permanent or out of attempts, else it stays claimed
    and is due again at ``next_attempt_at`` (the kind's ``RetryPolicy``; ``retry_after`` is the
    server's Retry-After). Returns the new status. Commits.
    """
    alert = session.get(Alert, alert_id)
    if alert is None or alert.status != AlertStatus.CLAIMED.value:
        return alert.status if alert is not None else AlertStatus.FAILED.value
    policy = retry_policy(alert.kind)
    limit = policy.max_attempts if max_attempts is None else max_attempts
    give_up = permanent or alert.attempts >= limit
    status = AlertStatus.FAILED if give_up else AlertStatus.CLAIMED
    due = None
    if not give_up:
        due = policy.next_attempt(
            attempts=alert.attempts,
            now=now or alert.claimed_at,
            claimed_at=alert.claimed_at,
            retry_after=retry_after,
        )
    session.execute(
        update(Alert)
        .where(col(Alert.id) == alert_id, col(Alert.status) == AlertStatus.CLAIMED.value)
        .values(status=status.value, last_error=error[:ERROR_MAX], next_attempt_at=due)
    )
    session.commit()
    return status.value


def requeue(session: Session, *, alert_id: int, now: datetime) -> bool:
    """A person asks again: a failed delivery, or one waiting for its retry, is due now with a
    fresh set of attempts. False when it is posted or someone is sending it. Does not commit."""
    result = session.execute(
        update(Alert)
        .where(
            col(Alert.id) == alert_id,
            or_(
                col(Alert.status) == AlertStatus.FAILED.value,
                and_(
                    col(Alert.status) == AlertStatus.CLAIMED.value,
                    col(Alert.next_attempt_at).is_not(None),
                ),
            ),
        )
        .values(
            status=AlertStatus.CLAIMED.value,
            next_attempt_at=now,
            claimed_at=now,
            attempts=0,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def by_key(session: Session, key: str) -> Alert | None:
    """The delivery stored under ``key``, if any."""
    return session.execute(select(Alert).where(col(Alert.key) == key)).scalars().first()


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


def followups_of(session: Session, alert_ids: Sequence[int]) -> dict[int, AlertFollowup]:
    """The follow-up rows of ``alert_ids`` (``tools.alert_actions`` writes them; an alert
    nobody acted on has none)."""
    if not alert_ids:
        return {}
    stmt = select(AlertFollowup).where(col(AlertFollowup.alert_id).in_(sorted(set(alert_ids))))
    return {row.alert_id: row for row in session.execute(stmt).scalars()}


def channel_id_for(session: Session, channel: str, *, recent: int = 200) -> str | None:
    """The conversation id a recent post to ``channel`` (say ``#cs-alerts``) landed in, if any."""
    stmt = (
        select(Alert)
        .where(col(Alert.status) == AlertStatus.POSTED.value, col(Alert.channel).is_not(None))
        .order_by(col(Alert.id).desc())
        .limit(recent)
    )
    for alert in session.execute(stmt).scalars():
        if alert.payload.get("channel") == channel and not alert.payload.get("dm_user"):
            return str(alert.channel)
    return None
