"""``import_directory``: find the files, validate them all, then write them in one transaction."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection

from tools.db import SessionFactory, session_scope
from tools.facts.definitions import ActivityConfig
from tools.importer.errors import ErrorLog, RowError, raise_if_errors, show
from tools.importer.events import aggregate_events
from tools.importer.readers import ProgressCallback
from tools.importer.schema import BY_NAME, ENTITIES, ENTITY_ORDER, EVENTS
from tools.importer.validate import Batch, load_known, parse_file, reject_overlap
from tools.importer.write import EntityCounts, write

MAX_ERRORS = 50
DEFAULT_LOGIN_EVENTS: tuple[str, ...] = tuple(ActivityConfig().login_events)
"""The scoring config's default ``[activity] login_events``."""


@dataclass
class ImportReport:
    """The outcome of a successful import."""

    counts: dict[str, EntityCounts] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)
    event_rows: int = 0
    login_events: tuple[str, ...] = ()
    """The event names that counted as logins (from the scoring config)."""
    logins: int = 0
    """Logins counted from the events file (0 without one, or when no event is a login)."""
    shifted_days: int = 0
    """Days every date was moved by (``shift_to``); 0 when the dates were kept."""
    newest_activity: date | None = None
    """The newest activity date in the files, before any shift."""

    @property
    def changed(self) -> bool:
        return any(c.inserted or c.updated for c in self.counts.values())


def import_directory(
    *,
    sessions: SessionFactory,
    directory: Path,
    progress: ProgressCallback | None = None,
    max_errors: int = MAX_ERRORS,
    shift_to: date | None = None,
    login_events: Collection[str] = DEFAULT_LOGIN_EVENTS,
) -> ImportReport:
    """Validate every data file in ``directory`` and upsert it in one transaction.

    ``shift_to`` moves every date and timestamp by the same number of days so that the newest
    product usage (usage_daily, feature_usage, events; without usage: tickets, NPS, interactions,
    invoices) falls on that day: sample data then describes a live portfolio whatever the day it
    is imported. ``login_events`` are the raw event names (any case) that count as a login: the
    scoring config's ``[activity] login_events``.
    """
    log = ErrorLog(limit=max_errors)
    files, ignored = _find_files(directory, log)
    report = ImportReport(
        files=sorted(p.name for p in files.values()),
        ignored_files=ignored,
        login_events=tuple(login_events),
    )
    raise_if_errors(log)
    with session_scope(sessions) as session:
        conn = session.connection()
        batches = _validate(conn, files, log, progress, report)
        raise_if_errors(log)
        report.newest_activity = _newest_activity(batches)
        if shift_to is not None and report.newest_activity is not None:
            report.shifted_days = (shift_to - report.newest_activity).days
            _shift_dates(batches, report.shifted_days, log)
            raise_if_errors(log)
        for batch in batches:
            counts = report.counts.setdefault(batch.entity.name, EntityCounts())
            write(conn, batch, counts)
    return report


USAGE_COLUMNS: dict[str, tuple[str, ...]] = {"usage_daily": ("day",), "feature_usage": ("day",)}
ACTIVITY_COLUMNS: dict[str, tuple[str, ...]] = {
    "tickets": ("opened_at", "closed_at"),
    "nps": ("responded_at",),
    "invoices": ("issued_on", "paid_on"),
    "interactions": ("occurred_at",),
}
"""Columns that record something that happened (contract ends and due dates may lie ahead)."""


def _newest_activity(batches: list[Batch]) -> date | None:
    """The newest usage day, or without usage the newest other activity."""
    return _newest(batches, USAGE_COLUMNS) or _newest(batches, ACTIVITY_COLUMNS)


def _newest(batches: list[Batch], columns: dict[str, tuple[str, ...]]) -> date | None:
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


def _shift_dates(batches: Iterable[Batch], days: int, log: ErrorLog) -> None:
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


def _find_files(directory: Path, log: ErrorLog) -> tuple[dict[str, Path], list[str]]:
    """The data files in ``directory`` by entity name, and the names of the files ignored."""
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
        if path.stem not in BY_NAME and path.stem != EVENTS:
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


def _validate(
    conn: Connection,
    files: dict[str, Path],
    log: ErrorLog,
    progress: ProgressCallback | None,
    report: ImportReport,
) -> list[Batch]:
    """Every file parsed and checked (events folded into usage); counts events into ``report``."""
    known = load_known(conn)
    batches: list[Batch] = []
    for entity in ENTITIES:
        if entity.name in files:
            batch = parse_file(entity, files[entity.name], known, log, progress)
            batches.append(batch)
    if EVENTS in files:
        events = aggregate_events(files[EVENTS], known, log, progress, report.login_events)
        report.event_rows, report.logins = events.rows, events.logins
        for derived in (events.usage, events.feature_usage):
            reject_overlap(derived, batches, log)
            batches.append(derived)
    order = {name: i for i, name in enumerate(ENTITY_ORDER)}
    batches.sort(key=lambda b: order[b.entity.name])
    return batches
