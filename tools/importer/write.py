"""The write pass: validated rows upserted with SQLAlchemy Core, unchanged rows not written.

``INSERT ... ON CONFLICT`` on SQLite and PostgreSQL; references (external ids) are turned into
row ids here, after the files that define them have been written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from tools.importer.schema import BY_NAME, REF_FILES, Column, Entity
from tools.importer.validate import Batch

_KEY_CHUNK = 500


@dataclass
class EntityCounts:
    """What an import did to one entity's rows."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged


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


def write(conn: Connection, batch: Batch, counts: EntityCounts) -> None:
    """Upsert the rows of ``batch`` that are new or changed; count the rest as unchanged."""
    entity, table = batch.entity, batch.entity.table
    columns = [c for c in entity.columns if c.name in batch.present]
    keys = [entity.column(k).target for k in entity.key]
    updates = [c.target for c in columns if c.name not in entity.key]
    refs = {c.ref: _id_map(conn, BY_NAME[REF_FILES[c.ref]]) for c in columns if c.ref is not None}
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
