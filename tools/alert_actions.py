"""What people do about a churn alert: acknowledge, snooze, assign, create a task, log a note.

Every change is a conditional update of the alert's ``alert_followup`` row, so a double click,
a Slack retry or two replicas change the state once: acknowledging an acknowledged alert,
snoozing for the days it is already snoozed for, or assigning to the current assignee changes
nothing and says so. A task is unique per alert (``account_task.key``), a note per Slack
request (the interaction's external id). What did change is logged in ``alert_action`` (who,
what, when), which the alert message shows when it is updated in place.

Who may do what is the permission policy's business (``bot/``); these functions trust their
caller on that and take plain ids.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Table, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from tools import outbox
from tools.alerts.ledger import followups_of as followups_of  # its home is the ledger
from tools.interactions import InteractionView, log_interaction
from tools.models import Account, Alert, AlertKind, AlertStatus
from tools.models_followup import (
    AccountTask,
    ActionKind,
    AlertAction,
    AlertFollowup,
)

SNOOZE_DAYS: tuple[int, ...] = (7, 14, 30)
TIMELINE = 6
"""How many of an alert's actions its message lists."""


class AlertActionError(ValueError):
    """The alert cannot be acted on (unknown, not a churn alert, not posted yet)."""


class ActionView(BaseModel):
    """One logged action."""

    kind: str
    actor: str
    at: datetime
    detail: dict[str, Any]


class TaskView(BaseModel):
    """A follow-up task."""

    task_id: int
    account_id: int
    account_name: str
    alert_id: int | None
    title: str
    status: str
    created_by: str
    assignee: str | None
    created_at: datetime
    closed_by: str | None = None
    closed_at: datetime | None = None
    notion_status: str
    """``none``, ``pending``, ``written`` or ``failed``: its Notion page's delivery."""
    notion_page_id: str | None


class MessageRef(BaseModel):
    """Where a copy of an alert was posted."""

    channel: str
    ts: str


class FollowupView(BaseModel):
    """An alert's follow-up state, as the alert message shows it."""

    alert_id: int
    account_id: int
    account_name: str
    owner_slack_id: str | None
    channel: str | None
    message_ts: str | None
    payload: dict[str, Any]
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    snoozed_by: str | None = None
    snoozed_days: int | None = None
    snoozed_until: datetime | None = None
    assignee: str | None = None
    task: TaskView | None = None
    notes: int = 0
    actions: list[ActionView] = []
    copies: list[MessageRef] = []
    """Subscribers' DM copies of the alert: updated in place with the original."""


class ActionResult(BaseModel):
    """The outcome of one action: whether it changed anything, and the state after it."""

    applied: bool
    kind: ActionKind
    followup: FollowupView
    task: TaskView | None = None
    interaction: InteractionView | None = None


# -- reading ---------------------------------------------------------------------------------


def churn_alert(session: Session, *, alert_id: int) -> Alert:
    """The posted (or being posted) churn alert ``alert_id``, else AlertActionError."""
    alert = session.get(Alert, alert_id)
    if alert is None or alert.kind != AlertKind.CHURN.value or alert.account_id is None:
        raise AlertActionError(f"no churn alert with id {alert_id}")
    if alert.status == AlertStatus.FAILED.value:
        raise AlertActionError(f"churn alert {alert_id} was never delivered")
    return alert


def resolve_alert_ref(session: Session, ref: str) -> int | None:
    """The id of the alert a button refers to: its id, or its key (``churn_alert:17:…``)."""
    ref = ref.strip()
    if ref.isdigit():
        return int(ref) if session.get(Alert, int(ref)) is not None else None
    found = session.execute(select(col(Alert.id)).where(col(Alert.key) == ref[:255])).first()
    return int(found[0]) if found is not None else None


def owner_of_alert(session: Session, *, alert_id: int) -> str | None:
    """The Slack id of the alerted account's owner (None when nobody owns it)."""
    alert = churn_alert(session, alert_id=alert_id)
    account = session.get(Account, alert.account_id)
    return account.owner_slack_id if account is not None else None


def _followup_row(session: Session, alert_id: int) -> AlertFollowup | None:
    stmt = select(AlertFollowup).where(col(AlertFollowup.alert_id) == alert_id)
    return session.execute(stmt.execution_options(populate_existing=True)).scalars().first()


def task_view(session: Session, task: AccountTask) -> TaskView:
    """A task as surfaces show it."""
    account = session.get(Account, task.account_id)
    page = outbox.task_page(session, task)
    return TaskView(
        task_id=int(task.id or 0),
        account_id=task.account_id,
        account_name=account.name if account is not None else "",
        alert_id=task.alert_id,
        title=task.title,
        status=task.status,
        created_by=task.created_by,
        assignee=task.assignee,
        created_at=task.created_at,
        closed_by=task.closed_by,
        closed_at=task.closed_at,
        notion_status=outbox.notion_state(page).value,
        notion_page_id=page.external_id if page is not None else None,
    )


def followup_view(session: Session, *, alert_id: int) -> FollowupView:
    """The alert, its account and everything done about it so far."""
    alert = churn_alert(session, alert_id=alert_id)
    account = session.get(Account, alert.account_id)
    row = _followup_row(session, alert_id)
    stmt = (
        select(AlertAction)
        .where(col(AlertAction.alert_id) == alert_id)
        .order_by(col(AlertAction.at), col(AlertAction.id))
    )
    actions = [
        ActionView(kind=a.kind, actor=a.actor, at=a.at, detail=dict(a.detail))
        for a in session.execute(stmt).scalars()
    ]
    task = session.get(AccountTask, row.task_id) if row is not None and row.task_id else None
    view = FollowupView(
        alert_id=alert_id,
        account_id=int(alert.account_id or 0),
        account_name=account.name if account is not None else "",
        owner_slack_id=account.owner_slack_id if account is not None else None,
        channel=alert.channel,
        message_ts=alert.message_ts,
        payload=dict(alert.payload),
        task=task_view(session, task) if task is not None else None,
        actions=actions[-TIMELINE:],
        copies=copies_of(session, alert),
    )
    if row is not None:
        view.acknowledged_by, view.acknowledged_at = row.acknowledged_by, row.acknowledged_at
        view.snoozed_by, view.snoozed_days = row.snoozed_by, row.snoozed_days
        view.snoozed_until, view.assignee, view.notes = row.snoozed_until, row.assignee, row.notes
    return view


def copies_of(session: Session, alert: Alert) -> list[MessageRef]:
    """The posted subscriber copies of ``alert`` (``churn_alert_copy``, period ``<day>:<user>``)."""
    stmt = (
        select(Alert)
        .where(
            col(Alert.kind) == AlertKind.CHURN_COPY.value,
            col(Alert.account_id) == alert.account_id,
            col(Alert.period).startswith(f"{alert.period}:", autoescape=True),
            col(Alert.message_ts).is_not(None),
            col(Alert.channel).is_not(None),
        )
        .order_by(col(Alert.id))
    )
    return [
        MessageRef(channel=str(c.channel), ts=str(c.message_ts))
        for c in session.execute(stmt).scalars()
    ]


# -- writing ---------------------------------------------------------------------------------


def _ensure_followup(session: Session, alert: Alert, now: datetime) -> None:
    table = AlertFollowup.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    values = {
        "alert_id": alert.id,
        "account_id": alert.account_id,
        "notes": 0,
        "updated_at": now,
    }
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(table).values(values).on_conflict_do_nothing(index_elements=["alert_id"])
    )


def _changed(session: Session, alert_id: int, condition: Any, values: dict[str, Any]) -> bool:
    """Apply ``values`` to the alert's follow-up where ``condition`` holds; True if it did."""
    stmt = (
        update(AlertFollowup)
        .where(col(AlertFollowup.alert_id) == alert_id, condition)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(session.execute(stmt), "rowcount", 0) or 0) == 1


def _log(
    session: Session,
    alert: Alert,
    *,
    kind: ActionKind,
    actor: str,
    now: datetime,
    key: str,
    detail: dict[str, Any],
) -> None:
    """Log an applied action and stamp the alert's first action (time to first action)."""
    row = AlertAction(
        key=f"{alert.id}:{kind.value}:{key}"[:255],
        alert_id=int(alert.id or 0),
        account_id=int(alert.account_id or 0),
        kind=kind.value,
        actor=actor[:64],
        at=now,
        detail=detail,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        pass  # the same request was logged already
    _changed(
        session,
        int(alert.id or 0),
        col(AlertFollowup.first_action_at).is_(None),
        {"first_action": kind.value, "first_action_at": now},
    )


def _result(
    session: Session, alert_id: int, kind: ActionKind, applied: bool, **extra: Any
) -> ActionResult:
    session.flush()
    session.expire_all()
    return ActionResult(
        applied=applied, kind=kind, followup=followup_view(session, alert_id=alert_id), **extra
    )


def acknowledge(
    session: Session, *, alert_id: int, actor: str, now: datetime, key: str
) -> ActionResult:
    """Acknowledge the alert (once): the account is not re-alerted until it gets worse."""
    alert = churn_alert(session, alert_id=alert_id)
    _ensure_followup(session, alert, now)
    applied = _changed(
        session,
        alert_id,
        col(AlertFollowup.acknowledged_at).is_(None),
        {"acknowledged_by": actor[:64], "acknowledged_at": now, "updated_at": now},
    )
    if applied:
        _log(session, alert, kind=ActionKind.ACKNOWLEDGED, actor=actor, now=now, key=key, detail={})
    return _result(session, alert_id, ActionKind.ACKNOWLEDGED, applied)


def snooze(
    session: Session, *, alert_id: int, actor: str, days: int, now: datetime, key: str
) -> ActionResult:
    """Snooze the alert ``days`` days: no re-alert before then unless the account gets worse.

    Snoozing again for the same number of days while the snooze runs changes nothing (a double
    click); another number of days restarts the snooze from now.
    """
    if days not in SNOOZE_DAYS:
        raise AlertActionError(f"snooze for {', '.join(map(str, SNOOZE_DAYS))} days")
    alert = churn_alert(session, alert_id=alert_id)
    _ensure_followup(session, alert, now)
    until = now + timedelta(days=days)
    same = (col(AlertFollowup.snoozed_days) == days) & (col(AlertFollowup.snoozed_until) > now)
    applied = _changed(
        session,
        alert_id,
        ~same | col(AlertFollowup.snoozed_until).is_(None),
        {
            "snoozed_by": actor[:64],
            "snoozed_days": days,
            "snoozed_until": until,
            "updated_at": now,
        },
    )
    if applied:
        detail = {"days": days, "until": until.isoformat()}
        _log(session, alert, kind=ActionKind.SNOOZED, actor=actor, now=now, key=key, detail=detail)
    return _result(session, alert_id, ActionKind.SNOOZED, applied)


def assign(
    session: Session, *, alert_id: int, actor: str, assignee: str, now: datetime, key: str
) -> ActionResult:
    """Assign the alert (and its open task, if any) to ``assignee``; same assignee: no change."""
    if not assignee.strip():
        raise AlertActionError("choose someone to assign the alert to")
    alert = churn_alert(session, alert_id=alert_id)
    _ensure_followup(session, alert, now)
    who = assignee.strip()[:64]
    applied = _changed(
        session,
        alert_id,
        or_(col(AlertFollowup.assignee).is_(None), col(AlertFollowup.assignee) != who),
        {"assignee": who, "assigned_by": actor[:64], "updated_at": now},
    )
    if applied:
        session.execute(
            update(AccountTask)
            .where(col(AccountTask.alert_id) == alert_id)
            .values(assignee=who)
            .execution_options(synchronize_session=False)
        )
        detail = {"assignee": who}
        _log(session, alert, kind=ActionKind.ASSIGNED, actor=actor, now=now, key=key, detail=detail)
    return _result(session, alert_id, ActionKind.ASSIGNED, applied)


def task_title(account_name: str, reason: str) -> str:
    """The title of an alert's follow-up task."""
    return f"Churn risk follow-up: {account_name}" + (f" ({reason})" if reason else "")


def create_task(
    session: Session,
    *,
    alert_id: int,
    actor: str,
    now: datetime,
    key: str,
    to_notion: bool,
) -> ActionResult:
    """The alert's follow-up task, created once (a second press returns the same task).

    App Home lists it until someone closes it. With ``to_notion`` its page is queued in the
    delivery ledger (``tools.outbox``) in the same transaction; ``bot.notion`` writes it once.
    """
    alert = churn_alert(session, alert_id=alert_id)
    _ensure_followup(session, alert, now)
    account = session.get(Account, alert.account_id)
    row = _followup_row(session, alert_id)
    assignee = (row.assignee if row is not None else None) or (
        account.owner_slack_id if account is not None else None
    )
    reason = str(alert.payload.get("reason", ""))
    task = AccountTask(
        key=f"alert:{alert_id}",
        account_id=int(alert.account_id or 0),
        alert_id=alert_id,
        title=task_title(account.name if account is not None else "", reason)[:500],
        detail=str(alert.payload.get("text", ""))[:4000],
        created_by=actor[:64],
        assignee=assignee,
        created_at=now,
    )
    applied = True
    try:
        with session.begin_nested():
            session.add(task)
    except IntegrityError:
        applied = False
        found = session.execute(
            select(AccountTask).where(col(AccountTask.key) == f"alert:{alert_id}")
        ).scalars()
        task = found.one()
    if applied:
        if to_notion:
            outbox.enqueue(session, outbox.task_claim(task), now=now)
        _changed(session, alert_id, col(AlertFollowup.task_id).is_(None), {"task_id": task.id})
        detail = {"task_id": task.id, "notion": to_notion}
        _log(
            session,
            alert,
            kind=ActionKind.TASK_CREATED,
            actor=actor,
            now=now,
            key=key,
            detail=detail,
        )
    return _result(
        session, alert_id, ActionKind.TASK_CREATED, applied, task=task_view(session, task)
    )


def log_task_done(
    session: Session, *, alert_id: int, actor: str, now: datetime, key: str, task_id: int
) -> None:
    """Record on its alert that the alert's task was closed (``tools.tasks.close_task``)."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        return
    _ensure_followup(session, alert, now)
    detail = {"task_id": task_id}
    _log(session, alert, kind=ActionKind.TASK_DONE, actor=actor, now=now, key=key, detail=detail)


def log_note(
    session: Session, *, alert_id: int, actor: str, text: str, now: datetime, key: str
) -> ActionResult:
    """A note on the alert: an interaction of kind ``note`` on the account, once per ``key``."""
    if not text.strip():
        raise AlertActionError("write a note first")
    alert = churn_alert(session, alert_id=alert_id)
    _ensure_followup(session, alert, now)
    logged = log_interaction(
        session,
        account_id=int(alert.account_id or 0),
        kind="note",
        text=text,
        logged_by=actor,
        key=f"alert-note:{alert_id}:{key}",
        now=now,
    )
    if logged.created:
        _changed(
            session,
            alert_id,
            col(AlertFollowup.id).is_not(None),
            {"notes": AlertFollowup.notes + 1},
        )
        detail = {"interaction_id": logged.interaction_id}
        _log(
            session,
            alert,
            kind=ActionKind.NOTE_LOGGED,
            actor=actor,
            now=now,
            key=key,
            detail=detail,
        )
    return _result(session, alert_id, ActionKind.NOTE_LOGGED, logged.created, interaction=logged)
