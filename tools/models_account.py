"""SQLModel tables of the book of business as imported: accounts, contracts, contacts, usage,
features, tickets, NPS, invoices, interactions (and their enums). ``tools.models`` re-exports them.

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
