"""Follow-up tasks: listed in App Home until someone closes them; mirrored to Notion when a task
database is configured.

A task's Notion page and, once it is closed, the page's status are deliveries in the one
delivery ledger (``tools.outbox``): queued in the transaction that creates or closes the task,
written once by ``bot.notion``, retried by the Notion job when Notion is down.

Closing is a conditional update (``open`` → ``done``), so a double click, a Slack retry or two
replicas close it once: only the request that changed it logs it on the alert and queues the
Notion status.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from tools import outbox
from tools.alert_actions import TaskView, log_task_done, task_view
from tools.models import Account
from tools.models_followup import AccountTask, TaskStatus

NOTION_DONE = "Done"
"""The Notion status a closed task's page gets."""


class TaskClosed(BaseModel):
    """The outcome of closing a task: whether this request closed it, and the task after it."""

    applied: bool
    task: TaskView
    status_delivery: int | None = None
    """The queued Notion status delivery, when this request closed a task with a page."""


class TaskNotFoundError(LookupError):
    """No task with that id."""


def open_tasks_for(session: Session, *, user_id: str, limit: int = 10) -> list[TaskView]:
    """Open tasks assigned to ``user_id`` or on accounts they own, newest first."""
    owned = select(col(Account.id)).where(col(Account.owner_slack_id) == user_id)
    stmt = (
        select(AccountTask)
        .where(
            col(AccountTask.status) == TaskStatus.OPEN.value,
            or_(col(AccountTask.assignee) == user_id, col(AccountTask.account_id).in_(owned)),
        )
        .order_by(col(AccountTask.created_at).desc(), col(AccountTask.id).desc())
        .limit(limit)
    )
    return [task_view(session, t) for t in session.execute(stmt).scalars()]


def close_task(
    session: Session, *, task_id: int, actor: str, now: datetime, key: str
) -> TaskClosed:
    """Mark the task done once; the caller has checked the permission policy. Does not commit.

    ``key`` identifies the request (Slack's ``action_ts``), so a retried request logs nothing new.
    """
    stmt = (
        update(AccountTask)
        .where(col(AccountTask.id) == task_id, col(AccountTask.status) == TaskStatus.OPEN.value)
        .values(status=TaskStatus.DONE.value, closed_by=actor[:64], closed_at=now)
        .execution_options(synchronize_session=False)
    )
    applied = int(getattr(session.execute(stmt), "rowcount", 0) or 0) == 1
    session.expire_all()
    task = session.get(AccountTask, task_id)
    if task is None:
        raise TaskNotFoundError(f"no task with id {task_id}")
    delivery = None
    if applied:
        if outbox.task_page(session, task) is not None:
            queued = outbox.enqueue(session, outbox.task_status_claim(task, NOTION_DONE), now=now)
            delivery = queued.id
        if task.alert_id is not None:
            log_task_done(
                session, alert_id=task.alert_id, actor=actor, now=now, key=key, task_id=task_id
            )
        session.flush()
    return TaskClosed(applied=applied, task=task_view(session, task), status_delivery=delivery)
