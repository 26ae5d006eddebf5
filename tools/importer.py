"""Validated import of a folder of CSV/JSONL files (``csbot import DIR``).

The format is documented in docs/data-format.md. The import runs in one transaction and two
passes: first every file is read and validated (the database is only read, to resolve references);
if anything is wrong, ``ImportValidationError`` lists the problems and nothing is written.
Otherwise rows are upserted in dependency order with SQLAlchemy Core (``INSERT ... ON CONFLICT``
on SQLite and PostgreSQL), rows whose values did not change are not written at all, and an
``ImportReport`` counts what was inserted, updated and left unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert
from sqlmodel import SQLModel

from tools import models
from tools.db import SessionFactory, session_scope
from tools.importer_parse import (
    INT_MAX,
    MAX_FIELD_CHARS,
    CellError,
    ErrorLog,
    Parser,
    ProgressCallback,
    RowError,
    boolean,
    choice,
    day,
    integer,
    is_blank,
    money,
    number,
    open_records,
    show,
    string_list,
    text,
    timestamp,
)

__all__ = [
    "ENTITY_ORDER",
    "EntityCounts",
    "ImportReport",
    "ImportValidationError",
    "ProgressCallback",
    "RowError",
    "import_directory",
]

MAX_ERRORS = 50
EVENTS = "events"
LOGIN_EVENT = "login"
_KEY_CHUNK = 500


class ImportValidationError(Exception):
    """The input has problems; ``errors`` holds the first ones, ``total`` counts all of them."""

    def __init__(self, errors: list[RowError], total: int | None = None) -> None:
        self.errors = errors
        self.total = len(errors) if total is None else total
        super().__init__(f"{self.total} problem(s) found in the import; nothing was written")


@dataclass
class EntityCounts:
    """What an import did to one entity's rows."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged


@dataclass
class ImportReport:
    """The outcome of a successful import."""

    counts: dict[str, EntityCounts] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)
    event_rows: int = 0
    shifted_days: int = 0
    """Days every date was moved by (``shift_to``); 0 when the dates were kept."""
    newest_activity: date | None = None
    """The newest activity date in the files, before any shift."""

    @property
    def changed(self) -> bool:
        return any(c.inserted or c.updated for c in self.counts.values())


# --- the file format ------------------------------------------------------------------------

ACCOUNT, CONTACT, FEATURE = "account", "contact", "feature"
_REF_FILES = {ACCOUNT: "accounts", CONTACT: "contacts", FEATURE: "features"}


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
_BY_NAME = {e.name: e for e in ENTITIES}
EVENT_COLUMNS = ("account_id", "timestamp", "event", "user_id", "quantity")
EVENT_REQUIRED = ("account_id", "timestamp", "event")

assert set(ENTITY_ORDER) == set(models.IMPORTED_TABLES), "importer and models disagree"


# --- public entry point -----------------------------------------------------------------------


def import_directory(
    *,
    sessions: SessionFactory,
    directory: Path,
    progress: ProgressCallback | None = None,
    max_errors: int = MAX_ERRORS,
    shift_to: date | None = None,
) -> ImportReport:
    """Validate every data file in ``directory`` and upsert it in one transaction.

    ``shift_to`` moves every date and timestamp by the same number of days so that the newest
    product usage (usage_daily, feature_usage, events; without usage: tickets, NPS, interactions,
    invoices) falls on that day: sample data then describes a live portfolio whatever the day it
    is imported.
    """
    log = ErrorLog(limit=max_errors)
    files, ignored = _find_files(directory, log)
    report = ImportReport(files=sorted(p.name for p in files.values()), ignored_files=ignored)
    _raise_if_errors(log)
    with session_scope(sessions) as session:
        conn = session.connection()
        batches, report.event_rows = _validate(conn, files, log, progress)
        _raise_if_errors(log)
        report.newest_activity = _newest_activity(batches)
        if shift_to is not None and report.newest_activity is not None:
            report.shifted_days = (shift_to - report.newest_activity).days
            _shift_dates(batches, report.shifted_days, log)
            _raise_if_errors(log)
        for batch in batches:
            counts = report.counts.setdefault(batch.entity.name, EntityCounts())
            _write(conn, batch, counts)
    return report


USAGE_COLUMNS: dict[str, tuple[str, ...]] = {"usage_daily": ("day",), "feature_usage": ("day",)}
ACTIVITY_COLUMNS: dict[str, tuple[str, ...]] = {
    "tickets": ("opened_at", "closed_at"),
    "nps": ("responded_at",),
    "invoices": ("issued_on", "paid_on"),
    "interactions": ("occurred_at",),
}
"""Columns that record something that happened (contract ends and due dates may lie ahead)."""


def _newest_activity(batches: list[_Batch]) -> date | None:
    """The newest usage day, or without usage the newest other activity."""
    return _newest(batches, USAGE_COLUMNS) or _newest(batches, ACTIVITY_COLUMNS)


def _newest(batches: list[_Batch], columns: dict[str, tuple[str, ...]]) -> date | None:
    newest: date | None = None
    for batch in batches:
        for name in columns.get(batch.entity.name, ()):
            for _, record in batch.records:
                value = record.get(name)
                if isinstance(value, datetime):
                    value = value.date()
                if isinstance(value, date) and (newest is None or value > newest):
                    newest = value
    return newest


def _shift_dates(batches: Iterable[_Batch], days: int, log: ErrorLog) -> None:
    """Move every date and timestamp of every record by ``days``."""
    delta = timedelta(days=days)
    for batch in batches:
        for line, record in batch.records:
            for name, value in record.items():
                if not isinstance(value, date):
                    continue
                try:
                    record[name] = value + delta
                except OverflowError:
                    reason = f"cannot be moved by {days:+,} days (out of range)"
                    log.add(RowError(batch.file, line or None, name, show(str(value)), reason))


def _raise_if_errors(log: ErrorLog) -> None:
    if log.total:
        raise ImportValidationError(log.errors, log.total)


def _find_files(directory: Path, log: ErrorLog) -> tuple[dict[str, Path], list[str]]:
    try:
        paths = sorted(directory.iterdir()) if directory.is_dir() else None
    except OSError as exc:
        reason = f"cannot be read ({exc.strerror or exc})"
        log.add(RowError(str(directory), None, None, None, reason))
        return {}, []
    if paths is None:
        log.add(RowError(str(directory), None, None, None, "is not a directory"))
        return {}, []
    found: dict[str, Path] = {}
    ignored: list[str] = []
    for path in paths:
        if not path.is_file() or path.suffix not in (".csv", ".jsonl"):
            continue
        if path.stem not in _BY_NAME and path.stem != EVENTS:
            ignored.append(path.name)
        elif path.stem in found:
            reason = f"give either {found[path.stem].name} or {path.name}, not both"
            log.add(RowError(path.name, None, None, None, reason))
        else:
            found[path.stem] = path
    if not found and not log.total:
        expected = ", ".join((*ENTITY_ORDER, EVENTS))
        log.add(RowError(str(directory), None, None, None, f"has no data files ({expected})"))
    return found, ignored


# --- validation pass --------------------------------------------------------------------------


@dataclass
class _Batch:
    """Validated rows of one entity from one file, ready to write."""

    entity: Entity
    file: str
    present: set[str]
    records: list[tuple[int, dict[str, Any]]]


@dataclass
class _Known:
    """External ids that exist in the database or in this import, per reference kind."""

    ids: dict[str, set[str]]
    feature_events: dict[str, list[str]]


def _load_known(conn: Connection) -> _Known:
    account, contact, feature = (
        e.table for e in (_BY_NAME["accounts"], _BY_NAME["contacts"], _BY_NAME["features"])
    )
    rows = conn.execute(select(feature.c.key, feature.c.events))
    events: dict[str, list[str]] = {key: list(names) for key, names in rows}
    return _Known(
        ids={
            ACCOUNT: set(conn.scalars(select(account.c.external_id))),
            CONTACT: set(conn.scalars(select(contact.c.external_id))),
            FEATURE: set(events),
        },
        feature_events=events,
    )


def _validate(
    conn: Connection, files: dict[str, Path], log: ErrorLog, progress: ProgressCallback | None
) -> tuple[list[_Batch], int]:
    known = _load_known(conn)
    batches: list[_Batch] = []
    for entity in ENTITIES:
        if entity.name in files:
            batch = _parse_file(entity, files[entity.name], known, log, progress)
            batches.append(batch)
    event_rows = 0
    if EVENTS in files:
        usage, feature_usage, event_rows = _aggregate_events(files[EVENTS], known, log, progress)
        _reject_overlap(usage, batches, log)
        _reject_overlap(feature_usage, batches, log)
        batches += [usage, feature_usage]
    order = {name: i for i, name in enumerate(ENTITY_ORDER)}
    batches.sort(key=lambda b: order[b.entity.name])
    return batches, event_rows


def _parse_file(
    entity: Entity, path: Path, known: _Known, log: ErrorLog, progress: ProgressCallback | None
) -> _Batch:
    source = open_records(
        path,
        columns=[c.name for c in entity.columns],
        required=[c.name for c in entity.columns if c.required],
        log=log,
        progress=progress,
    )
    records: list[tuple[int, dict[str, Any]]] = []
    first_line: dict[tuple[Any, ...], int] = {}
    for line, raw in source.rows:
        record, ok = _parse_record(entity, path.name, line, raw, known, log)
        key = tuple(record.get(k) for k in entity.key)
        if None not in key:
            if key in first_line:
                log.add(
                    RowError(
                        path.name,
                        line,
                        ", ".join(entity.key),
                        " / ".join(str(k) for k in key),
                        f"is a duplicate of line {first_line[key]}",
                    )
                )
                ok = False
            else:
                first_line[key] = line
        if ok:
            records.append((line, record))
    _learn_ids(entity, first_line, records, known)
    return _Batch(entity, path.name, source.present, records)


def _learn_ids(
    entity: Entity,
    keys: Iterable[tuple[Any, ...]],
    records: list[tuple[int, dict[str, Any]]],
    known: _Known,
) -> None:
    """Make the ids defined by this file available to the files that reference them."""
    kind = {"accounts": ACCOUNT, "contacts": CONTACT, "features": FEATURE}.get(entity.name)
    if kind is None:
        return
    known.ids[kind].update(key[0] for key in keys)
    if kind == FEATURE:
        for _, record in records:
            known.feature_events[record["key"]] = record.get("events") or []


def _parse_record(
    entity: Entity, file: str, line: int, raw: dict[str, Any], known: _Known, log: ErrorLog
) -> tuple[dict[str, Any], bool]:
    record: dict[str, Any] = {}
    ok = True
    for column in entity.columns:
        value = raw.get(column.name)
        if is_blank(value):
            if column.required:
                log.add(RowError(file, line, column.name, None, "is required"))
                ok = False
            elif column.name in raw:
                record[column.name] = None
            continue
        try:
            parsed = column.parse(value)
        except CellError as exc:
            log.add(RowError(file, line, column.name, show(value), exc.reason))
            ok = False
            continue
        if column.ref is not None and parsed not in known.ids[column.ref]:
            reason = (
                f"is not a known {column.ref} (not in {_REF_FILES[column.ref]} nor in the database)"
            )
            log.add(RowError(file, line, column.name, show(value), reason))
            ok = False
        record[column.name] = parsed
    if ok and entity.check is not None:
        for name, reason in entity.check(record):
            log.add(RowError(file, line, name, show(raw.get(name)), reason))
            ok = False
    return record, ok


def _reject_overlap(derived: _Batch, batches: list[_Batch], log: ErrorLog) -> None:
    """A day's usage comes either from the usage file or from events, never from both."""
    derived_keys = {tuple(r[k] for k in derived.entity.key) for _, r in derived.records}
    for batch in batches:
        if batch.entity is not derived.entity:
            continue
        for line, record in batch.records:
            key = tuple(record[k] for k in batch.entity.key)
            if key in derived_keys:
                log.add(
                    RowError(
                        batch.file,
                        line,
                        ", ".join(batch.entity.key),
                        " / ".join(str(k) for k in key),
                        f"is also computed from {derived.file}; give it in one place only",
                    )
                )


# --- raw product events -----------------------------------------------------------------------

_quantity = integer(minimum=0)


@dataclass
class _EventTotals:
    users: dict[tuple[str, date], set[str]] = field(default_factory=dict)
    logins: dict[tuple[str, date], int] = field(default_factory=dict)
    feature_users: dict[tuple[str, str, date], set[str]] = field(default_factory=dict)
    feature_events: dict[tuple[str, str, date], int] = field(default_factory=dict)


def _aggregate_events(
    path: Path, known: _Known, log: ErrorLog, progress: ProgressCallback | None
) -> tuple[_Batch, _Batch, int]:
    """Fold raw events into daily usage and daily feature usage (UTC days)."""
    source = open_records(
        path, columns=EVENT_COLUMNS, required=EVENT_REQUIRED, log=log, progress=progress
    )
    features_of: dict[str, list[str]] = {}
    for feature_key, names in known.feature_events.items():
        for name in names:
            features_of.setdefault(name, []).append(feature_key)
    accounts = known.ids[ACCOUNT]
    totals = _EventTotals()
    rows = 0
    for line, raw in source.rows:
        rows += 1
        event = _parse_event(path.name, line, raw, accounts, log)
        if event is not None:
            _add_event(totals, features_of, *event)
    _check_totals(path.name, totals, log)
    usage = _Batch(_BY_NAME["usage_daily"], path.name, set(), [])
    usage.present = {"account_id", "day", "active_users", "logins"}
    for (account, when), users in totals.users.items():
        record = {
            "account_id": account,
            "day": when,
            "active_users": len(users),
            "logins": totals.logins.get((account, when), 0),
        }
        usage.records.append((0, record))
    feature_usage = _Batch(_BY_NAME["feature_usage"], path.name, set(), [])
    feature_usage.present = {"account_id", "feature_key", "day", "users", "events"}
    for (account, feature_key, when), count in totals.feature_events.items():
        users = totals.feature_users.get((account, feature_key, when), set())
        record = {
            "account_id": account,
            "feature_key": feature_key,
            "day": when,
            "users": len(users),
            "events": count,
        }
        feature_usage.records.append((0, record))
    return usage, feature_usage, rows


def _check_totals(file: str, totals: _EventTotals, log: ErrorLog) -> None:
    """A day's summed quantities must still fit the database's INTEGER columns."""
    sums: list[tuple[tuple[Any, ...], int]] = [*totals.logins.items()]
    sums += totals.feature_events.items()
    for key, total in sums:
        if total > INT_MAX:
            where = " / ".join(str(k) for k in key)
            reason = f"adds up to {total:,} for {where}, above {INT_MAX:,}"
            log.add(RowError(file, None, "quantity", None, reason))


def _parse_event(
    file: str, line: int, raw: dict[str, Any], accounts: set[str], log: ErrorLog
) -> tuple[str, date, str, str | None, int] | None:
    """(account, UTC day, event name, user or None, quantity), or None after logging errors."""
    errors_before = log.total
    account = raw.get("account_id")
    if is_blank(account):
        log.add(RowError(file, line, "account_id", None, "is required"))
    elif not isinstance(account, str):
        log.add(RowError(file, line, "account_id", show(account), "is not a string"))
    else:
        account = account.strip()
        if account not in accounts:
            reason = "is not a known account (not in accounts nor in the database)"
            log.add(RowError(file, line, "account_id", show(account), reason))
    when = None
    try:
        when = timestamp(raw.get("timestamp")).date()
    except CellError as exc:
        value = raw.get("timestamp")
        if is_blank(value):
            log.add(RowError(file, line, "timestamp", None, "is required"))
        else:
            log.add(RowError(file, line, "timestamp", show(value), exc.reason))
    name = raw.get("event")
    if is_blank(name):
        log.add(RowError(file, line, "event", None, "is required"))
    elif not isinstance(name, str):
        log.add(RowError(file, line, "event", show(name), "is not a string"))
    user = raw.get("user_id")
    user = None if is_blank(user) else str(user).strip()
    raw_quantity = raw.get("quantity")
    quantity = 1
    if not is_blank(raw_quantity):
        try:
            quantity = _quantity(raw_quantity)
        except CellError as exc:
            log.add(RowError(file, line, "quantity", show(raw_quantity), exc.reason))
    if log.total != errors_before or when is None:
        return None
    return cast(str, account), when, cast(str, name).strip(), user, quantity


def _add_event(
    totals: _EventTotals,
    features_of: dict[str, list[str]],
    account: str,
    when: date,
    name: str,
    user: str | None,
    quantity: int,
) -> None:
    day_key = (account, when)
    users = totals.users.get(day_key)
    if users is None:
        users = totals.users[day_key] = set()
    if user is not None:
        users.add(user)
    if name == LOGIN_EVENT:
        totals.logins[day_key] = totals.logins.get(day_key, 0) + quantity
    for feature_key in features_of.get(name, ()):
        key = (account, feature_key, when)
        totals.feature_events[key] = totals.feature_events.get(key, 0) + quantity
        if user is not None:
            totals.feature_users.setdefault(key, set()).add(user)


# --- write pass -------------------------------------------------------------------------------


def _id_map(conn: Connection, entity: Entity) -> dict[str, int]:
    table = entity.table
    key = table.c[entity.key[0]]
    return {ext: row_id for ext, row_id in conn.execute(select(key, table.c.id))}


def _defaults(entity: Entity) -> dict[str, Any]:
    """The model's default for every column but ``id`` (None where there is none)."""
    defaults: dict[str, Any] = {}
    for name, info in entity.model.model_fields.items():
        if name != "id":
            defaults[name] = (
                None
                if info.is_required()
                else info.get_default(call_default_factory=True, validated_data={})
            )
    return defaults


_REF_ENTITY = {ACCOUNT: "accounts", CONTACT: "contacts", FEATURE: "features"}


def _write(conn: Connection, batch: _Batch, counts: EntityCounts) -> None:
    """Upsert the rows of ``batch`` that are new or changed; count the rest as unchanged."""
    entity, table = batch.entity, batch.entity.table
    columns = [c for c in entity.columns if c.name in batch.present]
    keys = [entity.column(k).target for k in entity.key]
    updates = [c.target for c in columns if c.name not in entity.key]
    refs = {
        c.ref: _id_map(conn, _BY_NAME[_REF_ENTITY[c.ref]]) for c in columns if c.ref is not None
    }
    defaults = _defaults(entity)
    rows = [_row(record, columns, refs, defaults, table) for _, record in batch.records]
    existing = _existing(conn, table, keys, updates, rows)
    pending: list[dict[str, Any]] = []
    for row in rows:
        old = existing.get(tuple(row[k] for k in keys))
        if old is None:
            counts.inserted += 1
        elif old != tuple(row[u] for u in updates):
            counts.updated += 1
        else:
            counts.unchanged += 1
            continue
        pending.append(row)
    if pending:
        conn.execute(_upsert(conn.dialect.name, table, keys, updates), pending)


def _row(
    record: dict[str, Any],
    columns: Sequence[Column],
    refs: dict[str, dict[str, int]],
    defaults: dict[str, Any],
    table: Table,
) -> dict[str, Any]:
    row = dict(defaults)
    for column in columns:
        value = record.get(column.name)
        if value is None:
            value = defaults[column.target] if not table.c[column.target].nullable else None
        elif column.ref is not None:
            value = refs[column.ref][value]
        row[column.target] = value
    return row


def _existing(
    conn: Connection,
    table: Table,
    keys: list[str],
    updates: list[str],
    rows: list[dict[str, Any]],
) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """Current values of ``updates`` for the rows of ``rows`` that already exist, by key."""
    if not rows:
        return {}
    selected = [table.c[k] for k in keys] + [table.c[u] for u in updates]
    width = len(keys)
    found: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    if width == 1:
        values = [row[keys[0]] for row in rows]
        for start in range(0, len(values), _KEY_CHUNK):
            chunk = values[start : start + _KEY_CHUNK]
            query = select(*selected).where(table.c[keys[0]].in_(chunk))
            found.update((tuple(r[:1]), tuple(r[1:])) for r in conn.execute(query))
        return found
    days = [row["day"] for row in rows]
    query = select(*selected).where(table.c.day.between(min(days), max(days)))
    found.update((tuple(r[:width]), tuple(r[width:])) for r in conn.execute(query))
    return found


def _upsert(dialect: str, table: Table, keys: list[str], updates: list[str]) -> Insert:
    stmt: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        stmt = postgresql.insert(table)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table)
    else:
        raise NotImplementedError(f"import does not support the {dialect} database")
    if not updates:
        return stmt.on_conflict_do_nothing(index_elements=keys)
    return stmt.on_conflict_do_update(
        index_elements=keys, set_={name: stmt.excluded[name] for name in updates}
    )
