"""SQLModel tables: the CS book of business (imported data in ``tools.models_account``, re-exported
here) and the bot's own state: snapshots, drafts, hand-offs, alerts, deliveries.

Conventions:
- every table has an integer surrogate key ``id``; imported entities also carry ``external_id``
  (unique), the key an import upserts by;
- datetimes are timezone-aware UTC (SQLModel's ``UTCDateTime``); calendar facts (contract
  dates, usage days, invoice dates) are plain ``date``;
- money is ``Decimal`` stored as NUMERIC(14, 2);
- per-account time-series tables are indexed on ``(account_id, <time column>)``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from tools.models_account import (
    IMPORTED_TABLES,
    MONEY,
    Account,
    Contact,
    ContactRole,
    Contract,
    ContractStatus,
    Feature,
    FeatureUsage,
    Interaction,
    InteractionKind,
    Invoice,
    InvoiceStatus,
    Lifecycle,
    NpsResponse,
    Segment,
    SurveyKind,
    Ticket,
    TicketPriority,
    TicketStatus,
    Tier,
    UsageDaily,
    as_row,
    utcnow,
)

__all__ = [
    "IMPORTED_TABLES",
    "MONEY",
    "Account",
    "Alert",
    "AlertKind",
    "AlertStatus",
    "ChurnTriggerRecord",
    "Contact",
    "ContactRole",
    "Contract",
    "ContractStatus",
    "Conversation",
    "Feature",
    "FeatureUsage",
    "HandoffEvent",
    "HandoffProposal",
    "HandoffStatus",
    "HealthSnapshot",
    "Interaction",
    "InteractionKind",
    "Invoice",
    "InvoiceStatus",
    "Lifecycle",
    "NarrativeRecord",
    "NpsResponse",
    "ProcessedEvent",
    "QbrDocumentRecord",
    "QbrDraft",
    "QbrDraftStatus",
    "Segment",
    "SurveyKind",
    "Ticket",
    "TicketPriority",
    "TicketStatus",
    "Tier",
    "UsageDaily",
    "as_row",
    "utcnow",
]


class HealthSnapshot(SQLModel, table=True):
    """The health score, band and churn level of one account on one day (one row a day)."""

    __tablename__ = "health_snapshot"
    __table_args__ = (
        UniqueConstraint("account_id", "day", name="uq_health_snapshot_account_day"),
        Index("ix_health_snapshot_day", "day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", ondelete="CASCADE")
    day: date
    score: float
    band: str = Field(max_length=8)
    churn_level: str = Field(default="low", max_length=8)
    signals: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    drivers: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    computed_at: datetime = Field(default_factory=utcnow)
    # The contract in force on ``day`` as the scan read it through the metric layer, for App
    # Home's book (``tools.home_book``). NULL in rows written before migration 0016.
    arr: Decimal | None = Field(default=None, sa_type=MONEY)
    seats_purchased: int | None = None
    plan: str | None = Field(default=None, max_length=32)
    renewal_date: date | None = None
    tenure_days: int | None = Field(default=None, description="Days since the first contract.")


class ChurnTriggerRecord(SQLModel, table=True):
    """A churn-risk trigger that fired for an account on a day."""

    __tablename__ = "churn_trigger"
    __table_args__ = (
        UniqueConstraint("account_id", "day", "key", name="uq_churn_trigger_account_day_key"),
        Index("ix_churn_trigger_day", "day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", ondelete="CASCADE")
    day: date
    key: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    label: str = Field(max_length=256)
    evidence: str = Field(default="", max_length=2000)
    severity: str = Field(max_length=8)


# --- Claude agent (issue 5): conversations, QBR drafts, hand-off proposals -------------------


class QbrDraftStatus(StrEnum):
    DRAFT = "draft"
    DISCARDED = "discarded"
    PUBLISHED = "published"


class HandoffStatus(StrEnum):
    """proposed -> approved -> sent -> accepted | declined; proposed/approved -> dismissed."""

    PROPOSED = "proposed"
    APPROVED = "approved"
    SENT = "sent"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    DISMISSED = "dismissed"


class Conversation(SQLModel, table=True):
    """One Claude conversation, keyed by its Slack thread; ``messages`` is the API transcript."""

    id: int | None = Field(default=None, primary_key=True)
    thread_key: str = Field(unique=True, index=True, max_length=255)
    user_id: str | None = Field(default=None, max_length=64)
    messages: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    cache_read_tokens: int = Field(default=0, ge=0)
    cache_write_tokens: int = Field(default=0, ge=0)
    model_calls: int = Field(default=0, ge=0)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class QbrDraft(SQLModel, table=True):
    """One version of an account's QBR draft; a revision is a new row with the next version."""

    __tablename__ = "qbr_draft"
    __table_args__ = (UniqueConstraint("account_id", "version", name="uq_qbr_draft_version"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    version: int = Field(ge=1)
    sections: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=QbrDraftStatus.DRAFT.value, max_length=16)
    thread_key: str | None = Field(default=None, max_length=255)
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class HandoffProposal(SQLModel, table=True):
    """An expansion hand-off proposed to Sales; a person approves it before anything is sent.

    ``open_key`` is ``{account_id}:{kind}`` while the hand-off is open (proposed, approved, sent)
    and is cleared when it closes, so the unique constraint allows one open hand-off per account
    and opportunity type, and any number of closed ones. The lifecycle is in tools/handoff/.
    """

    __tablename__ = "handoff_proposal"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=32)
    key: str = Field(index=True, max_length=255)
    open_key: str | None = Field(default=None, unique=True, max_length=255)
    title: str = Field(default="", max_length=500)
    evidence: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    estimated_arr: Decimal = Field(default=Decimal("0"), sa_type=MONEY)
    talk_track: str = Field(default="", max_length=4000)
    status: str = Field(default=HandoffStatus.PROPOSED.value, max_length=16)
    thread_key: str | None = Field(default=None, max_length=255)
    proposed_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    # issue 8: the hand-off lifecycle (migration 0007 adds these columns)
    source: str = Field(default="agent", max_length=16)
    formula: str = Field(default="", max_length=1000)
    owner_slack_id: str | None = Field(default=None, max_length=32)
    approved_by: str | None = Field(default=None, max_length=64)
    sales_channel: str | None = Field(default=None, max_length=64)
    sales_ts: str | None = Field(default=None, max_length=32)
    sales_rep: str | None = Field(default=None, max_length=64)
    notion_status: str = Field(default="none", max_length=16)
    notion_page_id: str | None = Field(default=None, max_length=64)
    notion_attempts: int = Field(default=0, ge=0)
    notion_error: str | None = Field(default=None, max_length=500)
    updated_at: datetime | None = None


# --- Slack app (issue 4): idempotent event handling ---------------------------------------------


class ProcessedEvent(SQLModel, table=True):
    """A Slack event already handled: a retry with the same ``event_id`` is skipped."""

    __tablename__ = "processed_event"

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True, index=True, max_length=64)
    received_at: datetime = Field(default_factory=utcnow, index=True)


# --- QBR documents and Notion publishing (issue 7) ---------------------------------------------


class QbrDocumentRecord(SQLModel, table=True):
    """The structured QBR document behind a draft version (numbers, narratives, quarter)."""

    __tablename__ = "qbr_document"

    id: int | None = Field(default=None, primary_key=True)
    draft_id: int = Field(foreign_key="qbr_draft.id", unique=True, ondelete="CASCADE")
    account_id: int = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    quarter: str = Field(max_length=16)
    as_of: date
    document: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


# --- Scheduled jobs (issue 6): alerts claimed exactly once -------------------------------------


class AlertKind(StrEnum):
    CHURN = "churn_alert"
    CHURN_COPY = "churn_alert_copy"
    """A subscriber's DM copy of a churn alert (issue 14); its buttons act on the original."""
    QBR_QUARTERLY = "qbr_quarterly"
    QBR_T90 = "qbr_t90"
    DIGEST = "digest"
    HANDOFF_PROPOSAL = "handoff_proposal"
    BOOK_STATE = "book_state"
    """The "state of your book" DM: an owner's first message, and after a downtime."""
    BOOK_TODAY = "book_today"
    """The daily "your book today" DM gathering an owner's QBR-due and proposal items."""
    DAILY_RUN = "daily_run"
    """A marker: the daily scan delivered on this day (how a catch-up after downtime is seen)."""
    NOTION_QBR = "notion_qbr"
    """A QBR draft version's Notion page (the "Publish to Notion" button)."""
    NOTION_TASK = "notion_task"
    """A follow-up task's Notion page (an alert's "Create task" with a task database)."""
    NOTION_TASK_STATUS = "notion_task_status"
    """A closed task's Notion page set to Done."""
    NOTION_HANDOFF = "notion_handoff"
    """An approved expansion hand-off's page in the Notion task database."""
    HANDOFF_SALES = "handoff_sales"
    """An approved expansion hand-off's card in the sales channel (``tools.handoff.delivery``)."""
    HANDOFF_NOTICE = "handoff_notice"
    """The CSM's DM that Sales accepted or declined a hand-off."""


class AlertStatus(StrEnum):
    CLAIMED = "claimed"
    POSTED = "posted"
    FAILED = "failed"
    HELD = "held"
    """An item (a capped churn alert, a T-90 QBR, a proposal) riding in a book message that is
    not posted yet (its payload's ``via`` names the book): posted with it, released if it fails."""


class Alert(SQLModel, table=True):
    """The delivery ledger: one outbound write (a Slack message or a Notion page), claimed under
    a unique ``key`` before it is sent (``tools.alerts.ledger``).

    ``key`` is ``kind:account:period`` (``churn_alert:17:2026-11-21``, ``qbr_t90:17:ctr-9``,
    ``digest:-:2026-W47``): a non-null unique string, so a portfolio-wide alert (no account) is
    as unique as a per-account one. ``payload`` holds the rendered message, so a retry after a
    crash posts exactly what was claimed. ``level``/``band``/``triggers`` snapshot the churn state
    that was alerted, for "did it get worse?" comparisons. A Slack message is recorded by
    ``channel``/``message_ts``; a Notion page by ``external_id``/``external_url``. A claim whose
    send failed waits for ``next_attempt_at``; one without it belongs to its claimer for the lease.
    """

    __table_args__ = (
        Index("ix_alert_kind_account", "kind", "account_id"),
        Index("ix_alert_status_claimed", "status", "claimed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, index=True, max_length=255)
    kind: str = Field(max_length=32)
    account_id: int | None = Field(default=None, foreign_key="account.id", ondelete="CASCADE")
    period: str = Field(max_length=128)
    status: str = Field(default=AlertStatus.CLAIMED.value, max_length=16)
    level: str | None = Field(default=None, max_length=8)
    band: str | None = Field(default=None, max_length=8)
    score: float | None = None
    triggers: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    channel: str | None = Field(default=None, max_length=64)
    message_ts: str | None = Field(default=None, max_length=32)
    reply_ts: str | None = Field(default=None, max_length=32)
    claimed_by: str = Field(default="", max_length=128)
    claimed_at: datetime = Field(default_factory=utcnow)
    posted_at: datetime | None = None
    attempts: int = Field(default=0, ge=0)
    last_error: str | None = Field(default=None, max_length=1000)
    next_attempt_at: datetime | None = None
    external_id: str | None = Field(default=None, max_length=64)
    external_url: str | None = Field(default=None, max_length=500)


# --- Expansion hand-offs to Sales (issue 8): the timeline of each hand-off ---------------------


class HandoffEvent(SQLModel, table=True):
    """One step in a hand-off's life: proposed, edited, approved, dispatched, accepted, ...

    ``kind`` is ``proposed | edited | approved | dispatch_expansion_handoff | notion_written |
    notion_failed | accepted | declined | dismissed``; ``detail`` holds what changed.
    """

    __tablename__ = "handoff_event"

    id: int | None = Field(default=None, primary_key=True)
    handoff_id: int = Field(foreign_key="handoff_proposal.id", index=True, ondelete="CASCADE")
    account_id: int = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=40)
    actor: str | None = Field(default=None, max_length=64)
    at: datetime = Field(default_factory=utcnow)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


# --- Alert follow-ups (issue 14): tables live in their own module, registered here ------------

from tools import models_followup as _followup  # noqa: E402,F401  (registers its tables)

# --- Narratives written by Claude (issue 15): cached per account, day and evidence ------------


class NarrativeRecord(SQLModel, table=True):
    """Prose written for one account from one set of evidence (an alert, a QBR's sections).

    ``evidence_hash`` is the SHA-256 of the evidence the writer was given: the same evidence on
    the same day is never sent to the model twice. ``texts`` maps each part (``narrative``,
    ``executive_summary``, ``health_summary``…) to its text and ``sources`` to who wrote it
    (``claude`` after the number check passed, or ``template``).
    """

    __tablename__ = "narrative"
    __table_args__ = (
        UniqueConstraint("account_id", "kind", "day", "evidence_hash", name="uq_narrative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # None for prose about no one account on no one day (a voice-of-the-customer theme's label)
    account_id: int | None = Field(
        default=None, foreign_key="account.id", index=True, ondelete="CASCADE"
    )
    kind: str = Field(max_length=32)
    day: date | None = None
    evidence_hash: str = Field(max_length=64)
    texts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    sources: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    rejected: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    model: str | None = Field(default=None, max_length=64)
    model_calls: int = Field(default=0, ge=0)
    created_at: datetime = Field(default_factory=utcnow)


# --- Figures cached per daily scan (issue 12): their own module, registered here -------------

from tools import models_cache as _cache  # noqa: E402,F401  (registers its tables)
