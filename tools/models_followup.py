"""Tables for what happens after an alert (issue 14): follow-ups, actions, tasks, subscriptions.

- ``alert_followup``: one row per churn alert, the state people put it in (acknowledged,
  snoozed until, assigned to, task) and its outcome (churned / renewed). The alert policy
  reads it to suppress re-alerts; ``csbot alerts stats`` reads it for precision and time to
  first action.
- ``alert_action``: the log of who did what to an alert and when (shown on the alert message).
- ``account_task``: a follow-up task, created from an alert (one per alert: ``key`` is unique),
  listed in App Home until someone closes it; its Notion page (when a task database is
  configured) is a row of the delivery ledger (``tools.outbox``), not columns here.
- ``alert_subscription``: who wants which churn alerts, delivered how.

Registered on ``SQLModel.metadata`` by ``tools.models`` (which imports this module).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from tools.models import utcnow


class ActionKind(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    ASSIGNED = "assigned"
    TASK_CREATED = "task_created"
    TASK_DONE = "task_done"
    NOTE_LOGGED = "note_logged"


class AlertOutcome(StrEnum):
    CHURNED = "churned"
    RENEWED = "renewed"


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


class NotionWrite(StrEnum):
    """A task's Notion page as surfaces show it (derived from its delivery-ledger row)."""

    NONE = "none"
    PENDING = "pending"
    WRITTEN = "written"
    FAILED = "failed"


class Delivery(StrEnum):
    DM = "dm"
    CHANNEL = "channel"


class AlertFollowup(SQLModel, table=True):
    """What people did about one churn alert, and what became of the account."""

    __tablename__ = "alert_followup"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", unique=True, ondelete="CASCADE")
    account_id: int = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    acknowledged_by: str | None = Field(default=None, max_length=64)
    acknowledged_at: datetime | None = None
    snoozed_by: str | None = Field(default=None, max_length=64)
    snoozed_days: int | None = Field(default=None, ge=1)
    snoozed_until: datetime | None = None
    assignee: str | None = Field(default=None, max_length=64)
    assigned_by: str | None = Field(default=None, max_length=64)
    task_id: int | None = None
    notes: int = Field(default=0, ge=0)
    first_action: str | None = Field(default=None, max_length=32)
    first_action_at: datetime | None = None
    outcome: str | None = Field(default=None, max_length=16)
    outcome_on: date | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class AlertAction(SQLModel, table=True):
    """One thing a person did to an alert (the timeline shown on the message)."""

    __tablename__ = "alert_action"
    __table_args__ = (Index("ix_alert_action_alert_at", "alert_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=255)
    alert_id: int = Field(foreign_key="alert.id", ondelete="CASCADE")
    account_id: int = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=32)
    actor: str = Field(max_length=64)
    at: datetime = Field(default_factory=utcnow)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class AccountTask(SQLModel, table=True):
    """A follow-up task on an account (from an alert's "Create task")."""

    __tablename__ = "account_task"
    __table_args__ = (Index("ix_account_task_status_assignee", "status", "assignee"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=255)
    account_id: int = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    alert_id: int | None = Field(default=None, foreign_key="alert.id", ondelete="SET NULL")
    title: str = Field(max_length=500)
    detail: str = Field(default="", max_length=4000)
    status: str = Field(default=TaskStatus.OPEN.value, max_length=16)
    created_by: str = Field(max_length=64)
    assignee: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    closed_by: str | None = Field(default=None, max_length=64)
    closed_at: datetime | None = None


class AlertSubscription(SQLModel, table=True):
    """A person's wish to receive churn alerts: ``scope`` is ``mine``, ``segment:<name>`` or
    ``all``; ``delivery`` is ``dm`` or ``channel`` (``channel`` only means something for
    ``mine``: the owner's own alerts stay in the routed channel rather than their DM)."""

    __tablename__ = "alert_subscription"
    __table_args__ = (UniqueConstraint("user_id", "scope", name="uq_alert_subscription_user"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: str = Field(index=True, max_length=64)
    scope: str = Field(max_length=160)
    delivery: str = Field(default=Delivery.DM.value, max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
