"""SQLModel tables: the CS book of business.

Conventions:
- every table has an integer surrogate key ``id``; imported entities also carry ``external_id``
  (unique), the key an import upserts by;
- datetimes are timezone-aware UTC (SQLModel's ``UTCDateTime``); calendar facts (contract
  dates, usage days, invoice dates) are plain ``date``;
- money is ``Decimal`` stored as NUMERIC(14, 2);
- per-account time-series tables are indexed on ``(account_id, <time column>)``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, Numeric, UniqueConstraint
from sqlmodel import Field, SQLModel

MONEY = Numeric(14, 2)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class Segment(StrEnum):
    ENTERPRISE = "enterprise"
    MID_MARKET = "mid-market"
    SMB = "smb"


class Lifecycle(StrEnum):
    ONBOARDING = "onboarding"
    ADOPTION = "adoption"
    MATURE = "mature"
    RENEWAL = "renewal"
    CHURNED = "churned"


class ContractStatus(StrEnum):
    ACTIVE = "active"
    RENEWED = "renewed"
    CHURNED = "churned"


class ContactRole(StrEnum):
    CHAMPION = "champion"
    DECISION_MAKER = "decision_maker"
    EXECUTIVE_SPONSOR = "executive_sponsor"
    ADMIN = "admin"
    USER = "user"


class Tier(StrEnum):
    STARTER = "starter"
    PRO = "pro"
    ENTERPRISE = "enterprise"


class TicketPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class TicketStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    SOLVED = "solved"
    CLOSED = "closed"


class SurveyKind(StrEnum):
    NPS = "nps"
    CSAT = "csat"


class InvoiceStatus(StrEnum):
    PAID = "paid"
    OPEN = "open"
    OVERDUE = "overdue"
    VOID = "void"


class InteractionKind(StrEnum):
    MEETING = "meeting"
    CALL = "call"
    EMAIL = "email"
    QBR = "qbr"
    NOTE = "note"


class Account(SQLModel, table=True):
    """A customer account."""

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(unique=True, index=True, max_length=128)
    name: str = Field(index=True, max_length=256)
    domain: str | None = Field(default=None, max_length=256)
    segment: str = Field(default=Segment.MID_MARKET.value, max_length=32)
    industry: str | None = Field(default=None, max_length=128)
    owner_email: str | None = Field(default=None, index=True, max_length=256)
    owner_slack_id: str | None = Field(default=None, index=True, max_length=32)
    lifecycle_stage: str = Field(default=Lifecycle.ADOPTION.value, max_length=32)
    tam_health: int | None = Field(default=None, ge=0, le=100)
    created_at: datetime = Field(default_factory=utcnow)


class Contract(SQLModel, table=True):
    """One contract term; an account's contracts form its commercial history."""

    __table_args__ = (Index("ix_contract_account_end", "account_id", "end_date"),)

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(unique=True, index=True, max_length=128)
    account_id: int = Field(foreign_key="account.id", ondelete="CASCADE")
    plan: str = Field(default=Tier.PRO.value, max_length=32)
    arr: Decimal = Field(default=Decimal("0"), sa_type=MONEY)
    seats_purchased: int = Field(default=0, ge=0)
    start_date: date
    end_date: date
    auto_renew: bool = False
    status: str = Field(default=ContractStatus.ACTIVE.value, max_length=32)


class Contact(SQLModel, table=True):
    """A person at the customer."""

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(unique=True, index=True, max_length=128)
    account_id: int = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=256)
    email: str | None = Field(default=None, max_length=256)
    role: str = Field(default=ContactRole.USER.value, max_length=32)
    last_engaged_at: datetime | None = None
    left_on: date | None = None


class UsageDaily(SQLModel, table=True):
    """Product usage of one account on one day."""

    __tablename__ = "usage_daily"
    __table_args__ = (UniqueConstraint("account_id", "day", name="uq_usage_daily_account_day"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", ondelete="CASCADE")
    day: date
    active_users: int = Field(default=0, ge=0)
    logins: int = Field(default=0, ge=0)


class Feature(SQLModel, table=True):
    """A product feature; ``events`` lists the raw event names that count as using it."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, index=True, max_length=128)
    name: str = Field(max_length=256)
    tier: str = Field(default=Tier.STARTER.value, max_length=32)
    benchmark_adoption: float = Field(default=0.5, ge=0, le=1)
    is_integration: bool = False
    events: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class FeatureUsage(SQLModel, table=True):
    """Use of one feature by one account over a period starting on ``day`` (daily or weekly)."""

    __tablename__ = "feature_usage"
    __table_args__ = (
        UniqueConstraint("account_id", "feature_id", "day", name="uq_feature_usage_key"),
        Index("ix_feature_usage_account_day", "account_id", "day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", ondelete="CASCADE")
    feature_id: int = Field(foreign_key="feature.id", ondelete="CASCADE")
    day: date
    users: int = Field(default=0, ge=0)
    events: int = Field(default=0, ge=0)


class Ticket(SQLModel, table=True):
    """A support ticket. ``sentiment`` runs from -1 (angry) to 1 (delighted)."""

    __table_args__ = (
        Index("ix_ticket_account_opened", "account_id", "opened_at"),
        # Covers the scan's per-account ticket aggregates (tools.facts.extract.support).
        Index(
            "ix_ticket_account_scan",
            "account_id",
            "opened_at",
            "closed_at",
            "escalated",
            "sentiment",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(unique=True, index=True, max_length=128)
    account_id: int = Field(foreign_key="account.id", ondelete="CASCADE")
    subject: str = Field(default="", max_length=1000)
    priority: str = Field(default=TicketPriority.NORMAL.value, max_length=16)
    status: str = Field(default=TicketStatus.OPEN.value, max_length=16)
    sentiment: float | None = Field(default=None, ge=-1, le=1)
    escalated: bool = False
    opened_at: datetime
    closed_at: datetime | None = None


class NpsResponse(SQLModel, table=True):
    """An NPS (0-10) or CSAT (1-5) survey answer."""

    __tablename__ = "nps_response"
    __table_args__ = (Index("ix_nps_account_responded", "account_id", "responded_at"),)

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(unique=True, index=True, max_length=128)
    account_id: int = Field(foreign_key="account.id", ondelete="CASCADE")
    contact_id: int | None = Field(default=None, foreign_key="contact.id", ondelete="SET NULL")
    kind: str = Field(default=SurveyKind.NPS.value, max_length=8)
    score: int = Field(ge=0, le=10)
    comment: str = Field(default="", max_length=4000)
    responded_at: datetime


class Invoice(SQLModel, table=True):
    """An invoice issued to an account."""

    __table_args__ = (Index("ix_invoice_account_due", "account_id", "due_on"),)

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(unique=True, index=True, max_length=128)
    account_id: int = Field(foreign_key="account.id", ondelete="CASCADE")
    issued_on: date
    due_on: date
    paid_on: date | None = None
    amount: Decimal = Field(sa_type=MONEY)
    status: str = Field(default=InvoiceStatus.OPEN.value, max_length=16)


class Interaction(SQLModel, table=True):
    """A touchpoint between the CS team and the account."""

    __table_args__ = (Index("ix_interaction_account_occurred", "account_id", "occurred_at"),)

    id: int | None = Field(default=None, primary_key=True)
    external_id: str = Field(unique=True, index=True, max_length=128)
    account_id: int = Field(foreign_key="account.id", ondelete="CASCADE")
    contact_id: int | None = Field(default=None, foreign_key="contact.id", ondelete="SET NULL")
    kind: str = Field(default=InteractionKind.EMAIL.value, max_length=16)
    occurred_at: datetime
    meaningful: bool = True
    summary: str = Field(default="", max_length=4000)
    logged_by: str | None = Field(default=None, max_length=64)
    """The Slack user who logged it from Slack (``/log``, the shortcut, an alert's note)."""


IMPORTED_TABLES: dict[str, type[SQLModel]] = {
    "accounts": Account,
    "contracts": Contract,
    "contacts": Contact,
    "usage_daily": UsageDaily,
    "features": Feature,
    "feature_usage": FeatureUsage,
    "tickets": Ticket,
    "nps": NpsResponse,
    "invoices": Invoice,
    "interactions": Interaction,
}


def as_row(model: SQLModel) -> dict[str, Any]:
    """A table row as a plain dict (for bulk inserts and JSON)."""
    return model.model_dump()


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
