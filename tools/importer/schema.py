"""The file format of ``csbot import``: one ``Entity`` per importable file, its columns and key.

docs/data-format.md describes the same format for people; raw product events (``events``) have no
table of their own: ``tools.importer.events`` folds them into daily usage and feature usage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table
from sqlmodel import SQLModel

from tools import models
from tools.importer.parse import (
    MAX_FIELD_CHARS,
    Parser,
    boolean,
    choice,
    day,
    integer,
    money,
    number,
    string_list,
    text,
    timestamp,
)

ACCOUNT, CONTACT, FEATURE = "account", "contact", "feature"
EVENTS = "events"
REF_FILES = {ACCOUNT: "accounts", CONTACT: "contacts", FEATURE: "features"}
"""The file that defines each kind of reference."""


@dataclass(frozen=True)
class Column:
    """One column of an input file."""

    name: str
    parse: Parser
    required: bool = False
    ref: str | None = None
    """When set, the value is the external id of an ``account``, ``contact`` or ``feature``."""
    db_name: str | None = None

    @property
    def target(self) -> str:
        return self.db_name or self.name


Check = Callable[[dict[str, Any]], list[tuple[str, str]]]


@dataclass(frozen=True)
class Entity:
    """One importable file type: its table, its columns and the columns that identify a row."""

    name: str
    model: type[SQLModel]
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    check: Check | None = None

    @property
    def table(self) -> Table:
        return cast(Table, self.model.__table__)  # type: ignore[attr-defined]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


MULTILINE_FROM = 1000
"""Text columns this long or longer (subjects, comments, summaries) may hold line breaks."""


def _text(model: type[SQLModel], name: str, *, required: bool = False) -> Column:
    length = cast(Table, model.__table__).c[name].type.length  # type: ignore[attr-defined]
    limit = length or MAX_FIELD_CHARS
    return Column(name, text(limit, multiline=limit >= MULTILINE_FROM), required=required)


def _id(model: type[SQLModel], name: str = "external_id") -> Column:
    return _text(model, name, required=True)


def _account_ref() -> Column:
    return Column("account_id", text(128), required=True, ref=ACCOUNT)


def _contact_ref() -> Column:
    return Column("contact_id", text(128), ref=CONTACT)


def _not_before(later: str, earlier: str) -> Check:
    def check(record: dict[str, Any]) -> list[tuple[str, str]]:
        end, start = record.get(later), record.get(earlier)
        if end is not None and start is not None and end < start:
            return [(later, f"is before {earlier}")]
        return []

    return check


def _csat_range(record: dict[str, Any]) -> list[tuple[str, str]]:
    score = record.get("score")
    if record.get("kind") == models.SurveyKind.CSAT and score is not None and not 1 <= score <= 5:
        return [("score", "is outside 1-5, the CSAT scale")]
    return []


M = models
ENTITIES: tuple[Entity, ...] = (
    Entity(
        "accounts",
        M.Account,
        ("external_id",),
        (
            _id(M.Account),
            _text(M.Account, "name", required=True),
            _text(M.Account, "domain"),
            Column("segment", choice(M.Segment)),
            _text(M.Account, "industry"),
            _text(M.Account, "owner_email"),
            _text(M.Account, "owner_slack_id"),
            Column("lifecycle_stage", choice(M.Lifecycle)),
            Column("tam_health", integer(minimum=0, maximum=100)),
        ),
    ),
    Entity(
        "features",
        M.Feature,
        ("key",),
        (
            _id(M.Feature, "key"),
            _text(M.Feature, "name", required=True),
            Column("tier", choice(M.Tier)),
            Column("benchmark_adoption", number(minimum=0, maximum=1)),
            Column("is_integration", boolean),
            Column("events", string_list),
        ),
    ),
    Entity(
        "contacts",
        M.Contact,
        ("external_id",),
        (
            _id(M.Contact),
            _account_ref(),
            _text(M.Contact, "name", required=True),
            _text(M.Contact, "email"),
            Column("role", choice(M.ContactRole)),
            Column("last_engaged_at", timestamp),
            Column("left_on", day),
        ),
    ),
    Entity(
        "contracts",
        M.Contract,
        ("external_id",),
        (
            _id(M.Contract),
            _account_ref(),
            Column("plan", choice(M.Tier)),
            Column("arr", money),
            Column("seats_purchased", integer(minimum=0)),
            Column("start_date", day, required=True),
            Column("end_date", day, required=True),
            Column("auto_renew", boolean),
            Column("status", choice(M.ContractStatus)),
        ),
        _not_before("end_date", "start_date"),
    ),
    Entity(
        "usage_daily",
        M.UsageDaily,
        ("account_id", "day"),
        (
            _account_ref(),
            Column("day", day, required=True),
            Column("active_users", integer(minimum=0)),
            Column("logins", integer(minimum=0)),
        ),
    ),
    Entity(
        "feature_usage",
        M.FeatureUsage,
        ("account_id", "feature_key", "day"),
        (
            _account_ref(),
            Column("feature_key", text(128), required=True, ref=FEATURE, db_name="feature_id"),
            Column("day", day, required=True),
            Column("users", integer(minimum=0)),
            Column("events", integer(minimum=0)),
        ),
    ),
    Entity(
        "tickets",
        M.Ticket,
        ("external_id",),
        (
            _id(M.Ticket),
            _account_ref(),
            _text(M.Ticket, "subject"),
            Column("priority", choice(M.TicketPriority)),
            Column("status", choice(M.TicketStatus)),
            Column("sentiment", number(minimum=-1, maximum=1)),
            Column("escalated", boolean),
            Column("opened_at", timestamp, required=True),
            Column("closed_at", timestamp),
        ),
        _not_before("closed_at", "opened_at"),
    ),
    Entity(
        "nps",
        M.NpsResponse,
        ("external_id",),
        (
            _id(M.NpsResponse),
            _account_ref(),
            _contact_ref(),
            Column("kind", choice(M.SurveyKind)),
            Column("score", integer(minimum=0, maximum=10), required=True),
            _text(M.NpsResponse, "comment"),
            Column("responded_at", timestamp, required=True),
        ),
        _csat_range,
    ),
    Entity(
        "invoices",
        M.Invoice,
        ("external_id",),
        (
            _id(M.Invoice),
            _account_ref(),
            Column("issued_on", day, required=True),
            Column("due_on", day, required=True),
            Column("paid_on", day),
            Column("amount", money, required=True),
            Column("status", choice(M.InvoiceStatus)),
        ),
        _not_before("due_on", "issued_on"),
    ),
    Entity(
        "interactions",
        M.Interaction,
        ("external_id",),
        (
            _id(M.Interaction),
            _account_ref(),
            _contact_ref(),
            Column("kind", choice(M.InteractionKind)),
            Column("occurred_at", timestamp, required=True),
            Column("meaningful", boolean),
            _text(M.Interaction, "summary"),
        ),
    ),
)
ENTITY_ORDER: tuple[str, ...] = tuple(e.name for e in ENTITIES)
"""Entity names in the order they are validated and written (dependencies first)."""
BY_NAME = {e.name: e for e in ENTITIES}
EVENT_COLUMNS = ("account_id", "timestamp", "event", "user_id", "quantity")
EVENT_REQUIRED = ("account_id", "timestamp", "event")

assert set(ENTITY_ORDER) == set(models.IMPORTED_TABLES), "importer and models disagree"
