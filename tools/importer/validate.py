"""The validation pass: every row of a file parsed, checked and its references resolved.

The database is only read here (to resolve references to accounts, contacts and features that an
earlier import created); problems go to the ``ErrorLog``, valid rows to a ``Batch``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from tools.importer.errors import CellError, ErrorLog, RowError, is_blank, show
from tools.importer.readers import ProgressCallback, open_records
from tools.importer.schema import ACCOUNT, BY_NAME, CONTACT, FEATURE, REF_FILES, Entity


@dataclass
class Batch:
    """Validated rows of one entity from one file, ready to write."""

    entity: Entity
    file: str
    present: set[str]
    records: list[tuple[int, dict[str, Any]]]


@dataclass
class Known:
    """External ids that exist in the database or in this import, per reference kind."""

    ids: dict[str, set[str]]
    feature_events: dict[str, list[str]]


def load_known(conn: Connection) -> Known:
    """The accounts, contacts and features (with their event names) already in the database."""
    account, contact, feature = (
        e.table for e in (BY_NAME["accounts"], BY_NAME["contacts"], BY_NAME["features"])
    )
    rows = conn.execute(select(feature.c.key, feature.c.events))
    events: dict[str, list[str]] = {key: list(names) for key, names in rows}
    return Known(
        ids={
            ACCOUNT: set(conn.scalars(select(account.c.external_id))),
            CONTACT: set(conn.scalars(select(contact.c.external_id))),
            FEATURE: set(events),
        },
        feature_events=events,
    )


def parse_file(
    entity: Entity, path: Path, known: Known, log: ErrorLog, progress: ProgressCallback | None
) -> Batch:
    """The valid rows of one entity file; ids it defines become known to the files after it."""
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
    return Batch(entity, path.name, source.present, records)


def _learn_ids(
    entity: Entity,
    keys: Iterable[tuple[Any, ...]],
    records: list[tuple[int, dict[str, Any]]],
    known: Known,
) -> None:
    """Make the ids defined by this file available to the files that reference them."""
    kind = next((k for k, name in REF_FILES.items() if name == entity.name), None)
    if kind is None:
        return
    known.ids[kind].update(key[0] for key in keys)
    if kind == FEATURE:
        for _, record in records:
            known.feature_events[record["key"]] = record.get("events") or []


def _parse_record(
    entity: Entity, file: str, line: int, raw: dict[str, Any], known: Known, log: ErrorLog
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
                f"is not a known {column.ref} (not in {REF_FILES[column.ref]} nor in the database)"
            )
            log.add(RowError(file, line, column.name, show(value), reason))
            ok = False
        record[column.name] = parsed
    if ok and entity.check is not None:
        for name, reason in entity.check(record):
            log.add(RowError(file, line, name, show(raw.get(name)), reason))
            ok = False
    return record, ok


def reject_overlap(derived: Batch, batches: list[Batch], log: ErrorLog) -> None:
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
