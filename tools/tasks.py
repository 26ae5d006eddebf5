"""Follow-up tasks: listed in App Home, and written to Notion once when a task database is set.

The Notion write goes through the same outbox discipline as hand-off tasks: ``pending`` is
claimed (``writing``, attempts + 1) by one writer, which settles it ``written`` (page id kept)
or back to ``pending`` (``failed`` after ``MAX_NOTION_ATTEMPTS``). A ``writing`` claim older
than ``LEASE`` belongs to a writer that died and may be claimed again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, update
from sqlmodel import Session, col, select

from tools.alert_actions import TaskView, task_view
from tools.models import Account
from tools.models_followup import AccountTask, NotionWrite, TaskStatus

MAX_NOTION_ATTEMPTS = 5
LEASE = timedelta(minutes=10)


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


def _claimable(now: datetime) -> object:
    return or_(
        col(AccountTask.notion_status) == NotionWrite.PENDING.value,
        and_(
            col(AccountTask.notion_status) == NotionWrite.WRITING.value,
            col(AccountTask.notion_claimed_at) < now - LEASE,
        ),
    )


def claim_notion_write(session: Session, *, task_id: int, now: datetime) -> bool:
    """pending -> writing for one writer; False when someone else has it or it is done."""
    stmt = (
        update(AccountTask)
        .where(col(AccountTask.id) == task_id, _claimable(now))  # type: ignore[arg-type]
        .values(
            notion_status=NotionWrite.WRITING.value,
            notion_attempts=col(AccountTask.notion_attempts) + 1,
            notion_claimed_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    changed = int(getattr(session.execute(stmt), "rowcount", 0) or 0) == 1
    session.expire_all()
    return changed


def record_notion_result(
    session: Session, *, task_id: int, page_id: str | None, error: str | None = None
) -> None:
    """Settle a claimed write: written, or pending again (failed after too many attempts)."""
    task = session.get(AccountTask, task_id)
    if task is None:
        return
    if page_id is not None:
        task.notion_status, task.notion_page_id, task.notion_error = "written", page_id, None
    else:
        gave_up = task.notion_attempts >= MAX_NOTION_ATTEMPTS
        task.notion_status = (NotionWrite.FAILED if gave_up else NotionWrite.PENDING).value
        task.notion_error = (error or "unknown error")[:500]
    session.add(task)
    session.flush()


def pending_notion_tasks(session: Session, *, now: datetime, limit: int = 50) -> list[int]:
    """Ids of tasks whose Notion page is still to be written, oldest first."""
    stmt = (
        select(col(AccountTask.id))
        .where(_claimable(now))  # type: ignore[arg-type]
        .order_by(col(AccountTask.created_at), col(AccountTask.id))
        .limit(limit)
    )
    return [int(i) for i in session.execute(stmt).scalars() if i is not None]
